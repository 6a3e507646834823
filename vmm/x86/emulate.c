/* The emulator's entry: mode, decode, dispatch by instruction group, commit or roll back. */
#include <stdarg.h>

#include "emu_internal.h"

void x86_emu_init(struct x86_emu *e, const struct x86_emu_ops *ops, void *opaque,
		  struct x86_cpu *cpu)
{
	memset(e, 0, sizeof(*e));
	e->ops = ops;
	e->opaque = opaque;
	e->cpu = cpu;
}

enum x86_mode x86_cpu_mode(const struct x86_cpu *c)
{
	if (!(c->cr0 & CR0_PE) || (c->rflags & RFLAGS_VM))
		return X86_MODE_REAL;
	if ((c->efer & EFER_LMA) && c->seg[X86_SEG_CS].l)
		return X86_MODE_64;
	return c->seg[X86_SEG_CS].db ? X86_MODE_32 : X86_MODE_16;
}

unsigned emu_cpl(const struct x86_cpu *c)
{
	if (!(c->cr0 & CR0_PE))
		return 0;
	if (c->rflags & RFLAGS_VM)
		return 3;
	return c->seg[X86_SEG_SS].dpl;
}

int emu_fault(struct x86_emu *e, unsigned vector, bool has_error, uint32_t error)
{
	e->fault =
	    (struct x86_fault){.vector = (uint8_t)vector, .has_error = has_error, .error = error};
	return X86_EMU_FAULT;
}

int emu_unsupported(struct x86_emu *e, const char *what)
{
	snprintf(e->why, sizeof(e->why), "%s", what);
	return X86_EMU_UNSUPPORTED;
}

int emu_error(struct x86_emu *e, const char *what)
{
	snprintf(e->why, sizeof(e->why), "%s", what);
	return X86_EMU_ERROR;
}

uint64_t emu_gpr_read(const struct x86_emu *e, unsigned reg, unsigned size, bool high8)
{
	uint64_t v = e->cpu->gpr[reg & 15];

	if (high8)
		return (v >> 8) & 0xff;
	return v & size_mask(size);
}

void emu_gpr_write(struct x86_emu *e, unsigned reg, unsigned size, bool high8, uint64_t v)
{
	uint64_t *r = &e->cpu->gpr[reg & 15];

	if (high8)
		*r = (*r & ~0xff00ull) | ((v & 0xff) << 8);
	else if (size == 1)
		*r = (*r & ~0xffull) | (v & 0xff);
	else if (size == 2)
		*r = (*r & ~0xffffull) | (v & 0xffff);
	else if (size == 4)
		*r = (uint32_t)v; /* 32-bit results zero the upper half */
	else
		*r = v;
}

uint64_t emu_reg_op(const struct x86_emu *e, const struct x86_operand *op)
{
	return emu_gpr_read(e, op->rclass == X86_RC_GPR8H ? op->reg : op->reg, op->size,
			    op->rclass == X86_RC_GPR8H);
}

void emu_reg_op_write(struct x86_emu *e, const struct x86_operand *op, uint64_t v)
{
	emu_gpr_write(e, op->reg, op->size, op->rclass == X86_RC_GPR8H, v);
}

uint64_t emu_imm(const struct x86_insn *in, unsigned size)
{
	return sign_extend(in->imm, in->imm_size) & size_mask(size);
}

uint64_t emu_ea(const struct x86_emu *e, const struct x86_insn *in)
{
	const struct x86_mem *m = &in->mem;
	uint64_t ea = (uint64_t)m->disp;

	if (m->base == X86_REG_RIP)
		ea += e->cpu->rip + in->len;
	else if (m->base != X86_REG_NONE)
		ea += e->cpu->gpr[m->base];
	if (m->index != X86_REG_NONE)
		ea += e->cpu->gpr[m->index] * m->scale;
	return ea & size_mask(in->addrsize);
}

int emu_fpu(struct x86_emu *e)
{
	if (e->fpu_loaded)
		return OK;
	if (!e->ops->get_fpu)
		return emu_ud(e);
	if (e->ops->get_fpu(e->opaque, &e->fpu))
		return emu_error(e, "reading the vector registers failed");
	e->fpu_loaded = true;
	return OK;
}

static int dispatch(struct x86_emu *e, const struct x86_insn *in)
{
	switch (in->mnemonic) {
	case X86_MN_MOVS:
	case X86_MN_STOS:
	case X86_MN_LODS:
	case X86_MN_CMPS:
	case X86_MN_SCAS:
		return emu_string(e, in);
	case X86_MN_FLD:
	case X86_MN_FST:
	case X86_MN_FSTP:
		return emu_x87(e, in);
	case X86_MN_MOVD ... X86_MN_MOVDIR64B:
		return emu_vector(e, in);
	case X86_MN_OTHER:
	case X86_MN_INVALID: {
		char buf[64];

		x86_format(in, buf, sizeof(buf));
		snprintf(e->why, sizeof(e->why), "not emulated: %.60s", buf);
		return X86_EMU_UNSUPPORTED;
	}
	default:
		return emu_integer(e, in);
	}
}

static uint64_t next_rip(const struct x86_cpu *c, const struct x86_insn *in)
{
	uint64_t rip = c->rip + in->len;

	switch (in->mode) {
	case X86_MODE_64:
		return rip;
	case X86_MODE_32:
		return (uint32_t)rip;
	default:
		return rip & 0xffff;
	}
}

enum x86_emu_result x86_emulate_insn(struct x86_emu *e, const struct x86_insn *in)
{
	struct x86_cpu saved = *e->cpu;
	int r;

	e->why[0] = 0;
	e->fpu_loaded = e->fpu_dirty = false;
	if (&e->insn != in)
		e->insn = *in;
	if (in->mode != x86_cpu_mode(e->cpu))
		return (enum x86_emu_result)emu_error(e, "instruction decoded in another mode");
	r = dispatch(e, in);
	if (r == OK || r == X86_EMU_PARTIAL) {
		if (e->fpu_dirty && e->ops->set_fpu(e->opaque, &e->fpu)) {
			*e->cpu = saved;
			return (enum x86_emu_result)emu_error(
			    e, "writing the vector registers failed");
		}
		if (r == OK)
			e->cpu->rip = next_rip(e->cpu, in);
		return (enum x86_emu_result)r;
	}
	/* String instructions keep the iterations they finished; nothing else changes. */
	if (r != FAULT || in->mnemonic < X86_MN_MOVS || in->mnemonic > X86_MN_SCAS)
		*e->cpu = saved;
	if (r == FAULT && e->fault.vector == X86_EXC_PF)
		e->cpu->cr2 = e->fault.cr2;
	return (enum x86_emu_result)r;
}

enum x86_emu_result x86_emulate(struct x86_emu *e, const uint8_t *bytes, size_t len)
{
	int r = x86_decode(bytes, len, x86_cpu_mode(e->cpu), e->decode_flags, &e->insn);

	e->why[0] = 0;
	switch (r) {
	case X86_DECODE_OK:
		return x86_emulate_insn(e, &e->insn);
	case X86_DECODE_INVALID:
		return (enum x86_emu_result)emu_ud(e);
	case X86_DECODE_TOO_LONG:
		return (enum x86_emu_result)emu_gp0(e);
	default:
		return (enum x86_emu_result)emu_error(e, "instruction bytes end mid-instruction");
	}
}
