/* Integer instructions: MOV forms, arithmetic and logic with exact flags, XCHG, CMPXCHG, BT*. */
#include "emu_internal.h"

/* An operand that is a register or a translated memory range. */
struct loc {
	const struct x86_operand *op;
	struct emu_xlat x;
	unsigned size;
	bool mem;
};

static int loc_prepare(struct x86_emu *e, const struct x86_insn *in, const struct x86_operand *op,
		       unsigned acc, struct loc *l)
{
	l->op = op;
	l->size = op->size;
	l->mem = op->kind == X86_OPK_MEM;
	if (!l->mem)
		return OK;
	return emu_prepare(e, in->mem.seg, emu_ea(e, in), op->size, acc, 0, &l->x);
}

static int loc_read(struct x86_emu *e, const struct loc *l, uint64_t *v)
{
	int r;

	if (!l->mem) {
		*v = emu_reg_op(e, l->op);
		return OK;
	}
	*v = 0;
	r = emu_xread(e, &l->x, v); /* little-endian host, like the guest */
	return r;
}

static int loc_write(struct x86_emu *e, const struct loc *l, uint64_t v)
{
	if (!l->mem) {
		emu_reg_op_write(e, l->op, v);
		return OK;
	}
	return emu_xwrite(e, &l->x, &v, false);
}

/* The value of a source operand: register, memory or immediate. */
static int src_value(struct x86_emu *e, const struct x86_insn *in, const struct x86_operand *op,
		     unsigned size, uint64_t *v)
{
	struct loc l;
	int r;

	if (op->kind == X86_OPK_IMM) {
		*v = emu_imm(in, size);
		return OK;
	}
	if ((r = loc_prepare(e, in, op, X86_ACC_READ, &l)))
		return r;
	return loc_read(e, &l, v);
}

uint64_t emu_flags_szp(uint64_t r, unsigned size)
{
	uint64_t f = 0;

	r &= size_mask(size);
	if (!r)
		f |= RFLAGS_ZF;
	if (r >> (8 * size - 1))
		f |= RFLAGS_SF;
	if (!__builtin_parity((unsigned)(r & 0xff)))
		f |= RFLAGS_PF;
	return f;
}

/* Arithmetic and logic (SDM vol. 1, appendix A, "EFLAGS cross-reference"). */
static uint64_t arith(unsigned mn, uint64_t a, uint64_t b, unsigned size, uint64_t *rflags)
{
	uint64_t m = size_mask(size), sign = 1ull << (8 * size - 1), r, f = 0;
	bool c = *rflags & RFLAGS_CF;

	a &= m;
	b &= m;
	switch (mn) {
	case X86_MN_ADD:
	case X86_MN_ADC:
		c = mn == X86_MN_ADC && c;
		r = (a + b + c) & m;
		if (c ? r <= a : r < a)
			f |= RFLAGS_CF;
		if ((a ^ r) & (b ^ r) & sign)
			f |= RFLAGS_OF;
		f |= (a ^ b ^ r) & RFLAGS_AF;
		break;
	case X86_MN_SUB:
	case X86_MN_SBB:
	case X86_MN_CMP:
		c = mn == X86_MN_SBB && c;
		r = (a - b - c) & m;
		if (c ? a <= b : a < b)
			f |= RFLAGS_CF;
		if ((a ^ b) & (a ^ r) & sign)
			f |= RFLAGS_OF;
		f |= (a ^ b ^ r) & RFLAGS_AF;
		break;
	case X86_MN_AND:
	case X86_MN_TEST:
		r = a & b;
		break;
	case X86_MN_OR:
		r = a | b;
		break;
	default: /* XOR */
		r = a ^ b;
		break;
	}
	*rflags = (*rflags & ~RFLAGS_ARITH) | f | emu_flags_szp(r, size);
	return r;
}

static int alu2(struct x86_emu *e, const struct x86_insn *in)
{
	const struct x86_operand *dst = &in->ops[0];
	bool writes = in->mnemonic != X86_MN_CMP && in->mnemonic != X86_MN_TEST;
	uint64_t a, b, r;
	struct loc l;
	int rc;

	/* Read the source first when it is memory and the destination a register. */
	if (dst->kind != X86_OPK_MEM) {
		if ((rc = src_value(e, in, &in->ops[1], dst->size, &b)))
			return rc;
		a = emu_reg_op(e, dst);
		r = arith(in->mnemonic, a, b, dst->size, &e->cpu->rflags);
		if (writes)
			emu_reg_op_write(e, dst, r);
		return OK;
	}
	if ((rc = src_value(e, in, &in->ops[1], dst->size, &b)) ||
	    (rc = loc_prepare(e, in, dst, writes ? X86_ACC_WRITE : X86_ACC_READ, &l)) ||
	    (rc = loc_read(e, &l, &a)))
		return rc;
	r = arith(in->mnemonic, a, b, dst->size, &e->cpu->rflags);
	return writes ? loc_write(e, &l, r) : OK;
}

static int alu1(struct x86_emu *e, const struct x86_insn *in)
{
	const struct x86_operand *op = &in->ops[0];
	uint64_t *fl = &e->cpu->rflags, a, r, keep_cf = *fl & RFLAGS_CF;
	struct loc l;
	int rc;

	if ((rc = loc_prepare(e, in, op, X86_ACC_WRITE, &l)) || (rc = loc_read(e, &l, &a)))
		return rc;
	switch (in->mnemonic) {
	case X86_MN_NOT:
		r = ~a;
		break;
	case X86_MN_NEG:
		r = arith(X86_MN_SUB, 0, a, op->size, fl);
		break;
	case X86_MN_INC:
		r = arith(X86_MN_ADD, a, 1, op->size, fl);
		*fl = (*fl & ~RFLAGS_CF) | keep_cf;
		break;
	default: /* DEC */
		r = arith(X86_MN_SUB, a, 1, op->size, fl);
		*fl = (*fl & ~RFLAGS_CF) | keep_cf;
		break;
	}
	return loc_write(e, &l, r & size_mask(op->size));
}

static int mov(struct x86_emu *e, const struct x86_insn *in)
{
	const struct x86_operand *dst = &in->ops[0], *src = &in->ops[1];
	struct loc l;
	uint64_t v;
	int rc;

	if (dst->kind == X86_OPK_REG && dst->rclass == X86_RC_SEG)
		return emu_unsupported(e, "loading a segment register");
	if (src->kind == X86_OPK_REG && src->rclass == X86_RC_SEG) {
		v = e->cpu->seg[src->reg].selector;
		if (src->reg > X86_SEG_GS)
			return emu_ud(e);
	} else if ((rc = src_value(e, in, src, dst->size, &v))) {
		return rc;
	}
	if ((rc = loc_prepare(e, in, dst, X86_ACC_WRITE, &l)))
		return rc;
	return loc_write(e, &l, v);
}

static int movx(struct x86_emu *e, const struct x86_insn *in)
{
	const struct x86_operand *dst = &in->ops[0], *src = &in->ops[1];
	uint64_t v;
	int rc;

	if ((rc = src_value(e, in, src, src->size, &v)))
		return rc;
	if (in->mnemonic != X86_MN_MOVZX)
		v = sign_extend(v, src->size);
	emu_reg_op_write(e, dst, v & size_mask(dst->size));
	return OK;
}

static int xchg(struct x86_emu *e, const struct x86_insn *in)
{
	const struct x86_operand *a = &in->ops[0], *b = &in->ops[1];
	uint64_t va, vb;
	struct loc l;
	int rc;

	if ((rc = loc_prepare(e, in, a, X86_ACC_WRITE, &l)) || (rc = loc_read(e, &l, &va)))
		return rc;
	vb = emu_reg_op(e, b);
	if ((rc = loc_write(e, &l, vb)))
		return rc;
	emu_reg_op_write(e, b, va);
	return OK;
}

/* CMPXCHG: the destination is always written (with its own value on a mismatch). */
static int cmpxchg(struct x86_emu *e, const struct x86_insn *in)
{
	const struct x86_operand *dst = &in->ops[0], *src = &in->ops[1];
	unsigned size = dst->size;
	uint64_t acc = emu_gpr_read(e, 0, size, false), d, s = emu_reg_op(e, src);
	struct loc l;
	int rc;

	if ((rc = loc_prepare(e, in, dst, X86_ACC_WRITE, &l)) || (rc = loc_read(e, &l, &d)))
		return rc;
	arith(X86_MN_CMP, acc, d, size, &e->cpu->rflags);
	if (acc == d)
		return loc_write(e, &l, s);
	/* The destination is written back unchanged (a locked cycle always writes). A 32-bit
	 * register destination is then zero-extended on Intel (SDM: CMPXCHG, "DEST <- TEMP")
	 * but left alone on AMD (measured by the host oracle on Zen 4). */
	if ((l.mem || !(e->decode_flags & X86_DECODE_AMD)) && (rc = loc_write(e, &l, d)))
		return rc;
	emu_gpr_write(e, 0, size, false, d);
	return OK;
}

static int xadd(struct x86_emu *e, const struct x86_insn *in)
{
	const struct x86_operand *dst = &in->ops[0], *src = &in->ops[1];
	uint64_t d, s = emu_reg_op(e, src), sum;
	struct loc l;
	int rc;

	if ((rc = loc_prepare(e, in, dst, X86_ACC_WRITE, &l)) || (rc = loc_read(e, &l, &d)))
		return rc;
	sum = arith(X86_MN_ADD, d, s, dst->size, &e->cpu->rflags);
	if (l.mem && (rc = loc_write(e, &l, sum)))
		return rc;
	emu_reg_op_write(e, src, d);
	if (!l.mem)
		emu_reg_op_write(e, dst, sum);
	return OK;
}

/*
 * BT, BTS, BTR, BTC. A register bit offset is signed and, with a memory
 * operand, selects the operand-sized unit at ea + (offset >> log2(bits)) *
 * size; an immediate offset is taken modulo the operand width (SDM: BT).
 */
static int bit_test(struct x86_emu *e, const struct x86_insn *in)
{
	const struct x86_operand *dst = &in->ops[0], *src = &in->ops[1];
	unsigned size = dst->size, bits = 8 * size, shift = size == 2 ? 4 : size == 4 ? 5 : 6;
	bool writes = in->mnemonic != X86_MN_BT;
	uint64_t v, bit;
	struct loc l;
	int rc;

	if (src->kind == X86_OPK_IMM) {
		bit = in->imm & (bits - 1);
		if ((rc = loc_prepare(e, in, dst, writes ? X86_ACC_WRITE : X86_ACC_READ, &l)))
			return rc;
	} else {
		int64_t off = (int64_t)sign_extend(emu_reg_op(e, src), size);

		bit = (uint64_t)off & (bits - 1);
		l.op = dst;
		l.size = size;
		l.mem = dst->kind == X86_OPK_MEM;
		if (l.mem) {
			uint64_t ea = (emu_ea(e, in) + (uint64_t)((off >> shift) * (int64_t)size)) &
				      size_mask(in->addrsize);

			if ((rc = emu_prepare(e, in->mem.seg, ea, size,
					      writes ? X86_ACC_WRITE : X86_ACC_READ, 0, &l.x)))
				return rc;
		}
	}
	if ((rc = loc_read(e, &l, &v)))
		return rc;
	e->cpu->rflags = (e->cpu->rflags & ~RFLAGS_CF) | ((v >> bit) & 1 ? RFLAGS_CF : 0);
	switch (in->mnemonic) {
	case X86_MN_BTS:
		v |= 1ull << bit;
		break;
	case X86_MN_BTR:
		v &= ~(1ull << bit);
		break;
	case X86_MN_BTC:
		v ^= 1ull << bit;
		break;
	default:
		return OK;
	}
	return loc_write(e, &l, v);
}

int emu_integer(struct x86_emu *e, const struct x86_insn *in)
{
	switch (in->mnemonic) {
	case X86_MN_MOV:
	case X86_MN_MOVNTI:
		return mov(e, in);
	case X86_MN_MOVZX:
	case X86_MN_MOVSX:
	case X86_MN_MOVSXD:
		return movx(e, in);
	case X86_MN_ADD:
	case X86_MN_OR:
	case X86_MN_ADC:
	case X86_MN_SBB:
	case X86_MN_AND:
	case X86_MN_SUB:
	case X86_MN_XOR:
	case X86_MN_CMP:
	case X86_MN_TEST:
		return alu2(e, in);
	case X86_MN_NOT:
	case X86_MN_NEG:
	case X86_MN_INC:
	case X86_MN_DEC:
		return alu1(e, in);
	case X86_MN_XCHG:
		return xchg(e, in);
	case X86_MN_CMPXCHG:
		return cmpxchg(e, in);
	case X86_MN_XADD:
		return xadd(e, in);
	case X86_MN_BT:
	case X86_MN_BTS:
	case X86_MN_BTR:
	case X86_MN_BTC:
		return bit_test(e, in);
	default:
		return emu_unsupported(e, "instruction not in the integer group");
	}
}
