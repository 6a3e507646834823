/* The forms the x86 oracles test, and random cases for them: bytes, registers, memory, FPU. */
#include <cpuid.h>
#include <string.h>

#include "x86_forms.h"

#define CF_ (1ull << 0)
#define PF_ (1ull << 2)
#define AF_ (1ull << 4)
#define ZF_ (1ull << 6)
#define SF_ (1ull << 7)
#define OF_ (1ull << 11)

/* clang-format off */
/* name, enc, pfx, map, op, reg, modrm, imm, osz, vl, w, align, kind, rep, mask, need, undef */
#define INT(n, map, op, reg, imm, osz, undef)                                                      \
	{n, FE_LEGACY, 0, map, op, reg, FM_ANY, imm, osz, 0, 0, 0, FK_INT, 0, 0, 0, undef}
#define ALU(name, o, undef)                                                                        \
	INT(name " Eb,Gb", 0, (o) * 8 + 0, -1, 0, 0, undef),                                       \
	INT(name " Ev,Gv", 0, (o) * 8 + 1, -1, 0, 7, undef),                                       \
	INT(name " Gb,Eb", 0, (o) * 8 + 2, -1, 0, 0, undef),                                       \
	INT(name " Gv,Ev", 0, (o) * 8 + 3, -1, 0, 7, undef),                                       \
	INT(name " Eb,Ib", 0, 0x80, o, 1, 0, undef), INT(name " Ev,Iz", 0, 0x81, o, 0xff, 7, undef), \
	INT(name " Ev,Ib", 0, 0x83, o, 1, 7, undef)
#define STR(n, op, rep) {n, FE_LEGACY, 0, 0, op, -1, FM_NONE, 0, 7, 0, 0, 0, FK_STRING, rep, 0, 0, 0}
#define SSE(n, pfx, map, op, modrm, osz, align)                                                    \
	{n, FE_LEGACY, pfx, map, op, -1, modrm, 0, osz, 0, 0, align, FK_VEC, 0, 0, 0, 0}
#define VEX(n, pfx, map, op, modrm, vl, w, align)                                                  \
	{n, FE_VEX, pfx, map, op, -1, modrm, 0, 0, vl, w, align, FK_VEC, 0, 0, NEED_AVX, 0}
#define EVX(n, pfx, map, op, modrm, vl, w, align, mask)                                            \
	{n, FE_EVEX, pfx, map, op, -1, modrm, 0, 0, vl, w, align, FK_VEC, 0, mask, NEED_AVX512, 0}
#define X87(n, op, reg) {n, FE_LEGACY, 0, 0, op, reg, FM_MEM, 0, 0, 0, 0, 0, FK_X87, 0, 0, 0, 0}

#define LOGIC AF_
#define BTU   (OF_ | SF_ | AF_ | PF_)

const struct x86_form x86_forms[] = {
	ALU("add", 0, 0),
	ALU("or", 1, LOGIC),
	ALU("adc", 2, 0),
	ALU("sbb", 3, 0),
	ALU("and", 4, LOGIC),
	ALU("sub", 5, 0),
	ALU("xor", 6, LOGIC),
	ALU("cmp", 7, 0),
	INT("test Eb,Gb", 0, 0x84, -1, 0, 0, LOGIC),
	INT("test Ev,Gv", 0, 0x85, -1, 0, 7, LOGIC),
	INT("test Eb,Ib", 0, 0xf6, 0, 1, 0, LOGIC),
	INT("test Ev,Iz", 0, 0xf7, 0, 0xff, 7, LOGIC),
	INT("not Eb", 0, 0xf6, 2, 0, 0, 0),
	INT("not Ev", 0, 0xf7, 2, 0, 7, 0),
	INT("neg Eb", 0, 0xf6, 3, 0, 0, 0),
	INT("neg Ev", 0, 0xf7, 3, 0, 7, 0),
	INT("inc Eb", 0, 0xfe, 0, 0, 0, 0),
	INT("inc Ev", 0, 0xff, 0, 0, 7, 0),
	INT("dec Eb", 0, 0xfe, 1, 0, 0, 0),
	INT("dec Ev", 0, 0xff, 1, 0, 7, 0),
	INT("xchg Eb,Gb", 0, 0x86, -1, 0, 0, 0),
	INT("xchg Ev,Gv", 0, 0x87, -1, 0, 7, 0),
	INT("cmpxchg Eb,Gb", 1, 0xb0, -1, 0, 0, 0),
	INT("cmpxchg Ev,Gv", 1, 0xb1, -1, 0, 7, 0),
	INT("xadd Eb,Gb", 1, 0xc0, -1, 0, 0, 0),
	INT("xadd Ev,Gv", 1, 0xc1, -1, 0, 7, 0),
	INT("bt Ev,Gv", 1, 0xa3, -1, 0, 7, BTU),
	INT("bts Ev,Gv", 1, 0xab, -1, 0, 7, BTU),
	INT("btr Ev,Gv", 1, 0xb3, -1, 0, 7, BTU),
	INT("btc Ev,Gv", 1, 0xbb, -1, 0, 7, BTU),
	INT("bt Ev,Ib", 1, 0xba, 4, 1, 7, BTU),
	INT("bts Ev,Ib", 1, 0xba, 5, 1, 7, BTU),
	INT("btr Ev,Ib", 1, 0xba, 6, 1, 7, BTU),
	INT("btc Ev,Ib", 1, 0xba, 7, 1, 7, BTU),
	INT("mov Eb,Gb", 0, 0x88, -1, 0, 0, 0),
	INT("mov Ev,Gv", 0, 0x89, -1, 0, 7, 0),
	INT("mov Gb,Eb", 0, 0x8a, -1, 0, 0, 0),
	INT("mov Gv,Ev", 0, 0x8b, -1, 0, 7, 0),
	INT("mov Eb,Ib", 0, 0xc6, 0, 1, 0, 0),
	INT("mov Ev,Iz", 0, 0xc7, 0, 0xff, 7, 0),
	INT("mov Ev,Sw", 0, 0x8c, -1, 0, 7, 0),
	{"mov AL,Ob", FE_LEGACY, 0, 0, 0xa0, -1, FM_NONE, 8, 0, 0, 0, 0, FK_MOFFS, 0, 0, 0, 0},
	{"mov rAX,Ov", FE_LEGACY, 0, 0, 0xa1, -1, FM_NONE, 8, 7, 0, 0, 0, FK_MOFFS, 0, 0, 0, 0},
	{"mov Ob,AL", FE_LEGACY, 0, 0, 0xa2, -1, FM_NONE, 8, 0, 0, 0, 0, FK_MOFFS, 0, 0, 0, 0},
	{"mov Ov,rAX", FE_LEGACY, 0, 0, 0xa3, -1, FM_NONE, 8, 7, 0, 0, 0, FK_MOFFS, 0, 0, 0, 0},
	INT("movzx Gv,Eb", 1, 0xb6, -1, 0, 7, 0),
	INT("movzx Gv,Ew", 1, 0xb7, -1, 0, 7, 0),
	INT("movsx Gv,Eb", 1, 0xbe, -1, 0, 7, 0),
	INT("movsx Gv,Ew", 1, 0xbf, -1, 0, 7, 0),
	INT("movsxd Gv,Ed", 0, 0x63, -1, 0, 7, 0),
	{"movnti My,Gy", FE_LEGACY, 0, 1, 0xc3, -1, FM_MEM, 0, 6, 0, 0, 0, FK_INT, 0, 0, 0, 0},
	STR("movs", 0xa4, 1), STR("movs v", 0xa5, 1), STR("stos", 0xaa, 1), STR("stos v", 0xab, 1),
	STR("lods", 0xac, 1), STR("lods v", 0xad, 1), STR("cmps", 0xa6, 1), STR("cmps v", 0xa7, 1),
	STR("scas", 0xae, 1), STR("scas v", 0xaf, 1),
	SSE("movups", 0, 1, 0x10, FM_ANY, 0, 0), SSE("movups st", 0, 1, 0x11, FM_ANY, 0, 0),
	SSE("movupd", 0x66, 1, 0x10, FM_ANY, 0, 0), SSE("movupd st", 0x66, 1, 0x11, FM_ANY, 0, 0),
	SSE("movss", 0xf3, 1, 0x10, FM_ANY, 0, 0), SSE("movss st", 0xf3, 1, 0x11, FM_ANY, 0, 0),
	SSE("movsd", 0xf2, 1, 0x10, FM_ANY, 0, 0), SSE("movsd st", 0xf2, 1, 0x11, FM_ANY, 0, 0),
	SSE("movaps", 0, 1, 0x28, FM_ANY, 0, 16), SSE("movaps st", 0, 1, 0x29, FM_ANY, 0, 16),
	SSE("movapd", 0x66, 1, 0x28, FM_ANY, 0, 16), SSE("movapd st", 0x66, 1, 0x29, FM_ANY, 0, 16),
	SSE("movntps", 0, 1, 0x2b, FM_MEM, 0, 16), SSE("movntpd", 0x66, 1, 0x2b, FM_MEM, 0, 16),
	SSE("movd/q xmm,Ey", 0x66, 1, 0x6e, FM_ANY, 6, 0),
	SSE("movd/q Ey,xmm", 0x66, 1, 0x7e, FM_ANY, 6, 0),
	SSE("movq xmm,Wq", 0xf3, 1, 0x7e, FM_ANY, 0, 0),
	SSE("movq Wq,xmm", 0x66, 1, 0xd6, FM_ANY, 0, 0),
	SSE("movdqa", 0x66, 1, 0x6f, FM_ANY, 0, 16), SSE("movdqa st", 0x66, 1, 0x7f, FM_ANY, 0, 16),
	SSE("movdqu", 0xf3, 1, 0x6f, FM_ANY, 0, 0), SSE("movdqu st", 0xf3, 1, 0x7f, FM_ANY, 0, 0),
	SSE("movntdq", 0x66, 1, 0xe7, FM_MEM, 0, 16), SSE("movntdqa", 0x66, 2, 0x2a, FM_MEM, 0, 16),
	SSE("movd/q mm,Ey", 0, 1, 0x6e, FM_ANY, 6, 0), SSE("movd/q Ey,mm", 0, 1, 0x7e, FM_ANY, 6, 0),
	SSE("movq mm,Qq", 0, 1, 0x6f, FM_ANY, 0, 0), SSE("movq Qq,mm", 0, 1, 0x7f, FM_ANY, 0, 0),
	VEX("vmovups", 0, 1, 0x10, FM_ANY, 3, 2, 0), VEX("vmovups st", 0, 1, 0x11, FM_ANY, 3, 2, 0),
	VEX("vmovupd", 0x66, 1, 0x10, FM_ANY, 3, 2, 0),
	VEX("vmovupd st", 0x66, 1, 0x11, FM_ANY, 3, 2, 0),
	VEX("vmovaps", 0, 1, 0x28, FM_ANY, 3, 2, 0xff),
	VEX("vmovaps st", 0, 1, 0x29, FM_ANY, 3, 2, 0xff),
	VEX("vmovapd", 0x66, 1, 0x28, FM_ANY, 3, 2, 0xff),
	VEX("vmovapd st", 0x66, 1, 0x29, FM_ANY, 3, 2, 0xff),
	VEX("vmovdqa", 0x66, 1, 0x6f, FM_ANY, 3, 2, 0xff),
	VEX("vmovdqa st", 0x66, 1, 0x7f, FM_ANY, 3, 2, 0xff),
	VEX("vmovdqu", 0xf3, 1, 0x6f, FM_ANY, 3, 2, 0),
	VEX("vmovdqu st", 0xf3, 1, 0x7f, FM_ANY, 3, 2, 0),
	VEX("vmovntdq", 0x66, 1, 0xe7, FM_MEM, 3, 2, 0xff),
	VEX("vmovntdqa", 0x66, 2, 0x2a, FM_MEM, 3, 2, 0xff),
	VEX("vmovd/q xmm,Ey", 0x66, 1, 0x6e, FM_ANY, 1, 2, 0),
	VEX("vmovd/q Ey,xmm", 0x66, 1, 0x7e, FM_ANY, 1, 2, 0),
	VEX("vmovq xmm,Wq", 0xf3, 1, 0x7e, FM_ANY, 1, 2, 0),
	VEX("vmovq Wq,xmm", 0x66, 1, 0xd6, FM_ANY, 1, 2, 0),
	EVX("vmovdqu8", 0xf2, 1, 0x6f, FM_ANY, 7, 0, 0, 3),
	EVX("vmovdqu8 st", 0xf2, 1, 0x7f, FM_ANY, 7, 0, 0, 3),
	EVX("vmovdqu16", 0xf2, 1, 0x6f, FM_ANY, 7, 1, 0, 3),
	EVX("vmovdqu16 st", 0xf2, 1, 0x7f, FM_ANY, 7, 1, 0, 3),
	EVX("vmovdqu32", 0xf3, 1, 0x6f, FM_ANY, 7, 0, 0, 3),
	EVX("vmovdqu32 st", 0xf3, 1, 0x7f, FM_ANY, 7, 0, 0, 3),
	EVX("vmovdqu64", 0xf3, 1, 0x6f, FM_ANY, 7, 1, 0, 3),
	EVX("vmovdqu64 st", 0xf3, 1, 0x7f, FM_ANY, 7, 1, 0, 3),
	EVX("vmovdqa32", 0x66, 1, 0x6f, FM_ANY, 7, 0, 0xff, 3),
	EVX("vmovdqa32 st", 0x66, 1, 0x7f, FM_ANY, 7, 0, 0xff, 3),
	EVX("vmovdqa64", 0x66, 1, 0x6f, FM_ANY, 7, 1, 0xff, 3),
	EVX("vmovdqa64 st", 0x66, 1, 0x7f, FM_ANY, 7, 1, 0xff, 3),
	EVX("vmovups z", 0, 1, 0x10, FM_ANY, 7, 0, 0, 3),
	EVX("vmovups z st", 0, 1, 0x11, FM_ANY, 7, 0, 0, 3),
	EVX("vmovupd z", 0x66, 1, 0x10, FM_ANY, 7, 1, 0, 3),
	EVX("vmovupd z st", 0x66, 1, 0x11, FM_ANY, 7, 1, 0, 3),
	EVX("vmovaps z", 0, 1, 0x28, FM_ANY, 7, 0, 0xff, 3),
	EVX("vmovaps z st", 0, 1, 0x29, FM_ANY, 7, 0, 0xff, 3),
	EVX("vmovapd z", 0x66, 1, 0x28, FM_ANY, 7, 1, 0xff, 3),
	EVX("vmovapd z st", 0x66, 1, 0x29, FM_ANY, 7, 1, 0xff, 3),
	EVX("vmovntdq z", 0x66, 1, 0xe7, FM_MEM, 7, 0, 0xff, 0),
	EVX("vmovntdqa z", 0x66, 2, 0x2a, FM_MEM, 7, 0, 0xff, 0),
	EVX("vmovd/q z xmm,Ey", 0x66, 1, 0x6e, FM_ANY, 1, 2, 0, 0),
	EVX("vmovd/q z Ey,xmm", 0x66, 1, 0x7e, FM_ANY, 1, 2, 0, 0),
	EVX("vmovq z xmm,Wq", 0xf3, 1, 0x7e, FM_ANY, 1, 1, 0, 0),
	EVX("vmovq z Wq,xmm", 0x66, 1, 0xd6, FM_ANY, 1, 1, 0, 0),
	{"movdir64b", FE_LEGACY, 0x66, 2, 0xf8, -1, FM_MEM, 0, 0, 0, 0, 0, FK_VEC, 0, 0,
	 NEED_MOVDIR64B, 0},
	X87("fld m32", 0xd9, 0), X87("fld m64", 0xdd, 0), X87("fld m80", 0xdb, 5),
	X87("fst m32", 0xd9, 2), X87("fst m64", 0xdd, 2), X87("fstp m32", 0xd9, 3),
	X87("fstp m64", 0xdd, 3), X87("fstp m80", 0xdb, 7),
};

/* clang-format on */

const unsigned x86_nforms = sizeof(x86_forms) / sizeof(x86_forms[0]);

unsigned x86_host_features(void)
{
	unsigned a, b, c, d, f = 0;
	uint64_t xcr0 = 0;

	if (!__get_cpuid_count(1, 0, &a, &b, &c, &d))
		return 0;
	if ((c >> 27) & 1) { /* OSXSAVE */
		unsigned lo, hi;

		__asm__ volatile("xgetbv" : "=a"(lo), "=d"(hi) : "c"(0));
		xcr0 = ((uint64_t)hi << 32) | lo;
	}
	if (((c >> 28) & 1) && (xcr0 & 6) == 6)
		f |= NEED_AVX;
	if (__get_cpuid_count(7, 0, &a, &b, &c, &d)) {
		bool f512 = (b >> 16) & 1, bw = (b >> 30) & 1, vl = (b >> 31) & 1;

		if (f512 && bw && vl && (xcr0 & 0xe6) == 0xe6)
			f |= NEED_AVX512;
		if ((c >> 28) & 1)
			f |= NEED_MOVDIR64B;
	}
	return f;
}

/* ---- random values with a bias towards edges ---- */

static uint64_t rand_value(struct x86_rand *r)
{
	static const uint64_t edges[] = {0,
					 1,
					 ~0ull,
					 0x7f,
					 0x80,
					 0xff,
					 0x7fff,
					 0x8000,
					 0xffff,
					 0x7fffffff,
					 0x80000000,
					 0xffffffff,
					 0x7fffffffffffffffull,
					 0x8000000000000000ull};

	switch (x86_rand_below(r, 8)) {
	case 0:
		return edges[x86_rand_below(r, sizeof(edges) / sizeof(edges[0]))];
	case 1:
		return x86_rand_below(r, 64) - 32;
	case 2:
		return x86_rand_u64(r) & 0xff;
	default:
		return x86_rand_u64(r);
	}
}

/* x87 operands: zeros, denormals, normals near the f32/f64 limits, infinities, NaNs and the
 * formats the x87 refuses, in 32, 64 or 80 bits. */
static void rand_float(struct x86_rand *r, uint8_t *p, unsigned size)
{
	uint64_t m = x86_rand_u64(r), v;
	unsigned cls = (unsigned)x86_rand_below(r, 10);
	bool s = x86_rand_u32(r) & 1;

	if (size == 10) {
		static const int around[] = {0,
					     1,
					     16383 - 126,
					     16383 - 149,
					     16383 - 150,
					     16383 + 127,
					     16383 + 128,
					     16383 - 1022,
					     16383 - 1074,
					     16383 - 1075,
					     16383 + 1023,
					     16383 + 1024,
					     16383,
					     0x7ffe,
					     0x7fff};
		int exp;
		uint16_t se;

		switch (cls) {
		case 0:
			exp = 0, m = 0;
			break;
		case 1: /* unnormal, pseudo-denormal, pseudo-NaN/infinity */
			exp = (int)x86_rand_below(r, 0x8000);
			m &= ~(1ull << 63);
			if (x86_rand_u32(r) & 1)
				exp = 0, m |= 1ull << 63;
			break;
		case 2:
			exp = 0, m >>= x86_rand_below(r, 64);
			break;
		default:
			exp = around[x86_rand_below(r, sizeof(around) / sizeof(around[0]))] +
			      (int)x86_rand_below(r, 5) - 2;
			if (exp < 0)
				exp = 0;
			if (exp > 0x7fff)
				exp = 0x7fff;
			m |= 1ull << 63;
			if (exp == 0x7fff && (x86_rand_u32(r) & 1))
				m = 1ull << 63; /* infinity */
			if (x86_rand_u32(r) & 1)
				m &=
				    ~((1ull << x86_rand_below(r, 64)) - 1); /* short significands */
			break;
		}
		se = (uint16_t)(exp | (s ? 0x8000 : 0));
		memcpy(p, &m, 8);
		memcpy(p + 8, &se, 2);
		return;
	}
	{
		unsigned fb = size == 4 ? 23 : 52, eb = size == 4 ? 8 : 11;
		uint64_t emax = (1ull << eb) - 1, frac = m & ((1ull << fb) - 1), e;

		switch (cls) {
		case 0:
			e = 0, frac = 0;
			break;
		case 1:
			e = 0;
			break;
		case 2:
			e = emax, frac = 0;
			break;
		case 3:
			e = emax; /* NaN: signalling or quiet */
			if (!frac)
				frac = 1;
			break;
		default:
			e = x86_rand_below(r, emax);
			break;
		}
		v = ((uint64_t)s << (size * 8 - 1)) | (e << fb) | frac;
		memcpy(p, &v, size);
	}
}

static void rand_fpu(struct x86_rand *r, struct x86_fpu *f, bool x87)
{
	memset(f, 0, sizeof(*f));
	x86_rand_bytes(r, (uint8_t *)f->zmm, sizeof(f->zmm));
	for (unsigned i = 0; i < 8; i++)
		f->k[i] = x86_rand_u64(r);
	f->mxcsr = 0x1f80 | (x86_rand_u32(r) & 0x3f);
	f->fcw = 0x037f;
	f->ftw = (uint8_t)x86_rand_u32(r);
	f->fsw = (uint16_t)((x86_rand_below(r, 8) << 11) | (x86_rand_u32(r) & 0x4700));
	for (unsigned i = 0; i < 8; i++)
		rand_float(r, f->st[i], 10);
	if (!x87)
		return;
	/* Rounding and precision control at random; mostly masked exceptions. */
	f->fcw = (uint16_t)(0x0040 | (x86_rand_below(r, 4) << 10) | (x86_rand_below(r, 4) << 8));
	if (x86_rand_below(r, 4))
		f->fcw |= 0x3f;
	else
		f->fcw |= (uint16_t)(x86_rand_u32(r) & 0x3f);
	f->fsw |= (uint16_t)(x86_rand_u32(r) & 0x3f & f->fcw); /* sticky flags, none pending */
	if (x86_rand_below(r, 50) == 0 && (~f->fcw & 0x3f))    /* a pending exception: #MF */
		f->fsw |= (uint16_t)((~f->fcw & 0x3f) | 0x8080);
}

/* ---- instruction building ---- */

struct builder {
	uint8_t b[32];
	unsigned n;
};

static void put(struct builder *b, uint8_t v)
{
	b->b[b->n++] = v;
}

static void put_le(struct builder *b, uint64_t v, unsigned n)
{
	for (unsigned i = 0; i < n; i++)
		put(b, (uint8_t)(v >> (8 * i)));
}

/* Operand memory size of a form with the chosen operand size / vector length. */
static unsigned mem_size(const struct x86_form *f, unsigned osz, unsigned vlb)
{
	if (f->kind == FK_X87)
		return f->op == 0xd9 ? 4 : f->op == 0xdd ? 8 : 10;
	if (f->kind != FK_VEC)
		return (f->op == 0xb6 || f->op == 0xbe) && f->map == 1	 ? 1
		       : (f->op == 0xb7 || f->op == 0xbf) && f->map == 1 ? 2
		       : f->op == 0x63 && f->map == 0			 ? 4
		       : f->op == 0x8c					 ? 2
									 : osz;
	if (f->op == 0xf8)
		return 64;
	if (f->op == 0x6e || f->op == 0x7e || f->op == 0xd6) {
		if (f->pfx == 0xf3 || f->op == 0xd6)
			return 8;
		return osz;
	}
	if (f->pfx == 0xf3 && f->op <= 0x11 && f->enc == FE_LEGACY)
		return 4;
	if (f->pfx == 0xf2 && f->op <= 0x11 && f->enc == FE_LEGACY)
		return 8;
	if (f->enc == FE_LEGACY && f->map == 1 && !f->pfx && f->op >= 0x6e && f->op <= 0x7f)
		return 8; /* MMX */
	return vlb;
}

/* A target address for an access of size bytes: inside pages A/B, often straddling the
 * boundary between them, sometimes running into the guard page after B. */
static uint64_t pick_target(struct x86_rand *r, const struct x86_case_env *env, unsigned size,
			    unsigned align)
{
	uint64_t base = env->mem_addr, t;

	switch (x86_rand_below(r, 10)) {
	case 0:
		t = base + 2 * PAGE - size +
		    x86_rand_below(r, size > 1 ? size : 2); /* into guard */
		break;
	case 1:
	case 2:
		t = base + PAGE - x86_rand_below(r, size + 1); /* straddle A/B */
		break;
	default:
		t = base + x86_rand_below(r, 2 * PAGE - size + 1);
		break;
	}
	if (align > 1 && x86_rand_below(r, 4))
		t &= ~(uint64_t)(align - 1);
	if (t < base)
		t = base;
	return t;
}

/* Registers the instruction names besides the address: ModRM.reg and, for register forms, rm. */
struct regs_used {
	unsigned reg, rm;
	bool rm_is_reg;
};

/*
 * Emits ModRM, SIB and displacement for a memory operand at target t, choosing an
 * addressing form at random and setting the base and index registers in c to reach t.
 * *rip_fix receives the offset of a RIP-relative disp32 to patch once the length is known.
 */
static void emit_mem(struct x86_rand *r, struct builder *b, struct x86_case *c, uint64_t t,
		     unsigned reg, bool a32, uint8_t *rex, int *rip_fix, bool allow_rip, int avoid)
{
	unsigned form = (unsigned)x86_rand_below(r, allow_rip && !a32 ? 7 : 5);
	unsigned base, index, scale = (unsigned)x86_rand_below(r, 4);
	int64_t disp = 0;
	unsigned mod, dsize = 0;
	uint64_t amask = a32 ? 0xffffffffull : ~0ull;

	do
		base = (unsigned)x86_rand_below(r, 16);
	while ((int)base == avoid);
	do
		index = (unsigned)x86_rand_below(r, 16);
	while (index == 4 || index == base || (int)index == avoid);
	if (allow_rip && form == 5 && t >> 31)
		form = 0; /* [disp32] reaches only the low 2 GiB */
	*rip_fix = -1;
	if (form == 6) { /* [rip + disp32] */
		put(b, (uint8_t)(((reg & 7) << 3) | 5));
		*rip_fix = (int)b->n;
		put_le(b, 0, 4);
		return;
	}
	if (form == 5) { /* [disp32], SIB with no base and no index */
		put(b, (uint8_t)(((reg & 7) << 3) | 4));
		put(b, 0x25);
		put_le(b, t, 4);
		return;
	}
	switch (form) {
	case 0:
		dsize = 0;
		break;
	case 1:
	case 3:
		dsize = 1;
		disp = (int8_t)x86_rand_u32(r);
		break;
	default:
		dsize = 4;
		disp = (int32_t)x86_rand_u32(r);
		break;
	}
	if (dsize == 0 && (base & 7) == 5)
		dsize = 1; /* rBP/r13 need a displacement */
	mod = dsize == 0 ? 0 : dsize == 1 ? 1 : 2;
	if (form >= 3 || (base & 7) == 4) { /* SIB */
		uint64_t iv = rand_value(r) & 0xff;

		if (x86_rand_below(r, 2))
			iv = (uint64_t)(int64_t)(int8_t)iv;
		if (form < 3)
			index = 4 + 0, iv = 0; /* no index */
		put(b, (uint8_t)((mod << 6) | ((reg & 7) << 3) | 4));
		put(b, (uint8_t)((scale << 6) | ((index & 7) << 3) | (base & 7)));
		if (index >= 8)
			*rex |= 2;
		if (form >= 3)
			c->gpr[index] = iv | (a32 ? x86_rand_u64(r) << 32 : 0);
		c->gpr[base] = ((t - (uint64_t)disp - (form >= 3 ? iv << scale : 0)) & amask) |
			       (a32 ? x86_rand_u64(r) << 32 : 0);
	} else {
		put(b, (uint8_t)((mod << 6) | ((reg & 7) << 3) | (base & 7)));
		c->gpr[base] = ((t - (uint64_t)disp) & amask) | (a32 ? x86_rand_u64(r) << 32 : 0);
	}
	if (base >= 8)
		*rex |= 1;
	put_le(b, (uint64_t)disp, dsize);
}

static void emit_vex(struct builder *b, const struct x86_form *f, uint8_t rex, unsigned l,
		     unsigned w, bool short_ok)
{
	unsigned pp = f->pfx == 0x66 ? 1 : f->pfx == 0xf3 ? 2 : f->pfx == 0xf2 ? 3 : 0;
	bool R = rex & 4, X = rex & 2, B = rex & 1;

	if (short_ok && !X && !B && !w && f->map == 1) {
		put(b, 0xc5);
		put(b, (uint8_t)((R ? 0 : 0x80) | 0x78 | (l << 2) | pp));
		return;
	}
	put(b, 0xc4);
	put(b, (uint8_t)((R ? 0 : 0x80) | (X ? 0 : 0x40) | (B ? 0 : 0x20) | f->map));
	put(b, (uint8_t)((w << 7) | 0x78 | (l << 2) | pp));
}

static void emit_evex(struct builder *b, const struct x86_form *f, unsigned reg, unsigned rmx,
		      uint8_t rex, unsigned l, unsigned w, unsigned aaa, bool z)
{
	unsigned pp = f->pfx == 0x66 ? 1 : f->pfx == 0xf3 ? 2 : f->pfx == 0xf2 ? 3 : 0;
	bool R = reg & 8, R2 = reg & 16, B = rex & 1, X = (rex & 2) || (rmx & 16);

	put(b, 0x62);
	put(b,
	    (uint8_t)((R ? 0 : 0x80) | (X ? 0 : 0x40) | (B ? 0 : 0x20) | (R2 ? 0 : 0x10) | f->map));
	put(b, (uint8_t)((w << 7) | 0x78 | 4 | pp));
	put(b, (uint8_t)((z ? 0x80 : 0) | (l << 5) | 0x08 | aaa));
}

void x86_case_make(struct x86_rand *r, const struct x86_form *f, const struct x86_case_env *env,
		   struct x86_case *c)
{
	struct builder b = {.n = 0};
	unsigned osz = 4, l = 0, vlb = 16, w = 0, reg, rm = 0, aaa = 0, size;
	bool use_mem, a32 = false, fs = false, z = false, store;
	uint8_t rex = 0;
	int rip_fix = -1;
	uint64_t t;

	c->form = f;
	c->len = 0;
	for (unsigned i = 0; i < 16; i++)
		c->gpr[i] = rand_value(r);
	c->rflags = 0x2 | (x86_rand_u64(r) & (CF_ | PF_ | AF_ | ZF_ | SF_ | OF_));
	if (x86_rand_below(r, 2))
		c->rflags |= 1ull << 10; /* DF */
	if (env->allow_ac && x86_rand_below(r, 16) == 0)
		c->rflags |= 1ull << 18; /* AC: misaligned accesses raise #AC at CPL 3 */
	x86_rand_bytes(r, c->mem, sizeof(c->mem));
	if (f->kind == FK_VEC || f->kind == FK_X87)
		rand_fpu(r, &c->fpu, f->kind == FK_X87);
	else /* integer forms leave the vector state alone: a fixed one is as good */
		c->fpu = (struct x86_fpu){.fcw = 0x37f, .mxcsr = 0x1f80};

	/* Operand size, vector length, W. */
	if (f->osz) {
		unsigned choice[3], n = 0;

		for (unsigned i = 0; i < 3; i++)
			if ((f->osz >> i) & 1)
				choice[n++] = 2u << i;
		osz = choice[x86_rand_below(r, n)];
	} else if (f->kind == FK_INT || f->kind == FK_MOFFS) {
		osz = 1;
	}
	if (f->vl) {
		unsigned choice[3], n = 0;

		for (unsigned i = 0; i < 3; i++)
			if ((f->vl >> i) & 1)
				choice[n++] = i;
		l = choice[x86_rand_below(r, n)];
		vlb = 16u << l;
	}
	w = f->w == 2 ? (unsigned)x86_rand_below(r, 2) : f->w;
	if (f->enc != FE_LEGACY && (f->op == 0x6e || f->op == 0x7e) && f->pfx == 0x66)
		osz = w ? 8 : 4;
	size = mem_size(f, osz, vlb);
	store = f->kind == FK_VEC &&
		(f->op == 0x11 || f->op == 0x29 || f->op == 0x7f || f->op == 0xe7 ||
		 f->op == 0xd6 || f->op == 0x2b || (f->op == 0x7e && f->pfx != 0xf3));

	/* Prefixes. */
	use_mem = f->modrm == FM_MEM || (f->modrm == FM_ANY && x86_rand_below(r, 5));
	if ((use_mem || f->kind == FK_STRING) && f->kind != FK_MOFFS && x86_rand_below(r, 8) == 0)
		a32 = true;
	if (env->allow_fs && !a32 && (use_mem || f->kind == FK_STRING || f->kind == FK_MOFFS) &&
	    x86_rand_below(r, 8) == 0 && f->op != 0xf8)
		fs = true;
	if (fs)
		put(&b, 0x64);
	if (a32)
		put(&b, 0x67);
	if (osz == 2 && f->enc == FE_LEGACY)
		put(&b, 0x66);
	if (f->kind == FK_STRING && f->rep && x86_rand_below(r, 3))
		put(&b, x86_rand_below(r, 2) ? 0xf3 : 0xf2);
	if (f->pfx && f->enc == FE_LEGACY)
		put(&b, f->pfx);
	if (osz == 8 && f->enc == FE_LEGACY)
		rex |= 8;

	/* Registers: ModRM.reg (vector registers reach 31 with EVEX) and a register rm. */
	reg = (unsigned)x86_rand_below(r, f->enc == FE_EVEX ? 32 : 16);
	if (f->reg >= 0)
		reg = (unsigned)f->reg;
	if (f->op == 0x8c && f->map == 0)
		reg = (unsigned)x86_rand_below(r, 6); /* ES..GS */
	if (f->enc == FE_LEGACY && f->kind == FK_VEC && !f->pfx && f->map == 1 && f->op >= 0x6e)
		reg &= 7; /* MMX */
	if (!use_mem)
		rm = (unsigned)x86_rand_below(r, f->enc == FE_EVEX ? 32 : 16);
	if (reg >= 8 && f->reg < 0 && f->op != 0x8c)
		rex |= 4;
	if (!use_mem && rm >= 8 && (rm & 8))
		rex |= 1;
	if (f->enc == FE_LEGACY && f->kind == FK_VEC && !f->pfx && f->map == 1 &&
	    (f->op == 0x6f || f->op == 0x7f) && !use_mem)
		rm &= 7, rex &= (uint8_t)~1;
	if (f->enc == FE_LEGACY && (osz == 1) && !rex && x86_rand_below(r, 4) == 0)
		rex = 0x40; /* byte registers SPL..DIL instead of AH..BH */
	if (f->mask) {
		aaa = (unsigned)x86_rand_below(r, 8);
		z = (f->mask & 2) && aaa && x86_rand_below(r, 2) && !(store && use_mem);
	}

	/* The address (chosen before the encoding: some forms need registers set). */
	t = pick_target(r, env, size, f->align == 0xff ? vlb : f->align);
	if (f->kind == FK_X87 && x86_rand_below(r, 2)) {
		uint64_t off = t - env->mem_addr;

		if (off + size <= sizeof(c->mem))
			rand_float(r, c->mem + off, size);
	}
	if (f->map == 1 && (f->op == 0xa3 || f->op == 0xab || f->op == 0xb3 || f->op == 0xbb)) {
		/* Bit offsets that stay near the operand, or leave the canonical range. */
		int64_t off = (int64_t)x86_rand_below(r, 6144) - 2048;

		/* Far offsets only with 64-bit addresses, where they leave the canonical range:
		 * a 32-bit address wraps instead, and could reach the oracle's own memory. */
		if (x86_rand_below(r, 8) == 0 && !a32 && use_mem)
			off = (int64_t)((x86_rand_u64(r) | (1ull << 62)) & ~(1ull << 63));
		if (x86_rand_below(r, 2))
			off = -off;
		c->gpr[reg & 15] = (uint64_t)off;
	}
	if (f->op == 0xf8 && f->map == 2) { /* MOVDIR64B: the destination address is in reg */
		uint64_t d = pick_target(r, env, 64, 64);

		c->gpr[reg & 15] = d;
	}

	/* Encoding. */
	if (f->kind == FK_STRING) {
		uint64_t span = 16 * 8,
			 base = env->mem_addr + PAGE - span / 2 + x86_rand_below(r, span);

		if (rex & 8)
			put(&b, (uint8_t)(0x40 | rex));
		put(&b, f->op);
		c->gpr[1] = x86_rand_below(r, 20) | (a32 ? x86_rand_u64(r) << 32 : 0); /* count */
		c->gpr[6] = base - (fs ? env->fs_base : 0) + x86_rand_below(r, 64);
		c->gpr[7] = base - PAGE / 2 + x86_rand_below(r, PAGE);
		if (x86_rand_below(r, 10) == 0)
			c->gpr[7] = env->mem_addr + 2 * PAGE - x86_rand_below(r, 64);
		if (a32)
			c->gpr[6] = (c->gpr[6] & 0xffffffffull) | (x86_rand_u64(r) << 32),
			c->gpr[7] = (c->gpr[7] & 0xffffffffull) | (x86_rand_u64(r) << 32);
		if (x86_rand_below(r, 3) == 0)
			memcpy(c->mem + (c->gpr[7] & 0xfff), c->mem + (c->gpr[6] & 0xfff), 8);
	} else if (f->kind == FK_MOFFS) {
		if (rex)
			put(&b, (uint8_t)(0x40 | rex));
		put(&b, f->op);
		put_le(&b, t - (fs ? env->fs_base : 0), 8);
	} else {
		struct builder mb = {.n = 0};

		/* A register that holds a bit offset or an address must not also be base or
		 * index: a stray address could reach the oracle's own memory. */
		int avoid = (f->map == 1 &&
			     (f->op == 0xa3 || f->op == 0xab || f->op == 0xb3 || f->op == 0xbb)) ||
				    (f->map == 2 && f->op == 0xf8)
				? (int)(reg & 15)
				: -1;

		if (use_mem)
			emit_mem(r, &mb, c, fs ? t - env->fs_base : t, reg, a32, &rex, &rip_fix,
				 !fs, avoid);
		else
			put(&mb, (uint8_t)(0xc0 | ((reg & 7) << 3) | (rm & 7)));
		if (f->enc == FE_LEGACY) {
			if (rex)
				put(&b, (uint8_t)(0x40 | rex));
			if (f->map >= 1)
				put(&b, 0x0f);
			if (f->map == 2)
				put(&b, 0x38);
		} else if (f->enc == FE_VEX) {
			emit_vex(&b, f, rex, l, w, x86_rand_below(r, 2));
		} else {
			emit_evex(&b, f, reg, use_mem ? 0 : rm, rex, l, w, aaa, z);
		}
		put(&b, f->op);
		if (rip_fix >= 0)
			rip_fix += (int)b.n;
		memcpy(b.b + b.n, mb.b, mb.n);
		b.n += mb.n;
		if (f->imm) {
			unsigned n = f->imm == 0xff ? (osz == 2 ? 2 : 4) : f->imm;

			put_le(&b, rand_value(r), n);
		}
	}
	if (rip_fix >= 0) {
		int32_t d = (int32_t)(t - (env->code_addr + b.n));

		memcpy(b.b + rip_fix, &d, 4);
	}
	memcpy(c->code, b.b, b.n);
	c->len = b.n;
}

void x86_case_cpu(const struct x86_case *c, const struct x86_case_env *env, uint64_t cr3,
		  uint64_t xcr0, struct x86_cpu *cpu)
{
	struct x86_segment data = {.limit = 0xffffffff,
				   .selector = 0x2b,
				   .type = 3,
				   .s = 1,
				   .dpl = 3,
				   .present = 1,
				   .db = 1,
				   .g = 1};

	memset(cpu, 0, sizeof(*cpu));
	memcpy(cpu->gpr, c->gpr, sizeof(cpu->gpr));
	cpu->rflags = c->rflags;
	cpu->rip = env->code_addr;
	for (unsigned i = 0; i < 6; i++)
		cpu->seg[i] = data;
	cpu->seg[X86_SEG_CS] = (struct x86_segment){.limit = 0xffffffff,
						    .selector = 0x33,
						    .type = 11,
						    .s = 1,
						    .dpl = 3,
						    .present = 1,
						    .l = 1,
						    .g = 1};
	cpu->seg[X86_SEG_FS].base = env->fs_base;
	/* The host's selectors, for MOV r/m, Sreg. */
	for (unsigned i = 0; i < 6; i++) {
		uint16_t sel = 0;

		switch (i) {
		case X86_SEG_ES:
			__asm__("mov %%es, %0" : "=r"(sel));
			break;
		case X86_SEG_CS:
			__asm__("mov %%cs, %0" : "=r"(sel));
			break;
		case X86_SEG_SS:
			__asm__("mov %%ss, %0" : "=r"(sel));
			break;
		case X86_SEG_DS:
			__asm__("mov %%ds, %0" : "=r"(sel));
			break;
		case X86_SEG_FS:
			__asm__("mov %%fs, %0" : "=r"(sel));
			break;
		default:
			__asm__("mov %%gs, %0" : "=r"(sel));
			break;
		}
		cpu->seg[i].selector = sel;
	}
	cpu->cr0 = 0x80050033; /* PE MP ET NE WP AM PG */
	cpu->cr3 = cr3;
	cpu->cr4 = (1 << 5) | (1 << 9) | (1 << 10) | (1 << 18); /* PAE OSFXSR OSXMMEXCPT OSXSAVE */
	cpu->efer = (1 << 0) | (1 << 8) | (1 << 10) | (1 << 11);
	cpu->xcr0 = xcr0;
	cpu->maxphyaddr = 48;
}
