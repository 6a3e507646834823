/* Fuzz target: virtio-balloon inflate/deflate chains of PFNs, in and out of guest memory. */
#include <stdlib.h>
#include <string.h>

#include "fuzz.h"
#include "kvmlab/balloon.h"
#include "virtio_driver.h"

#define RAM_SIZE   0x100000u /* RAM at 0; a ROM after it; more RAM at 4 GiB */
#define ROM_GPA	   0x100000u
#define ROM_SIZE   0x10000u
#define HIGH_GPA   0x100000000ull
#define HIGH_SIZE  0x40000u
#define PFN_AREA   0x10000u /* where the driver writes its PFN arrays */
#define FREE_GPA   0x20000u /* below: the rings and PFN arrays, pages a sane guest keeps */
#define PFN_MAX	   512	    /* PFNs per chain (the driver's arrays hold 256; more is rare) */
#define Q_INFLATE  0
#define Q_DEFLATE  1
#define RARE(sel)  ((sel) == 7)
#define PAGES(gpa) ((gpa) >> BALLOON_PAGE_SHIFT)

struct state {
	struct machine m;
	struct vdrv d;
	uint8_t *ram, *rom, *high;
	uint64_t align;
	uint8_t inflated[PAGES(RAM_SIZE) + PAGES(HIGH_SIZE)]; /* pages of this chain */
	uint8_t held[PAGES(RAM_SIZE) + PAGES(HIGH_SIZE)];     /* inflated, not deflated since */
	uint64_t discarded;				      /* bytes */
	uint64_t target_pages;
	bool tainted; /* a raw register write: the queues may be gone */
};

static long page_slot(uint64_t gpa)
{
	if (gpa < RAM_SIZE)
		return (long)PAGES(gpa);
	if (gpa >= HIGH_GPA && gpa - HIGH_GPA < HIGH_SIZE)
		return (long)(PAGES(RAM_SIZE) + PAGES(gpa - HIGH_GPA));
	return -1;
}

/* The machine's discard hook: whole aligned units (or, where the policy can split its pages,
 * pieces of discard_min) of writable memory the balloon holds. */
static int fake_discard(void *opaque, uint64_t gpa, uint64_t len, struct errbuf *e)
{
	struct state *s = opaque;
	uint8_t *host = gmem_ptr(&s->m.mem, gpa, len, true);
	uint64_t unit = s->m.discard_min ? s->m.discard_min : s->align;

	FUZZ_CHECK(len && !(gpa % unit) && !(len % unit), "discard 0x%llx+0x%llx",
		   (unsigned long long)gpa, (unsigned long long)len);
	FUZZ_CHECK(host, "discard outside writable memory: 0x%llx+0x%llx", (unsigned long long)gpa,
		   (unsigned long long)len);
	for (uint64_t off = 0; off < len; off += BALLOON_PAGE) {
		long slot = page_slot(gpa + off);

		/* After a raw register write the device may read chains of the fuzzer's making. */
		FUZZ_CHECK(s->tainted || (slot >= 0 && s->held[slot]),
			   "page 0x%llx discarded, not in the balloon",
			   (unsigned long long)(gpa + off));
	}
	memset(host, 0, len); /* what the host's zero page gives the guest */
	s->discarded += len;
	return 0;
}

/* One PFN: a page of RAM or high RAM mostly; rarely the ROM, a gap or any number. */
static uint32_t draw_pfn(struct fuzz_in *in)
{
	uint8_t sel = fuzz_u8(in);
	uint32_t pfn = fuzz_u16(in);

	switch (sel >> 5) {
	case 7:
		return sel & 1 ? fuzz_u32(in) : (uint32_t)PAGES(ROM_GPA) + pfn % PAGES(ROM_SIZE);
	case 6:
		return (uint32_t)PAGES(HIGH_GPA) + pfn % PAGES(HIGH_SIZE);
	case 5:
		return pfn % PAGES(RAM_SIZE); /* the driver's own pages too: it loses its rings */
	default:
		return (uint32_t)PAGES(FREE_GPA) + pfn % PAGES(RAM_SIZE - FREE_GPA);
	}
}

static void op_chain(struct state *s, struct fuzz_in *in, uint8_t ctl)
{
	unsigned q = (ctl >> 3) & 1, sel = fuzz_u8(in) >> 5, n = 1 + fuzz_u8(in);
	uint32_t pfns[PFN_MAX], id, len;
	struct balloon_info before, after;
	uint64_t discarded = s->discarded;
	struct vdrv_seg seg[2];
	unsigned nseg = 1, expect = 0;
	struct errbuf e;

	if (RARE(sel))
		n = 1 + fuzz_u16(in) % PFN_MAX;
	memset(s->inflated, 0, sizeof(s->inflated));
	for (unsigned i = 0; i < n; i++) {
		long slot;

		pfns[i] = draw_pfn(in);
		slot = page_slot((uint64_t)pfns[i] << BALLOON_PAGE_SHIFT);
		if (q == Q_INFLATE && slot >= 0 && slot < (long)PAGES(FREE_GPA))
			s->tainted = true;
		if (q == Q_INFLATE && slot >= 0 && !s->inflated[slot]) {
			s->inflated[slot] = 1;
			expect++;
		}
		if (slot >= 0) /* the model of what the balloon holds, across chains */
			s->held[slot] = q == Q_INFLATE;
	}
	memcpy(s->ram + PFN_AREA, pfns, n * 4);
	seg[0] = (struct vdrv_seg){PFN_AREA, n * 4, false};
	if (n > 1 && (ctl & 0x10)) { /* split in two readable segments, mid-PFN at times */
		uint32_t cut = 1 + fuzz_u16(in) % (n * 4 - 1);

		seg[0].len = cut;
		seg[1] = (struct vdrv_seg){PFN_AREA + cut, n * 4 - cut, false};
		nseg = 2;
	}
	if (RARE(sel) && (ctl & 0x20)) { /* a writable segment: the device ignores it */
		seg[nseg - 1].write = true;
		expect = ~0u;
		if (q == Q_DEFLATE)
			s->tainted = true; /* pages the model let go may stay in the balloon */
	}
	FUZZ_CHECK(virtio_balloon_info(&s->m, &before, &e) == 0, "%s", e.msg);
	vdrv_add(&s->d, q, seg, nseg, true);
	FUZZ_CHECK(virtio_balloon_info(&s->m, &after, &e) == 0, "%s", e.msg);
	if (s->tainted)
		return;
	FUZZ_CHECK(vdrv_used(&s->d, q, &id, &len) && len == 0, "chain not returned");
	if (q == Q_DEFLATE) {
		FUZZ_CHECK(s->discarded == discarded, "deflate discarded memory");
		return;
	}
	FUZZ_CHECK(after.refused + after.inflated >= before.refused + before.inflated,
		   "counters went back");
	if (expect != ~0u && s->align == BALLOON_PAGE && n <= 256) /* one batch: no repeats */
		FUZZ_CHECK(s->discarded - discarded == (uint64_t)expect * BALLOON_PAGE,
			   "%llu bytes discarded for %u good pages",
			   (unsigned long long)(s->discarded - discarded), expect);
	FUZZ_CHECK(after.discarded - before.discarded == s->discarded - discarded,
		   "the balloon counted %llu bytes, the hook saw %llu",
		   (unsigned long long)(after.discarded - before.discarded),
		   (unsigned long long)(s->discarded - discarded));
}

static uint32_t config_u32(struct state *s, uint32_t off)
{
	return vdrv_r32(&s->d, VDRV_CONFIG + off);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct state *s = calloc(1, sizeof(*s));
	struct fuzz_in in;
	struct errbuf e;
	uint8_t setup;

	FUZZ_CHECK(s, "out of memory");
	fuzz_in_init(&in, data, size);
	setup = fuzz_u8(&in);
	s->ram = calloc(1, RAM_SIZE);
	s->rom = calloc(1, ROM_SIZE);
	s->high = calloc(1, HIGH_SIZE);
	FUZZ_CHECK(s->ram && s->rom && s->high, "out of memory");
	machine_init(&s->m);
	FUZZ_CHECK(gmem_add(&s->m.mem, 0, RAM_SIZE, s->ram, 0, &e) == 0, "%s", e.msg);
	FUZZ_CHECK(gmem_add(&s->m.mem, ROM_GPA, ROM_SIZE, s->rom, GMEM_READONLY, &e) == 0, "%s",
		   e.msg);
	FUZZ_CHECK(gmem_add(&s->m.mem, HIGH_GPA, HIGH_SIZE, s->high, 0, &e) == 0, "%s", e.msg);
	s->align = setup & 1 ? 0x10000 : BALLOON_PAGE; /* 64 KiB: a policy with big pages */
	s->m.discard = fake_discard;
	s->m.discard_opaque = s;
	s->m.discard_align = s->align;
	if (s->align > BALLOON_PAGE && (setup & 0x80))
		s->m.discard_min = BALLOON_PAGE; /* thp-like: the balloon may split a unit */
	FUZZ_CHECK(virtio_balloon_attach(&s->m, &e), "%s", e.msg);
	FUZZ_CHECK(vdrv_init(&s->d, &s->m, VIRTIO_MMIO_BASE, VIRTIO_ID_BALLOON,
			     VIRTIO_BIT(VIRTIO_F_VERSION_1) | VIRTIO_BIT(2) |
				 (setup & 2 ? VIRTIO_BIT(VIRTIO_F_EVENT_IDX) : 0),
			     2, (uint16_t)(2u << ((setup >> 2) % 8)), 0) &
		       VIRTIO_STATUS_DRIVER_OK,
		   "driver set-up refused");
	while (fuzz_more(&in)) {
		uint8_t ctl = fuzz_u8(&in);

		switch (ctl & 7) {
		case 0:
		case 1:
		case 2:
			op_chain(s, &in, ctl);
			break;
		case 3: { /* the host sets a target; refused past the guest's memory */
			uint64_t pages = fuzz_u32(&in) % (2 * PAGES(RAM_SIZE + HIGH_SIZE));
			int r = virtio_balloon_set_target(&s->m, pages, &e);

			FUZZ_CHECK((r == 0) == (pages <= PAGES(RAM_SIZE + HIGH_SIZE)),
				   "target %llu pages: %d", (unsigned long long)pages, r);
			if (!r)
				s->target_pages = pages;
			FUZZ_CHECK(config_u32(s, 0) == s->target_pages, "num_pages %u, target %llu",
				   config_u32(s, 0), (unsigned long long)s->target_pages);
			break;
		}
		case 4: { /* the driver reports actual, in one access of 1, 2 or 4 bytes */
			uint32_t v = fuzz_u32(&in), now = config_u32(s, 4), len = 1u << (ctl >> 6);
			uint8_t b[4];

			if (len > 4)
				len = 4;
			memcpy(b, &v, 4);
			machine_mmio(&s->m, VIRTIO_MMIO_BASE + VDRV_CONFIG + 4, b, len, true);
			memcpy((uint8_t *)&now, b, len);
			FUZZ_CHECK(config_u32(s, 4) == now, "actual %u, wrote %u", config_u32(s, 4),
				   now);
			FUZZ_CHECK(config_u32(s, 0) == s->target_pages,
				   "num_pages changed by driver");
			break;
		}
		default: { /* a raw register access */
			struct fuzz_io io;

			fuzz_io_window(&in, fuzz_u8(&in), VIRTIO_MMIO_BASE, 0x100, true, &io);
			fuzz_io_run(&s->m, &io);
			s->tainted |= io.write;
			break;
		}
		}
	}
	machine_destroy(&s->m);
	free(s->ram);
	free(s->rom);
	free(s->high);
	free(s);
	return 0;
}
