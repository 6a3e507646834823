/* Split virtqueues over gmem: chains popped with every index, address and length checked. */
#include <stdatomic.h>
#include <string.h>

#include "kvmlab/virtio.h"

#define AVAIL_F_NO_INTERRUPT 1
#define USED_F_NO_NOTIFY     1

struct vdesc {
	uint64_t addr;
	uint32_t len;
	uint16_t flags;
	uint16_t next;
};

/*
 * Guest memory changes under us (the driver runs on other CPUs), so every
 * field is copied out once and only the copy is checked and used. Ring areas
 * are looked up through gmem on each access: a region removed meanwhile turns
 * into an error, not a stale pointer.
 */
static bool rd16(const struct virtq *vq, uint64_t gpa, uint16_t *v)
{
	const void *p = gmem_ptr(vq->mem, gpa, 2, false);

	if (!p)
		return false;
	memcpy(v, p, 2);
	return true;
}

static bool wr16(const struct virtq *vq, uint64_t gpa, uint16_t v)
{
	void *p = gmem_ptr(vq->mem, gpa, 2, true);

	if (!p)
		return false;
	memcpy(p, &v, 2);
	return true;
}

static uint64_t avail_ring(const struct virtq *vq, uint16_t i)
{
	return vq->avail + 4 + 2ull * (i % vq->size);
}

static uint64_t used_event_gpa(const struct virtq *vq)
{
	return vq->avail + 4 + 2ull * vq->size;
}

static uint64_t avail_event_gpa(const struct virtq *vq)
{
	return vq->used + 4 + 8ull * vq->size;
}

int virtq_init(struct virtq *vq, const struct gmem *mem, uint16_t size, uint64_t desc,
	       uint64_t avail, uint64_t used, uint64_t features, struct errbuf *e)
{
	if (size == 0 || size > VIRTQ_MAX_SIZE || (size & (size - 1)))
		return err_set(e, "queue size %u is not a power of two from 1 to %u", size,
			       VIRTQ_MAX_SIZE);
	if (desc % 16 || avail % 2 || used % 4)
		return err_set(e,
			       "misaligned ring (descriptors 0x%llx, driver area 0x%llx, device "
			       "area 0x%llx)",
			       (unsigned long long)desc, (unsigned long long)avail,
			       (unsigned long long)used);
	if (!gmem_ptr(mem, desc, 16ull * size, false))
		return err_set(e, "descriptor table at 0x%llx (%u entries) is not in guest RAM",
			       (unsigned long long)desc, size);
	if (!gmem_ptr(mem, avail, 6 + 2ull * size, false))
		return err_set(e, "driver area at 0x%llx is not in guest RAM",
			       (unsigned long long)avail);
	if (!gmem_ptr(mem, used, 6 + 8ull * size, true))
		return err_set(e, "device area at 0x%llx is not in writable guest RAM",
			       (unsigned long long)used);
	*vq = (struct virtq){
	    .mem = mem,
	    .desc = desc,
	    .avail = avail,
	    .used = used,
	    .size = size,
	    .event_idx = !!(features & VIRTIO_BIT(VIRTIO_F_EVENT_IDX)),
	    .indirect = !!(features & VIRTIO_BIT(VIRTIO_F_INDIRECT_DESC)),
	};
	return 0;
}

bool virtq_pending(const struct virtq *vq)
{
	uint16_t idx;

	return rd16(vq, vq->avail + 2, &idx) && idx != vq->last_avail;
}

static int read_desc(const struct virtq *vq, uint64_t table, uint32_t i, struct vdesc *d,
		     struct errbuf *e)
{
	const void *p = gmem_ptr(vq->mem, table + 16ull * i, 16, false);

	if (!p)
		return err_set(e, "descriptor %u of the table at 0x%llx is not in guest RAM", i,
			       (unsigned long long)table);
	memcpy(d, p, sizeof(*d));
	return 0;
}

/* Adds one buffer to el: readable ones only before writable ones, each inside one region. */
static int add_seg(struct virtq_elem *el, const struct gmem *mem, const struct vdesc *d,
		   struct errbuf *e)
{
	bool write = d->flags & VIRTQ_DESC_F_WRITE;
	uint64_t *total = write ? &el->in_len : &el->out_len;
	void *p;

	if (d->len == 0)
		return 0;
	if (!write && el->nin)
		return err_set(e, "chain %u: a device-readable buffer after a writable one",
			       el->head);
	if (el->nout + el->nin >= VIRTQ_MAX_SEGS)
		return err_set(e, "chain %u: more than %u buffers", el->head, VIRTQ_MAX_SEGS);
	if (*total + d->len > UINT32_MAX)
		return err_set(e, "chain %u: more than 4 GiB of %s buffers", el->head,
			       write ? "writable" : "readable");
	p = gmem_ptr(mem, d->addr, d->len, write);
	if (!p)
		return err_set(e, "chain %u: buffer 0x%llx (%u bytes) is not in %sguest RAM",
			       el->head, (unsigned long long)d->addr, d->len,
			       write ? "writable " : "");
	el->iov[el->nout + el->nin] = (struct iovec){.iov_base = p, .iov_len = d->len};
	if (write)
		el->nin++;
	else
		el->nout++;
	*total += d->len;
	return 0;
}

/* Walks the chain at head, expanding at most one indirect table. */
static int walk_chain(const struct virtq *vq, struct virtq_elem *el, struct errbuf *e)
{
	uint64_t table = vq->desc;
	uint32_t table_len = vq->size, i = el->head, steps = 0;
	bool indirect = false;
	struct vdesc d;

	for (;;) {
		if (i >= table_len)
			return err_set(
			    e, "chain %u: descriptor index %u is past the %s (%u entries)",
			    el->head, i, indirect ? "indirect table" : "queue", table_len);
		if (++steps > table_len)
			return err_set(e, "chain %u: loops or is longer than %u descriptors",
				       el->head, table_len);
		if (read_desc(vq, table, i, &d, e))
			return -1;
		if (d.flags & VIRTQ_DESC_F_INDIRECT) {
			if (!vq->indirect)
				return err_set(e,
					       "chain %u: indirect descriptor without "
					       "VIRTIO_F_INDIRECT_DESC",
					       el->head);
			if (indirect)
				return err_set(e,
					       "chain %u: indirect table inside an indirect table",
					       el->head);
			if (d.flags & VIRTQ_DESC_F_NEXT)
				return err_set(e, "chain %u: indirect descriptor with NEXT",
					       el->head);
			if (d.len == 0 || d.len % 16 || d.len / 16 > VIRTQ_MAX_SEGS)
				return err_set(
				    e,
				    "chain %u: indirect table of %u bytes (a multiple of "
				    "16, at most %u entries)",
				    el->head, d.len, VIRTQ_MAX_SEGS);
			if (d.addr % 16 || !gmem_ptr(vq->mem, d.addr, d.len, false))
				return err_set(
				    e,
				    "chain %u: indirect table at 0x%llx is misaligned or "
				    "not in guest RAM",
				    el->head, (unsigned long long)d.addr);
			indirect = true;
			table = d.addr;
			table_len = d.len / 16;
			i = 0;
			steps = 0;
			continue;
		}
		if (add_seg(el, vq->mem, &d, e))
			return -1;
		if (!(d.flags & VIRTQ_DESC_F_NEXT))
			return 0;
		i = d.next;
	}
}

int virtq_pop(struct virtq *vq, struct virtq_elem *el, struct errbuf *e)
{
	uint16_t idx, head;

	if (!rd16(vq, vq->avail + 2, &idx))
		return err_set(e, "the driver area at 0x%llx is no longer in guest RAM",
			       (unsigned long long)vq->avail);
	if (idx == vq->last_avail)
		return 0;
	if ((uint16_t)(idx - vq->last_avail) > vq->size)
		return err_set(e, "avail idx %u is more than the queue size (%u) ahead of %u", idx,
			       vq->size, vq->last_avail);
	/* The ring entry and the descriptors are read after the index that published them. */
	atomic_thread_fence(memory_order_acquire);
	if (!rd16(vq, avail_ring(vq, vq->last_avail), &head))
		return err_set(e, "the driver area is no longer in guest RAM");
	if (head >= vq->size)
		return err_set(e, "avail ring entry %u names descriptor %u of %u",
			       vq->last_avail % vq->size, head, vq->size);
	el->head = head;
	el->nout = el->nin = 0;
	el->out_len = el->in_len = 0;
	if (walk_chain(vq, el, e))
		return -1;
	vq->last_avail++;
	return 1;
}

int virtq_push(struct virtq *vq, const struct virtq_elem *el, uint32_t len, struct errbuf *e)
{
	uint64_t slot = vq->used + 4 + 8ull * (vq->used_idx % vq->size);
	uint32_t entry[2] = {el->head, len < el->in_len ? len : (uint32_t)el->in_len};
	void *p = gmem_ptr(vq->mem, slot, sizeof(entry), true);

	if (!p)
		return err_set(e, "the device area at 0x%llx is no longer in guest RAM",
			       (unsigned long long)vq->used);
	memcpy(p, entry, sizeof(entry));
	/* The element is visible before the index that publishes it. */
	atomic_thread_fence(memory_order_release);
	if (!wr16(vq, vq->used + 2, (uint16_t)(vq->used_idx + 1)))
		return err_set(e, "the device area is no longer in guest RAM");
	vq->used_idx++;
	return 0;
}

void virtq_disable_notify(struct virtq *vq)
{
	uint16_t flags;

	/* With EVENT_IDX, leaving avail_event behind is what suppresses kicks. */
	if (!vq->event_idx && rd16(vq, vq->used, &flags))
		wr16(vq, vq->used, flags | USED_F_NO_NOTIFY);
}

bool virtq_enable_notify(struct virtq *vq)
{
	uint16_t flags;

	if (vq->event_idx)
		wr16(vq, avail_event_gpa(vq), vq->last_avail);
	else if (rd16(vq, vq->used, &flags))
		wr16(vq, vq->used, flags & ~USED_F_NO_NOTIFY);
	/* The driver reads our write after publishing avail idx; we read its idx after our
	 * write: without a full fence both could miss each other and the queue would stall. */
	atomic_thread_fence(memory_order_seq_cst);
	return virtq_pending(vq);
}

bool virtq_should_signal(struct virtq *vq)
{
	uint16_t old = vq->signalled_used, now = vq->used_idx, v;
	bool valid = vq->signalled_valid;

	/* Our used idx store must be visible before we read the driver's suppression. */
	atomic_thread_fence(memory_order_seq_cst);
	vq->signalled_used = now;
	vq->signalled_valid = true;
	if (valid && old == now)
		return false;
	if (vq->event_idx) {
		if (!rd16(vq, used_event_gpa(vq), &v))
			return true;
		/* vring_need_event: used_event lies in (old, now]. */
		return !valid || (uint16_t)(now - v - 1) < (uint16_t)(now - old);
	}
	return !rd16(vq, vq->avail, &v) || !(v & AVAIL_F_NO_INTERRUPT);
}

/* Copies between buf and iov[0 .. n), starting off bytes into the iovs; to_iov picks the way. */
static size_t elem_copy(const struct iovec *iov, unsigned n, uint64_t off, void *buf, size_t len,
			bool to_iov)
{
	size_t done = 0;

	for (unsigned i = 0; i < n && done < len; i++) {
		uint8_t *guest, *host = (uint8_t *)buf + done;
		size_t k;

		if (off >= iov[i].iov_len) {
			off -= iov[i].iov_len;
			continue;
		}
		guest = (uint8_t *)iov[i].iov_base + off;
		k = iov[i].iov_len - off < len - done ? iov[i].iov_len - off : len - done;
		memcpy(to_iov ? guest : host, to_iov ? host : guest, k);
		done += k;
		off = 0;
	}
	return done;
}

size_t virtq_elem_read(const struct virtq_elem *el, uint64_t off, void *buf, size_t len)
{
	return elem_copy(el->iov, el->nout, off, buf, len, false);
}

size_t virtq_elem_write(const struct virtq_elem *el, uint64_t off, const void *buf, size_t len)
{
	return elem_copy(el->iov + el->nout, el->nin, off, (void *)buf, len, true);
}
