/* Memory-policy experiment: first-touch rate over all free RAM, then a TLB-hostile pointer chase.
 */
#include "lib/guest.h"

#define PARAM_RAM     0 /* RAM size; 0: probe for it */
#define PARAM_WALK_MS 1 /* how long to chase pointers; default 300 */

/* Visits 2^k pages in a pseudo-random cycle: an LCG modulo 2^k with a = 1 (mod 4) and
 * c odd has full period, and consecutive pages lie far apart, so nearly every step
 * misses the TLB unless the memory is backed by large pages on both levels. */
static uint64_t lcg_next(uint64_t i, uint64_t mask)
{
	return (i * 0x5851f42d4c957f2dull + 0x14057b7ef767814full) & mask;
}

/* The word of page i the chase uses: spread over the page so cache sets vary too. */
static uint64_t *slot(uint64_t base, uint64_t i)
{
	return (uint64_t *)(uintptr_t)(base + i * 4096 + (i * 64 + 8) % 4096);
}

int guest_main(unsigned ncpus)
{
	struct results_abi *r = results_init();
	uint64_t top = results_param(PARAM_RAM, 0), walk_ms = results_param(PARAM_WALK_MS, 300);
	uint64_t base =
	    ((uint64_t)(uintptr_t)guest_image_end + (2ull << 20) - 1) & ~((2ull << 20) - 1);
	uint64_t pages, m = 1, t0, t1, steps = 0, end, touch_ns, walk_ns;
	uint64_t *p;

	(void)ncpus;
	if (!top)
		top = guest_ram_top();
	GUEST_ASSERT(top > base + (4ull << 20));
	pages = (top - base) / 4096;

	/* First touch: one write per page; each is a fault the memory policy may have
	 * taken in advance (prefault), in bigger pieces (thp, hugetlb) or not at all. */
	t0 = rdtsc();
	for (uint64_t i = 0; i < pages; i++)
		*(volatile uint64_t *)(uintptr_t)(base + i * 4096) = i;
	t1 = rdtsc();

	while (m * 2 <= pages)
		m *= 2;
	for (uint64_t i = 0; i < m; i++)
		*slot(base, i) = (uint64_t)(uintptr_t)slot(base, lcg_next(i, m - 1));
	p = slot(base, 0);
	end = rdtsc() + guest_ns_to_tsc(walk_ms * 1000000);
	r->value[0] = rdtsc();
	while ((int64_t)(rdtsc() - end) < 0) {
		for (int k = 0; k < 1024; k++)
			p = (uint64_t *)(uintptr_t)*p;
		steps += 1024;
	}
	r->value[1] = rdtsc();
	r->value[2] = (uint64_t)(uintptr_t)p; /* keeps the chase from being optimised away */
	touch_ns = guest_tsc_to_ns(t1 - t0);
	walk_ns = guest_tsc_to_ns(r->value[1] - r->value[0]);
	guest_printf("RESULT touch_pages=%llu touch_ns_per_page=%llu touch_pages_per_s=%llu "
		     "walk_pages=%llu walk_steps=%llu walk_ps_per_step=%llu\n",
		     (unsigned long long)pages, (unsigned long long)(touch_ns / pages),
		     (unsigned long long)(pages * 1000000000ull / (touch_ns + 1)),
		     (unsigned long long)m, (unsigned long long)steps,
		     (unsigned long long)(walk_ns * 1000 / steps));
	GUEST_DONE();
}
