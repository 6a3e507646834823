/* A minimal virtio-mmio driver over a machine's MMIO bus and gmem, for fuzz targets and unit tests.
 */
#ifndef KVMLAB_FUZZ_VIRTIO_DRIVER_H
#define KVMLAB_FUZZ_VIRTIO_DRIVER_H

#include <stdbool.h>
#include <stdint.h>
#include <string.h>

#include "kvmlab/machine.h"
#include "kvmlab/virtio.h"

/*
 * What a guest's driver does, through the same door a vCPU's MMIO exits use
 * (machine_mmio) and plain stores into guest memory: set the transport up,
 * put descriptor chains on a queue, kick, and collect used entries. Without a
 * VM the transport runs queue_notify synchronously at the kick. Each queue's
 * rings sit in a 16 KiB area (enough for 256 entries); chains take descriptors
 * in order, wrapping, so a test never has more in flight than the queue size.
 * Header-only so fuzz targets and vmm/tests share it without a library.
 */
#define VDRV_QUEUES	2
#define VDRV_RING_AREA	0x4000u
#define VDRV_MAGIC	0x74726976u /* "virt" */
#define VDRV_STATUS_REG 0x070
#define VDRV_NOTIFY_REG 0x050
#define VDRV_INT_STATUS 0x060
#define VDRV_INT_ACK	0x064
#define VDRV_CONFIG	0x100

struct vdrv_queue {
	uint64_t desc, avail, used;
	uint16_t size;
	uint16_t next_desc; /* next descriptor to fill */
	uint16_t avail_idx; /* driver's avail idx */
	uint16_t used_seen; /* used entries collected */
};

struct vdrv {
	struct machine *m;
	uint64_t base;
	uint64_t features; /* negotiated */
	struct vdrv_queue q[VDRV_QUEUES];
};

struct vdrv_seg {
	uint64_t gpa;
	uint32_t len;
	bool write; /* device-writable */
};

static inline void vdrv_w32(struct vdrv *d, uint32_t off, uint32_t v)
{
	uint8_t b[4];

	memcpy(b, &v, 4);
	machine_mmio(d->m, d->base + off, b, 4, true);
}

static inline uint32_t vdrv_r32(struct vdrv *d, uint32_t off)
{
	uint8_t b[4] = {0};
	uint32_t v;

	machine_mmio(d->m, d->base + off, b, 4, false);
	memcpy(&v, b, 4);
	return v;
}

static inline void vdrv_mem16(struct vdrv *d, uint64_t gpa, uint16_t v)
{
	gmem_write(&d->m->mem, gpa, &v, 2);
}

static inline uint16_t vdrv_get16(struct vdrv *d, uint64_t gpa)
{
	uint16_t v = 0;

	gmem_read(&d->m->mem, gpa, &v, 2);
	return v;
}

/*
 * Resets the transport at base, checks it is device_id, accepts the offered
 * features within want, and sets up nq queues of qsize entries (clamped to
 * QueueNumMax) with their rings in [area, area + nq * VDRV_RING_AREA), which the
 * caller zeroed. Returns the device status after DRIVER_OK (FEATURES_OK and
 * DRIVER_OK set on success), or 0 when the transport is not what it should be.
 */
static inline uint32_t vdrv_init(struct vdrv *d, struct machine *m, uint64_t base,
				 uint32_t device_id, uint64_t want, unsigned nq, uint16_t qsize,
				 uint64_t area)
{
	uint64_t offered;

	memset(d, 0, sizeof(*d));
	d->m = m;
	d->base = base;
	if (vdrv_r32(d, 0) != VDRV_MAGIC || vdrv_r32(d, 0x004) != 2 ||
	    vdrv_r32(d, 0x008) != device_id || nq > VDRV_QUEUES)
		return 0;
	vdrv_w32(d, VDRV_STATUS_REG, 0);
	vdrv_w32(d, VDRV_STATUS_REG, VIRTIO_STATUS_ACKNOWLEDGE);
	vdrv_w32(d, VDRV_STATUS_REG, VIRTIO_STATUS_ACKNOWLEDGE | VIRTIO_STATUS_DRIVER);
	vdrv_w32(d, 0x014, 0);
	offered = vdrv_r32(d, 0x010);
	vdrv_w32(d, 0x014, 1);
	offered |= (uint64_t)vdrv_r32(d, 0x010) << 32;
	d->features = offered & want;
	vdrv_w32(d, 0x024, 0);
	vdrv_w32(d, 0x020, (uint32_t)d->features);
	vdrv_w32(d, 0x024, 1);
	vdrv_w32(d, 0x020, (uint32_t)(d->features >> 32));
	vdrv_w32(d, VDRV_STATUS_REG,
		 VIRTIO_STATUS_ACKNOWLEDGE | VIRTIO_STATUS_DRIVER | VIRTIO_STATUS_FEATURES_OK);
	for (unsigned i = 0; i < nq; i++) {
		struct vdrv_queue *q = &d->q[i];
		uint32_t max;

		vdrv_w32(d, 0x030, i);
		max = vdrv_r32(d, 0x034);
		q->size = qsize <= max ? qsize : (uint16_t)max;
		q->desc = area + i * VDRV_RING_AREA;
		q->avail = q->desc + 16u * 256;
		q->used = q->avail + 0x1000;
		vdrv_w32(d, 0x038, q->size);
		vdrv_w32(d, 0x080, (uint32_t)q->desc);
		vdrv_w32(d, 0x084, (uint32_t)(q->desc >> 32));
		vdrv_w32(d, 0x090, (uint32_t)q->avail);
		vdrv_w32(d, 0x094, (uint32_t)(q->avail >> 32));
		vdrv_w32(d, 0x0a0, (uint32_t)q->used);
		vdrv_w32(d, 0x0a4, (uint32_t)(q->used >> 32));
		vdrv_w32(d, 0x044, 1);
	}
	vdrv_w32(d, VDRV_STATUS_REG,
		 VIRTIO_STATUS_ACKNOWLEDGE | VIRTIO_STATUS_DRIVER | VIRTIO_STATUS_FEATURES_OK |
		     VIRTIO_STATUS_DRIVER_OK);
	return vdrv_r32(d, VDRV_STATUS_REG);
}

/*
 * Makes the chain segs[0..n) available on queue qi (n <= queue size) and returns
 * its head; with kick, writes QueueNotify (the device processes it at once).
 * Descriptor indices wrap around the table: a caller keeps the number of
 * descriptors in flight at most the queue size (vdrv_collect first).
 */
static inline uint16_t vdrv_add(struct vdrv *d, unsigned qi, const struct vdrv_seg *segs,
				unsigned n, bool kick)
{
	struct vdrv_queue *q = &d->q[qi];
	uint16_t head = q->next_desc;

	for (unsigned i = 0; i < n; i++) {
		uint16_t idx = (uint16_t)((head + i) % q->size);
		uint16_t next = (uint16_t)((head + i + 1) % q->size);
		uint16_t flags = (uint16_t)((i + 1 < n ? VIRTQ_DESC_F_NEXT : 0) |
					    (segs[i].write ? VIRTQ_DESC_F_WRITE : 0));
		uint8_t desc[16];

		memcpy(desc, &segs[i].gpa, 8);
		memcpy(desc + 8, &segs[i].len, 4);
		memcpy(desc + 12, &flags, 2);
		memcpy(desc + 14, &next, 2);
		gmem_write(&d->m->mem, q->desc + 16u * idx, desc, 16);
	}
	q->next_desc = (uint16_t)((head + n) % q->size);
	vdrv_mem16(d, q->avail + 4 + 2u * (q->avail_idx % q->size), head);
	q->avail_idx++;
	__atomic_thread_fence(__ATOMIC_SEQ_CST);
	vdrv_mem16(d, q->avail + 2, q->avail_idx);
	if (kick)
		vdrv_w32(d, VDRV_NOTIFY_REG, qi);
	return head;
}

/* The next used entry of queue qi: true with *id and *len set, false when there is none. */
static inline bool vdrv_used(struct vdrv *d, unsigned qi, uint32_t *id, uint32_t *len)
{
	struct vdrv_queue *q = &d->q[qi];
	uint64_t at = q->used + 4 + 8u * (q->used_seen % q->size);

	if (vdrv_get16(d, q->used + 2) == q->used_seen)
		return false;
	gmem_read(&d->m->mem, at, id, 4);
	gmem_read(&d->m->mem, at + 4, len, 4);
	q->used_seen++;
	return true;
}

#endif
