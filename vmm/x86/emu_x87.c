/* x87 FLD/FST/FSTP of 32, 64 and 80-bit operands: exact conversion, rounding, exceptions. */
#include "emu_internal.h"

/* FSW and FCW bits (SDM vol. 1, 8.1.3 and 8.1.5). */
#define FSW_IE	  0x0001
#define FSW_DE	  0x0002
#define FSW_OE	  0x0008
#define FSW_UE	  0x0010
#define FSW_PE	  0x0020
#define FSW_SF	  0x0040
#define FSW_ES	  0x0080
#define FSW_C1	  0x0200
#define FSW_TOP	  0x3800
#define FSW_B	  0x8000
#define FCW_RC(c) (((c) >> 10) & 3)

enum rounding { RN, RD, RU, RZ };

/* A binary interchange format the x87 loads and stores. */
struct fmt {
	unsigned prec; /* significand bits, including the integer bit */
	unsigned expbits;
	int bias, emin, emax;
};

static const struct fmt f32 = {24, 8, 127, -126, 127};
static const struct fmt f64 = {53, 11, 1023, -1022, 1023};

struct ext {
	uint64_t m;   /* significand, integer bit at 63 */
	unsigned exp; /* biased 15-bit exponent */
	bool sign;
};

static struct ext ext_get(const uint8_t *b)
{
	struct ext x;
	uint16_t se;

	memcpy(&x.m, b, 8);
	memcpy(&se, b + 8, 2);
	x.exp = se & 0x7fff;
	x.sign = se >> 15;
	return x;
}

static void ext_put(uint8_t *b, struct ext x)
{
	uint16_t se = (uint16_t)(x.exp | (x.sign ? 0x8000 : 0));

	memcpy(b, &x.m, 8);
	memcpy(b + 8, &se, 2);
}

static const struct ext indefinite = {0xc000000000000000ull, 0x7fff, true};

/* Loads an m32/m64 value exactly; sets IE (signalling NaN) and DE (denormal). */
static struct ext widen(uint64_t v, const struct fmt *f, uint16_t *exc)
{
	unsigned total = f->prec + f->expbits; /* 32 or 64 */
	uint64_t frac = v & ((1ull << (f->prec - 1)) - 1);
	unsigned e = (unsigned)(v >> (f->prec - 1)) & ((1u << f->expbits) - 1);
	struct ext x = {.sign = (v >> (total - 1)) & 1};
	unsigned shift = 64 - f->prec; /* frac's top bit lands at 62 */

	if (e == (1u << f->expbits) - 1) {
		x.exp = 0x7fff;
		x.m = (1ull << 63) | (frac << shift);
		if (frac && !(frac >> (f->prec - 2))) { /* signalling NaN: quiet it */
			*exc |= FSW_IE;
			x.m |= 1ull << 62;
		}
	} else if (e == 0) {
		if (frac) {
			int lz;

			*exc |= FSW_DE;
			x.m = frac << shift;
			lz = __builtin_clzll(x.m);
			x.m <<= lz;
			x.exp = (unsigned)(f->emin - lz + 16383);
		}
	} else {
		x.exp = (unsigned)((int)e - f->bias + 16383);
		x.m = (1ull << 63) | (frac << shift);
	}
	return x;
}

/* Unnormals, pseudo-NaNs and pseudo-infinities: the x87 refuses them (IE). */
static bool ext_unsupported(struct ext x)
{
	return x.exp != 0 && !(x.m >> 63);
}

/*
 * Rounds an extended value to f (round-to-nearest-even or per RC),
 * reporting IE, OE, UE, PE and whether the magnitude was rounded up (C1),
 * with the x87's masked responses for overflow. SDM vol. 1, 4.9 and 8.5.
 */
static uint64_t narrow(struct ext x, const struct fmt *f, unsigned rc, uint16_t fcw, uint16_t *exc,
		       bool *up)
{
	unsigned total = f->prec + f->expbits, fbits = f->prec - 1;
	uint64_t sign = (uint64_t)x.sign << (total - 1);
	uint64_t inf = ((1ull << f->expbits) - 1) << fbits;
	uint64_t q, rem, half;
	bool sticky_only = false, round_up = false;
	int e, lz;
	unsigned shift;

	*up = false;
	if (ext_unsupported(x)) {
		*exc |= FSW_IE;
		return sign | inf | (1ull << (fbits - 1)) | (1ull << (total - 1));
	}
	if (x.exp == 0x7fff) {
		if (!(x.m << 1))
			return sign | inf;
		if (!(x.m & (1ull << 62)))
			*exc |= FSW_IE; /* signalling NaN */
		return sign | inf | (1ull << (fbits - 1)) | ((x.m << 1) >> (64 - fbits));
	}
	if (!x.m)
		return sign;
	e = (x.exp ? (int)x.exp : 1) - 16383;
	lz = __builtin_clzll(x.m);
	x.m <<= lz;
	e -= lz;
	if (e >= f->emin) {
		shift = 64 - f->prec;
	} else {
		int s = 64 - (int)f->prec + (f->emin - e);

		if (s > 64) {
			sticky_only = true;
			s = 64;
		}
		shift = (unsigned)s;
	}
	if (shift == 64) {
		q = 0;
		rem = x.m;
		half = sticky_only ? ~0ull : 1ull << 63;
	} else {
		q = x.m >> shift;
		rem = x.m & ((1ull << shift) - 1);
		half = 1ull << (shift - 1);
	}
	if (rem) {
		switch (rc) {
		case RN:
			round_up = !sticky_only && (rem > half || (rem == half && (q & 1)));
			break;
		case RD:
			round_up = x.sign;
			break;
		case RU:
			round_up = !x.sign;
			break;
		default:
			break;
		}
		*exc |= FSW_PE;
	}
	if (e < f->emin) {
		/* Tiny before rounding: underflow is flagged with inexactness when masked. */
		if (!(fcw & FSW_UE) || rem)
			*exc |= FSW_UE;
		*up = round_up;
		return sign | (q + round_up); /* a carry into bit fbits makes the smallest normal */
	}
	q += round_up;
	if (q >> f->prec) {
		q >>= 1;
		e++;
	}
	*up = round_up;
	if (e > f->emax) {
		*exc |= FSW_OE | FSW_PE;
		/* Masked response: infinity, or the largest finite value when rounding toward zero
		 * (or away from this sign). */
		if (rc == RZ || (rc == RD && !x.sign) || (rc == RU && x.sign)) {
			*up = false;
			return sign | (inf - 1);
		}
		*up = true;
		return sign | inf;
	}
	return sign | ((uint64_t)(e + f->bias) << fbits) | (q & ((1ull << fbits) - 1));
}

/* Sets exception flags and recomputes ES/B from the unmasked ones. */
static void fsw_raise(struct x86_fpu *f, uint16_t exc)
{
	f->fsw |= exc;
	if (f->fsw & ~f->fcw & 0x3f)
		f->fsw |= FSW_ES | FSW_B;
}

static unsigned fpu_top(const struct x86_fpu *f)
{
	return (f->fsw >> 11) & 7;
}

static void set_top(struct x86_fpu *f, unsigned top)
{
	f->fsw = (uint16_t)((f->fsw & ~FSW_TOP) | ((top & 7) << 11));
}

static void push(struct x86_fpu *f, struct ext v)
{
	unsigned top = (fpu_top(f) - 1) & 7;

	memmove(f->st[1], f->st[0], 7 * sizeof(f->st[0]));
	ext_put(f->st[0], v);
	f->ftw |= (uint8_t)(1u << top);
	set_top(f, top);
}

static void pop(struct x86_fpu *f)
{
	unsigned top = fpu_top(f);

	uint8_t old[10];

	/* The register keeps its contents; it is only marked empty. */
	f->ftw &= (uint8_t) ~(1u << top);
	memcpy(old, f->st[0], sizeof(old));
	memmove(f->st[0], f->st[1], 7 * sizeof(f->st[0]));
	memcpy(f->st[7], old, sizeof(old));
	set_top(f, top + 1);
}

static int fld(struct x86_emu *e, const struct x86_insn *in, unsigned size)
{
	struct x86_fpu *f = &e->fpu;
	unsigned newtop = (fpu_top(f) - 1) & 7;
	uint8_t buf[10] = {0};
	uint16_t exc = 0;
	struct ext v;
	uint64_t raw = 0;
	int r;

	if ((r = emu_read(e, in->mem.seg, emu_ea(e, in), buf, size)))
		return r;
	memcpy(&raw, buf, size < 8 ? size : 8);
	f->fsw &= (uint16_t)~FSW_C1;
	if ((f->ftw >> newtop) & 1) { /* stack overflow */
		fsw_raise(f, FSW_IE | FSW_SF | FSW_C1);
		if (!(f->fcw & FSW_IE))
			return OK;
		push(f, indefinite);
		return OK;
	}
	if (size == 10)
		v = ext_get(buf);
	else
		v = widen(raw, size == 4 ? &f32 : &f64, &exc);
	if (exc) {
		fsw_raise(f, exc);
		if (exc & ~f->fcw & FSW_IE)
			return OK; /* unmasked invalid operation: nothing loaded (#D still loads) */
	}
	push(f, v);
	return OK;
}

static int fst(struct x86_emu *e, const struct x86_insn *in, unsigned size, bool do_pop)
{
	struct x86_fpu *f = &e->fpu;
	unsigned top = fpu_top(f);
	struct emu_xlat x;
	uint8_t buf[10];
	uint16_t exc = 0;
	bool up = false;
	int r;

	if ((r = emu_prepare(e, in->mem.seg, emu_ea(e, in), size, X86_ACC_WRITE, 0, &x)))
		return r;
	if (!((f->ftw >> top) & 1)) { /* stack underflow */
		exc = FSW_IE | FSW_SF;
		if (size == 10)
			ext_put(buf, indefinite);
		else if (size == 8)
			memcpy(buf, &(uint64_t){0xfff8000000000000ull}, 8);
		else
			memcpy(buf, &(uint32_t){0xffc00000u}, 4);
	} else if (size == 10) {
		memcpy(buf, f->st[0], 10);
	} else {
		uint64_t v = narrow(ext_get(f->st[0]), size == 4 ? &f32 : &f64, FCW_RC(f->fcw),
				    f->fcw, &exc, &up);

		memcpy(buf, &v, size);
	}
	/* An unmasked overflow or underflow stores nothing, so nothing is inexact either. */
	if (exc & ~f->fcw & (FSW_OE | FSW_UE)) {
		exc &= (uint16_t)~FSW_PE;
		up = false;
	}
	f->fsw &= (uint16_t)~FSW_C1;
	if (up)
		f->fsw |= FSW_C1;
	fsw_raise(f, exc);
	/* Unmasked invalid, overflow or underflow: nothing is stored or popped. */
	if (exc & ~f->fcw & (FSW_IE | FSW_OE | FSW_UE))
		return OK;
	if ((r = emu_xwrite(e, &x, buf, false)))
		return r;
	if (do_pop)
		pop(f);
	return OK;
}

int emu_x87(struct x86_emu *e, const struct x86_insn *in)
{
	const struct x86_cpu *c = e->cpu;
	unsigned size = in->ops[0].size;
	uint64_t fip = c->rip;
	int r;

	if (c->cr0 & (CR0_EM | CR0_TS))
		return emu_fault(e, X86_EXC_NM, false, 0);
	if ((r = emu_fpu(e)))
		return r;
	if (e->fpu.fsw & FSW_ES) /* a pending unmasked exception is delivered first */
		return emu_fault(e, X86_EXC_MF, false, 0);
	e->fpu_dirty = true;
	if (in->mnemonic == X86_MN_FLD)
		r = fld(e, in, size);
	else
		r = fst(e, in, size, in->mnemonic == X86_MN_FSTP);
	if (r)
		return r;
	e->fpu.fop = (uint16_t)(((in->opcode & 7) << 8) | in->modrm);
	e->fpu.fip = fip;
	e->fpu.fdp = emu_ea(e, in);
	return OK;
}
