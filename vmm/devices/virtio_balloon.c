/* virtio-balloon: inflated guest pages go back to the host through the machine's discard hook. */
#include <endian.h>
#include <stdlib.h>
#include <string.h>

#include "kvmlab/balloon.h"
#include "kvmlab/config.h"
#include "kvmlab/virtio.h"

#define BALLOON_F_DEFLATE_ON_OOM 2
#define BALLOON_Q_INFLATE	 0
#define BALLOON_Q_DEFLATE	 1
#define BALLOON_BATCH		 256 /* PFNs sorted and discarded at a time (Linux sends <= 256) */
#define BALLOON_CONFIG_SIZE	 8   /* le32 num_pages, le32 actual */

struct virtio_balloon {
	struct virtio_dev *vd;
	struct machine *m;
	struct balloon_info info; /* under the device lock */
	struct virtq_elem el;
	uint32_t pfns[BALLOON_BATCH];
	struct balloon_run runs[BALLOON_BATCH];
	struct balloon_blocks *blocks; /* pages held, when a unit is > 4 KiB */
	bool held_since_flush;	       /* pages joined blocks since partial units last went back */
	struct balloon_run whole[BALLOON_BATCH + 2]; /* units a run completed */
};

/* Insertion sort: at most BALLOON_BATCH PFNs, often nearly in order, and unlike qsort it
 * neither allocates nor asks the kernel for the memory size (the I/O thread's seccomp filter). */
static void pfn_sort(uint32_t *p, unsigned n)
{
	for (unsigned i = 1; i < n; i++) {
		uint32_t v = p[i];
		unsigned j = i;

		for (; j > 0 && p[j - 1] > v; j--)
			p[j] = p[j - 1];
		p[j] = v;
	}
}

unsigned balloon_pfn_runs(const struct gmem *mem, uint32_t *pfns, unsigned n, uint64_t align,
			  struct balloon_run *runs, unsigned *refused)
{
	const struct gmem_region *cur = NULL;
	unsigned nruns = 0;
	uint64_t start = 0, end = 0;

	*refused = 0;
	pfn_sort(pfns, n);
	for (unsigned i = 0; i <= n; i++) {
		uint64_t gpa = i < n ? (uint64_t)pfns[i] << BALLOON_PAGE_SHIFT : 0;
		const struct gmem_region *r = NULL;

		if (i < n && i > 0 && pfns[i] == pfns[i - 1])
			continue; /* a duplicate */
		if (i < n) {
			r = gmem_region_at(mem, gpa);
			if (!gmem_ptr(mem, gpa, BALLOON_PAGE, true)) {
				(*refused)++;
				continue;
			}
			if (r == cur && gpa == end) {
				end += BALLOON_PAGE;
				continue;
			}
		}
		/* The run [start, end) ends here: keep its whole align units. */
		if (cur) {
			uint64_t a = (start + align - 1) & ~(align - 1), b = end & ~(align - 1);

			if (b > a)
				runs[nruns++] = (struct balloon_run){a, b - a};
		}
		cur = r;
		start = gpa;
		end = gpa + BALLOON_PAGE;
	}
	return nruns;
}

/* Gives [gpa, gpa + len) back through the machine's discard hook, counting the outcome. */
static void balloon_discard(struct virtio_balloon *b, const struct balloon_run *run)
{
	struct errbuf e;

	if (!b->m->discard)
		return; /* no VM (tests, fuzzing): nothing to give back */
	if (b->m->discard(b->m->discard_opaque, run->gpa, run->len, &e)) {
		if (!b->info.discard_errors++)
			memcpy(b->info.last_error, e.msg, sizeof(e.msg));
	} else {
		b->info.discarded += run->len;
	}
}

/* Runs of pages for a policy whose discard unit is larger than a page: each unit goes back
 * once the balloon holds all of it (balloon_blocks). */
static void balloon_hold_runs(struct virtio_balloon *b, const struct gmem *mem, unsigned nruns,
			      uint64_t align)
{
	if (!b->blocks && !(b->blocks = balloon_blocks_create()))
		return; /* out of memory: the pages stay with the host, nothing is lost */
	b->held_since_flush = true;
	for (unsigned i = 0; i < nruns; i++) {
		const struct gmem_region *r = gmem_region_at(mem, b->runs[i].gpa);
		unsigned n = r ? balloon_blocks_add(b->blocks, r, &b->runs[i], align, b->whole,
						    BALLOON_BATCH + 2)
			       : 0;

		for (unsigned j = 0; j < n; j++)
			balloon_discard(b, &b->whole[j]);
	}
}

/* Deflate: the guest takes these pages back; they leave the balloon's bitmap. Lock held. */
static void balloon_deflate(struct virtio_balloon *b, const struct virtq_elem *el)
{
	const struct gmem *mem = virtio_gmem(b->vd);
	uint64_t off = 0;
	size_t got;

	b->info.deflated += el->out_len / sizeof(uint32_t);
	while (b->blocks && (got = virtq_elem_read(el, off, b->pfns, sizeof(b->pfns))) >= 4) {
		off += got & ~(size_t)3;
		for (unsigned i = 0; i < got / sizeof(uint32_t); i++) {
			uint64_t gpa = (uint64_t)le32toh(b->pfns[i]) << BALLOON_PAGE_SHIFT;
			const struct gmem_region *r = gmem_region_at(mem, gpa);

			if (r)
				balloon_blocks_remove(b->blocks, r, gpa);
		}
	}
}

/* Inflate: every PFN of the chain, in batches; runs go to the discard hook. Lock held. */
static void balloon_inflate(struct virtio_balloon *b, const struct virtq_elem *el)
{
	const struct gmem *mem = virtio_gmem(b->vd);
	uint64_t align = b->m->discard_align > BALLOON_PAGE ? b->m->discard_align : BALLOON_PAGE;
	uint64_t off = 0;

	while (off + sizeof(uint32_t) <= el->out_len) {
		size_t got = virtq_elem_read(el, off, b->pfns, sizeof(b->pfns));
		unsigned n = (unsigned)(got / sizeof(uint32_t)), nruns, refused;

		if (!n)
			break;
		off += n * sizeof(uint32_t);
		for (unsigned i = 0; i < n; i++)
			b->pfns[i] = le32toh(b->pfns[i]);
		b->info.inflated += n;
		nruns = balloon_pfn_runs(mem, b->pfns, n, BALLOON_PAGE, b->runs, &refused);
		b->info.refused += refused;
		if (align > BALLOON_PAGE) {
			balloon_hold_runs(b, mem, nruns, align);
			continue;
		}
		for (unsigned i = 0; i < nruns; i++)
			balloon_discard(b, &b->runs[i]);
	}
}

static void balloon_queue_notify(void *dev, unsigned qidx)
{
	struct virtio_balloon *b = dev;
	struct virtq *vq = virtio_queue(b->vd, qidx);
	bool pushed = false;
	struct errbuf e;
	int r;

	if (!vq)
		return;
	virtq_disable_notify(vq);
	/* Until empty, then re-enable kicks (with EVENT_IDX that moves avail_event, without
	 * which the driver would not kick again) and look once more. */
	while ((r = virtq_pop(vq, &b->el, &e)) == 1 || (r == 0 && virtq_enable_notify(vq))) {
		if (r == 0)
			continue;
		if (qidx == BALLOON_Q_INFLATE)
			balloon_inflate(b, &b->el);
		else
			balloon_deflate(b, &b->el);
		if (virtq_push(vq, &b->el, 0, &e)) {
			r = -1;
			break;
		}
		pushed = true;
	}
	if (pushed)
		virtio_queue_signal(b->vd, qidx);
	if (r < 0)
		virtio_queue_error(b->vd, qidx, e.msg);
}

static uint64_t balloon_features(void *dev)
{
	(void)dev;
	return VIRTIO_BIT(BALLOON_F_DEFLATE_ON_OOM);
}

static void balloon_config_read(void *dev, uint32_t off, void *buf, uint32_t len)
{
	struct virtio_balloon *b = dev;
	uint32_t cfg[2] = {htole32(b->info.target_pages), htole32(b->info.actual_pages)};

	memcpy(buf, (uint8_t *)cfg + off, len);
}

static void balloon_discard_cb(void *opaque, const struct balloon_run *run)
{
	balloon_discard(opaque, run);
}

/* The driver writes actual; num_pages is the host's. Once the guest has given what was asked,
 * pages held in partly held units go back too, where the policy can split its pages. */
static void balloon_config_write(void *dev, uint32_t off, const void *buf, uint32_t len)
{
	struct virtio_balloon *b = dev;
	uint32_t cfg[2] = {0, htole32(b->info.actual_pages)};

	memcpy((uint8_t *)cfg + off, buf, len);
	b->info.actual_pages = le32toh(cfg[1]);
	/* Once per inflation: the driver may write actual again without inflating more. */
	if (b->blocks && b->held_since_flush && b->info.actual_pages >= b->info.target_pages &&
	    b->m->discard_min && b->m->discard_min < b->m->discard_align &&
	    b->m->discard_min <= BALLOON_PAGE) {
		balloon_blocks_partial(b->blocks, b->m->discard_align, balloon_discard_cb, b);
		b->held_since_flush = false;
	}
}

static void balloon_reset(void *dev)
{
	struct virtio_balloon *b = dev;

	b->info.actual_pages = 0;	   /* a reset driver holds no pages; the target stays */
	balloon_blocks_destroy(b->blocks); /* nor does the balloon, then */
	b->blocks = NULL;
}

static void balloon_destroy(void *dev)
{
	struct virtio_balloon *b = dev;

	balloon_blocks_destroy(b->blocks);
	free(b);
}

static const struct virtio_device_ops balloon_ops = {
    .name = "virtio-balloon",
    .device_id = VIRTIO_ID_BALLOON,
    .num_queues = 2,
    .queue_max_size = VIRTQ_MAX_SIZE,
    .config_size = BALLOON_CONFIG_SIZE,
    .features = balloon_features,
    .config_read = balloon_config_read,
    .config_write = balloon_config_write,
    .queue_notify = balloon_queue_notify,
    .reset = balloon_reset,
    .destroy = balloon_destroy,
};

struct virtio_balloon *virtio_balloon_attach(struct machine *m, struct errbuf *e)
{
	struct virtio_balloon *b = calloc(1, sizeof(*b));

	if (!b) {
		err_set(e, "out of memory creating virtio-balloon");
		return NULL;
	}
	b->m = m;
	b->vd = virtio_mmio_attach(m, &balloon_ops, b, e);
	if (!b->vd) {
		free(b);
		return NULL;
	}
	return b;
}

static uint64_t balloon_guest_pages(const struct gmem *mem)
{
	unsigned n = atomic_load_explicit(&mem->nregions, memory_order_acquire);
	uint64_t bytes = 0;

	for (unsigned i = 0; i < n; i++)
		if (!(mem->regions[i].flags & GMEM_READONLY))
			bytes += mem->regions[i].size;
	return bytes / BALLOON_PAGE;
}

int virtio_balloon_set_target(struct machine *m, uint64_t pages, struct errbuf *e)
{
	struct virtio_dev *vd;
	struct virtio_balloon *b = virtio_mmio_find(m, VIRTIO_ID_BALLOON, 0, &vd);
	uint64_t have = balloon_guest_pages(&m->mem);

	if (!b)
		return err_set(e,
			       "this VM has no balloon (virtio-balloon comes with kernel boots)");
	if (pages > have)
		return err_set(e, "balloon target %llu MiB is more than the guest's %llu MiB",
			       (unsigned long long)(pages >> 8), (unsigned long long)(have >> 8));
	virtio_lock(vd);
	b->info.target_pages = (uint32_t)pages;
	virtio_config_changed(vd);
	virtio_unlock(vd);
	return 0;
}

int virtio_balloon_info(struct machine *m, struct balloon_info *out, struct errbuf *e)
{
	struct virtio_dev *vd;
	struct virtio_balloon *b = virtio_mmio_find(m, VIRTIO_ID_BALLOON, 0, &vd);

	if (!b)
		return err_set(e,
			       "this VM has no balloon (virtio-balloon comes with kernel boots)");
	virtio_lock(vd);
	*out = b->info;
	virtio_unlock(vd);
	return 0;
}

/* One balloon on kernel boots: a Linux guest has the driver, a flat test guest would not. */
static int balloon_type_attach(struct machine *m, const struct run_config *rc, struct errbuf *e)
{
	return rc->kernel[0] && !virtio_balloon_attach(m, e) ? -1 : 0;
}

const struct virtio_device_type virtio_balloon_type = {
    .name = "virtio-balloon",
    .attach = balloon_type_attach,
};
