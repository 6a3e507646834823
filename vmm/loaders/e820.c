/* The guest memory map every kernel loader hands on, built from the RAM regions in gmem. */
#include <stdatomic.h>
#include <stdlib.h>

#include "kvmlab/boot_params.h"
#include "kvmlab/loader.h"

#define FOUR_GIB (4ull << 30)

static int e820_cmp(const void *a, const void *b)
{
	const struct boot_e820_entry *x = a, *y = b;

	return x->addr < y->addr ? -1 : x->addr > y->addr;
}

static void e820_add(struct boot_e820_entry *out, unsigned *n, unsigned max, uint64_t addr,
		     uint64_t size, uint32_t type)
{
	if (size && *n < max)
		out[(*n)++] = (struct boot_e820_entry){.addr = addr, .size = size, .type = type};
}

/* A RAM region, with the part in [BOOT_EBDA_GPA, 1 MiB) reserved for the BIOS area. */
static void e820_add_ram(struct boot_e820_entry *out, unsigned *n, unsigned max, uint64_t gpa,
			 uint64_t size)
{
	uint64_t end = gpa + size;
	uint64_t lo = gpa > BOOT_EBDA_GPA ? gpa : BOOT_EBDA_GPA;
	uint64_t hi = end < BOOT_KERNEL_MIN ? end : BOOT_KERNEL_MIN;

	if (lo >= hi) {
		e820_add(out, n, max, gpa, size, E820_RAM);
		return;
	}
	e820_add(out, n, max, gpa, lo - gpa, E820_RAM);
	e820_add(out, n, max, lo, hi - lo, E820_RESERVED);
	e820_add(out, n, max, hi, end - hi, E820_RAM);
}

unsigned loader_e820(const struct gmem *mem, struct boot_e820_entry *out, unsigned max)
{
	unsigned nregions = atomic_load(&mem->nregions);
	bool chipset_free = true;
	unsigned n = 0;

	for (unsigned i = 0; i < nregions; i++) {
		const struct gmem_region *r = &mem->regions[i];

		if (r->flags & GMEM_READONLY)
			e820_add(out, &n, max, r->gpa, r->size, E820_RESERVED);
		else
			e820_add_ram(out, &n, max, r->gpa, r->size);
		if (r->gpa < FOUR_GIB && r->gpa + r->size > BOOT_CHIPSET_GPA)
			chipset_free = false;
	}
	if (chipset_free)
		e820_add(out, &n, max, BOOT_CHIPSET_GPA, FOUR_GIB - BOOT_CHIPSET_GPA,
			 E820_RESERVED);
	qsort(out, n, sizeof(*out), e820_cmp);
	return n;
}

uint64_t loader_low_ram_end(const struct gmem *mem)
{
	const struct gmem_region *r = gmem_region_at(mem, BOOT_KERNEL_MIN);

	if (!r || (r->flags & GMEM_READONLY))
		return 0;
	return r->gpa + r->size;
}
