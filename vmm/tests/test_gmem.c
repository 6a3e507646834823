/* Unit tests of the checked guest-memory accessor. */
#include <stdint.h>

#include "kvmlab/gmem.h"
#include "unit.h"

static uint8_t ram[0x10000], rom[0x1000];

static void two_regions(struct gmem *m)
{
	struct errbuf e;

	memset(m, 0, sizeof(*m));
	CHECK(gmem_add(m, 0, sizeof(ram), ram, 0, &e) == 0);
	CHECK(gmem_add(m, 0x100000, sizeof(rom), rom, GMEM_READONLY, &e) == 0);
}

TEST(gmem_ptr_inside_region)
{
	struct gmem m;

	two_regions(&m);
	CHECK(gmem_ptr(&m, 0, 1, true) == ram);
	CHECK(gmem_ptr(&m, 0xfff0, 0x10, true) == ram + 0xfff0);
	CHECK(gmem_ptr(&m, 0, sizeof(ram), false) == ram);
}

TEST(gmem_ptr_refuses_out_of_bounds)
{
	struct gmem m;

	two_regions(&m);
	CHECK(gmem_ptr(&m, 0xfff0, 0x11, false) == NULL);
	CHECK(gmem_ptr(&m, 0x10000, 1, false) == NULL);
	CHECK(gmem_ptr(&m, 0x20000, 1, false) == NULL);
	CHECK(gmem_ptr(&m, 0, 0, false) == NULL);
}

TEST(gmem_ptr_refuses_overflowing_lengths)
{
	struct gmem m;

	two_regions(&m);
	CHECK(gmem_ptr(&m, 0x10, UINT64_MAX, false) == NULL);
	CHECK(gmem_ptr(&m, 0x10, UINT64_MAX - 0xf, false) == NULL);
	CHECK(gmem_ptr(&m, UINT64_MAX, 2, false) == NULL);
}

TEST(gmem_readonly_region_refuses_writes)
{
	struct gmem m;
	uint8_t b = 0x5a;

	two_regions(&m);
	rom[0] = 0x11;
	CHECK(gmem_ptr(&m, 0x100000, 1, false) == rom);
	CHECK(gmem_ptr(&m, 0x100000, 1, true) == NULL);
	CHECK(gmem_write(&m, 0x100000, &b, 1) == -1);
	CHECK_EQ(rom[0], 0x11);
	CHECK(gmem_read(&m, 0x100000, &b, 1) == 0);
	CHECK_EQ(b, 0x11);
}

TEST(gmem_access_spanning_two_regions_is_refused)
{
	struct gmem m;
	struct errbuf e;
	static uint8_t next[0x1000];

	two_regions(&m);
	CHECK(gmem_add(&m, sizeof(ram), sizeof(next), next, 0, &e) == 0);
	CHECK(gmem_ptr(&m, sizeof(ram) - 4, 8, false) == NULL);
}

TEST(gmem_add_refuses_overlap_wrap_and_empty)
{
	struct gmem m;
	struct errbuf e;

	two_regions(&m);
	CHECK(gmem_add(&m, 0x8000, 0x10000, ram, 0, &e) == -1);
	CHECK_CONTAINS(e.msg, "overlaps");
	CHECK(gmem_add(&m, UINT64_MAX - 0xff, 0x1000, ram, 0, &e) == -1);
	CHECK_CONTAINS(e.msg, "wraps");
	CHECK(gmem_add(&m, 0x200000, 0, ram, 0, &e) == -1);
}
