/* Fills free RAM with this VM's pattern, then checks every page and looks for another VM's tag. */
#include "lib/guest.h"

#define PARAM_TAG	0 /* this VM's 64-bit tag */
#define PARAM_OTHER_TAG 1 /* the other VM's tag ^ key: it must appear nowhere, not even here */
#define PARAM_RAM	2 /* RAM size; 0: probe for it */
#define PARAM_KEY	3 /* the key for PARAM_OTHER_TAG */

#define VALUE_FILLED	 0 /* 1 once filled; the host then sets go */
#define VALUE_BAD_PAGES	 1
#define VALUE_FIRST_BAD	 2
#define VALUE_OTHER_HITS 3
#define VALUE_PAGES	 4

/* Page p holds tag ^ p in its first quadword and tag in the other 511:
 * address-dependent, so a page seen twice (aliased) is caught too. */
static void fill(uint64_t start, uint64_t end, uint64_t tag)
{
	for (uint64_t p = start; p < end; p += 4096) {
		uint64_t *q = (uint64_t *)(uintptr_t)p, *d = q + 1, n = 511;

		q[0] = tag ^ p;
		__asm__ volatile("rep stosq" : "+D"(d), "+c"(n) : "a"(tag) : "memory");
	}
}

/* Pages whose content is not exactly the pattern; *first gets the first one. */
static uint64_t check(uint64_t start, uint64_t end, uint64_t tag, uint64_t *first)
{
	uint64_t bad = 0;

	for (uint64_t p = start; p < end; p += 4096) {
		uint64_t *q = (uint64_t *)(uintptr_t)p, *d = q + 1, n = 511;
		bool equal;

		__asm__ volatile("repe scasq"
				 : "+D"(d), "+c"(n), "=@cce"(equal)
				 : "a"(tag)
				 : "memory");
		if (q[0] != (tag ^ p) || !equal) {
			if (!bad++)
				*first = p;
		}
	}
	return bad;
}

int guest_main(unsigned ncpus)
{
	struct results_abi *r = results_init();
	uint64_t tag = results_param(PARAM_TAG, 0xa1a1a1a1a1a1a1a1ull);
	uint64_t top = results_param(PARAM_RAM, 0), start = (uint64_t)(uintptr_t)guest_image_end;
	uint64_t first = 0, bad, hits;

	(void)ncpus;
	if (!top)
		top = guest_ram_top();
	fill(start, top, tag);
	r->value[VALUE_PAGES] = (top - start) / 4096;
	__atomic_store_n(&r->value[VALUE_FILLED], 1, __ATOMIC_RELEASE);
	while (!__atomic_load_n(&r->go, __ATOMIC_ACQUIRE))
		cpu_relax();
	bad = check(start, top, tag, &first);
	hits = guest_scan_hidden(
	    0, top, (uint64_t[]){r->param[PARAM_OTHER_TAG], r->param[PARAM_KEY]}, NULL);
	r->value[VALUE_BAD_PAGES] = bad;
	r->value[VALUE_FIRST_BAD] = first;
	r->value[VALUE_OTHER_HITS] = hits;
	guest_printf("iso_pattern: %llu pages checked, %llu bad (first at 0x%llx), %llu of the "
		     "other tag in 0x0-0x%llx\n",
		     (unsigned long long)((top - start) / 4096), (unsigned long long)bad,
		     (unsigned long long)first, (unsigned long long)hits, (unsigned long long)top);
	GUEST_ASSERT_EQ(bad, 0);
	GUEST_ASSERT_EQ(hits, 0);
	GUEST_DONE();
}
