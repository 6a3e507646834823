/* Fuzz target: the x86 emulator on one instruction, with registers, memory, paging from input. */
#include <string.h>

#include "fuzz.h"
#include "kvmlab/x86_emulate.h"

/*
 * Input, valid by construction (docs/fuzzing.md):
 *   control  bits 0-1 mode (real, 16, 32, 64); 2 paging; 3 AMD; 4-5 segments
 *            (flat, limited, expand-down, arbitrary); 6 CPL 3; 7 AVX/AVX-512 on
 *   cr       bit 0 CR0.TS, 1 CR0.EM, 2 RFLAGS.AC, 3 CR0.AM, 4 SMAP, 5 WP,
 *            6 NXE, 7 LA57 (64-bit) or PSE
 *   16 GPRs  a selector byte each: below 0xf0, a 16-bit offset into memory
 *            follows (the common case); else an arbitrary 64-bit value
 *   rflags   16 bits
 *   pte      4 bytes: the flags of each paging level's entries (P/W/U/PS/NX)
 *   fpu      fcw, fsw, ftw, 8 x87 registers' 10 bytes, one 16-byte pattern for
 *            every vector register, the opmask registers' low bytes
 *   memory   an 8-byte seed for 64 KiB of pattern, then a 32-byte patch at a
 *            16-bit offset (values an instruction will read)
 *   code     the rest, at most 15 bytes
 * The instruction runs twice on identical copies: the results must match,
 * and each must keep the emulator's contract for its result code.
 */
#define MEM    0x10000u
#define PT     0x8000u /* page tables: up to six frames from here */
#define MAXREP 64

struct world {
	uint8_t mem[MEM];
	struct x86_fpu fpu;
	bool fpu_written;
};

static int w_read(void *opaque, uint64_t gpa, void *buf, unsigned len)
{
	struct world *w = opaque;

	FUZZ_CHECK(len >= 1 && len <= 8, "read of %u bytes", len);
	FUZZ_CHECK((gpa & ~4095ull) == ((gpa + len - 1) & ~4095ull), "read crosses a page");
	if (gpa >= MEM || len > MEM - gpa)
		return -1;
	memcpy(buf, w->mem + gpa, len);
	return 0;
}

static int w_write(void *opaque, uint64_t gpa, const void *buf, unsigned len)
{
	struct world *w = opaque;

	FUZZ_CHECK(len >= 1 && (len <= 8 || len == 64), "write of %u bytes", len);
	FUZZ_CHECK((gpa & ~4095ull) == ((gpa + len - 1) & ~4095ull), "write crosses a page");
	if (gpa >= MEM || len > MEM - gpa)
		return -1;
	memcpy(w->mem + gpa, buf, len);
	return 0;
}

static int w_get_fpu(void *opaque, struct x86_fpu *f)
{
	*f = ((struct world *)opaque)->fpu;
	return 0;
}

static int w_set_fpu(void *opaque, const struct x86_fpu *f)
{
	struct world *w = opaque;

	w->fpu = *f;
	w->fpu_written = true;
	return 0;
}

static const struct x86_emu_ops ops = {
    .read = w_read, .write = w_write, .get_fpu = w_get_fpu, .set_fpu = w_set_fpu};

static uint64_t next(uint64_t *s)
{
	*s ^= *s << 13;
	*s ^= *s >> 7;
	*s ^= *s << 17;
	return *s;
}

/*
 * Identity-maps the low 64 KiB with 4 KiB pages: 5/4-level, PAE or 32-bit paging. Each
 * level's entries take W, U, PS, A, D from the input (PS asks for a large page the
 * frame's alignment usually makes reserved); one data page is left not present.
 */
static uint64_t build_paging(struct world *w, struct x86_cpu *c, const uint8_t pte[4])
{
	bool lm = c->efer & (1u << 10), pae = lm || (c->cr4 & (1u << 5));
	unsigned levels = lm ? ((c->cr4 & (1u << 12)) ? 5 : 4) : 2, esize = pae ? 8 : 4;
	uint64_t frame = PT, root = PT, table = PT;

	if (pae && !lm) { /* PAE: four PDPTEs at CR3, then the page directory */
		uint64_t e = (frame + 0x1000) | 1;

		memset(w->mem + frame, 0, 0x1000);
		memcpy(w->mem + frame, &e, 8);
		table = frame += 0x1000;
	}
	for (unsigned l = 0; l < levels; l++) {
		uint64_t next_table = frame + 0x1000;

		memset(w->mem + frame, 0, 0x1000);
		if (l + 1 < levels) {
			uint64_t e = next_table | 1 | (pte[l & 3] & 0xe6);

			memcpy(w->mem + table, &e, esize);
		} else {
			for (unsigned i = 0; i < 16; i++) {
				uint64_t e = ((uint64_t)i << 12) | 1 | (pte[3] & 0x66);

				if ((pte[3] & 0x80) && esize == 8)
					e |= 1ull << 63; /* NX */
				if (i == (pte[2] & 15))
					e &= ~1ull;
				memcpy(w->mem + table + i * esize, &e, esize);
			}
		}
		table = frame = next_table;
	}
	return root;
}

static void setup(struct fuzz_in *in, struct world *w, struct x86_cpu *c, unsigned *dflags,
		  uint8_t *code, size_t *code_len)
{
	unsigned ctl = fuzz_u8(in), cr = fuzz_u8(in);
	enum x86_mode mode = (enum x86_mode)(ctl & 3);
	uint8_t pte[4], pattern[16];
	uint64_t seed;
	const uint8_t *rest;

	memset(c, 0, sizeof(*c));
	*dflags = (ctl & 8) ? X86_DECODE_AMD : 0;
	for (unsigned i = 0; i < 16; i++) {
		unsigned sel = fuzz_u8(in);

		c->gpr[i] = sel < 0xf0 ? fuzz_u16(in) : fuzz_u64(in);
	}
	c->rflags = (fuzz_u16(in) & 0xcd5) | 2 | ((cr & 4) ? 1u << 18 : 0);
	for (unsigned i = 0; i < 4; i++)
		pte[i] = fuzz_u8(in);
	for (unsigned i = 0; i < 6; i++) {
		struct x86_segment *s = &c->seg[i];

		*s = (struct x86_segment){.limit = mode == X86_MODE_REAL ? 0xffff : 0xffffffff,
					  .type = 3,
					  .s = 1,
					  .present = 1,
					  .db = mode == X86_MODE_32,
					  .g = 1};
		switch ((ctl >> 4) & 3) {
		case 1:
			s->limit = fuzz_u16(in);
			break;
		case 2:
			s->limit = fuzz_u16(in);
			s->type |= X86_SEG_DOWN;
			break;
		case 3: /* rare: anything */
			s->base = fuzz_u32(in);
			s->limit = fuzz_u32(in);
			s->type = fuzz_u8(in) & 15;
			s->unusable = fuzz_u8(in) & 1;
			break;
		}
	}
	c->seg[X86_SEG_CS].type = 11;
	c->seg[X86_SEG_CS].l = mode == X86_MODE_64;
	c->seg[X86_SEG_CS].db = mode == X86_MODE_32;
	if (ctl & 0x40)
		c->seg[X86_SEG_SS].dpl = 3;
	c->cr0 = (mode == X86_MODE_REAL ? 0 : 1) | 0x10 | ((cr & 1) ? 8 : 0) | ((cr & 2) ? 4 : 0) |
		 ((cr & 8) ? 1u << 18 : 0) | ((cr & 0x20) ? 1u << 16 : 0);
	c->cr4 = (1u << 9) | ((cr & 0x10) ? 1u << 21 : 0);
	if (mode == X86_MODE_64)
		c->efer = (1u << 8) | (1u << 10);
	if (cr & 0x40)
		c->efer |= 1u << 11;
	if (ctl & 0x80) {
		c->cr4 |= 1u << 18;
		c->xcr0 = 0xe7;
	} else {
		c->xcr0 = 3;
	}
	c->maxphyaddr = 40;
	w->fpu = (struct x86_fpu){
	    .fcw = fuzz_u16(in), .fsw = fuzz_u16(in), .ftw = fuzz_u8(in), .mxcsr = 0x1f80};
	for (unsigned i = 0; i < 8; i++)
		for (unsigned k = 0; k < 10; k++)
			w->fpu.st[i][k] = fuzz_u8(in);
	for (unsigned k = 0; k < 16; k++)
		pattern[k] = fuzz_u8(in);
	for (unsigned r = 0; r < 32; r++)
		for (unsigned k = 0; k < 64; k++)
			w->fpu.zmm[r][k] = (uint8_t)(pattern[k & 15] + r);
	for (unsigned i = 0; i < 8; i++)
		w->fpu.k[i] = fuzz_u8(in) * 0x0101010101010101ull;
	seed = fuzz_u64(in) | 1;
	for (unsigned i = 0; i < MEM; i += 8) {
		uint64_t v = next(&seed);

		memcpy(w->mem + i, &v, 8);
	}
	{
		unsigned at = fuzz_u16(in) % (MEM - 32);

		for (unsigned k = 0; k < 32; k++)
			w->mem[at + k] = fuzz_u8(in);
	}
	if (ctl & 4) {
		c->cr0 |= 1u << 31;
		if (mode != X86_MODE_64 && (cr & 0x80))
			c->cr4 |= 1u << 5; /* PAE */
		else if (mode != X86_MODE_64)
			c->cr4 |= 1u << 4; /* PSE */
		if (mode == X86_MODE_64) {
			c->cr4 |= 1u << 5;
			if (cr & 0x80)
				c->cr4 |= 1u << 12; /* LA57 */
		}
		c->cr3 = build_paging(w, c, pte);
	}
	rest = fuzz_rest(in, code_len);
	if (*code_len > X86_MAX_INSN_LEN)
		*code_len = X86_MAX_INSN_LEN;
	memcpy(code, rest, *code_len);
}

/* One run's outcome, for comparing the two. */
struct outcome {
	enum x86_emu_result r;
	struct x86_cpu cpu;
	struct x86_fault fault;
};

static void check_contract(const struct x86_emu *e, const struct x86_cpu *before,
			   const struct outcome *o)
{
	switch (o->r) {
	case X86_EMU_OK:
		FUZZ_CHECK(e->insn.len >= 1 && e->insn.len <= X86_MAX_INSN_LEN, "length");
		FUZZ_CHECK(o->cpu.rip != before->rip || e->insn.len == 0 ||
			       x86_cpu_mode(before) != X86_MODE_64,
			   "RIP did not move");
		break;
	case X86_EMU_FAULT:
		FUZZ_CHECK(o->fault.vector == X86_EXC_UD || o->fault.vector == X86_EXC_NM ||
			       o->fault.vector == X86_EXC_SS || o->fault.vector == X86_EXC_GP ||
			       o->fault.vector == X86_EXC_PF || o->fault.vector == X86_EXC_MF ||
			       o->fault.vector == X86_EXC_AC,
			   "vector %u", o->fault.vector);
		FUZZ_CHECK(o->cpu.rip == before->rip, "a fault moved RIP");
		if (o->fault.vector == X86_EXC_PF)
			FUZZ_CHECK(o->fault.has_error && o->cpu.cr2 == o->fault.cr2, "#PF details");
		if (o->fault.vector != X86_EXC_PF)
			FUZZ_CHECK(o->cpu.cr2 == before->cr2, "CR2 changed without #PF");
		break;
	case X86_EMU_UNSUPPORTED:
	case X86_EMU_ERROR:
		FUZZ_CHECK(e->why[0], "no reason given");
		FUZZ_CHECK(memcmp(&o->cpu, before, sizeof(*before)) == 0 ||
			       (e->insn.mnemonic >= X86_MN_MOVS && e->insn.mnemonic <= X86_MN_SCAS),
			   "registers changed by a refused instruction");
		break;
	case X86_EMU_PARTIAL:
		FUZZ_CHECK(e->insn.mnemonic >= X86_MN_MOVS && e->insn.mnemonic <= X86_MN_SCAS,
			   "partial non-string instruction");
		FUZZ_CHECK(o->cpu.rip == before->rip, "partial moved RIP");
		break;
	default:
		FUZZ_CHECK(0, "result %d", o->r);
	}
}

static void run(struct world *w, const struct x86_cpu *start, unsigned dflags, const uint8_t *code,
		size_t len, struct outcome *o, struct x86_emu *e)
{
	o->cpu = *start;
	x86_emu_init(e, &ops, w, &o->cpu);
	e->decode_flags = dflags;
	e->max_rep = MAXREP;
	o->r = x86_emulate(e, code, len);
	o->fault = e->fault;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static struct world a, b;
	static struct x86_emu ea, eb;
	struct outcome oa, ob;
	struct x86_cpu start;
	struct fuzz_in in;
	uint8_t code[X86_MAX_INSN_LEN];
	size_t len;
	unsigned dflags;

	fuzz_in_init(&in, data, size);
	a.fpu_written = false;
	setup(&in, &a, &start, &dflags, code, &len);
	b = a;
	run(&a, &start, dflags, code, len, &oa, &ea);
	run(&b, &start, dflags, code, len, &ob, &eb);
	check_contract(&ea, &start, &oa);
	FUZZ_CHECK(oa.r == ob.r && memcmp(&oa.cpu, &ob.cpu, sizeof(oa.cpu)) == 0 &&
		       memcmp(a.mem, b.mem, MEM) == 0 && a.fpu_written == b.fpu_written &&
		       (!a.fpu_written || memcmp(&a.fpu, &b.fpu, sizeof(a.fpu)) == 0),
		   "two runs of the same input differ");
	if (oa.r == X86_EMU_FAULT)
		FUZZ_CHECK(oa.fault.vector == ob.fault.vector && oa.fault.error == ob.fault.error,
			   "faults differ");
	return 0;
}
