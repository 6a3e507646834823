/* virtio 1.x for device models: split virtqueues over gmem, device ops, the virtio-mmio transport.
 */
#ifndef KVMLAB_VIRTIO_H
#define KVMLAB_VIRTIO_H

/*
 * STATUS: stable interface (additions only; nothing here changes incompatibly).
 *
 * A virtio device model is ONE file, vmm/devices/virtio_X.c, that
 *   - keeps its state in its own struct (no globals),
 *   - fills a const struct virtio_device_ops (id, features, queues, config space,
 *     queue_notify, reset, destroy),
 *   - calls virtio_mmio_attach() from its struct virtio_device_type's attach(),
 * plus ONE line in virtio_device_types[] (vmm/devices/virtio_devices.c), which
 * attaches whatever the run configuration asks for (cmd_run calls
 * virtio_attach_configured once, after vm_create and before the kernel loads).
 *
 * Threads. With a VM (the machine has the KVM hooks below) every transport has
 * its own I/O thread: queue kicks arrive through KVM ioeventfds (no userspace
 * exit), the thread calls ops->queue_notify, and interrupts go out through a
 * KVM irqfd. Without a VM (fuzz targets, unit tests) the transport calls
 * ops->queue_notify synchronously from the QueueNotify register write and
 * raises interrupts with machine_set_irq (a 1-then-0 pulse: the line is edge).
 * Either way queue_notify is a plain function with no threads or timers.
 *
 * Locking. Each transport has one device lock. The transport holds it around
 * every ops callback (config_read, config_write, queue_notify, driver_ok,
 * reset, fd handlers), so a device model needs no lock for state touched only
 * there. Any other thread (the control API) takes it with virtio_lock() before
 * touching the device. The transport's registers share that lock, except
 * InterruptStatus/InterruptACK (atomic) and kicks through an ioeventfd, so the
 * guest's interrupt handler never waits for a device that is busy (an
 * fdatasync, say).
 *
 * Guest memory is reached only through gmem (struct virtq validates every
 * descriptor address and length with gmem_ptr before a device sees it).
 */

#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/uio.h>

#include "err.h"
#include "gmem.h"
#include "machine.h"

struct run_config;

/* Device IDs (virtio 1.2, section 5). */
#define VIRTIO_ID_NET	  1
#define VIRTIO_ID_BLOCK	  2
#define VIRTIO_ID_RNG	  4
#define VIRTIO_ID_BALLOON 5

#define VIRTIO_BIT(n) (1ull << (n))

/* Transport feature bits: the transport offers these itself (devices never list them). */
#define VIRTIO_F_INDIRECT_DESC 28
#define VIRTIO_F_EVENT_IDX     29
#define VIRTIO_F_VERSION_1     32
/* Device-specific features are bits 0-23 (and 50+ where the spec puts some). */
#define VIRTIO_DEVICE_FEATURES (0xffffffull | (~0ull << 50))

/* Device status (section 2.1). */
#define VIRTIO_STATUS_ACKNOWLEDGE 1
#define VIRTIO_STATUS_DRIVER	  2
#define VIRTIO_STATUS_DRIVER_OK	  4
#define VIRTIO_STATUS_FEATURES_OK 8
#define VIRTIO_STATUS_NEEDS_RESET 64
#define VIRTIO_STATUS_FAILED	  128

/* InterruptStatus bits. */
#define VIRTIO_INT_VRING  1
#define VIRTIO_INT_CONFIG 2

/* ------------------------------------------------------------------------------------------ */
/* Split virtqueues (section 2.7), usable on their own over any struct gmem.                   */

#define VIRTQ_MAX_SIZE 256	      /* largest queue a kvmlab device offers */
#define VIRTQ_MAX_SEGS VIRTQ_MAX_SIZE /* a chain is never longer than the queue size */

#define VIRTQ_DESC_F_NEXT     1
#define VIRTQ_DESC_F_WRITE    2
#define VIRTQ_DESC_F_INDIRECT 4

/*
 * One split virtqueue: where its three parts are in guest memory and the
 * device's private indices. Plain state, so tests and fuzz targets build one
 * on plain memory with virtq_init. Only one thread uses a virtq at a time
 * (the transport's device lock).
 */
struct virtq {
	const struct gmem *mem;
	uint64_t desc, avail, used; /* guest-physical addresses of the three areas */
	uint16_t size;		    /* power of two, 1 .. VIRTQ_MAX_SIZE */
	bool event_idx;		    /* VIRTIO_F_EVENT_IDX negotiated */
	bool indirect;		    /* VIRTIO_F_INDIRECT_DESC negotiated */
	uint16_t last_avail;	    /* next avail ring slot the device consumes */
	uint16_t used_idx;	    /* next used ring slot the device fills */
	uint16_t signalled_used;    /* used_idx when the driver was last considered for an irq */
	bool signalled_valid;	    /* signalled_used means something (false after init) */
};

/*
 * A popped descriptor chain: iov[0 .. nout) are device-readable, iov[nout ..
 * nout + nin) device-writable, in chain order (indirect tables expanded). Every
 * iov lies entirely inside one guest memory region (writable ones inside a
 * writable region) as checked by gmem_ptr when popped. Zero-length
 * descriptors are dropped. out_len and in_len are the byte totals.
 */
struct virtq_elem {
	uint16_t head; /* chain head index, for virtq_push */
	uint16_t nout, nin;
	uint64_t out_len, in_len;
	struct iovec iov[VIRTQ_MAX_SEGS];
};

/*
 * Sets vq up over mem for a queue of size entries at the given addresses,
 * with the negotiated features (VIRTIO_BIT(VIRTIO_F_EVENT_IDX) etc.). Refuses
 * a size that is 0, not a power of two or above VIRTQ_MAX_SIZE, misaligned
 * areas (desc 16, avail 2, used 4 bytes) and areas not entirely inside guest
 * memory (the used ring must be writable). Indices start at 0.
 */
int virtq_init(struct virtq *vq, const struct gmem *mem, uint16_t size, uint64_t desc,
	       uint64_t avail, uint64_t used, uint64_t features, struct errbuf *e);

/*
 * Takes the next available chain into el. Returns 1 with el filled, 0 when
 * the driver has made nothing new available, -1 with e filled when the ring
 * or the chain is malformed: avail idx more than size ahead, a head or next
 * index >= size, a loop or a chain longer than the queue size, an indirect
 * descriptor inside an indirect table or together with NEXT, an indirect
 * table not a multiple of 16 bytes or longer than the queue size, or without
 * VIRTIO_F_INDIRECT_DESC, a readable descriptor after a writable one, a
 * buffer outside guest memory (or a read-only region for a writable one), a
 * total length past UINT32_MAX. After -1 the queue is unusable: the device
 * calls virtio_queue_error() (NEEDS_RESET) and stops using it.
 */
int virtq_pop(struct virtq *vq, struct virtq_elem *el, struct errbuf *e);

/* Returns the chain headed by el->head to the driver with len bytes written
 * (clamped to el->in_len). -1 when the used ring is no longer in guest memory. */
int virtq_push(struct virtq *vq, const struct virtq_elem *el, uint32_t len, struct errbuf *e);

/* Whether the driver has made chains available that virtq_pop has not taken. */
bool virtq_pending(const struct virtq *vq);

/*
 * Kick suppression while the device is busy: disable, process until empty,
 * then enable, which returns true when chains arrived in between (the device
 * then processes again). With EVENT_IDX this writes avail_event, else the used
 * ring's NO_NOTIFY flag.
 */
void virtq_disable_notify(struct virtq *vq);
bool virtq_enable_notify(struct virtq *vq);

/*
 * Whether the driver wants an interrupt for what was pushed since the last
 * call (EVENT_IDX: used_event; otherwise the avail ring's NO_INTERRUPT flag).
 * Records the current used index as signalled. virtio_queue_signal uses it.
 */
bool virtq_should_signal(struct virtq *vq);

/* Copies up to len bytes starting off bytes into the readable part of el into
 * buf; returns how many were copied (less at the end of the readable part). */
size_t virtq_elem_read(const struct virtq_elem *el, uint64_t off, void *buf, size_t len);

/* Copies up to len bytes from buf into the writable part of el, starting off
 * bytes into it; returns how many were copied. */
size_t virtq_elem_write(const struct virtq_elem *el, uint64_t off, const void *buf, size_t len);

/* ------------------------------------------------------------------------------------------ */
/* Device models.                                                                              */

#define VIRTIO_MAX_QUEUES      8
#define VIRTIO_MMIO_CONFIG_MAX 0x100 /* config space bytes: offsets 0x100-0x1ff of the window */

struct virtio_dev; /* the transport's handle for one attached device */

/*
 * What a device model provides. Callbacks receive the dev pointer given to
 * virtio_mmio_attach and run with the device lock held (see the top).
 */
struct virtio_device_ops {
	const char *name;	 /* "virtio-blk": reports, the MMIO range, the I/O thread */
	uint32_t device_id;	 /* VIRTIO_ID_* */
	unsigned num_queues;	 /* 1 .. VIRTIO_MAX_QUEUES */
	uint16_t queue_max_size; /* power of two <= VIRTQ_MAX_SIZE: QueueNumMax */
	uint32_t config_size;	 /* bytes of config space, <= VIRTIO_MMIO_CONFIG_MAX */

	/* Device-specific feature bits offered (within VIRTIO_DEVICE_FEATURES; others are
	 * dropped). The transport adds VERSION_1, EVENT_IDX and INDIRECT_DESC. */
	uint64_t (*features)(void *dev);

	/* Config space access: off + len <= config_size is guaranteed (len 1, 2, 4 or 8);
	 * reads beyond config_size return zeros without a call. config_write may be NULL
	 * (writes ignored). Little-endian layout, as the spec's structs. */
	void (*config_read)(void *dev, uint32_t off, void *buf, uint32_t len);
	void (*config_write)(void *dev, uint32_t off, const void *buf, uint32_t len);

	/*
	 * The driver kicked queue qidx (qidx < num_queues, the queue ready, DRIVER_OK
	 * set, not NEEDS_RESET). Pop with virtq_pop on virtio_queue(vd, qidx), push,
	 * then virtio_queue_signal. Plain function: must not block indefinitely, keep
	 * no threads or timers; may be called spuriously. Also called once for every
	 * ready queue when DRIVER_OK is set, for buffers made available before.
	 */
	void (*queue_notify)(void *dev, unsigned qidx);

	/* Optional: DRIVER_OK was just set with these negotiated features. */
	void (*driver_ok)(void *dev, uint64_t features);

	/* Back to the power-on state (driver wrote 0 to Status). Queues are already
	 * stopped and forgotten. May be NULL. */
	void (*reset)(void *dev);

	/* Frees dev, at machine_destroy after the I/O thread has stopped. May be NULL. */
	void (*destroy)(void *dev);
};

/*
 * virtio-mmio windows and interrupts: transport n (in attach order, at most
 * VIRTIO_MMIO_MAX per machine) is at VIRTIO_MMIO_BASE + n * VIRTIO_MMIO_STRIDE,
 * VIRTIO_MMIO_SIZE bytes (registers 0x000-0x0ff, config space 0x100-0x1ff), on
 * GSI virtio_mmio_gsi(n): IOAPIC-only pins 16-23 first, then ISA IRQs no
 * kvmlab device uses (5, 6, 7, 10, 11, 14, 15, 3), edge-triggered, active high.
 */
#define VIRTIO_MMIO_BASE   0xd0000000ull
#define VIRTIO_MMIO_STRIDE 0x1000ull
#define VIRTIO_MMIO_SIZE   0x200ull
#define VIRTIO_MMIO_MAX	   16
#define VIRTIO_MMIO_VENDOR 0x4c4d564bu /* "KVML" */

uint32_t virtio_mmio_gsi(unsigned n);

/*
 * Attaches device dev with ops on the next virtio-mmio window of m: claims the
 * MMIO range, adds the transport to the DSDT (acpi_add_virtio_mmio; the
 * kernel command line gets virtio_mmio.device=SIZE@BASE:GSI from that list),
 * and, when m has the KVM hooks, creates its irqfd and I/O thread. On success
 * the transport owns dev (ops->destroy frees it at machine_destroy) and
 * returns its handle; on failure (NULL with e filled) dev stays the caller's.
 * Call while devices attach, before the ACPI tables are written.
 */
struct virtio_dev *virtio_mmio_attach(struct machine *m, const struct virtio_device_ops *ops,
				      void *dev, struct errbuf *e);

/* The device state of the nth attached transport whose device has device_id, or NULL.
 * For control-API commands (disk-resize, balloon): take virtio_lock before use. */
void *virtio_mmio_find(struct machine *m, uint32_t device_id, unsigned nth, struct virtio_dev **vd);

/* Helpers for device models (all take the handle virtio_mmio_attach returned). */

/* The ready queue qidx, or NULL if qidx is out of range or the queue is not ready. */
struct virtq *virtio_queue(struct virtio_dev *vd, unsigned qidx);

/* Guest memory: the only way a device reaches it (besides the iovs of a popped chain). */
const struct gmem *virtio_gmem(struct virtio_dev *vd);

/* The features the driver accepted (valid from FEATURES_OK on). */
uint64_t virtio_features(const struct virtio_dev *vd);

/* After pushing to queue qidx: raises the used-buffer interrupt if the driver wants one. */
void virtio_queue_signal(struct virtio_dev *vd, unsigned qidx);

/* The config space changed (a resized disk, a balloon target): bumps
 * ConfigGeneration and raises the configuration-change interrupt. Call with the
 * device lock held (from a callback, or between virtio_lock and virtio_unlock). */
void virtio_config_changed(struct virtio_dev *vd);

/*
 * The driver broke the protocol on queue qidx (virtq_pop or virtq_push returned
 * -1, or the device found the request unusable beyond an error status): sets
 * NEEDS_RESET, raises the configuration-change interrupt, and stops calling
 * queue_notify until the driver resets the device. why is kept for reports
 * (the first one; `kvmlab ctl SOCK virtio` shows it). Never fatal to the VMM.
 */
void virtio_queue_error(struct virtio_dev *vd, unsigned qidx, const char *why);

/* The device lock, for threads other than the transport's own callers. */
void virtio_lock(struct virtio_dev *vd);
void virtio_unlock(struct virtio_dev *vd);

/*
 * Calls fn(dev) on the transport's I/O thread, with the device lock held,
 * whenever fd is readable (level-triggered: fn must drain it or it is called
 * again). For backends with their own input (a TAP or socket for virtio-net).
 * Without an I/O thread (no VM: fuzz targets, tests) nothing watches fd and
 * the caller drives fn itself; returns 0 either way unless registration fails.
 */
int virtio_watch_fd(struct virtio_dev *vd, int fd, void (*fn)(void *dev), struct errbuf *e);

/* Transport counters, for `kvmlab ctl SOCK virtio` and tests. */
struct virtio_mmio_info {
	const char *name;
	uint32_t device_id;
	uint64_t base;
	uint32_t gsi;
	uint32_t status;
	bool iothread;		 /* device work on an I/O thread (ioeventfd/irqfd) */
	uint64_t notify_exits;	 /* QueueNotify writes that reached kvmlab (MMIO exits) */
	uint64_t notify_events;	 /* kicks that arrived through an ioeventfd */
	uint64_t interrupts;	 /* used-buffer and config interrupts raised */
	uint64_t config_changes; /* ConfigGeneration */
	char error[ERR_MSG_LEN]; /* why NEEDS_RESET was set, or "" */
};

/* Fills info for transport n (attach order); -1 when there is no transport n. */
int virtio_mmio_info(struct machine *m, unsigned n, struct virtio_mmio_info *info);

/* ------------------------------------------------------------------------------------------ */
/* Registration: one line per device model in virtio_devices.c.                               */

struct virtio_device_type {
	const char *name;
	/* Attaches as many instances as rc configures (none is fine). */
	int (*attach)(struct machine *m, const struct run_config *rc, struct errbuf *e);
};

/* In attach order (disks first, so the first --disk is the first transport, /dev/vda). */
extern const struct virtio_device_type *const virtio_device_types[];

/* Attaches every configured virtio device (walks virtio_device_types). */
int virtio_attach_configured(struct machine *m, const struct run_config *rc, struct errbuf *e);

extern const struct virtio_device_type virtio_blk_type;
extern const struct virtio_device_type virtio_rng_type;
extern const struct virtio_device_type virtio_net_type;	    /* netback.h */
extern const struct virtio_device_type virtio_balloon_type; /* balloon.h */

/* ------------------------------------------------------------------------------------------ */
/* Device-specific entry points.                                                               */

/* virtio-rng: one queue, filled from getrandom() (at most 64 KiB per chain). */
struct virtio_rng;
struct virtio_rng *virtio_rng_attach(struct machine *m, struct errbuf *e);

/*
 * virtio-blk. spec is "FILE[,ro]" (--disk). A raw image: capacity is the file
 * size rounded down to 512 bytes.
 */
struct virtio_blk;
struct virtio_blk *virtio_blk_attach(struct machine *m, const char *spec, struct errbuf *e);

/* Re-reads disk nth's size (new_size 0: re-stat the file; else truncate the file
 * to new_size first) and announces the new capacity with a config-change interrupt.
 * *capacity gets the new size in 512-byte sectors. */
int virtio_blk_resize(struct machine *m, unsigned nth, uint64_t new_size, uint64_t *capacity,
		      struct errbuf *e);

#endif
