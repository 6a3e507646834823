/* The virtio-mmio transport (version 2): register file, status state machine, kicks and irqs. */
#include <errno.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <unistd.h>

#include "kvmlab/acpi.h"
#include "kvmlab/iothread.h"
#include "kvmlab/virtio.h"

enum mmio_reg {
	REG_MAGIC = 0x000,
	REG_VERSION = 0x004,
	REG_DEVICE_ID = 0x008,
	REG_VENDOR_ID = 0x00c,
	REG_DEVICE_FEATURES = 0x010,
	REG_DEVICE_FEATURES_SEL = 0x014,
	REG_DRIVER_FEATURES = 0x020,
	REG_DRIVER_FEATURES_SEL = 0x024,
	REG_QUEUE_SEL = 0x030,
	REG_QUEUE_NUM_MAX = 0x034,
	REG_QUEUE_NUM = 0x038,
	REG_QUEUE_READY = 0x044,
	REG_QUEUE_NOTIFY = 0x050,
	REG_INTERRUPT_STATUS = 0x060,
	REG_INTERRUPT_ACK = 0x064,
	REG_STATUS = 0x070,
	REG_QUEUE_DESC_LOW = 0x080,
	REG_QUEUE_DESC_HIGH = 0x084,
	REG_QUEUE_DRIVER_LOW = 0x090,
	REG_QUEUE_DRIVER_HIGH = 0x094,
	REG_QUEUE_DEVICE_LOW = 0x0a0,
	REG_QUEUE_DEVICE_HIGH = 0x0a4,
	REG_SHM_SEL = 0x0ac,
	REG_SHM_LEN_LOW = 0x0b0,
	REG_SHM_LEN_HIGH = 0x0b4,
	REG_SHM_BASE_LOW = 0x0b8,
	REG_SHM_BASE_HIGH = 0x0bc,
	REG_CONFIG_GENERATION = 0x0fc,
	REG_CONFIG = 0x100,
};

#define MMIO_MAGIC   0x74726976u /* "virt" */
#define MMIO_VERSION 2
#define TRANSPORT_FEATURES                                                                         \
	(VIRTIO_BIT(VIRTIO_F_VERSION_1) | VIRTIO_BIT(VIRTIO_F_EVENT_IDX) |                         \
	 VIRTIO_BIT(VIRTIO_F_INDIRECT_DESC))

struct vqueue {
	struct virtio_dev *vd;
	unsigned idx;
	struct virtq vq;
	uint32_t num;
	uint64_t desc, driver, device;
	bool ready;
	int kick_fd;	/* eventfd the I/O thread watches; -1 without one */
	bool ioeventfd; /* kick_fd is registered with KVM for this queue's QueueNotify */
};

struct fd_watch {
	struct virtio_dev *vd;
	void (*fn)(void *dev);
	struct fd_watch *next;
};

/*
 * One transport. lock (the device lock of virtio.h) guards everything but
 * isr and the counters, which are atomic so the guest's interrupt handler
 * (InterruptStatus, InterruptACK) and kicks never wait for a busy device.
 */
struct virtio_dev {
	struct machine *m;
	const struct virtio_device_ops *ops;
	void *dev;
	unsigned n;
	uint64_t base;
	uint32_t gsi;
	pthread_mutex_t lock;
	uint32_t status;
	uint32_t dev_features_sel, drv_features_sel, queue_sel;
	uint64_t offered, driver_features;
	bool driver_features_bad; /* bits written beyond the 64 that exist */
	uint32_t generation;
	_Atomic uint32_t isr;
	struct vqueue q[VIRTIO_MAX_QUEUES];
	struct iothread *io;
	int irq_fd; /* irqfd eventfd; -1: machine_set_irq pulses */
	struct fd_watch *watches;
	char error[ERR_MSG_LEN];
	_Atomic uint64_t notify_exits, notify_events, interrupts;
};

static void virtio_mmio_access(void *opaque, uint64_t off, uint8_t *data, uint32_t len,
			       bool is_write);

uint32_t virtio_mmio_gsi(unsigned n)
{
	static const uint8_t isa[] = {5, 6, 7, 10, 11, 14, 15, 3};

	return n < 8 ? 16 + n : n < 8 + sizeof(isa) ? isa[n - 8] : UINT32_MAX;
}

static void raise_irq(struct virtio_dev *vd, uint32_t bits)
{
	uint64_t one = 1;

	atomic_fetch_or(&vd->isr, bits);
	atomic_fetch_add_explicit(&vd->interrupts, 1, memory_order_relaxed);
	if (vd->irq_fd >= 0 && write(vd->irq_fd, &one, sizeof(one)) == sizeof(one))
		return;
	/* Edge-triggered, as the DSDT says: a pulse per interrupt. */
	machine_set_irq(vd->m, vd->gsi, true);
	machine_set_irq(vd->m, vd->gsi, false);
}

static bool running(const struct virtio_dev *vd)
{
	return (vd->status & VIRTIO_STATUS_DRIVER_OK) &&
	       !(vd->status & (VIRTIO_STATUS_NEEDS_RESET | VIRTIO_STATUS_FAILED));
}

/* Runs the device on queue qidx; the caller holds the lock. */
static void process(struct virtio_dev *vd, unsigned qidx)
{
	if (qidx < vd->ops->num_queues && vd->q[qidx].ready && running(vd))
		vd->ops->queue_notify(vd->dev, qidx);
}

static void kick_event(void *opaque)
{
	struct vqueue *q = opaque;
	struct virtio_dev *vd = q->vd;
	uint64_t count;

	if (read(q->kick_fd, &count, sizeof(count)) != sizeof(count))
		return; /* spurious: nothing to drain */
	atomic_fetch_add_explicit(&vd->notify_events, 1, memory_order_relaxed);
	pthread_mutex_lock(&vd->lock);
	process(vd, q->idx);
	pthread_mutex_unlock(&vd->lock);
}

/* Hands queue qidx to whoever processes it: the I/O thread, or the caller right now. */
static void kick(struct virtio_dev *vd, unsigned qidx)
{
	uint64_t one = 1;

	if (vd->q[qidx].kick_fd >= 0 &&
	    write(vd->q[qidx].kick_fd, &one, sizeof(one)) == sizeof(one))
		return;
	process(vd, qidx);
}

static void set_ioeventfd(struct virtio_dev *vd, struct vqueue *q, bool on)
{
	struct errbuf e;

	if (q->kick_fd < 0 || !vd->m->ioeventfd || q->ioeventfd == on)
		return;
	if (vd->m->ioeventfd(vd->m->kvm_opaque, q->kick_fd, vd->base + REG_QUEUE_NOTIFY, 4, q->idx,
			     on, &e) == 0)
		q->ioeventfd = on;
	else if (on) /* kicks still work, through an exit that writes kick_fd */
		fprintf(stderr, "kvmlab: %s: %s\n", vd->ops->name, e.msg);
}

static void queue_forget(struct virtio_dev *vd, struct vqueue *q)
{
	set_ioeventfd(vd, q, false);
	q->ready = false;
	q->num = vd->ops->queue_max_size;
	q->desc = q->driver = q->device = 0;
	memset(&q->vq, 0, sizeof(q->vq));
}

static void device_reset(struct virtio_dev *vd)
{
	for (unsigned i = 0; i < vd->ops->num_queues; i++)
		queue_forget(vd, &vd->q[i]);
	vd->status = 0;
	vd->dev_features_sel = vd->drv_features_sel = vd->queue_sel = 0;
	vd->driver_features = 0;
	vd->driver_features_bad = false;
	atomic_store(&vd->isr, 0);
	if (vd->ops->reset)
		vd->ops->reset(vd->dev);
}

void virtio_queue_error(struct virtio_dev *vd, unsigned qidx, const char *why)
{
	bool first = !(vd->status & VIRTIO_STATUS_NEEDS_RESET);

	if (first)
		snprintf(vd->error, sizeof(vd->error), "queue %u: %s", qidx, why);
	vd->status |= VIRTIO_STATUS_NEEDS_RESET;
	/* A real VM's user sees why the guest's device stopped; fuzzers stay quiet. */
	if (first && vd->io)
		fprintf(stderr, "kvmlab: %s at 0x%llx: %s; the device needs a reset\n",
			vd->ops->name, (unsigned long long)vd->base, vd->error);
	if (first && (vd->status & VIRTIO_STATUS_DRIVER_OK))
		raise_irq(vd, VIRTIO_INT_CONFIG);
}

/* The driver's status write (section 2.1 and 3.1): bits only ever added, in order, until a
 * reset; FEATURES_OK only for offered features including VERSION_1. */
static void write_status(struct virtio_dev *vd, uint32_t v)
{
	uint32_t old = vd->status, added;

	if (v == 0) {
		device_reset(vd);
		return;
	}
	v = (v & 0xff & ~VIRTIO_STATUS_NEEDS_RESET) | (old & VIRTIO_STATUS_NEEDS_RESET);
	if ((v & old) != old)
		return; /* clearing a bit without a reset */
	added = v & ~old;
	if ((v & VIRTIO_STATUS_DRIVER) && !(v & VIRTIO_STATUS_ACKNOWLEDGE))
		return;
	if ((v & VIRTIO_STATUS_FEATURES_OK) && !(v & VIRTIO_STATUS_DRIVER))
		return;
	if ((v & VIRTIO_STATUS_DRIVER_OK) && !(v & VIRTIO_STATUS_FEATURES_OK))
		return;
	if ((added & VIRTIO_STATUS_FEATURES_OK) &&
	    (vd->driver_features_bad || (vd->driver_features & ~vd->offered) ||
	     !(vd->driver_features & VIRTIO_BIT(VIRTIO_F_VERSION_1))))
		v &= ~VIRTIO_STATUS_FEATURES_OK; /* the driver reads it back and gives up */
	if ((v & VIRTIO_STATUS_DRIVER_OK) && !(v & VIRTIO_STATUS_FEATURES_OK))
		v &= ~VIRTIO_STATUS_DRIVER_OK;
	vd->status = v;
	if ((added & VIRTIO_STATUS_DRIVER_OK) && (v & VIRTIO_STATUS_DRIVER_OK)) {
		if (vd->ops->driver_ok)
			vd->ops->driver_ok(vd->dev, vd->driver_features);
		for (unsigned i = 0; i < vd->ops->num_queues; i++)
			if (vd->q[i].ready)
				kick(vd, i); /* buffers made available before DRIVER_OK */
	}
}

static void write_queue_ready(struct virtio_dev *vd, struct vqueue *q, uint32_t v)
{
	struct errbuf e;

	if (!v) {
		queue_forget(vd, q);
		return;
	}
	if (q->ready || !(vd->status & VIRTIO_STATUS_FEATURES_OK) ||
	    (vd->status & VIRTIO_STATUS_NEEDS_RESET))
		return;
	if (q->num > vd->ops->queue_max_size) {
		virtio_queue_error(vd, q->idx, "QueueNum is larger than QueueNumMax");
		return;
	}
	if (virtq_init(&q->vq, &vd->m->mem, (uint16_t)q->num, q->desc, q->driver, q->device,
		       vd->driver_features, &e)) {
		virtio_queue_error(vd, q->idx, e.msg);
		return;
	}
	q->ready = true;
	set_ioeventfd(vd, q, true);
}

static uint64_t set_half(uint64_t old, bool high, uint32_t v)
{
	return high ? (old & 0xffffffffull) | (uint64_t)v << 32 : (old & ~0xffffffffull) | v;
}

static uint32_t read_reg(struct virtio_dev *vd, uint64_t off)
{
	struct vqueue *q = vd->queue_sel < vd->ops->num_queues ? &vd->q[vd->queue_sel] : NULL;

	switch (off) {
	case REG_MAGIC:
		return MMIO_MAGIC;
	case REG_VERSION:
		return MMIO_VERSION;
	case REG_DEVICE_ID:
		return vd->ops->device_id;
	case REG_VENDOR_ID:
		return VIRTIO_MMIO_VENDOR;
	case REG_DEVICE_FEATURES:
		return vd->dev_features_sel < 2
			   ? (uint32_t)(vd->offered >> (32 * vd->dev_features_sel))
			   : 0;
	case REG_QUEUE_NUM_MAX:
		return q ? vd->ops->queue_max_size : 0;
	case REG_QUEUE_READY:
		return q && q->ready;
	case REG_INTERRUPT_STATUS:
		return atomic_load(&vd->isr);
	case REG_STATUS:
		return vd->status;
	case REG_SHM_LEN_LOW:
	case REG_SHM_LEN_HIGH:
	case REG_SHM_BASE_LOW:
	case REG_SHM_BASE_HIGH:
		return UINT32_MAX; /* no shared memory regions */
	case REG_CONFIG_GENERATION:
		return vd->generation;
	default:
		return 0; /* write-only and reserved registers */
	}
}

static void write_reg(struct virtio_dev *vd, uint64_t off, uint32_t v)
{
	struct vqueue *q = vd->queue_sel < vd->ops->num_queues ? &vd->q[vd->queue_sel] : NULL;
	bool setup = q && !q->ready; /* queue registers only change while not ready */

	switch (off) {
	case REG_DEVICE_FEATURES_SEL:
		vd->dev_features_sel = v;
		break;
	case REG_DRIVER_FEATURES:
		if (!(vd->status & VIRTIO_STATUS_DRIVER) ||
		    (vd->status & VIRTIO_STATUS_FEATURES_OK))
			break;
		if (vd->drv_features_sel < 2)
			vd->driver_features =
			    set_half(vd->driver_features, vd->drv_features_sel, v);
		else if (v)
			vd->driver_features_bad = true;
		break;
	case REG_DRIVER_FEATURES_SEL:
		vd->drv_features_sel = v;
		break;
	case REG_QUEUE_SEL:
		vd->queue_sel = v;
		break;
	case REG_QUEUE_NUM:
		if (setup)
			q->num = v;
		break;
	case REG_QUEUE_READY:
		if (q)
			write_queue_ready(vd, q, v);
		break;
	case REG_INTERRUPT_ACK:
		atomic_fetch_and(&vd->isr, ~v);
		break;
	case REG_STATUS:
		write_status(vd, v);
		break;
	case REG_QUEUE_DESC_LOW:
	case REG_QUEUE_DESC_HIGH:
		if (setup)
			q->desc = set_half(q->desc, off == REG_QUEUE_DESC_HIGH, v);
		break;
	case REG_QUEUE_DRIVER_LOW:
	case REG_QUEUE_DRIVER_HIGH:
		if (setup)
			q->driver = set_half(q->driver, off == REG_QUEUE_DRIVER_HIGH, v);
		break;
	case REG_QUEUE_DEVICE_LOW:
	case REG_QUEUE_DEVICE_HIGH:
		if (setup)
			q->device = set_half(q->device, off == REG_QUEUE_DEVICE_HIGH, v);
		break;
	default:
		break; /* read-only and reserved registers */
	}
}

static void config_access(struct virtio_dev *vd, uint32_t off, uint8_t *data, uint32_t len,
			  bool is_write)
{
	bool inside = off + len <= vd->ops->config_size;

	if (is_write) {
		if (inside && vd->ops->config_write)
			vd->ops->config_write(vd->dev, off, data, len);
	} else if (inside) {
		vd->ops->config_read(vd->dev, off, data, len);
	} else {
		memset(data, 0, len);
	}
}

static void virtio_mmio_access(void *opaque, uint64_t off, uint8_t *data, uint32_t len,
			       bool is_write)
{
	struct virtio_dev *vd = opaque;
	uint32_t v = 0;

	if (off >= REG_CONFIG) {
		if (len != 1 && len != 2 && len != 4 && len != 8) {
			if (!is_write)
				memset(data, 0, len);
			return;
		}
		pthread_mutex_lock(&vd->lock);
		config_access(vd, (uint32_t)(off - REG_CONFIG), data, len, is_write);
		pthread_mutex_unlock(&vd->lock);
		return;
	}
	if (len != 4 || off % 4) { /* registers are 32-bit and aligned (section 4.2.2.2) */
		if (!is_write)
			memset(data, 0, len);
		return;
	}
	if (!is_write) {
		if (off == REG_INTERRUPT_STATUS) {
			v = atomic_load(&vd->isr);
		} else {
			pthread_mutex_lock(&vd->lock);
			v = read_reg(vd, off);
			pthread_mutex_unlock(&vd->lock);
		}
		memcpy(data, &v, 4);
		return;
	}
	memcpy(&v, data, 4);
	if (off == REG_INTERRUPT_ACK) {
		atomic_fetch_and(&vd->isr, ~v);
		return;
	}
	pthread_mutex_lock(&vd->lock);
	if (off == REG_QUEUE_NOTIFY) {
		atomic_fetch_add_explicit(&vd->notify_exits, 1, memory_order_relaxed);
		if (v < vd->ops->num_queues)
			kick(vd, v);
	} else {
		write_reg(vd, off, v);
	}
	pthread_mutex_unlock(&vd->lock);
}

/* The transports on m's MMIO bus, in base (= attach) order. */
static struct virtio_dev *transport_at(struct machine *m, unsigned n)
{
	for (size_t i = 0; i < m->mmio.nranges; i++)
		if (m->mmio.ranges[i].fn == virtio_mmio_access && n-- == 0)
			return m->mmio.ranges[i].opaque;
	return NULL;
}

static void transport_destroy(void *opaque)
{
	struct virtio_dev *vd = opaque;
	struct errbuf e;

	iothread_destroy(vd->io); /* no handler runs after this */
	for (unsigned i = 0; i < vd->ops->num_queues; i++) {
		set_ioeventfd(vd, &vd->q[i], false);
		if (vd->q[i].kick_fd >= 0)
			close(vd->q[i].kick_fd);
	}
	if (vd->irq_fd >= 0) {
		vd->m->irqfd(vd->m->kvm_opaque, vd->irq_fd, vd->gsi, false, &e);
		close(vd->irq_fd);
	}
	while (vd->watches) {
		struct fd_watch *w = vd->watches;

		vd->watches = w->next;
		free(w);
	}
	if (vd->ops->destroy)
		vd->ops->destroy(vd->dev);
	pthread_mutex_destroy(&vd->lock);
	free(vd);
}

/* With a VM: an eventfd per queue on the I/O thread, and an irqfd on the GSI. */
static int transport_kvm_init(struct virtio_dev *vd, struct errbuf *e)
{
	char name[16];

	snprintf(name, sizeof(name), "vio%u-%s", vd->n,
		 vd->ops->name + (strncmp(vd->ops->name, "virtio-", 7) ? 0 : 7));
	vd->io = iothread_create(name, vd->m->sandbox, e);
	if (!vd->io)
		return -1;
	for (unsigned i = 0; i < vd->ops->num_queues; i++) {
		vd->q[i].kick_fd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
		if (vd->q[i].kick_fd < 0)
			return err_errno(e, "%s: cannot create a queue eventfd", vd->ops->name);
		if (iothread_watch(vd->io, vd->q[i].kick_fd, kick_event, &vd->q[i], e))
			return -1;
	}
	if (vd->m->irqfd) {
		vd->irq_fd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
		if (vd->irq_fd < 0)
			return err_errno(e, "%s: cannot create an irqfd", vd->ops->name);
		if (vd->m->irqfd(vd->m->kvm_opaque, vd->irq_fd, vd->gsi, true, e)) {
			close(vd->irq_fd);
			vd->irq_fd = -1;
			return -1;
		}
	}
	return 0;
}

static int check_ops(const struct virtio_device_ops *ops, struct errbuf *e)
{
	uint16_t qmax = ops->queue_max_size;

	if (!ops->name || !ops->config_read || !ops->queue_notify || !ops->features)
		return err_set(e, "virtio device %s lacks a required callback",
			       ops->name ? ops->name : "(unnamed)");
	if (ops->num_queues < 1 || ops->num_queues > VIRTIO_MAX_QUEUES || qmax == 0 ||
	    qmax > VIRTQ_MAX_SIZE || (qmax & (qmax - 1)) ||
	    ops->config_size > VIRTIO_MMIO_CONFIG_MAX)
		return err_set(e,
			       "virtio device %s: queues, queue size or config size out of range",
			       ops->name);
	return 0;
}

struct virtio_dev *virtio_mmio_attach(struct machine *m, const struct virtio_device_ops *ops,
				      void *dev, struct errbuf *e)
{
	struct virtio_dev *vd;
	unsigned n = 0;

	if (check_ops(ops, e))
		return NULL;
	while (transport_at(m, n))
		n++;
	if (n >= VIRTIO_MMIO_MAX) {
		err_set(e, "%s: more than %d virtio devices", ops->name, VIRTIO_MMIO_MAX);
		return NULL;
	}
	vd = calloc(1, sizeof(*vd));
	if (!vd) {
		err_set(e, "out of memory attaching %s", ops->name);
		return NULL;
	}
	*vd = (struct virtio_dev){
	    .m = m,
	    .ops = ops,
	    .dev = dev,
	    .n = n,
	    .base = VIRTIO_MMIO_BASE + n * VIRTIO_MMIO_STRIDE,
	    .gsi = virtio_mmio_gsi(n),
	    .irq_fd = -1,
	    .offered = (ops->features(dev) & VIRTIO_DEVICE_FEATURES) | TRANSPORT_FEATURES,
	};
	pthread_mutex_init(&vd->lock, NULL);
	for (unsigned i = 0; i < ops->num_queues; i++) {
		vd->q[i] = (struct vqueue){.vd = vd, .idx = i, .kick_fd = -1};
		queue_forget(vd, &vd->q[i]);
	}
	if (m->ioeventfd && transport_kvm_init(vd, e))
		goto fail;
	if (bus_register(&m->mmio, vd->base, VIRTIO_MMIO_SIZE, ops->name, virtio_mmio_access, vd,
			 e))
		goto fail;
	if (acpi_add_virtio_mmio(m, vd->base, VIRTIO_MMIO_SIZE, vd->gsi, e) ||
	    machine_on_destroy(m, transport_destroy, vd, e)) {
		bus_unregister(&m->mmio, vd->base);
		goto fail;
	}
	return vd;
fail:
	vd->ops = &(const struct virtio_device_ops){.num_queues = ops->num_queues};
	transport_destroy(vd); /* frees the transport, not dev */
	return NULL;
}

void *virtio_mmio_find(struct machine *m, uint32_t device_id, unsigned nth, struct virtio_dev **vdp)
{
	struct virtio_dev *vd;

	for (unsigned n = 0; (vd = transport_at(m, n)); n++) {
		if (vd->ops->device_id != device_id || nth-- != 0)
			continue;
		if (vdp)
			*vdp = vd;
		return vd->dev;
	}
	return NULL;
}

int virtio_mmio_info(struct machine *m, unsigned n, struct virtio_mmio_info *info)
{
	struct virtio_dev *vd = transport_at(m, n);

	if (!vd)
		return -1;
	pthread_mutex_lock(&vd->lock);
	*info = (struct virtio_mmio_info){
	    .name = vd->ops->name,
	    .device_id = vd->ops->device_id,
	    .base = vd->base,
	    .gsi = vd->gsi,
	    .status = vd->status,
	    .iothread = vd->io != NULL,
	    .notify_exits = atomic_load(&vd->notify_exits),
	    .notify_events = atomic_load(&vd->notify_events),
	    .interrupts = atomic_load(&vd->interrupts),
	    .config_changes = vd->generation,
	};
	snprintf(info->error, sizeof(info->error), "%s", vd->error);
	pthread_mutex_unlock(&vd->lock);
	return 0;
}

struct virtq *virtio_queue(struct virtio_dev *vd, unsigned qidx)
{
	return qidx < vd->ops->num_queues && vd->q[qidx].ready ? &vd->q[qidx].vq : NULL;
}

const struct gmem *virtio_gmem(struct virtio_dev *vd)
{
	return &vd->m->mem;
}

uint64_t virtio_features(const struct virtio_dev *vd)
{
	return vd->driver_features;
}

void virtio_queue_signal(struct virtio_dev *vd, unsigned qidx)
{
	struct virtq *vq = virtio_queue(vd, qidx);

	if (vq && virtq_should_signal(vq))
		raise_irq(vd, VIRTIO_INT_VRING);
}

void virtio_config_changed(struct virtio_dev *vd)
{
	vd->generation++;
	if (vd->status & VIRTIO_STATUS_DRIVER_OK)
		raise_irq(vd, VIRTIO_INT_CONFIG);
}

void virtio_lock(struct virtio_dev *vd)
{
	pthread_mutex_lock(&vd->lock);
}

void virtio_unlock(struct virtio_dev *vd)
{
	pthread_mutex_unlock(&vd->lock);
}

static void watch_event(void *opaque)
{
	struct fd_watch *w = opaque;

	pthread_mutex_lock(&w->vd->lock);
	w->fn(w->vd->dev);
	pthread_mutex_unlock(&w->vd->lock);
}

int virtio_watch_fd(struct virtio_dev *vd, int fd, void (*fn)(void *dev), struct errbuf *e)
{
	struct fd_watch *w;

	if (!vd->io)
		return 0;
	w = malloc(sizeof(*w));
	if (!w)
		return err_set(e, "%s: out of memory watching fd %d", vd->ops->name, fd);
	*w = (struct fd_watch){.vd = vd, .fn = fn, .next = vd->watches};
	vd->watches = w;
	return iothread_watch(vd->io, fd, watch_event, w, e);
}
