/* Which 4 KiB pages the balloon holds, so a larger discard unit goes back once all of it is held.
 */
#include <stdlib.h>
#include <string.h>

#include "kvmlab/balloon.h"

#define BITS_PER_WORD 64

struct balloon_map {
	uint64_t gpa, size; /* the region this bitmap covers; size 0: unused */
	uint64_t *bits;	    /* one bit per 4 KiB page of the region */
};

struct balloon_blocks {
	struct balloon_map maps[GMEM_MAX_REGIONS];
};

struct balloon_blocks *balloon_blocks_create(void)
{
	return calloc(1, sizeof(struct balloon_blocks));
}

void balloon_blocks_destroy(struct balloon_blocks *bb)
{
	if (!bb)
		return;
	for (unsigned i = 0; i < GMEM_MAX_REGIONS; i++)
		free(bb->maps[i].bits);
	free(bb);
}

/* The bitmap of region r, made on first use (NULL when out of memory). A region removed and
 * another added at the same address with a different size starts afresh. */
static struct balloon_map *blocks_map(struct balloon_blocks *bb, const struct gmem_region *r,
				      bool create)
{
	struct balloon_map *free_slot = NULL;

	for (unsigned i = 0; i < GMEM_MAX_REGIONS; i++) {
		struct balloon_map *m = &bb->maps[i];

		if (m->size && m->gpa == r->gpa) {
			if (m->size == r->size)
				return m;
			free(m->bits);
			memset(m, 0, sizeof(*m));
		}
		if (!m->size && !free_slot)
			free_slot = m;
	}
	if (!create || !free_slot)
		return NULL;
	free_slot->bits =
	    calloc((r->size / BALLOON_PAGE + BITS_PER_WORD - 1) / BITS_PER_WORD, sizeof(uint64_t));
	if (!free_slot->bits)
		return NULL;
	free_slot->gpa = r->gpa;
	free_slot->size = r->size;
	return free_slot;
}

static bool blocks_test(const uint64_t *bits, uint64_t page)
{
	return bits[page / BITS_PER_WORD] >> (page % BITS_PER_WORD) & 1;
}

/* Whether every page of [first, first + n) is held. */
static bool blocks_all(const uint64_t *bits, uint64_t first, uint64_t n)
{
	for (uint64_t p = first; p < first + n; p++) {
		if (p % BITS_PER_WORD == 0 && p + BITS_PER_WORD <= first + n) {
			if (bits[p / BITS_PER_WORD] != ~0ull)
				return false;
			p += BITS_PER_WORD - 1;
		} else if (!blocks_test(bits, p)) {
			return false;
		}
	}
	return true;
}

unsigned balloon_blocks_add(struct balloon_blocks *bb, const struct gmem_region *r,
			    const struct balloon_run *run, uint64_t align, struct balloon_run *out,
			    unsigned max)
{
	struct balloon_map *m = blocks_map(bb, r, true);
	uint64_t first, last, unit = align / BALLOON_PAGE;
	unsigned n = 0;

	if (!m || run->gpa < r->gpa || run->gpa - r->gpa > r->size ||
	    run->len > r->size - (run->gpa - r->gpa))
		return 0; /* out of memory: the pages stay with the host (nothing lost) */
	first = (run->gpa - r->gpa) / BALLOON_PAGE;
	last = first + run->len / BALLOON_PAGE;
	for (uint64_t p = first; p < last; p++)
		m->bits[p / BITS_PER_WORD] |= 1ull << (p % BITS_PER_WORD);
	/* Units (aligned in guest-physical terms) the run touched that are now wholly held. */
	for (uint64_t u = (run->gpa & ~(align - 1)); u < run->gpa + run->len && n < max;
	     u += align) {
		if (u < r->gpa || u + align > r->gpa + r->size)
			continue; /* a unit the region only partly covers never goes back whole */
		if (blocks_all(m->bits, (u - r->gpa) / BALLOON_PAGE, unit))
			out[n++] = (struct balloon_run){u, align};
	}
	return n;
}

void balloon_blocks_remove(struct balloon_blocks *bb, const struct gmem_region *r, uint64_t gpa)
{
	struct balloon_map *m = blocks_map(bb, r, false);
	uint64_t p;

	if (!m || gpa < r->gpa || gpa - r->gpa >= r->size)
		return;
	p = (gpa - r->gpa) / BALLOON_PAGE;
	m->bits[p / BITS_PER_WORD] &= ~(1ull << (p % BITS_PER_WORD));
}

void balloon_blocks_partial(const struct balloon_blocks *bb, uint64_t align,
			    void (*fn)(void *opaque, const struct balloon_run *run), void *opaque)
{
	uint64_t unit = align / BALLOON_PAGE;

	for (unsigned i = 0; i < GMEM_MAX_REGIONS; i++) {
		const struct balloon_map *m = &bb->maps[i];
		uint64_t pages = m->size / BALLOON_PAGE;

		for (uint64_t u = 0; m->size && u < pages; u += unit) {
			uint64_t n = pages - u < unit ? pages - u : unit, start = 0;
			bool in = false;

			if (blocks_all(m->bits, u, n))
				continue; /* whole: went back as one unit already */
			for (uint64_t p = u; p <= u + n; p++) {
				bool held = p < u + n && blocks_test(m->bits, p);

				if (held && !in)
					start = p;
				else if (!held && in)
					fn(opaque,
					   &(struct balloon_run){m->gpa + start * BALLOON_PAGE,
								 (p - start) * BALLOON_PAGE});
				in = held;
			}
		}
	}
}
