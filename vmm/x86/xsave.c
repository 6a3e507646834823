/* The XSAVE standard format (KVM_GET_XSAVE, XSAVE/XRSTOR): component offsets and struct x86_fpu. */
#include <cpuid.h>
#include <string.h>

#include "kvmlab/x86_emulate.h"

/* Legacy region offsets (SDM vol. 1, 10.5.1 "FXSAVE area", 64-bit format). */
#define FX_FCW	  0
#define FX_FSW	  2
#define FX_FTW	  4
#define FX_FOP	  6
#define FX_FIP	  8
#define FX_FDP	  16
#define FX_MXCSR  24
#define FX_ST	  32
#define FX_XMM	  160
#define XSTATE_BV 512

#define X_X87	 0
#define X_SSE	 1
#define X_AVX	 2
#define X_OPMASK 5
#define X_ZMM_HI 6
#define X_HI16	 7
#define X_PKRU	 9

void x86_xsave_layout_host(struct x86_xsave_layout *l, uint64_t features)
{
	unsigned a, b, c, d;

	memset(l, 0, sizeof(*l));
	l->size = 576;
	l->features = features & ((1ull << X_X87) | (1ull << X_SSE));
	if (!__get_cpuid_count(0xd, 0, &a, &b, &c, &d))
		return;
	features &= ((uint64_t)d << 32) | a;
	for (unsigned i = 2; i < 10; i++) {
		if (!((features >> i) & 1))
			continue;
		__cpuid_count(0xd, i, a, b, c, d);
		if (!a || !b)
			continue;
		l->offset[i] = b;
		l->features |= 1ull << i;
		if (a + b > l->size)
			l->size = a + b;
	}
}

static bool has(const struct x86_xsave_layout *l, uint64_t bv, unsigned c)
{
	return ((l->features & bv) >> c) & 1;
}

void x86_xsave_unpack(const struct x86_xsave_layout *l, const void *buf, struct x86_fpu *f)
{
	const uint8_t *p = buf;
	uint64_t bv;

	memcpy(&bv, p + XSTATE_BV, 8);
	memset(f, 0, sizeof(*f));
	f->fcw = 0x37f; /* the x87 initial state */
	if (has(l, bv, X_X87)) {
		memcpy(&f->fcw, p + FX_FCW, 2);
		memcpy(&f->fsw, p + FX_FSW, 2);
		f->ftw = p[FX_FTW];
		memcpy(&f->fop, p + FX_FOP, 2);
		memcpy(&f->fip, p + FX_FIP, 8);
		memcpy(&f->fdp, p + FX_FDP, 8);
		for (unsigned i = 0; i < 8; i++)
			memcpy(f->st[i], p + FX_ST + 16 * i, 10);
	}
	memcpy(&f->mxcsr, p + FX_MXCSR, 4); /* valid whatever XSTATE_BV says */
	if (has(l, bv, X_SSE))
		for (unsigned i = 0; i < 16; i++)
			memcpy(f->zmm[i], p + FX_XMM + 16 * i, 16);
	if (has(l, bv, X_AVX))
		for (unsigned i = 0; i < 16; i++)
			memcpy(f->zmm[i] + 16, p + l->offset[X_AVX] + 16 * i, 16);
	if (has(l, bv, X_OPMASK))
		memcpy(f->k, p + l->offset[X_OPMASK], 64);
	if (has(l, bv, X_ZMM_HI))
		for (unsigned i = 0; i < 16; i++)
			memcpy(f->zmm[i] + 32, p + l->offset[X_ZMM_HI] + 32 * i, 32);
	if (has(l, bv, X_HI16))
		for (unsigned i = 0; i < 16; i++)
			memcpy(f->zmm[16 + i], p + l->offset[X_HI16] + 64 * i, 64);
	if (has(l, bv, X_PKRU))
		memcpy(&f->pkru, p + l->offset[X_PKRU], 4);
}

void x86_xsave_pack(const struct x86_xsave_layout *l, const struct x86_fpu *f, void *buf)
{
	uint8_t *p = buf;
	uint64_t bv;

	memcpy(p + FX_FCW, &f->fcw, 2);
	memcpy(p + FX_FSW, &f->fsw, 2);
	p[FX_FTW] = f->ftw;
	memcpy(p + FX_FOP, &f->fop, 2);
	memcpy(p + FX_FIP, &f->fip, 8);
	memcpy(p + FX_FDP, &f->fdp, 8);
	for (unsigned i = 0; i < 8; i++) {
		memcpy(p + FX_ST + 16 * i, f->st[i], 10);
		memset(p + FX_ST + 16 * i + 10, 0, 6);
	}
	memcpy(p + FX_MXCSR, &f->mxcsr, 4);
	for (unsigned i = 0; i < 16; i++)
		memcpy(p + FX_XMM + 16 * i, f->zmm[i], 16);
	if (has(l, ~0ull, X_AVX))
		for (unsigned i = 0; i < 16; i++)
			memcpy(p + l->offset[X_AVX] + 16 * i, f->zmm[i] + 16, 16);
	if (has(l, ~0ull, X_OPMASK))
		memcpy(p + l->offset[X_OPMASK], f->k, 64);
	if (has(l, ~0ull, X_ZMM_HI))
		for (unsigned i = 0; i < 16; i++)
			memcpy(p + l->offset[X_ZMM_HI] + 32 * i, f->zmm[i] + 32, 32);
	if (has(l, ~0ull, X_HI16))
		for (unsigned i = 0; i < 16; i++)
			memcpy(p + l->offset[X_HI16] + 64 * i, f->zmm[16 + i], 64);
	if (has(l, ~0ull, X_PKRU))
		memcpy(p + l->offset[X_PKRU], &f->pkru, 4);
	memcpy(&bv, p + XSTATE_BV, 8);
	bv |= l->features;
	memcpy(p + XSTATE_BV, &bv, 8);
}
