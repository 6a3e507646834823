/* The checked guest-physical to host translation every device and loader goes through. */
#include <stdatomic.h>
#include <string.h>

#include "kvmlab/gmem.h"

static bool ranges_overlap(uint64_t a, uint64_t alen, uint64_t b, uint64_t blen)
{
	return a < b + blen && b < a + alen;
}

int gmem_add(struct gmem *m, uint64_t gpa, uint64_t size, void *host, uint32_t flags,
	     struct errbuf *e)
{
	unsigned n = atomic_load_explicit(&m->nregions, memory_order_relaxed);

	if (size == 0 || gpa + size < gpa)
		return err_set(e, "memory region at 0x%llx of 0x%llx bytes is empty or wraps",
			       (unsigned long long)gpa, (unsigned long long)size);
	if (n == GMEM_MAX_REGIONS)
		return err_set(e, "too many memory regions (at most %d)", GMEM_MAX_REGIONS);
	for (unsigned i = 0; i < n; i++) {
		const struct gmem_region *r = &m->regions[i];

		if (ranges_overlap(gpa, size, r->gpa, r->size))
			return err_set(
			    e, "memory region 0x%llx-0x%llx overlaps region 0x%llx-0x%llx",
			    (unsigned long long)gpa, (unsigned long long)(gpa + size - 1),
			    (unsigned long long)r->gpa, (unsigned long long)(r->gpa + r->size - 1));
	}
	/* Readers never look at entry n until the release store below publishes it. */
	m->regions[n] =
	    (struct gmem_region){.gpa = gpa, .size = size, .host = host, .flags = flags};
	atomic_store_explicit(&m->nregions, n + 1, memory_order_release);
	return 0;
}

int gmem_remove(struct gmem *m, uint64_t gpa, struct errbuf *e)
{
	unsigned n = atomic_load_explicit(&m->nregions, memory_order_relaxed);

	for (unsigned i = 0; i < n; i++) {
		if (m->regions[i].gpa != gpa)
			continue;
		m->regions[i] = m->regions[n - 1];
		atomic_store_explicit(&m->nregions, n - 1, memory_order_release);
		return 0;
	}
	return err_set(e, "no memory region starts at 0x%llx", (unsigned long long)gpa);
}

const struct gmem_region *gmem_region_at(const struct gmem *m, uint64_t gpa)
{
	unsigned n = atomic_load_explicit(&m->nregions, memory_order_acquire);

	for (unsigned i = 0; i < n; i++) {
		const struct gmem_region *r = &m->regions[i];

		if (gpa >= r->gpa && gpa - r->gpa < r->size)
			return r;
	}
	return NULL;
}

static void *gmem_ptr_flags(const struct gmem *m, uint64_t gpa, uint64_t len, bool write,
			    bool allow_readonly)
{
	const struct gmem_region *r;
	uint64_t off;

	if (len == 0)
		return NULL;
	r = gmem_region_at(m, gpa);
	if (!r || (write && !allow_readonly && (r->flags & GMEM_READONLY)))
		return NULL;
	off = gpa - r->gpa;
	/* off < size holds, so size - off cannot underflow; no gpa + len is formed. */
	if (len > r->size - off)
		return NULL;
	return r->host + off;
}

void *gmem_ptr(const struct gmem *m, uint64_t gpa, uint64_t len, bool write)
{
	return gmem_ptr_flags(m, gpa, len, write, false);
}

int gmem_read(const struct gmem *m, uint64_t gpa, void *dst, uint64_t len)
{
	const void *src = gmem_ptr(m, gpa, len, false);

	if (!src)
		return -1;
	memcpy(dst, src, len);
	return 0;
}

int gmem_write(const struct gmem *m, uint64_t gpa, const void *src, uint64_t len)
{
	void *dst = gmem_ptr(m, gpa, len, true);

	if (!dst)
		return -1;
	memcpy(dst, src, len);
	return 0;
}

int gmem_load(const struct gmem *m, uint64_t gpa, const void *src, uint64_t len)
{
	void *dst = gmem_ptr_flags(m, gpa, len, true, true);

	if (!dst)
		return -1;
	memcpy(dst, src, len);
	return 0;
}
