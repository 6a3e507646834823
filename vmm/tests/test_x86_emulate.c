/* Unit tests of the x86 emulator on plain memory: modes, segments, paging, faults, REP. */
#include "kvmlab/x86_emulate.h"
#include "unit.h"

#define MEM_SIZE (4u << 20)

/* Guest-physical memory for the emulator, with a log of the accesses devices would see. */
struct tmem {
	uint8_t b[MEM_SIZE];
	unsigned writes, max_write;
	uint64_t last_write_gpa;
	struct x86_fpu fpu;
};

static int t_read(void *opaque, uint64_t gpa, void *buf, unsigned len)
{
	struct tmem *m = opaque;

	if (gpa >= MEM_SIZE || len > MEM_SIZE - gpa)
		return -1;
	memcpy(buf, m->b + gpa, len);
	return 0;
}

static int t_write(void *opaque, uint64_t gpa, const void *buf, unsigned len)
{
	struct tmem *m = opaque;

	if (gpa >= MEM_SIZE || len > MEM_SIZE - gpa)
		return -1;
	memcpy(m->b + gpa, buf, len);
	m->writes++;
	m->last_write_gpa = gpa;
	if (len > m->max_write)
		m->max_write = len;
	return 0;
}

static int t_get_fpu(void *opaque, struct x86_fpu *f)
{
	*f = ((struct tmem *)opaque)->fpu;
	return 0;
}

static int t_set_fpu(void *opaque, const struct x86_fpu *f)
{
	((struct tmem *)opaque)->fpu = *f;
	return 0;
}

static const struct x86_emu_ops tops = {
    .read = t_read, .write = t_write, .get_fpu = t_get_fpu, .set_fpu = t_set_fpu};

static struct tmem *tmem_new(void)
{
	struct tmem *m = calloc(1, sizeof(*m));

	CHECK(m != NULL);
	m->fpu.fcw = 0x37f;
	m->fpu.mxcsr = 0x1f80;
	return m;
}

static struct x86_segment seg(uint64_t base, uint32_t limit, uint8_t type, bool db)
{
	return (struct x86_segment){.base = base,
				    .limit = limit,
				    .type = type,
				    .s = 1,
				    .present = 1,
				    .db = db,
				    .g = limit > 0xfffff};
}

/* A CPU in the given mode with flat segments and paging off. */
static void cpu_flat(struct x86_cpu *c, enum x86_mode mode)
{
	memset(c, 0, sizeof(*c));
	c->rflags = 2;
	for (unsigned i = 0; i < 6; i++)
		c->seg[i] =
		    seg(0, mode == X86_MODE_REAL ? 0xffff : 0xffffffff, 3, mode == X86_MODE_32);
	c->seg[X86_SEG_CS].type = 11;
	c->seg[X86_SEG_CS].l = mode == X86_MODE_64;
	c->cr0 = mode == X86_MODE_REAL ? 0 : 1;
	if (mode == X86_MODE_64)
		c->efer = 0x500;
	c->cr4 = 1u << 9; /* OSFXSR */
	c->xcr0 = 3;
}

static enum x86_emu_result emulate(struct x86_emu *e, const char *hex)
{
	uint8_t b[32];
	size_t n = 0;

	for (; hex[0] && hex[1]; hex += 2) {
		unsigned v;

		sscanf(hex, "%2x", &v);
		b[n++] = (uint8_t)v;
	}
	return x86_emulate(e, b, n);
}

TEST(x86_emulate_modes_and_flags)
{
	struct tmem *m = tmem_new();
	struct x86_cpu c;
	struct x86_emu e;

	/* 16-bit real mode: add word [bx+si+2], ax at DS base 0x1000. */
	cpu_flat(&c, X86_MODE_REAL);
	c.seg[X86_SEG_DS] = seg(0x1000, 0xffff, 3, false);
	c.gpr[3] = 0x10, c.gpr[6] = 0x4, c.gpr[0] = 0xffff;
	m->b[0x1016] = 1;
	x86_emu_init(&e, &tops, m, &c);
	CHECK_EQ(emulate(&e, "014002"), X86_EMU_OK);
	CHECK_EQ(m->b[0x1016] | (m->b[0x1017] << 8), 0);
	CHECK((c.rflags & 0x8d5) == (0x1 | 0x4 | 0x10 | 0x40)); /* CF PF AF ZF */
	CHECK_EQ(c.rip, 3);
	/* A word at offset 0xffff crosses the real-mode limit: #GP (here DS). */
	c.gpr[3] = 0xffff, c.gpr[6] = 0;
	CHECK_EQ(emulate(&e, "0107"), X86_EMU_FAULT);
	CHECK_EQ(e.fault.vector, X86_EXC_GP);
	/* 16-bit addressing wraps: [bx+si] = 0xfff0 + 0x20 -> 0x0010. */
	c.gpr[3] = 0xfff0, c.gpr[6] = 0x20;
	CHECK_EQ(emulate(&e, "8800"), X86_EMU_OK); /* mov [bx+si], al */
	CHECK_EQ(m->b[0x1010], 0xff);
	free(m);
}

TEST(x86_emulate_segments_32bit)
{
	struct tmem *m = tmem_new();
	struct x86_cpu c;
	struct x86_emu e;

	cpu_flat(&c, X86_MODE_32);
	x86_emu_init(&e, &tops, m, &c);
	/* DS limited to 0xfff: a dword at 0xffe crosses it. */
	c.seg[X86_SEG_DS] = seg(0x10000, 0xfff, 3, true);
	c.gpr[0] = 0xffc;
	CHECK_EQ(emulate(&e, "8918"), X86_EMU_OK); /* mov [eax], ebx */
	c.gpr[0] = 0xffe;
	CHECK_EQ(emulate(&e, "8918"), X86_EMU_FAULT);
	CHECK_EQ(e.fault.vector, X86_EXC_GP);
	CHECK(e.fault.has_error && e.fault.error == 0);
	/* SS-relative ([ebp]): #SS. */
	c.seg[X86_SEG_SS] = seg(0, 0xfff, 3, true);
	c.gpr[5] = 0x2000;
	CHECK_EQ(emulate(&e, "8b4500"), X86_EMU_FAULT);
	CHECK_EQ(e.fault.vector, X86_EXC_SS);
	/* Expand-down: valid offsets are above the limit. */
	c.seg[X86_SEG_ES] = seg(0x20000, 0x7fff, 3 | X86_SEG_DOWN, true);
	c.gpr[0] = 0x8000;
	CHECK_EQ(emulate(&e, "268918"), X86_EMU_OK);
	c.gpr[0] = 0x7ffc;
	CHECK_EQ(emulate(&e, "268918"), X86_EMU_FAULT);
	/* Writing a read-only data segment, reading an execute-only code segment. */
	c.seg[X86_SEG_DS] = seg(0, 0xffffffff, 1, true);
	c.gpr[0] = 0x100;
	CHECK_EQ(emulate(&e, "8918"), X86_EMU_FAULT);
	CHECK_EQ(emulate(&e, "8b18"), X86_EMU_OK);
	c.seg[X86_SEG_CS].type = 8; /* execute-only */
	CHECK_EQ(emulate(&e, "2e8b18"), X86_EMU_FAULT);
	c.seg[X86_SEG_CS].type = 10; /* execute/read */
	CHECK_EQ(emulate(&e, "2e8b18"), X86_EMU_OK);
	/* A null (unusable) segment. */
	c.seg[X86_SEG_FS].unusable = 1;
	CHECK_EQ(emulate(&e, "648b18"), X86_EMU_FAULT);
	CHECK_EQ(e.fault.vector, X86_EXC_GP);
	/* The 32-bit linear address wraps: base 0xfffff000 + 0x1100 -> 0x100. */
	c.seg[X86_SEG_GS] = seg(0xfffff000, 0xffffffff, 3, true);
	c.gpr[0] = 0x1100, c.gpr[3] = 0xa5a5a5a5;
	CHECK_EQ(emulate(&e, "658918"), X86_EMU_OK);
	CHECK_EQ(m->b[0x100], 0xa5);
	free(m);
}

/* Page tables built in test memory; entries are 8 bytes (or 4 for 32-bit paging). */
#define P  1ull
#define W  2ull
#define U  4ull
#define A  0x20ull
#define D  0x40ull
#define PS 0x80ull
#define NX (1ull << 63)

static void put64(struct tmem *m, uint64_t gpa, uint64_t v)
{
	memcpy(m->b + gpa, &v, 8);
}

static uint64_t get64(struct tmem *m, uint64_t gpa)
{
	uint64_t v;

	memcpy(&v, m->b + gpa, 8);
	return v;
}

static void put32(struct tmem *m, uint64_t gpa, uint32_t v)
{
	memcpy(m->b + gpa, &v, 4);
}

TEST(x86_emulate_page_walk_4level)
{
	struct tmem *m = tmem_new();
	uint64_t la = 0x7f1234567000ull, gpa;
	struct x86_cpu c;
	struct x86_emu e;

	cpu_flat(&c, X86_MODE_64);
	c.cr0 |= 0x80010000; /* PG, WP */
	c.cr4 |= 1u << 5;
	c.efer |= 1u << 11; /* NXE */
	c.cr3 = 0x1000;
	put64(m, 0x1000 + ((la >> 39) & 511) * 8, 0x2000 | P | W | U);
	put64(m, 0x2000 + ((la >> 30) & 511) * 8, 0x3000 | P | W | U);
	put64(m, 0x3000 + ((la >> 21) & 511) * 8, 0x4000 | P | W | U);
	put64(m, 0x4000 + ((la >> 12) & 511) * 8, 0x10000 | P | U | NX);  /* read-only, user */
	put64(m, 0x4000 + (((la >> 12) + 1) & 511) * 8, 0x11000 | P | W); /* supervisor */
	x86_emu_init(&e, &tops, m, &c);
	CHECK_EQ(x86_translate(&e, la + 0x123, X86_ACC_READ, &gpa), X86_EMU_OK);
	CHECK_EQ(gpa, 0x10123);
	CHECK(get64(m, 0x1000 + ((la >> 39) & 511) * 8) & A); /* accessed bits set */
	CHECK(!(get64(m, 0x4000 + ((la >> 12) & 511) * 8) & D));
	/* Supervisor write to a read-only page with CR0.WP: #PF P|W. */
	CHECK_EQ(x86_translate(&e, la, X86_ACC_WRITE, &gpa), X86_EMU_FAULT);
	CHECK_EQ(e.fault.vector, X86_EXC_PF);
	CHECK_EQ(e.fault.error, 3);
	CHECK_EQ(e.fault.cr2, la);
	/* Without WP it is allowed, and the dirty bit is set. */
	c.cr0 &= ~0x10000ull;
	CHECK_EQ(x86_translate(&e, la, X86_ACC_WRITE, &gpa), X86_EMU_OK);
	CHECK(get64(m, 0x4000 + ((la >> 12) & 511) * 8) & D);
	/* Fetch from an NX page: #PF P|I/D. */
	CHECK_EQ(x86_translate(&e, la, X86_ACC_FETCH, &gpa), X86_EMU_FAULT);
	CHECK_EQ(e.fault.error, 0x11);
	/* CPL 3 reading the supervisor page: #PF P|U. */
	c.seg[X86_SEG_SS].dpl = 3;
	CHECK_EQ(x86_translate(&e, la + 0x1000, X86_ACC_READ, &gpa), X86_EMU_FAULT);
	CHECK_EQ(e.fault.error, 5);
	/* SMAP: supervisor reads of a user page fault unless RFLAGS.AC. */
	c.seg[X86_SEG_SS].dpl = 0;
	c.cr4 |= 1u << 21;
	CHECK_EQ(x86_translate(&e, la, X86_ACC_READ, &gpa), X86_EMU_FAULT);
	c.rflags |= 1u << 18;
	CHECK_EQ(x86_translate(&e, la, X86_ACC_READ, &gpa), X86_EMU_OK);
	/* Not present two pages on: #PF with P clear; a reserved bit: RSVD. */
	CHECK_EQ(x86_translate(&e, la + 0x2000, X86_ACC_WRITE, &gpa), X86_EMU_FAULT);
	CHECK_EQ(e.fault.error, 2);
	put64(m, 0x4000 + (((la >> 12) + 2) & 511) * 8, 0x12000 | P | (1ull << 51));
	c.maxphyaddr = 48;
	CHECK_EQ(x86_translate(&e, la + 0x2000, X86_ACC_READ, &gpa), X86_EMU_FAULT);
	CHECK_EQ(e.fault.error, 9);
	/* An instruction: the emulator walks, and the fault's CR2 reaches the CPU state. */
	c.gpr[0] = la + 0x2ff8;
	CHECK_EQ(emulate(&e, "488b00"), X86_EMU_FAULT);
	CHECK_EQ(c.cr2, la + 0x2ff8);
	free(m);
}

TEST(x86_emulate_page_walk_large_and_legacy)
{
	struct tmem *m = tmem_new();
	struct x86_cpu c;
	struct x86_emu e;
	uint64_t gpa;

	/* 4-level with a 1 GiB page and a 2 MiB page. */
	cpu_flat(&c, X86_MODE_64);
	c.cr0 |= 0x80000000;
	c.cr4 |= 1u << 5;
	c.cr3 = 0x1000;
	put64(m, 0x1000, 0x2000 | P | W);
	put64(m, 0x2000 + 8, 0x40000000 | P | W | PS); /* 1-2 GiB -> 1 GiB */
	put64(m, 0x2000, 0x3000 | P | W);
	put64(m, 0x3000 + 3 * 8, 0x200000 | P | W | PS); /* 6-8 MiB -> 2 MiB */
	x86_emu_init(&e, &tops, m, &c);
	CHECK_EQ(x86_translate(&e, 0x40123456, X86_ACC_READ, &gpa), X86_EMU_OK);
	CHECK_EQ(gpa, 0x40123456);
	CHECK_EQ(x86_translate(&e, 0x612345, X86_ACC_READ, &gpa), X86_EMU_OK);
	CHECK_EQ(gpa, 0x212345);
	/* 5-level: one more table in front. */
	c.cr4 |= 1u << 12;
	c.cr3 = 0x5000;
	put64(m, 0x5000, 0x1000 | P | W);
	CHECK_EQ(x86_translate(&e, 0x612345, X86_ACC_READ, &gpa), X86_EMU_OK);
	CHECK_EQ(gpa, 0x212345);
	/* 32-bit paging with a 4 MiB page (PSE) and a 4 KiB page. */
	cpu_flat(&c, X86_MODE_32);
	c.cr0 |= 0x80000000;
	c.cr4 |= 1u << 4;
	c.cr3 = 0x8000;
	put32(m, 0x8000 + 1 * 4, 0x00800000 | P | W | PS); /* 4-8 MiB -> 8 MiB */
	put32(m, 0x8000 + 0 * 4, 0x9000 | P | W);
	put32(m, 0x9000 + 5 * 4, 0x3a000 | P | W); /* 0x5000 -> 0x3a000 */
	CHECK_EQ(x86_translate(&e, 0x456789, X86_ACC_READ, &gpa), X86_EMU_OK);
	CHECK_EQ(gpa, 0x856789);
	CHECK_EQ(x86_translate(&e, 0x5123, X86_ACC_WRITE, &gpa), X86_EMU_OK);
	CHECK_EQ(gpa, 0x3a123);
	/* PAE: PDPTEs from CR3, then 8-byte entries. */
	c.cr4 = (1u << 5) | (1u << 9);
	c.cr3 = 0xa000;
	put64(m, 0xa000 + 8, 0xb000 | P); /* 1-2 GiB */
	put64(m, 0xb000 + 2 * 8, 0xc000 | P | W);
	put64(m, 0xc000 + 7 * 8, 0x3c000 | P | W);
	CHECK_EQ(x86_translate(&e, 0x40407abc, X86_ACC_READ, &gpa), X86_EMU_OK);
	CHECK_EQ(gpa, 0x3cabc);
	free(m);
}

TEST(x86_emulate_crossing_pages_checks_both_first)
{
	struct tmem *m = tmem_new();
	struct x86_cpu c;
	struct x86_emu e;

	cpu_flat(&c, X86_MODE_64);
	c.cr0 |= 0x80010000;
	c.cr4 |= 1u << 5;
	c.cr3 = 0x1000;
	put64(m, 0x1000, 0x2000 | P | W);
	put64(m, 0x2000, 0x3000 | P | W);
	put64(m, 0x3000, 0x4000 | P | W);
	put64(m, 0x4000 + 0x10 * 8, 0x20000 | P | W);
	put64(m, 0x4000 + 0x11 * 8, 0x21000 | P); /* read-only */
	x86_emu_init(&e, &tops, m, &c);
	/* An 8-byte store across the boundary faults on the second page and writes nothing. */
	c.gpr[0] = 0x10ffc;
	c.gpr[3] = ~0ull;
	CHECK_EQ(emulate(&e, "488918"), X86_EMU_FAULT);
	CHECK_EQ(e.fault.error, 3);
	CHECK_EQ(e.fault.cr2, 0x11000);
	CHECK_EQ(get64(m, 0x20ff8) >> 32, 0); /* the first page's half was not written either */
	/* A read across it lands in two frames. */
	m->b[0x20fff] = 0x11, m->b[0x21000] = 0x22;
	c.gpr[0] = 0x10fff;
	CHECK_EQ(emulate(&e, "668b18"), X86_EMU_OK);
	CHECK_EQ(c.gpr[3] & 0xffff, 0x2211);
	free(m);
}

TEST(x86_emulate_rep_partial_and_faults)
{
	struct tmem *m = tmem_new();
	struct x86_cpu c;
	struct x86_emu e;

	cpu_flat(&c, X86_MODE_64);
	x86_emu_init(&e, &tops, m, &c);
	/* rep stosd with max_rep: progress is kept and RIP stays until done. */
	e.max_rep = 4;
	c.gpr[1] = 10, c.gpr[7] = 0x1000, c.gpr[0] = 0x11223344;
	CHECK_EQ(emulate(&e, "f3ab"), X86_EMU_PARTIAL);
	CHECK_EQ(c.gpr[1], 6);
	CHECK_EQ(c.gpr[7], 0x1010);
	CHECK_EQ(c.rip, 0);
	CHECK_EQ(emulate(&e, "f3ab"), X86_EMU_PARTIAL);
	CHECK_EQ(emulate(&e, "f3ab"), X86_EMU_OK);
	CHECK_EQ(c.gpr[1], 0);
	CHECK_EQ(c.rip, 2);
	/* A fault in the middle of rep stosb keeps the iterations before it (32-bit, ES limit). */
	cpu_flat(&c, X86_MODE_32);
	e.max_rep = 0;
	c.seg[X86_SEG_ES] = seg(0, 0x100f, 3, true);
	c.gpr[1] = 20, c.gpr[7] = 0x1000;
	CHECK_EQ(emulate(&e, "f3aa"), X86_EMU_FAULT);
	CHECK_EQ(e.fault.vector, X86_EXC_GP);
	CHECK_EQ(c.gpr[1], 4);
	CHECK_EQ(c.gpr[7], 0x1010);
	CHECK_EQ(c.rip, 0);
	cpu_flat(&c, X86_MODE_64);
	/* DF=1 with a 32-bit address size wraps ESI and zero-extends it. */
	c.rflags |= 1u << 10;
	c.gpr[1] = 1, c.gpr[6] = 0xffffffff00000000ull, c.gpr[7] = 0x3000;
	CHECK_EQ(emulate(&e, "67f3a4"), X86_EMU_OK);
	CHECK_EQ(c.gpr[6], 0xffffffffull);
	free(m);
}

TEST(x86_emulate_movdir64b_and_wide_accesses)
{
	struct tmem *m = tmem_new();
	struct x86_cpu c;
	struct x86_emu e;

	cpu_flat(&c, X86_MODE_64);
	x86_emu_init(&e, &tops, m, &c);
	for (unsigned i = 0; i < 64; i++)
		m->b[0x2003 + i] = (uint8_t)i;
	c.gpr[0] = 0x8000, c.gpr[1] = 0x2003;
	CHECK_EQ(emulate(&e, "660f38f801"), X86_EMU_OK); /* movdir64b rax, [rcx] */
	CHECK(memcmp(m->b + 0x8000, m->b + 0x2003, 64) == 0);
	CHECK_EQ(m->writes, 1); /* one 64-byte write */
	CHECK_EQ(m->max_write, 64);
	c.gpr[0] = 0x8020; /* not 64-byte aligned */
	CHECK_EQ(emulate(&e, "660f38f801"), X86_EMU_FAULT);
	CHECK_EQ(e.fault.vector, X86_EXC_GP);
	/* A 32-byte VEX store reaches memory as four 8-byte writes (as from KVM). */
	c.cr4 |= 1u << 18;
	c.xcr0 = 7;
	m->writes = m->max_write = 0;
	c.gpr[2] = 0x9000;
	CHECK_EQ(emulate(&e, "c5fe7f02"), X86_EMU_OK); /* vmovdqu [rdx], ymm0 */
	CHECK_EQ(m->writes, 4);
	CHECK_EQ(m->max_write, 8);
	/* ... and #UD when XCR0 does not enable AVX, #NM with CR0.TS. */
	c.xcr0 = 3;
	CHECK_EQ(emulate(&e, "c5fe7f02"), X86_EMU_FAULT);
	CHECK_EQ(e.fault.vector, X86_EXC_UD);
	c.xcr0 = 7;
	c.cr0 |= 8;
	CHECK_EQ(emulate(&e, "c5fe7f02"), X86_EMU_FAULT);
	CHECK_EQ(e.fault.vector, X86_EXC_NM);
	free(m);
}

TEST(x86_emulate_evex_mask_suppresses_faults)
{
	struct tmem *m = tmem_new();
	struct x86_cpu c;
	struct x86_emu e;

	cpu_flat(&c, X86_MODE_64);
	c.cr4 |= 1u << 18;
	c.xcr0 = 0xe7;
	x86_emu_init(&e, &tops, m, &c);
	/* vmovdqu32 [rax]{k1}, zmm0 with the upper 12 dwords masked off, at the end of memory:
	 * the masked-off part lies beyond it and must not be touched. */
	m->fpu.k[1] = 0xf;
	memset(m->fpu.zmm[0], 0x5a, 64);
	c.gpr[0] = MEM_SIZE - 16;
	CHECK_EQ(emulate(&e, "62f17e497f00"), X86_EMU_OK);
	CHECK_EQ(m->b[MEM_SIZE - 1], 0x5a);
	m->fpu.k[1] = 0x1f; /* one more element: now it reaches beyond */
	CHECK_EQ(emulate(&e, "62f17e497f00"), X86_EMU_ERROR);
	/* Zeroing-masking on a load: vmovdqu32 zmm1 {k2}{z}, [rax] with only element 0 selected. */
	m->fpu.k[2] = 0x1;
	memset(m->fpu.zmm[1], 0xee, 64);
	c.gpr[0] = 0x100;
	memset(m->b + 0x100, 0x77, 64);
	CHECK_EQ(emulate(&e, "62f17eca6f08"), X86_EMU_OK);
	CHECK_EQ(m->fpu.zmm[1][0], 0x77);
	CHECK_EQ(m->fpu.zmm[1][3], 0x77);
	CHECK_EQ(m->fpu.zmm[1][4], 0);
	CHECK_EQ(m->fpu.zmm[1][63], 0);
	free(m);
}

TEST(x86_emulate_cmpxchg_vendor_difference)
{
	struct tmem *m = tmem_new();
	struct x86_cpu c;
	struct x86_emu e;

	/* cmpxchg ebx, ecx with EAX != EBX: EAX gets EBX; RBX keeps its upper half on AMD and
	 * is zero-extended on Intel. */
	cpu_flat(&c, X86_MODE_64);
	x86_emu_init(&e, &tops, m, &c);
	c.gpr[0] = 1, c.gpr[3] = 0xaaaaaaaa00000002ull, c.gpr[1] = 3;
	e.decode_flags = X86_DECODE_AMD;
	CHECK_EQ(emulate(&e, "0fb1cb"), X86_EMU_OK);
	CHECK_EQ(c.gpr[3], 0xaaaaaaaa00000002ull);
	CHECK_EQ(c.gpr[0], 2);
	c.gpr[0] = 1, c.gpr[3] = 0xaaaaaaaa00000002ull;
	e.decode_flags = 0;
	CHECK_EQ(emulate(&e, "0fb1cb"), X86_EMU_OK);
	CHECK_EQ(c.gpr[3], 2);
	free(m);
}

TEST(x86_emulate_invalid_and_unsupported)
{
	struct tmem *m = tmem_new();
	struct x86_cpu c;
	struct x86_emu e;

	cpu_flat(&c, X86_MODE_64);
	x86_emu_init(&e, &tops, m, &c);
	CHECK_EQ(emulate(&e, "0fff"), X86_EMU_ERROR); /* truncated */
	CHECK_EQ(emulate(&e, "06"), X86_EMU_FAULT);   /* push es: #UD in 64-bit mode */
	CHECK_EQ(e.fault.vector, X86_EXC_UD);
	CHECK_EQ(emulate(&e, "2626262626262626262626262626268b00"), X86_EMU_FAULT);
	CHECK_EQ(e.fault.vector, X86_EXC_GP);		    /* longer than 15 bytes */
	CHECK_EQ(emulate(&e, "0fa2"), X86_EMU_UNSUPPORTED); /* cpuid */
	CHECK_CONTAINS(e.why, "not emulated");
	CHECK_EQ(emulate(&e, "8e18"), X86_EMU_UNSUPPORTED); /* mov ds, [rax] */
	CHECK_EQ(c.rip, 0);
	free(m);
}

TEST(x86_emulate_x87_underflow_and_push)
{
	struct tmem *m = tmem_new();
	struct x86_cpu c;
	struct x86_emu e;
	uint64_t v;

	cpu_flat(&c, X86_MODE_64);
	x86_emu_init(&e, &tops, m, &c);
	/* fstp qword [rax] with an empty stack: masked IE stores the indefinite QNaN. */
	c.gpr[0] = 0x100;
	CHECK_EQ(emulate(&e, "dd18"), X86_EMU_OK);
	memcpy(&v, m->b + 0x100, 8);
	CHECK_EQ(v, 0xfff8000000000000ull);
	CHECK_EQ(m->fpu.fsw & 0x41, 0x41); /* IE, SF */
	/* fld dword [rax] of 1.5f pushes it as an 80-bit value. */
	m->fpu.fsw = 0;
	memcpy(m->b + 0x200, &(uint32_t){0x3fc00000}, 4);
	c.gpr[0] = 0x200;
	CHECK_EQ(emulate(&e, "d900"), X86_EMU_OK);
	CHECK_EQ((m->fpu.fsw >> 11) & 7, 7); /* TOP */
	CHECK_EQ(m->fpu.ftw, 0x80);
	memcpy(&v, m->fpu.st[0], 8);
	CHECK_EQ(v, 0xc000000000000000ull);
	CHECK_EQ(m->fpu.st[0][8] | (m->fpu.st[0][9] << 8), 0x3fff);
	free(m);
}
