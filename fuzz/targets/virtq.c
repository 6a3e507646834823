/* Fuzz target: split virtqueues (virtq_pop/push, notification suppression) over hostile rings. */
#include <string.h>

#include "fuzz.h"
#include "kvmlab/virtio.h"

#define RAM_SIZE 0x10000u
#define ROM_GPA	 0x100000u
#define ROM_SIZE 0x1000u
#define DESC	 0x0
#define AVAIL	 0x1000
#define USED	 0x2000
#define TABLES	 0x3000 /* indirect tables and buffers live from here up */
#define RARE(x)	 ((x) == 0xff)

struct state {
	struct gmem mem;
	uint8_t *ram, *rom;
	struct virtq vq;
	struct virtq_elem el;
	uint16_t avail_idx;
	bool popped; /* el holds a chain not yet pushed */
};

/* A guest-physical address: in RAM above the rings, in the ROM, or (rarely) anything. */
static uint64_t draw_gpa(struct fuzz_in *in)
{
	uint8_t sel = fuzz_u8(in);

	if (RARE(sel))
		return fuzz_u64(in);
	if (sel >= 0xf0)
		return ROM_GPA + fuzz_below(in, ROM_SIZE);
	return sel & 1 ? TABLES + fuzz_below(in, RAM_SIZE - TABLES) : fuzz_below(in, RAM_SIZE);
}

static void put_desc(struct state *s, uint64_t gpa, uint64_t addr, uint32_t len, uint16_t flags,
		     uint16_t next)
{
	uint8_t d[16];

	memcpy(d, &addr, 8);
	memcpy(d + 8, &len, 4);
	memcpy(d + 12, &flags, 2);
	memcpy(d + 14, &next, 2);
	gmem_write(&s->mem, gpa, d, 16); /* may fail for hostile gpas: the guest's problem */
}

static bool inside(const void *p, size_t len, const uint8_t *base, size_t size)
{
	const uint8_t *b = p;

	return b >= base && len <= size && (size_t)(b - base) <= size - len;
}

/* What a popped chain promises: every buffer inside guest memory, writable ones in RAM,
 * the counts and totals consistent. */
static void check_elem(const struct state *s)
{
	const struct virtq_elem *el = &s->el;
	uint64_t out = 0, in = 0;

	FUZZ_CHECK(el->head < s->vq.size, "head %u of %u", el->head, s->vq.size);
	FUZZ_CHECK(el->nout + el->nin <= VIRTQ_MAX_SEGS, "%u buffers", el->nout + el->nin);
	for (unsigned i = 0; i < (unsigned)el->nout + el->nin; i++) {
		const struct iovec *v = &el->iov[i];
		bool in_ram = inside(v->iov_base, v->iov_len, s->ram, RAM_SIZE);

		FUZZ_CHECK(v->iov_len > 0, "empty buffer %u", i);
		FUZZ_CHECK(in_ram || inside(v->iov_base, v->iov_len, s->rom, ROM_SIZE),
			   "buffer %u outside guest memory", i);
		FUZZ_CHECK(i < el->nout || in_ram, "writable buffer %u in ROM", i);
		*(i < el->nout ? &out : &in) += v->iov_len;
		((volatile uint8_t *)v->iov_base)[v->iov_len - 1]; /* ASan: really there */
	}
	FUZZ_CHECK(out == el->out_len && in == el->in_len, "totals %llu/%llu",
		   (unsigned long long)el->out_len, (unsigned long long)el->in_len);
	FUZZ_CHECK(out <= UINT32_MAX && in <= UINT32_MAX, "more than 4 GiB");
}

static void op(struct state *s, struct fuzz_in *in, uint8_t ctl)
{
	struct errbuf e;
	uint16_t before;
	int r;

	switch (ctl & 7) {
	case 0: { /* raw bytes anywhere in RAM: rings, tables, indices */
		uint16_t off = (uint16_t)fuzz_below(in, RAM_SIZE);
		size_t n = 1 + fuzz_u8(in) % 32;

		for (size_t i = 0; i < n && off + i < RAM_SIZE; i++)
			s->ram[off + i] = fuzz_u8(in);
		break;
	}
	case 1:	  /* a descriptor in the table */
	case 2: { /* or in an indirect table */
		uint64_t at = (ctl & 7) == 1 ? DESC + 16u * fuzz_below(in, s->vq.size)
					     : TABLES + 16u * fuzz_below(in, 256);
		uint64_t addr = draw_gpa(in);
		uint32_t len = fuzz_u8(in) & 0x80 ? fuzz_u32(in) : fuzz_u16(in) % 2048;

		put_desc(s, at, addr, len, fuzz_u8(in) & 7,
			 (uint16_t)fuzz_below(in, ctl & 0x80 ? 65536 : s->vq.size));
		break;
	}
	case 3: /* the driver publishes a head (rarely: any avail idx) */
		if (RARE(ctl)) {
			s->avail_idx = fuzz_u16(in);
		} else {
			uint16_t head = (uint16_t)fuzz_below(in, ctl & 0x80 ? 65536 : s->vq.size);

			gmem_write(&s->mem, AVAIL + 4 + 2u * (s->avail_idx % s->vq.size), &head, 2);
			s->avail_idx++;
		}
		gmem_write(&s->mem, AVAIL + 2, &s->avail_idx, 2);
		break;
	case 4:
		before = s->vq.last_avail;
		r = virtq_pop(&s->vq, &s->el, &e);
		FUZZ_CHECK(r >= -1 && r <= 1, "pop returned %d", r);
		FUZZ_CHECK((uint16_t)(s->vq.last_avail - before) == (r == 1), "consumed %u for %d",
			   (uint16_t)(s->vq.last_avail - before), r);
		if (r == 1) {
			check_elem(s);
			s->popped = true;
		}
		break;
	case 5:
		if (s->popped) {
			uint16_t used_before = s->vq.used_idx;

			FUZZ_CHECK(virtq_push(&s->vq, &s->el, fuzz_u32(in), &e) == 0, "%s", e.msg);
			FUZZ_CHECK(s->vq.used_idx == (uint16_t)(used_before + 1), "used idx");
			s->popped = false;
		}
		break;
	case 6:
		virtq_should_signal(&s->vq);
		break;
	default:
		if (ctl & 8)
			virtq_disable_notify(&s->vq);
		else
			virtq_enable_notify(&s->vq);
		break;
	}
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct state *s = calloc(1, sizeof(*s));
	struct fuzz_in in;
	struct errbuf e;
	uint8_t setup;

	FUZZ_CHECK(s, "out of memory");
	fuzz_in_init(&in, data, size);
	s->ram = calloc(1, RAM_SIZE);
	s->rom = calloc(1, ROM_SIZE);
	FUZZ_CHECK(s->ram && s->rom, "out of memory");
	FUZZ_CHECK(gmem_add(&s->mem, 0, RAM_SIZE, s->ram, 0, &e) == 0, "%s", e.msg);
	FUZZ_CHECK(gmem_add(&s->mem, ROM_GPA, ROM_SIZE, s->rom, GMEM_READONLY, &e) == 0, "%s",
		   e.msg);
	/* Bits 0-3: log2(queue size) (0-8); bit 4 EVENT_IDX, bit 5 INDIRECT_DESC. */
	setup = fuzz_u8(&in);
	if (virtq_init(&s->vq, &s->mem, (uint16_t)(1u << ((setup & 15) % 9)), DESC, AVAIL, USED,
		       (setup & 0x10 ? VIRTIO_BIT(VIRTIO_F_EVENT_IDX) : 0) |
			   (setup & 0x20 ? VIRTIO_BIT(VIRTIO_F_INDIRECT_DESC) : 0),
		       &e) == 0)
		while (fuzz_more(&in))
			op(s, &in, fuzz_u8(&in));
	free(s->ram);
	free(s->rom);
	free(s);
	return 0;
}
