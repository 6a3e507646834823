/* Unit tests of virtio-balloon's inflate core: PFN validation, sorting, coalescing, alignment. */
#include <stdlib.h>

#include "kvmlab/balloon.h"
#include "unit.h"

#define KIB 1024ull
#define MIB (1024 * KIB)

/*
 * Guest memory: RAM [0, 1M), a ROM [1M, 1M + 64K), RAM again right after it
 * up to 2M, and RAM [4G, 4G + 1M). The code under test never touches the
 * memory itself, so one buffer stands behind every region.
 */
static uint8_t host[MIB];

static void layout(struct gmem *m)
{
	struct errbuf e;

	m->nregions = 0;
	CHECK(gmem_add(m, 0, MIB, host, 0, &e) == 0);
	CHECK(gmem_add(m, MIB, 64 * KIB, host, GMEM_READONLY, &e) == 0);
	CHECK(gmem_add(m, MIB + 64 * KIB, MIB - 64 * KIB, host, 0, &e) == 0);
	CHECK(gmem_add(m, 4096 * MIB, MIB, host, 0, &e) == 0);
}

static unsigned runs_of(struct gmem *m, uint32_t *pfns, unsigned n, uint64_t align,
			struct balloon_run *runs, unsigned *refused)
{
	return balloon_pfn_runs(m, pfns, n, align, runs, refused);
}

#define PFN(gpa) ((uint32_t)((gpa) >> 12))

TEST(balloon_pfns_are_sorted_deduplicated_and_joined)
{
	struct balloon_run runs[16];
	struct gmem m;
	unsigned refused, n;
	uint32_t pfns[] = {7, 3, 5, 4, 4, 6, 100, 9, 3};

	layout(&m);
	n = runs_of(&m, pfns, 9, BALLOON_PAGE, runs, &refused);
	CHECK_EQ(refused, 0);
	CHECK_EQ(n, 3);
	CHECK_EQ(runs[0].gpa, 3 * 4096);
	CHECK_EQ(runs[0].len, 5 * 4096); /* 3..7 */
	CHECK_EQ(runs[1].gpa, 9 * 4096);
	CHECK_EQ(runs[1].len, 4096);
	CHECK_EQ(runs[2].gpa, 100 * 4096);
	CHECK_EQ(runs[2].len, 4096);
}

TEST(balloon_refuses_pfns_outside_writable_memory)
{
	struct balloon_run runs[16];
	struct gmem m;
	unsigned refused, n;
	uint32_t pfns[] = {
	    PFN(MIB),			  /* the ROM */
	    PFN(MIB + 60 * KIB),	  /* the ROM's last page */
	    PFN(2 * MIB),		  /* the gap after RAM */
	    PFN(3072 * MIB),		  /* the MMIO hole */
	    0xffffffffu,		  /* 16 TiB */
	    PFN(4096 * MIB + MIB),	  /* just past the high RAM */
	    PFN(4096 * MIB + MIB - 4096), /* the high RAM's last page: fine */
	};

	layout(&m);
	n = runs_of(&m, pfns, 7, BALLOON_PAGE, runs, &refused);
	CHECK_EQ(refused, 6);
	CHECK_EQ(n, 1);
	CHECK_EQ(runs[0].gpa, 4096 * MIB + MIB - 4096);
	CHECK_EQ(runs[0].len, 4096);
}

TEST(balloon_runs_never_cross_regions)
{
	struct balloon_run runs[16];
	struct gmem m;
	unsigned refused, n;
	/* The last page of the first RAM region and the first page after the ROM, plus a
	 * contiguous-looking pair across two adjacent writable regions. */
	struct errbuf e;
	uint32_t pfns[] = {PFN(MIB - 4096), PFN(MIB + 64 * KIB), PFN(MIB + 64 * KIB + 4096)};

	layout(&m);
	n = runs_of(&m, pfns, 3, BALLOON_PAGE, runs, &refused);
	CHECK_EQ(refused, 0);
	CHECK_EQ(n, 2);
	CHECK_EQ(runs[0].gpa, MIB - 4096);
	CHECK_EQ(runs[1].gpa, MIB + 64 * KIB);
	CHECK_EQ(runs[1].len, 8192);

	/* Two writable regions that touch: a run stops at the boundary all the same. */
	m.nregions = 0;
	CHECK(gmem_add(&m, 0, 64 * KIB, host, 0, &e) == 0);
	CHECK(gmem_add(&m, 64 * KIB, 64 * KIB, host, 0, &e) == 0);
	{
		uint32_t across[] = {PFN(60 * KIB), PFN(64 * KIB)};

		n = runs_of(&m, across, 2, BALLOON_PAGE, runs, &refused);
		CHECK_EQ(n, 2);
		CHECK_EQ(runs[0].len, 4096);
		CHECK_EQ(runs[1].len, 4096);
	}
}

TEST(balloon_runs_keep_only_whole_policy_pages)
{
	struct balloon_run runs[64];
	uint32_t pfns[64];
	struct gmem m;
	unsigned refused, n, k = 0;

	layout(&m);
	/* 64 KiB units: pages 2..33 cover the unit [64K, 128K) whole and two halves. */
	for (uint32_t p = 2; p < 34; p++)
		pfns[k++] = p;
	n = runs_of(&m, pfns, k, 64 * KIB, runs, &refused);
	CHECK_EQ(n, 1);
	CHECK_EQ(runs[0].gpa, 64 * KIB);
	CHECK_EQ(runs[0].len, 64 * KIB);
	/* A run shorter than a unit gives nothing back. */
	pfns[0] = 40;
	CHECK_EQ(runs_of(&m, pfns, 1, 64 * KIB, runs, &refused), 0);
	/* Nothing in, nothing out. */
	CHECK_EQ(runs_of(&m, pfns, 0, BALLOON_PAGE, runs, &refused), 0);
}

/* A 2 MiB unit goes back only once every page of it is held, across inflate requests, and not
 * while a page of it has been deflated. */
TEST(balloon_blocks_complete_units_across_requests)
{
	static uint8_t ram[4 * MIB];
	struct gmem_region r = {.gpa = 2 * MIB, .size = 4 * MIB, .host = ram};
	struct balloon_blocks *bb = balloon_blocks_create();
	struct balloon_run out[8];
	struct balloon_run first = {2 * MIB, MIB}, second = {3 * MIB, MIB};
	struct balloon_run across = {3 * MIB + 512 * KIB, 2 * MIB};

	CHECK(bb != NULL);
	CHECK_EQ(balloon_blocks_add(bb, &r, &first, 2 * MIB, out, 8), 0);
	CHECK_EQ(balloon_blocks_add(bb, &r, &second, 2 * MIB, out, 8), 1); /* [2M, 4M) whole */
	CHECK_EQ(out[0].gpa, 2 * MIB);
	CHECK_EQ(out[0].len, 2 * MIB);
	/* The guest takes a page of [4M, 6M) back before the rest of that unit arrives. */
	balloon_blocks_remove(bb, &r, 5 * MIB);
	CHECK_EQ(balloon_blocks_add(bb, &r, &across, 2 * MIB, out, 8), 1); /* only [2M, 4M) */
	CHECK_EQ(out[0].gpa, 2 * MIB);
	struct balloon_run again = {5 * MIB, 4 * KIB};
	CHECK_EQ(balloon_blocks_add(bb, &r, &again, 2 * MIB, out, 8), 0); /* [5.5M, 6M) missing */
	struct balloon_run rest = {5 * MIB + 512 * KIB, 512 * KIB};
	CHECK_EQ(balloon_blocks_add(bb, &r, &rest, 2 * MIB, out, 8), 1);
	CHECK_EQ(out[0].gpa, 4 * MIB);
	/* A run outside the region is refused without a write. */
	struct balloon_run outside = {8 * MIB, 4 * KIB};
	CHECK_EQ(balloon_blocks_add(bb, &r, &outside, 2 * MIB, out, 8), 0);
	balloon_blocks_destroy(bb);

	/* A deflated page keeps its unit from going back until it is inflated again. */
	struct balloon_run lo = {4 * MIB, MIB}, hi = {5 * MIB, MIB}, page = {4 * MIB, 4 * KIB};
	bb = balloon_blocks_create();
	CHECK_EQ(balloon_blocks_add(bb, &r, &lo, 2 * MIB, out, 8), 0);
	balloon_blocks_remove(bb, &r, 4 * MIB);
	CHECK_EQ(balloon_blocks_add(bb, &r, &hi, 2 * MIB, out, 8), 0);
	CHECK_EQ(balloon_blocks_add(bb, &r, &page, 2 * MIB, out, 8), 1);
	CHECK_EQ(out[0].gpa, 4 * MIB);
	balloon_blocks_destroy(bb);
}
