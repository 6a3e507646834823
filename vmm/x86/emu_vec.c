/* Vector moves: MMX/SSE MOVD/MOVQ, SSE/AVX/AVX-512 moves with masking, MOVDIR64B. */
#include "emu_internal.h"

/* The CPU's checks before a vector instruction (SDM vol. 2, 2.4 and 2.8 exception classes). */
static int vec_checks(struct x86_emu *e, const struct x86_insn *in, bool mmx)
{
	const struct x86_cpu *c = e->cpu;

	if (in->enc == X86_ENC_LEGACY) {
		if ((c->cr0 & CR0_EM) || (!mmx && !(c->cr4 & CR4_OSFXSR)))
			return emu_ud(e);
	} else {
		uint64_t need = XCR0_SSE | XCR0_AVX;

		if (in->enc == X86_ENC_EVEX)
			need |= XCR0_OPMASK | XCR0_ZMM_HI | XCR0_HI16;
		if (!(c->cr4 & CR4_OSXSAVE) || (c->xcr0 & need) != need)
			return emu_ud(e);
	}
	if (c->cr0 & CR0_TS)
		return emu_fault(e, X86_EXC_NM, false, 0);
	return emu_fpu(e);
}

static unsigned vreg_of(const struct x86_operand *op)
{
	return op->reg & 31;
}

/* MMX register i is the mantissa of physical x87 register i. Any MMX instruction makes
 * TOP 0 and every register valid; a write also sets the exponent field to all ones. */
static int mmx_enter(struct x86_emu *e)
{
	struct x86_fpu *f = &e->fpu;
	unsigned top = (f->fsw >> 11) & 7;
	uint8_t phys[8][10];

	if (f->fsw & 0x80) /* a pending unmasked x87 exception */
		return emu_fault(e, X86_EXC_MF, false, 0);
	for (unsigned i = 0; i < 8; i++)
		memcpy(phys[(top + i) & 7], f->st[i], 10);
	memcpy(f->st, phys, sizeof(phys));
	f->fsw &= (uint16_t)~0x3800;
	f->ftw = 0xff;
	e->fpu_dirty = true;
	return OK;
}

static void mmx_write(struct x86_emu *e, unsigned reg, uint64_t v)
{
	memcpy(e->fpu.st[reg & 7], &v, 8);
	e->fpu.st[reg & 7][8] = 0xff;
	e->fpu.st[reg & 7][9] = 0xff;
}

static uint64_t mmx_read(struct x86_emu *e, unsigned reg)
{
	uint64_t v;

	memcpy(&v, e->fpu.st[reg & 7], 8);
	return v;
}

static int mem_load(struct x86_emu *e, const struct x86_insn *in, void *buf, unsigned len,
		    unsigned align)
{
	uint64_t ea = emu_ea(e, in);
	struct emu_xlat x;
	int r;

	if ((r = emu_prepare(e, in->mem.seg, ea, len, X86_ACC_READ, align, &x)))
		return r;
	return emu_xread(e, &x, buf);
}

static int mem_store(struct x86_emu *e, const struct x86_insn *in, const void *buf, unsigned len,
		     unsigned align)
{
	uint64_t ea = emu_ea(e, in);
	struct emu_xlat x;
	int r;

	if ((r = emu_prepare(e, in->mem.seg, ea, len, X86_ACC_WRITE, align, &x)))
		return r;
	return emu_xwrite(e, &x, buf, false);
}

/* Writes n bytes to a vector register; VEX and EVEX zero the rest up to the
 * widest register, legacy SSE only up to keep (16 bytes, or n for MOVSS-like). */
static void vreg_set(struct x86_emu *e, const struct x86_insn *in, unsigned reg, const void *v,
		     unsigned n, unsigned keep)
{
	uint8_t *z = e->fpu.zmm[reg & 31];

	memcpy(z, v, n);
	if (in->enc == X86_ENC_LEGACY) {
		if (keep > n)
			memset(z + n, 0, keep - n);
	} else {
		memset(z + n, 0, 64 - n);
	}
	e->fpu_dirty = true;
}

static bool aligned_form(unsigned mn)
{
	switch (mn) {
	case X86_MN_MOVDQA:
	case X86_MN_MOVAPS:
	case X86_MN_MOVAPD:
	case X86_MN_MOVNTDQA:
	case X86_MN_MOVNTDQ:
	case X86_MN_MOVNTPS:
	case X86_MN_MOVNTPD:
	case X86_MN_VMOVDQA:
	case X86_MN_VMOVAPS:
	case X86_MN_VMOVAPD:
	case X86_MN_VMOVNTDQA:
	case X86_MN_VMOVNTDQ:
	case X86_MN_VMOVDQA32:
	case X86_MN_VMOVDQA64:
		return true;
	default:
		return false;
	}
}

/* Element size of an EVEX move, for masking. */
static unsigned evex_elem(unsigned mn)
{
	switch (mn) {
	case X86_MN_VMOVDQU8:
		return 1;
	case X86_MN_VMOVDQU16:
		return 2;
	case X86_MN_VMOVDQA64:
	case X86_MN_VMOVDQU64:
	case X86_MN_VMOVAPD:
	case X86_MN_VMOVUPD:
		return 8;
	default:
		return 4;
	}
}

/*
 * EVEX full-width moves with an opmask: only selected elements are read or
 * written, so a masked-off element never faults or reaches a device; loads
 * merge into or zero the destination (EVEX.z). SDM vol. 1, 15.6.
 */
static int evex_move(struct x86_emu *e, const struct x86_insn *in)
{
	const struct x86_operand *dst = &in->ops[0], *src = &in->ops[1];
	unsigned vl = dst->size, es = evex_elem(in->mnemonic), n = vl / es;
	uint64_t mask = in->evex_aaa ? e->fpu.k[in->evex_aaa] : ~0ull;
	uint8_t buf[64];
	int r;

	if (n < 64)
		mask &= (1ull << n) - 1;
	if (dst->kind == X86_OPK_MEM || src->kind == X86_OPK_MEM) {
		uint64_t ea = emu_ea(e, in);
		struct emu_xlat x[64];
		unsigned runs = 0, start[64], len[64];
		bool store = dst->kind == X86_OPK_MEM;

		uint64_t la = ea;

		if (x86_cpu_mode(e->cpu) != X86_MODE_64 || in->mem.seg >= X86_SEG_FS)
			la += e->cpu->seg[in->mem.seg].base;
		/* With any element selected, an aligned form faults (#GP) on a misaligned
		 * vector, and a masked move checks #AC against the element size; an
		 * all-zero mask accesses nothing and faults on nothing (measured). */
		if (aligned_form(in->mnemonic) && mask && (la & (vl - 1)))
			return emu_gp0(e);
		if (in->evex_aaa && mask && emu_ac_enabled(e) && (la & (es - 1)))
			return emu_fault(e, X86_EXC_AC, true, 0);
		for (unsigned i = 0; i < n;) {
			if (!((mask >> i) & 1)) {
				i++;
				continue;
			}
			start[runs] = i;
			while (i < n && ((mask >> i) & 1))
				i++;
			len[runs] = (i - start[runs]) * es;
			if ((r = emu_prepare(
				 e, in->mem.seg, (ea + start[runs] * es) & size_mask(in->addrsize),
				 len[runs], store ? X86_ACC_WRITE : X86_ACC_READ, 0, &x[runs])))
				return r;
			runs++;
		}
		if (store) {
			const uint8_t *s = e->fpu.zmm[vreg_of(src)];

			for (unsigned j = 0; j < runs; j++)
				if ((r = emu_xwrite(e, &x[j], s + start[j] * es, false)))
					return r;
			return OK;
		}
		memcpy(buf, e->fpu.zmm[vreg_of(dst)], 64);
		for (unsigned j = 0; j < runs; j++)
			if ((r = emu_xread(e, &x[j], buf + start[j] * es)))
				return r;
	} else {
		memcpy(buf, e->fpu.zmm[vreg_of(dst)], 64);
		for (unsigned i = 0; i < n; i++)
			if ((mask >> i) & 1)
				memcpy(buf + i * es, e->fpu.zmm[vreg_of(src)] + i * es, es);
	}
	for (unsigned i = 0; i < n; i++)
		if (!((mask >> i) & 1) && in->evex_z)
			memset(buf + i * es, 0, es);
	vreg_set(e, in, vreg_of(dst), buf, vl, vl);
	return OK;
}

/* Full-width moves: MOVDQA/U, MOVAPS/PD, MOVUPS/PD, MOVNT*, and their VEX forms. */
static int full_move(struct x86_emu *e, const struct x86_insn *in)
{
	const struct x86_operand *dst = &in->ops[0], *src = &in->ops[1];
	unsigned vl = dst->size, align = aligned_form(in->mnemonic) ? vl : 0;
	uint8_t buf[64];
	int r;

	if (dst->kind == X86_OPK_MEM)
		return mem_store(e, in, e->fpu.zmm[vreg_of(src)], vl, align);
	if (src->kind == X86_OPK_MEM) {
		if ((r = mem_load(e, in, buf, vl, align)))
			return r;
	} else {
		memcpy(buf, e->fpu.zmm[vreg_of(src)], vl);
	}
	vreg_set(e, in, vreg_of(dst), buf, vl, 16);
	return OK;
}

/* MOVSS/MOVSD (legacy): loads zero the rest of the XMM register; register moves merge. */
static int scalar_move(struct x86_emu *e, const struct x86_insn *in)
{
	unsigned n = in->mnemonic == X86_MN_MOVSS ? 4 : 8;
	const struct x86_operand *dst = &in->ops[0], *src = &in->ops[1];
	uint8_t buf[8];
	int r;

	if (dst->kind == X86_OPK_MEM)
		return mem_store(e, in, e->fpu.zmm[vreg_of(src)], n, 0);
	if (src->kind == X86_OPK_MEM) {
		if ((r = mem_load(e, in, buf, n, 0)))
			return r;
		vreg_set(e, in, vreg_of(dst), buf, n, 16);
		return OK;
	}
	memcpy(e->fpu.zmm[vreg_of(dst)], e->fpu.zmm[vreg_of(src)], n);
	e->fpu_dirty = true;
	return OK;
}

/* MOVD/MOVQ between XMM and GPR/memory, MOVQ XMM<->XMM/m64, and the MMX forms. */
static int movd_movq(struct x86_emu *e, const struct x86_insn *in)
{
	const struct x86_operand *dst = &in->ops[0], *src = &in->ops[1];
	bool mmx = (dst->kind == X86_OPK_REG && dst->rclass == X86_RC_MMX) ||
		   (src->kind == X86_OPK_REG && src->rclass == X86_RC_MMX);
	uint64_t v = 0;
	unsigned n;
	int r;

	if (mmx && (r = mmx_enter(e)))
		return r;
	/* The source value. */
	if (src->kind == X86_OPK_MEM) {
		n = src->size;
		if ((r = mem_load(e, in, &v, n, 0)))
			return r;
	} else if (src->rclass == X86_RC_GPR) {
		n = src->size;
		v = emu_reg_op(e, src);
	} else if (src->rclass == X86_RC_MMX) {
		n = 8;
		v = mmx_read(e, src->reg);
	} else {
		/* From XMM (XMM-to-XMM MOVQ is the caller's): the low 4 or 8 bytes, as many
		 * as the GPR or memory destination holds. */
		n = dst->size > 8 ? 8 : dst->size;
		memcpy(&v, e->fpu.zmm[vreg_of(src)], n);
	}
	/* The destination. */
	if (dst->kind == X86_OPK_MEM)
		return mem_store(e, in, &v, dst->size, 0);
	if (dst->rclass == X86_RC_GPR) {
		emu_reg_op_write(e, dst, v);
		return OK;
	}
	if (dst->rclass == X86_RC_MMX) {
		mmx_write(e, dst->reg, v & size_mask(n));
		return OK;
	}
	v &= size_mask(n);
	vreg_set(e, in, vreg_of(dst), &v, 8, 16);
	return OK;
}

/* MOVDIR64B: 64 bytes from the source to ES:[reg], one 64-byte write; the
 * destination must be 64-byte aligned (SDM: MOVDIR64B). */
static int movdir64b(struct x86_emu *e, const struct x86_insn *in)
{
	uint64_t dst = emu_gpr_read(e, in->ops[0].reg, in->addrsize, false);
	struct emu_xlat xd;
	uint8_t buf[64];
	int r;

	if ((r = emu_prepare(e, X86_SEG_ES, dst, 64, X86_ACC_WRITE, 64, &xd)) ||
	    (r = mem_load(e, in, buf, 64, 0)))
		return r;
	return emu_xwrite(e, &xd, buf, true);
}

int emu_vector(struct x86_emu *e, const struct x86_insn *in)
{
	bool mmx = (in->ops[0].kind == X86_OPK_REG && in->ops[0].rclass == X86_RC_MMX) ||
		   (in->ops[1].kind == X86_OPK_REG && in->ops[1].rclass == X86_RC_MMX);
	int r;

	if (in->mnemonic == X86_MN_MOVDIR64B)
		return movdir64b(e, in);
	if ((r = vec_checks(e, in, mmx)))
		return r;
	switch (in->mnemonic) {
	case X86_MN_MOVD:
	case X86_MN_MOVQ:
	case X86_MN_VMOVD:
	case X86_MN_VMOVQ:
		if ((in->mnemonic == X86_MN_MOVQ || in->mnemonic == X86_MN_VMOVQ) &&
		    in->ops[0].kind != X86_OPK_MEM && in->ops[0].rclass == X86_RC_VEC &&
		    in->ops[1].kind == X86_OPK_REG && in->ops[1].rclass == X86_RC_VEC) {
			/* MOVQ xmm, xmm (F3 0F 7E, 66 0F D6): low quadword, upper zeroed. */
			uint64_t v;

			memcpy(&v, e->fpu.zmm[vreg_of(&in->ops[1])], 8);
			vreg_set(e, in, vreg_of(&in->ops[0]), &v, 8, 16);
			return OK;
		}
		return movd_movq(e, in);
	case X86_MN_MOVSS:
	case X86_MN_MOVSD_SSE:
		return scalar_move(e, in);
	case X86_MN_VMOVDQA32 ... X86_MN_VMOVDQU64:
		return evex_move(e, in);
	default:
		if (in->enc == X86_ENC_EVEX)
			return evex_move(e, in);
		return full_move(e, in);
	}
}
