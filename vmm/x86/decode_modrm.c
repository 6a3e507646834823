/* ModRM, SIB and displacement: the memory operand's shape, length and address components. */
#include "decode_internal.h"

static int read_disp(struct decode_ctx *c, unsigned size)
{
	struct x86_insn *in = c->in;
	uint64_t v = 0;

	if (c->pos + size > c->avail)
		return c->pos + size > X86_MAX_INSN_LEN ? X86_DECODE_TOO_LONG
							: X86_DECODE_TRUNCATED;
	for (unsigned i = 0; i < size; i++)
		v |= (uint64_t)c->p[c->pos + i] << (8 * i);
	in->disp_off = (uint8_t)c->pos;
	in->disp_size = (uint8_t)size;
	c->pos += size;
	switch (size) {
	case 1:
		in->mem.disp = (int8_t)v;
		break;
	case 2:
		in->mem.disp = (int16_t)v;
		break;
	case 4:
		in->mem.disp = (int32_t)v;
		break;
	}
	return X86_DECODE_OK;
}

/* 16-bit addressing: [bx+si], [bx+di], [bp+si], [bp+di], [si], [di], [bp], [bx]. */
static int modrm16(struct decode_ctx *c, unsigned mod, unsigned rm)
{
	static const uint8_t base[8] = {3, 3, 5, 5, 6, 7, 5, 3};
	static const uint8_t index[8] = {
	    6, 7, 6, 7, X86_REG_NONE, X86_REG_NONE, X86_REG_NONE, X86_REG_NONE};
	struct x86_mem *m = &c->in->mem;

	m->scale = 1;
	m->index = index[rm];
	if (mod == 0 && rm == 6) {
		m->base = X86_REG_NONE;
		return read_disp(c, 2);
	}
	m->base = base[rm];
	return mod == 0 ? X86_DECODE_OK : read_disp(c, mod == 1 ? 1 : 2);
}

static int modrm32(struct decode_ctx *c, unsigned mod, unsigned rm)
{
	struct x86_insn *in = c->in;
	struct x86_mem *m = &in->mem;
	unsigned base = rm;

	m->scale = 1;
	m->index = X86_REG_NONE;
	if (rm == 4) {
		uint8_t sib;
		unsigned idx;

		if (c->pos >= c->avail)
			return c->pos >= X86_MAX_INSN_LEN ? X86_DECODE_TOO_LONG
							  : X86_DECODE_TRUNCATED;
		sib = c->p[c->pos++];
		in->sib = sib;
		in->has_sib = true;
		m->scale = (uint8_t)(1u << (sib >> 6));
		idx = ((sib >> 3) & 7) | in->ext_x;
		m->index = idx == 4 ? X86_REG_NONE : (uint8_t)idx; /* no index, unless REX.X */
		base = sib & 7;
		if (base == 5 && mod == 0) {
			m->base = X86_REG_NONE;
			return read_disp(c, 4);
		}
	} else if (rm == 5 && mod == 0) {
		m->base = in->mode == X86_MODE_64 ? X86_REG_RIP : X86_REG_NONE;
		return read_disp(c, 4);
	}
	m->base = (uint8_t)(base | in->ext_b);
	return mod == 0 ? X86_DECODE_OK : read_disp(c, mod == 1 ? 1 : 4);
}

int x86_decode_modrm(struct decode_ctx *c)
{
	struct x86_insn *in = c->in;
	unsigned mod = modrm_mod(in->modrm), rm = modrm_rm(in->modrm);
	int r;

	if (mod == 3)
		return X86_DECODE_OK;
	in->has_mem = true;
	r = in->addrsize == 2 ? modrm16(c, mod, rm) : modrm32(c, mod, rm);
	if (r)
		return r;
	if (in->seg != X86_SEG_NONE &&
	    (in->mode != X86_MODE_64 || in->seg == X86_SEG_FS || in->seg == X86_SEG_GS))
		in->mem.seg = in->seg;
	else if (in->mem.base == 4 || in->mem.base == 5)
		in->mem.seg = X86_SEG_SS; /* rSP and rBP bases (and 16-bit [bp...]) */
	else
		in->mem.seg = X86_SEG_DS;
	return X86_DECODE_OK;
}
