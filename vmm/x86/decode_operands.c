/* Mnemonics and operands for the emulated subset of the decoded instructions. */
#include "decode_internal.h"

static void op_gpr(struct x86_insn *in, unsigned reg, unsigned size)
{
	struct x86_operand *o = &in->ops[in->nops++];

	o->kind = X86_OPK_REG;
	o->size = (uint8_t)size;
	if (size == 1 && !in->rex && reg >= 4 && reg < 8) {
		o->rclass = X86_RC_GPR8H;
		o->reg = (uint8_t)(reg - 4);
	} else {
		o->rclass = X86_RC_GPR;
		o->reg = (uint8_t)reg;
	}
}

static void op_reg(struct x86_insn *in, unsigned rclass, unsigned reg, unsigned size)
{
	struct x86_operand *o = &in->ops[in->nops++];

	o->kind = X86_OPK_REG;
	o->rclass = (uint8_t)rclass;
	o->reg = (uint8_t)reg;
	o->size = (uint8_t)size;
}

static void op_mem(struct x86_insn *in, unsigned size)
{
	struct x86_operand *o = &in->ops[in->nops++];

	o->kind = X86_OPK_MEM;
	o->size = (uint8_t)size;
}

static void op_imm(struct x86_insn *in, unsigned size)
{
	struct x86_operand *o = &in->ops[in->nops++];

	o->kind = X86_OPK_IMM;
	o->size = (uint8_t)size;
}

/* ModRM.reg as a GPR, and ModRM.rm as a GPR or memory. */
static void op_g(struct x86_insn *in, unsigned size)
{
	op_gpr(in, modrm_reg(in->modrm) | in->ext_r, size);
}

static void op_e(struct x86_insn *in, unsigned size)
{
	if (in->has_mem)
		op_mem(in, size);
	else
		op_gpr(in, modrm_rm(in->modrm) | in->ext_b, size);
}

static void op_v(struct x86_insn *in, unsigned size)
{
	op_reg(in, X86_RC_VEC, modrm_reg(in->modrm) | in->ext_r, size);
}

static void op_w(struct x86_insn *in, unsigned size)
{
	if (in->has_mem)
		op_mem(in, size);
	else
		op_reg(in, X86_RC_VEC, modrm_rm(in->modrm) | in->ext_rm_vec, size);
}

static void op_p(struct x86_insn *in)
{
	op_reg(in, X86_RC_MMX, modrm_reg(in->modrm), 8);
}

static void op_q(struct x86_insn *in)
{
	if (in->has_mem)
		op_mem(in, 8);
	else
		op_reg(in, X86_RC_MMX, modrm_rm(in->modrm), 8);
}

static void set(struct x86_insn *in, unsigned mn)
{
	in->mnemonic = (uint16_t)mn;
}

static const uint8_t alu_ops[8] = {X86_MN_ADD, X86_MN_OR,  X86_MN_ADC, X86_MN_SBB,
				   X86_MN_AND, X86_MN_SUB, X86_MN_XOR, X86_MN_CMP};

static void primary(struct x86_insn *in)
{
	unsigned op = in->opcode, v = in->opsize, reg = modrm_reg(in->modrm);

	if (op < 0x40 && (op & 7) < 6) {
		set(in, alu_ops[op >> 3]);
		switch (op & 7) {
		case 0:
			op_e(in, 1), op_g(in, 1);
			break;
		case 1:
			op_e(in, v), op_g(in, v);
			break;
		case 2:
			op_g(in, 1), op_e(in, 1);
			break;
		case 3:
			op_g(in, v), op_e(in, v);
			break;
		case 4:
			op_gpr(in, 0, 1), op_imm(in, 1);
			break;
		case 5:
			op_gpr(in, 0, v), op_imm(in, v);
			break;
		}
		return;
	}
	switch (op) {
	case 0x40 ... 0x4f: /* 16/32-bit modes only; REX in 64-bit mode */
		set(in, op < 0x48 ? X86_MN_INC : X86_MN_DEC);
		op_gpr(in, op & 7, v);
		return;
	case 0x63:
		if (in->mode != X86_MODE_64)
			return;
		set(in, X86_MN_MOVSXD);
		/* With 66, a memory source is still a dword (measured on the host; Zydis agrees).
		 */
		op_g(in, v), op_e(in, in->has_mem || v != 2 ? 4 : 2);
		return;
	case 0x80 ... 0x83:
		set(in, alu_ops[reg]);
		op_e(in, op & 1 ? v : 1), op_imm(in, op & 1 ? v : 1);
		return;
	case 0x84:
	case 0x85:
		set(in, X86_MN_TEST);
		op_e(in, op & 1 ? v : 1), op_g(in, op & 1 ? v : 1);
		return;
	case 0x86:
	case 0x87:
		set(in, X86_MN_XCHG);
		op_e(in, op & 1 ? v : 1), op_g(in, op & 1 ? v : 1);
		return;
	case 0x88 ... 0x8b:
		set(in, X86_MN_MOV);
		if (op & 2)
			op_g(in, op & 1 ? v : 1), op_e(in, op & 1 ? v : 1);
		else
			op_e(in, op & 1 ? v : 1), op_g(in, op & 1 ? v : 1);
		return;
	case 0x8c:
		set(in, X86_MN_MOV);
		op_e(in, in->has_mem ? 2 : v), op_reg(in, X86_RC_SEG, reg, 2);
		return;
	case 0x8e:
		set(in, X86_MN_MOV);
		op_reg(in, X86_RC_SEG, reg, 2), op_e(in, 2);
		return;
	case 0x91 ... 0x97:
	case 0x90:
		if (op == 0x90 && (!(in->rex & 1) || (in->pfx & X86_PFX_REP)))
			return; /* NOP, PAUSE (F3 90 stays PAUSE with REX.B) */
		set(in, X86_MN_XCHG);
		op_gpr(in, (op & 7) | in->ext_b, v), op_gpr(in, 0, v);
		return;
	case 0xa0 ... 0xa3:
		set(in, X86_MN_MOV);
		in->has_mem = true;
		in->mem.base = in->mem.index = X86_REG_NONE;
		in->mem.scale = 1;
		/* The offset is absolute; keep it sign-extended like any displacement. */
		in->mem.disp = in->addrsize == 8   ? (int64_t)in->imm
			       : in->addrsize == 4 ? (int32_t)in->imm
						   : (int16_t)in->imm;
		in->mem.seg =
		    in->seg != X86_SEG_NONE && (in->mode != X86_MODE_64 || in->seg >= X86_SEG_FS)
			? in->seg
			: X86_SEG_DS;
		if (op & 2)
			op_mem(in, op & 1 ? v : 1), op_gpr(in, 0, op & 1 ? v : 1);
		else
			op_gpr(in, 0, op & 1 ? v : 1), op_mem(in, op & 1 ? v : 1);
		return;
	case 0xa4:
	case 0xa5:
		set(in, X86_MN_MOVS);
		return;
	case 0xa6:
	case 0xa7:
		set(in, X86_MN_CMPS);
		return;
	case 0xa8:
	case 0xa9:
		set(in, X86_MN_TEST);
		op_gpr(in, 0, op & 1 ? v : 1), op_imm(in, op & 1 ? v : 1);
		return;
	case 0xaa:
	case 0xab:
		set(in, X86_MN_STOS);
		return;
	case 0xac:
	case 0xad:
		set(in, X86_MN_LODS);
		return;
	case 0xae:
	case 0xaf:
		set(in, X86_MN_SCAS);
		return;
	case 0xb0 ... 0xb7:
		set(in, X86_MN_MOV);
		op_gpr(in, (op & 7) | in->ext_b, 1), op_imm(in, 1);
		return;
	case 0xb8 ... 0xbf:
		set(in, X86_MN_MOV);
		op_gpr(in, (op & 7) | in->ext_b, v), op_imm(in, v);
		return;
	case 0xc6:
	case 0xc7:
		if (reg != 0)
			return; /* XABORT, XBEGIN */
		set(in, X86_MN_MOV);
		op_e(in, op & 1 ? v : 1), op_imm(in, op & 1 ? v : 1);
		return;
	case 0xd9:
	case 0xdd:
	case 0xdb:
		if (!in->has_mem)
			return;
		{
			/* FLD/FST/FSTP: D9 m32, DD m64, DB m80 (/5 FLD, /7 FSTP). */
			unsigned size = op == 0xd9 ? 4 : op == 0xdd ? 8 : 10;

			if (op == 0xdb ? reg == 5 : reg == 0)
				set(in, X86_MN_FLD);
			else if (op != 0xdb && reg == 2)
				set(in, X86_MN_FST);
			else if (op == 0xdb ? reg == 7 : reg == 3)
				set(in, X86_MN_FSTP);
			else
				return;
			op_mem(in, size);
		}
		return;
	case 0xf6:
	case 0xf7:
		if (reg >= 4)
			return;
		set(in, reg < 2 ? X86_MN_TEST : reg == 2 ? X86_MN_NOT : X86_MN_NEG);
		op_e(in, op & 1 ? v : 1);
		if (reg < 2)
			op_imm(in, op & 1 ? v : 1);
		return;
	case 0xfe:
	case 0xff:
		if (reg >= 2)
			return;
		set(in, reg == 0 ? X86_MN_INC : X86_MN_DEC);
		op_e(in, op & 1 ? v : 1);
		return;
	}
}

/* Legacy SSE moves: 0F 10/11 28/29 2B 6E/7E 6F/7F D6 E7, and the integer 0F ones. */
static void map_0f(struct x86_insn *in)
{
	unsigned op = in->opcode, v = in->opsize, pp = in->pp;
	unsigned gy = in->rex & 8 ? 8 : 4;

	switch (op) {
	case 0x10:
	case 0x11: {
		static const uint8_t mn[4] = {X86_MN_MOVUPS, X86_MN_MOVUPD, X86_MN_MOVSS,
					      X86_MN_MOVSD_SSE};
		unsigned size = pp == X86_PP_F3 ? 4 : pp == X86_PP_F2 ? 8 : 16;

		set(in, mn[pp]);
		if (op == 0x10)
			op_v(in, 16), op_w(in, in->has_mem ? size : 16);
		else
			op_w(in, in->has_mem ? size : 16), op_v(in, 16);
		return;
	}
	case 0x28:
	case 0x29:
		set(in, pp == X86_PP_66 ? X86_MN_MOVAPD : X86_MN_MOVAPS);
		if (op == 0x28)
			op_v(in, 16), op_w(in, 16);
		else
			op_w(in, 16), op_v(in, 16);
		return;
	case 0x2b:
		if (pp > X86_PP_66)
			return; /* MOVNTSS/MOVNTSD */
		set(in, pp == X86_PP_66 ? X86_MN_MOVNTPD : X86_MN_MOVNTPS);
		op_mem(in, 16), op_v(in, 16);
		return;
	case 0x6e:
		set(in, gy == 8 ? X86_MN_MOVQ : X86_MN_MOVD);
		if (pp == X86_PP_66)
			op_v(in, 16);
		else
			op_p(in);
		op_e(in, gy);
		return;
	case 0x7e:
		if (pp == X86_PP_F3) {
			set(in, X86_MN_MOVQ);
			op_v(in, 16), op_w(in, in->has_mem ? 8 : 16);
			return;
		}
		set(in, gy == 8 ? X86_MN_MOVQ : X86_MN_MOVD);
		op_e(in, gy);
		if (pp == X86_PP_66)
			op_v(in, 16);
		else
			op_p(in);
		return;
	case 0x6f:
	case 0x7f:
		if (pp == X86_PP_NONE) {
			set(in, X86_MN_MOVQ);
			if (op == 0x6f)
				op_p(in), op_q(in);
			else
				op_q(in), op_p(in);
			return;
		}
		set(in, pp == X86_PP_66 ? X86_MN_MOVDQA : X86_MN_MOVDQU);
		if (op == 0x6f)
			op_v(in, 16), op_w(in, 16);
		else
			op_w(in, 16), op_v(in, 16);
		return;
	case 0xd6:
		if (pp != X86_PP_66)
			return; /* MOVQ2DQ, MOVDQ2Q */
		set(in, X86_MN_MOVQ);
		op_w(in, in->has_mem ? 8 : 16), op_v(in, 16);
		return;
	case 0xe7:
		if (pp != X86_PP_66)
			return; /* MOVNTQ */
		set(in, X86_MN_MOVNTDQ);
		op_mem(in, 16), op_v(in, 16);
		return;
	case 0xa3:
	case 0xab:
	case 0xb3:
	case 0xbb: {
		static const uint8_t mn[4] = {X86_MN_BT, X86_MN_BTS, X86_MN_BTR, X86_MN_BTC};

		set(in, mn[(op >> 3) & 3]);
		op_e(in, v), op_g(in, v);
		return;
	}
	case 0xba: {
		unsigned reg = modrm_reg(in->modrm);
		static const uint8_t mn[4] = {X86_MN_BT, X86_MN_BTS, X86_MN_BTR, X86_MN_BTC};

		set(in, mn[reg & 3]);
		op_e(in, v), op_imm(in, 1);
		return;
	}
	case 0xb0:
	case 0xb1:
		set(in, X86_MN_CMPXCHG);
		op_e(in, op & 1 ? v : 1), op_g(in, op & 1 ? v : 1);
		return;
	case 0xc0:
	case 0xc1:
		set(in, X86_MN_XADD);
		op_e(in, op & 1 ? v : 1), op_g(in, op & 1 ? v : 1);
		return;
	case 0xb6:
	case 0xb7:
	case 0xbe:
	case 0xbf:
		set(in, op < 0xb8 ? X86_MN_MOVZX : X86_MN_MOVSX);
		op_g(in, v), op_e(in, op & 1 ? 2 : 1);
		return;
	case 0xc3:
		set(in, X86_MN_MOVNTI);
		op_mem(in, gy), op_g(in, gy);
		return;
	}
}

static void map_0f38(struct x86_insn *in)
{
	if (in->opcode == 0x2a && in->pp == X86_PP_66) {
		set(in, X86_MN_MOVNTDQA);
		op_v(in, 16), op_mem(in, 16);
	} else if (in->opcode == 0xf8 && in->pp == X86_PP_66) {
		set(in, X86_MN_MOVDIR64B);
		op_g(in, in->addrsize), op_mem(in, 64);
	}
}

/* VEX moves (map 1 and 0F38 2A); the table already checked L, W and vvvv. */
static void vex(struct x86_insn *in)
{
	unsigned vl = in->vex_l ? 32 : 16, op = in->opcode, pp = in->pp;
	unsigned gy = in->mode == X86_MODE_64 && in->vex_w ? 8 : 4;

	if (in->map == X86_MAP_0F38) {
		if (op == 0x2a && pp == X86_PP_66) {
			set(in, X86_MN_VMOVNTDQA);
			op_v(in, vl), op_mem(in, vl);
		}
		return;
	}
	if (in->map != X86_MAP_0F)
		return;
	switch (op) {
	case 0x10:
	case 0x11:
	case 0x28:
	case 0x29:
		if (pp > X86_PP_66)
			return; /* VMOVSS, VMOVSD */
		set(in, op < 0x20 ? (pp ? X86_MN_VMOVUPD : X86_MN_VMOVUPS)
				  : (pp ? X86_MN_VMOVAPD : X86_MN_VMOVAPS));
		if (op & 1)
			op_w(in, vl), op_v(in, vl);
		else
			op_v(in, vl), op_w(in, vl);
		return;
	case 0x6e:
		if (pp != X86_PP_66)
			return;
		set(in, gy == 8 ? X86_MN_VMOVQ : X86_MN_VMOVD);
		op_v(in, 16), op_e(in, gy);
		return;
	case 0x7e:
		if (pp == X86_PP_F3) {
			set(in, X86_MN_VMOVQ);
			op_v(in, 16), op_w(in, in->has_mem ? 8 : 16);
		} else if (pp == X86_PP_66) {
			set(in, gy == 8 ? X86_MN_VMOVQ : X86_MN_VMOVD);
			op_e(in, gy), op_v(in, 16);
		}
		return;
	case 0xd6:
		if (pp != X86_PP_66)
			return;
		set(in, X86_MN_VMOVQ);
		op_w(in, in->has_mem ? 8 : 16), op_v(in, 16);
		return;
	case 0x6f:
	case 0x7f:
		if (pp != X86_PP_66 && pp != X86_PP_F3)
			return;
		set(in, pp == X86_PP_66 ? X86_MN_VMOVDQA : X86_MN_VMOVDQU);
		if (op == 0x6f)
			op_v(in, vl), op_w(in, vl);
		else
			op_w(in, vl), op_v(in, vl);
		return;
	case 0xe7:
		if (pp != X86_PP_66)
			return;
		set(in, X86_MN_VMOVNTDQ);
		op_mem(in, vl), op_v(in, vl);
		return;
	}
}

/*
 * EVEX moves. These are checked exactly (SDM vol. 2, the instructions'
 * pages and 2.8 "exception type E4/E5/E9NF"): no broadcast or rounding, vvvv
 * unused, the W each form names, and no zeroing on a memory destination.
 * A compressed disp8 is scaled by the memory operand's size (disp8*N).
 * Returns false when the encoding is one AVX-512 leaves undefined.
 */
static bool evex(struct x86_insn *in)
{
	unsigned vl = 16u << in->vex_l, op = in->opcode, pp = in->pp, w = in->vex_w;
	bool store = false, full = true, masked = true;
	unsigned mn = 0, n;

	if (in->map == X86_MAP_0F38 && op == 0x2a && pp == X86_PP_66 && !w) {
		mn = X86_MN_VMOVNTDQA;
		masked = false;
	} else if (in->map != X86_MAP_0F) {
		return true;
	} else {
		switch (op) {
		case 0x10:
		case 0x11:
		case 0x28:
		case 0x29:
			if (pp > X86_PP_66 || w != pp)
				return pp > X86_PP_66; /* VMOVSS/SD: outside the subset */
			mn = op < 0x20 ? (pp ? X86_MN_VMOVUPD : X86_MN_VMOVUPS)
				       : (pp ? X86_MN_VMOVAPD : X86_MN_VMOVAPS);
			store = op & 1;
			break;
		case 0x6f:
		case 0x7f:
			if (pp == X86_PP_NONE)
				return true;
			mn = pp == X86_PP_66   ? (w ? X86_MN_VMOVDQA64 : X86_MN_VMOVDQA32)
			     : pp == X86_PP_F3 ? (w ? X86_MN_VMOVDQU64 : X86_MN_VMOVDQU32)
					       : (w ? X86_MN_VMOVDQU16 : X86_MN_VMOVDQU8);
			store = op == 0x7f;
			break;
		case 0x6e:
		case 0x7e:
		case 0xd6:
			if (op == 0x7e && pp == X86_PP_F3 && w) {
				mn = X86_MN_VMOVQ;
			} else if (pp == X86_PP_66 && op != 0xd6) {
				mn = w && in->mode == X86_MODE_64 ? X86_MN_VMOVQ : X86_MN_VMOVD;
				store = op == 0x7e;
			} else if (pp == X86_PP_66 && op == 0xd6 && w) {
				mn = X86_MN_VMOVQ;
				store = true;
			} else {
				return true;
			}
			full = false;
			masked = false;
			break;
		case 0xe7:
			if (pp != X86_PP_66 || w)
				return pp != X86_PP_66;
			mn = X86_MN_VMOVNTDQ;
			store = true;
			masked = false;
			break;
		default:
			return true;
		}
	}
	if (in->evex_b || in->vvvv != 0)
		return false;
	if (!masked && (in->evex_aaa || in->evex_z))
		return false;
	if (in->evex_z && (!in->evex_aaa || (store && in->has_mem)))
		return false;
	if (!full && in->vex_l)
		return false;
	if ((mn == X86_MN_VMOVNTDQA || mn == X86_MN_VMOVNTDQ) && !in->has_mem)
		return false;
	set(in, mn);
	if (!full) {
		unsigned gy = mn == X86_MN_VMOVQ ? 8 : 4;
		bool gpr = op != 0xd6 && !(op == 0x7e && pp == X86_PP_F3);

		n = gy;
		if (!gpr && op == 0x7e)
			op_v(in, 16), op_w(in, in->has_mem ? 8 : 16);
		else if (!gpr)
			op_w(in, in->has_mem ? 8 : 16), op_v(in, 16);
		else if (op == 0x6e)
			op_v(in, 16), op_e(in, gy);
		else
			op_e(in, gy), op_v(in, 16);
	} else {
		n = vl;
		if (store)
			op_w(in, vl), op_v(in, vl);
		else
			op_v(in, vl), op_w(in, vl);
	}
	if (in->has_mem && in->disp_size == 1)
		in->mem.disp *= (int64_t)n;
	return true;
}

int x86_decode_operands(struct x86_insn *in)
{
	in->mnemonic = X86_MN_OTHER;
	switch (in->enc) {
	case X86_ENC_LEGACY:
		if (in->map == X86_MAP_PRIMARY)
			primary(in);
		else if (in->map == X86_MAP_0F)
			map_0f(in);
		else if (in->map == X86_MAP_0F38)
			map_0f38(in);
		break;
	case X86_ENC_VEX:
		vex(in);
		break;
	case X86_ENC_EVEX:
		if (!evex(in))
			return X86_DECODE_INVALID;
		break;
	default:
		break;
	}
	if (in->mnemonic == X86_MN_OTHER)
		in->nops = 0;
	return X86_DECODE_OK;
}
