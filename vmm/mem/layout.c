/* The guest-physical layout: RAM around the MMIO hole, and where a new region may go. */
#include "kvmlab/mem.h"

/* Addresses the in-kernel devices and KVM itself use in the MMIO hole: RAM there would hide
 * them from the guest. The TSS and identity map are where vm.c places them. */
static const struct reserved {
	uint64_t base, len;
	const char *what;
} reserved[] = {
    {0xfec00000, 0x1000, "the IOAPIC"},
    {0xfee00000, 0x1000, "the local APIC"},
    {0xfffbc000, 0x4000, "KVM's TSS and identity map"},
};

unsigned mem_ram_ranges(uint64_t mem_size, struct mem_range out[2])
{
	uint64_t low = mem_size < MEM_LOW_RAM_END ? mem_size : MEM_LOW_RAM_END;

	out[0] = (struct mem_range){.gpa = 0, .size = low};
	if (mem_size == low)
		return 1;
	out[1] = (struct mem_range){.gpa = MEM_HIGH_RAM_START, .size = mem_size - low};
	return 2;
}

static bool overlaps(uint64_t a, uint64_t alen, uint64_t b, uint64_t blen)
{
	return a < b + blen && b < a + alen;
}

int mem_region_check(const struct mem_range *taken, unsigned ntaken, const struct bus *mmio,
		     uint64_t gpa, uint64_t size, uint32_t flags, uint64_t align, struct errbuf *e)
{
	unsigned long long g = gpa, s = size;

	if (size == 0 || gpa + size < gpa)
		return err_set(e, "memory region at 0x%llx of 0x%llx bytes is empty or wraps", g,
			       s);
	if (gpa % align || size % align)
		return err_set(e, "memory region 0x%llx+0x%llx is not aligned to %llu KiB", g, s,
			       (unsigned long long)(align >> 10));
	for (unsigned i = 0; i < ntaken; i++)
		if (overlaps(gpa, size, taken[i].gpa, taken[i].size))
			return err_set(e,
				       "memory region 0x%llx-0x%llx overlaps region 0x%llx-0x%llx",
				       g, g + s - 1, (unsigned long long)taken[i].gpa,
				       (unsigned long long)(taken[i].gpa + taken[i].size - 1));
	for (size_t i = 0; i < sizeof(reserved) / sizeof(reserved[0]); i++)
		if (overlaps(gpa, size, reserved[i].base, reserved[i].len))
			return err_set(
			    e, "memory region 0x%llx-0x%llx overlaps %s at 0x%llx-0x%llx", g,
			    g + s - 1, reserved[i].what, (unsigned long long)reserved[i].base,
			    (unsigned long long)(reserved[i].base + reserved[i].len - 1));
	if (mmio && !(flags & MEM_REGION_READONLY)) {
		for (size_t i = 0; i < mmio->nranges; i++) {
			const struct bus_range *r = &mmio->ranges[i];

			if (overlaps(gpa, size, r->base, r->len))
				return err_set(e,
					       "memory region 0x%llx-0x%llx overlaps MMIO range "
					       "'%s' at 0x%llx-0x%llx",
					       g, g + s - 1, r->name, (unsigned long long)r->base,
					       (unsigned long long)(r->base + r->len - 1));
		}
	}
	return 0;
}
