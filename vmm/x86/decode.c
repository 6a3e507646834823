/* The decoder's driver: prefixes, escapes and VEX/XOP/EVEX, table lookup, ModRM, immediates. */
#include <string.h>

#include "decode_internal.h"

static int need(const struct decode_ctx *c, unsigned n)
{
	if (c->pos + n <= c->avail)
		return X86_DECODE_OK;
	return c->pos + n > X86_MAX_INSN_LEN ? X86_DECODE_TOO_LONG : X86_DECODE_TRUNCATED;
}

/* Legacy prefixes and REX. Returns the first byte after them (not consumed) or < 0. */
static int scan_prefixes(struct decode_ctx *c)
{
	struct x86_insn *in = c->in;

	for (;;) {
		uint8_t b;
		int r = need(c, 1);

		if (r)
			return r;
		b = c->p[c->pos];
		switch (b) {
		case 0xf0:
			in->pfx |= X86_PFX_LOCK;
			break;
		case 0xf2:
			in->pfx = (uint8_t)((in->pfx & ~X86_PFX_REP) | X86_PFX_REPNE);
			break;
		case 0xf3:
			in->pfx = (uint8_t)((in->pfx & ~X86_PFX_REPNE) | X86_PFX_REP);
			break;
		case 0x66:
			in->pfx |= X86_PFX_OPSIZE;
			break;
		case 0x67:
			in->pfx |= X86_PFX_ADDRSIZE;
			break;
		case 0x26:
			if (in->mode != X86_MODE_64) /* null prefixes in 64-bit mode */
				in->seg = X86_SEG_ES;
			break;
		case 0x2e:
			if (in->mode != X86_MODE_64) /* null prefixes in 64-bit mode */
				in->seg = X86_SEG_CS;
			break;
		case 0x36:
			if (in->mode != X86_MODE_64) /* null prefixes in 64-bit mode */
				in->seg = X86_SEG_SS;
			break;
		case 0x3e:
			if (in->mode != X86_MODE_64) /* null prefixes in 64-bit mode */
				in->seg = X86_SEG_DS;
			break;
		case 0x64:
			in->seg = X86_SEG_FS;
			break;
		case 0x65:
			in->seg = X86_SEG_GS;
			break;
		default:
			if (in->mode == X86_MODE_64 && (b & 0xf0) == 0x40) {
				in->rex = b; /* counts only if the opcode follows */
				c->pos++;
				continue;
			}
			return b;
		}
		in->rex = 0; /* a REX followed by a legacy prefix is ignored */
		c->pos++;
	}
}

static void set_sizes(struct x86_insn *in, unsigned attr, unsigned flags)
{
	bool o16 = in->pfx & X86_PFX_OPSIZE, a16 = in->pfx & X86_PFX_ADDRSIZE;

	switch (in->mode) {
	case X86_MODE_64:
		in->addrsize = a16 ? 4 : 8;
		if ((in->rex & 8) || ((attr & A_F64) && !(flags & X86_DECODE_AMD)))
			in->opsize = 8;
		else if (attr & (A_D64 | A_F64))
			in->opsize = o16 ? 2 : 8;
		else
			in->opsize = o16 ? 2 : 4;
		break;
	case X86_MODE_32:
		in->addrsize = a16 ? 2 : 4;
		in->opsize = o16 ? 2 : 4;
		break;
	default:
		in->addrsize = a16 ? 4 : 2;
		in->opsize = o16 ? 4 : 2;
		break;
	}
}

static unsigned mandatory_prefix(const struct x86_insn *in)
{
	if (in->pfx & X86_PFX_REP)
		return X86_PP_F3;
	if (in->pfx & X86_PFX_REPNE)
		return X86_PP_F2;
	return in->pfx & X86_PFX_OPSIZE ? X86_PP_66 : X86_PP_NONE;
}

static int read_modrm_byte(struct decode_ctx *c)
{
	int r = need(c, 1);

	if (r)
		return r;
	c->in->modrm_off = (uint8_t)c->pos;
	c->in->modrm = c->p[c->pos++];
	c->in->has_modrm = true;
	return X86_DECODE_OK;
}

/* Walks an entry down to its attributes (reading ModRM when a group needs it); -1 if invalid. */
static int resolve(struct decode_ctx *c, const struct x86_entry *e)
{
	struct x86_insn *in = c->in;

	for (;;) {
		switch (e->kind) {
		case K_DIRECT:
			return e->attr;
		case K_PFX:
			in->pp = (uint8_t)mandatory_prefix(in);
			e = &e->sub[in->pp];
			continue;
		case K_GROUP:
		case K_MODGROUP:
		case K_SPECIAL:
			if (!in->has_modrm) {
				int r = read_modrm_byte(c);

				if (r)
					return r == X86_DECODE_TRUNCATED ? -2 : -3;
			}
			if (e->kind == K_GROUP) {
				e = &e->sub[modrm_reg(in->modrm)];
			} else if (e->kind == K_MODGROUP) {
				e = &e->sub[(modrm_mod(in->modrm) == 3 ? 8 : 0) +
					    modrm_reg(in->modrm)];
			} else if (modrm_mod(in->modrm) != 3 && e->sub) {
				e = &e->sub[modrm_reg(in->modrm)];
			} else {
				in->pp = (uint8_t)mandatory_prefix(in);
				return x86_special_attr(e, in);
			}
			continue;
		default:
			return -1;
		}
	}
}

static uint64_t read_le(const uint8_t *p, unsigned n)
{
	uint64_t v = 0;

	for (unsigned i = 0; i < n; i++)
		v |= (uint64_t)p[i] << (8 * i);
	return v;
}

static int read_imm(struct decode_ctx *c, unsigned attr)
{
	struct x86_insn *in = c->in;
	unsigned size = 0, size2 = 0;
	int r;

	switch (attr & A_IMM) {
	case IMM_NONE:
		return X86_DECODE_OK;
	case IMM_B:
	case IMM_JB:
		size = 1;
		break;
	case IMM_W:
		size = 2;
		break;
	case IMM_Z:
		size = in->opsize == 2 ? 2 : 4;
		break;
	case IMM_JZ: /* operand size per set_sizes: Intel ignores 66 in 64-bit mode, AMD not */
		size = in->opsize == 2 ? 2 : 4;
		break;
	case IMM_V:
		size = in->opsize;
		break;
	case IMM_A:
		size = in->addrsize;
		break;
	case IMM_WB:
		size = 2;
		size2 = 1;
		break;
	case IMM_P:
		size = in->opsize == 2 ? 4 : 6;
		break;
	case IMM_BB:
		size = 1;
		size2 = 1;
		break;
	}
	r = need(c, size + size2);
	if (r)
		return r;
	in->imm_off = (uint8_t)c->pos;
	in->imm_size = (uint8_t)size;
	in->imm = read_le(c->p + c->pos, size > 8 ? 8 : size);
	c->pos += size;
	if (size2) {
		in->imm2_size = (uint8_t)size2;
		in->imm2 = c->p[c->pos];
		c->pos += size2;
	}
	return X86_DECODE_OK;
}

/* Legacy and 3DNow! instructions, from the opcode byte on. */
static int decode_legacy(struct decode_ctx *c)
{
	struct x86_insn *in = c->in;
	const struct x86_entry *table = x86_map_primary;
	int attr, r;

	in->enc = X86_ENC_LEGACY;
	in->ext_r = (in->rex & 4) ? 8 : 0;
	in->ext_x = (in->rex & 2) ? 8 : 0;
	in->ext_b = in->ext_rm_vec = (in->rex & 1) ? 8 : 0;
	in->opcode = c->p[c->pos++];
	if (in->opcode == 0x0f) {
		if ((r = need(c, 1)))
			return r;
		in->opcode = c->p[c->pos++];
		table = x86_map_0f;
		in->map = X86_MAP_0F;
		if (in->opcode == 0x38 || in->opcode == 0x3a) {
			if ((r = need(c, 1)))
				return r;
			table = in->opcode == 0x38 ? x86_map_0f38 : x86_map_0f3a;
			in->map = in->opcode == 0x38 ? X86_MAP_0F38 : X86_MAP_0F3A;
			in->opcode = c->p[c->pos++];
		} else if (in->opcode == 0x0f) {
			/* 3DNow!: ModRM, displacement, then the real opcode byte. */
			in->enc = X86_ENC_3DNOW;
			in->map = X86_MAP_0F0F;
			set_sizes(in, 0, c->flags);
			if ((r = read_modrm_byte(c)) || (r = x86_decode_modrm(c)) ||
			    (r = need(c, 1)))
				return r;
			in->opcode = c->p[c->pos++];
			if (!x86_3dnow_valid(in->opcode) || (in->pfx & X86_PFX_LOCK))
				return X86_DECODE_INVALID;
			return X86_DECODE_OK;
		}
	}
	attr = resolve(c, &table[in->opcode]);
	if (attr < 0)
		return attr == -2   ? X86_DECODE_TRUNCATED
		       : attr == -3 ? X86_DECODE_TOO_LONG
				    : X86_DECODE_INVALID;
	if ((attr & A_I64) && in->mode == X86_MODE_64)
		return X86_DECODE_INVALID;
	if ((attr & A_O64) && in->mode != X86_MODE_64)
		return X86_DECODE_INVALID;
	if ((attr & A_NOREAL) && in->mode == X86_MODE_REAL)
		return X86_DECODE_INVALID;
	if (in->pp == X86_PP_NONE && table != x86_map_primary)
		in->pp = (uint8_t)mandatory_prefix(in);
	set_sizes(in, (unsigned)attr, c->flags);
	if (attr & A_M) {
		if (!in->has_modrm && (r = read_modrm_byte(c)))
			return r;
		if ((attr & A_MEM) && modrm_mod(in->modrm) == 3)
			return X86_DECODE_INVALID;
		if ((attr & A_REG) && modrm_mod(in->modrm) != 3)
			return X86_DECODE_INVALID;
		if ((attr & A_RM0) && (modrm_mod(in->modrm) != 3 || modrm_rm(in->modrm) != 0))
			return X86_DECODE_INVALID;
		if (!(attr & A_MODREG) && (r = x86_decode_modrm(c)))
			return r;
	}
	if ((in->pfx & X86_PFX_LOCK) && (!(attr & A_LOCK) || !in->has_mem))
		return X86_DECODE_INVALID;
	if (in->map == X86_MAP_0F && !x86_legacy_check(in))
		return X86_DECODE_INVALID;
	return read_imm(c, (unsigned)attr);
}

/* VEX (C4, C5) and XOP (8F): the payload, opcode, ModRM and immediate. */
static int decode_vex(struct decode_ctx *c, uint8_t lead)
{
	struct x86_insn *in = c->in;
	unsigned b1, b2;
	int r;

	if (in->pfx & (X86_PFX_LOCK | X86_PFX_REP | X86_PFX_REPNE | X86_PFX_OPSIZE) || in->rex)
		return X86_DECODE_INVALID;
	if ((r = need(c, lead == 0xc5 ? 3 : 4)))
		return r;
	b1 = c->p[c->pos + 1];
	if (lead == 0xc5) {
		in->map = X86_MAP_0F;
		b2 = b1;
		b1 = (b1 & 0x80) | 0x60 | 1; /* R from the byte; X, B clear; map 1 */
		in->enc = X86_ENC_VEX;
		c->pos += 2;
	} else {
		b2 = c->p[c->pos + 2];
		in->enc = lead == 0x8f ? X86_ENC_XOP : X86_ENC_VEX;
		c->pos += 3;
		in->vex_w = (uint8_t)(b2 >> 7);
		if (in->enc == X86_ENC_XOP)
			in->map = (uint8_t)((b1 & 0x1f) - 8 + X86_MAP_XOP8);
		else
			in->map = (uint8_t)(b1 & 0x1f);
	}
	if (in->mode == X86_MODE_64) {
		in->ext_r = (b1 & 0x80) ? 0 : 8;
		in->ext_x = (b1 & 0x40) ? 0 : 8;
		in->ext_b = (b1 & 0x20) ? 0 : 8;
		in->vvvv = (uint8_t)((~b2 >> 3) & 15);
	} else {
		in->vvvv = (uint8_t)((~b2 >> 3) &
				     15); /* bit 3 selects nothing, but must be 1111b if unused */
	}
	in->ext_rm_vec = in->ext_b;
	in->vex_l = (uint8_t)((b2 >> 2) & 1);
	in->pp = (uint8_t)(b2 & 3);
	in->rex = (uint8_t)(0x40 | (in->vex_w << 3) | (in->ext_r ? 4 : 0) | (in->ext_x ? 2 : 0) |
			    (in->ext_b ? 1 : 0));
	if (in->enc == X86_ENC_VEX && (in->map < 1 || in->map > 3))
		return X86_DECODE_INVALID;
	if (in->enc == X86_ENC_XOP && in->map > X86_MAP_XOPA)
		return X86_DECODE_INVALID;
	in->opcode = c->p[c->pos++];
	in->addrsize = in->mode == X86_MODE_64	 ? ((in->pfx & X86_PFX_ADDRSIZE) ? 4 : 8)
		       : in->mode == X86_MODE_32 ? ((in->pfx & X86_PFX_ADDRSIZE) ? 2 : 4)
						 : ((in->pfx & X86_PFX_ADDRSIZE) ? 4 : 2);
	in->opsize = (in->mode == X86_MODE_64 && in->vex_w) ? 8 : 4;
	if (in->enc == X86_ENC_XOP || x86_vex_has_modrm(in)) {
		if ((r = read_modrm_byte(c)) || (r = x86_decode_modrm(c)))
			return r;
	}
	r = in->enc == X86_ENC_XOP ? x86_xop_check(in) : x86_vex_check(in);
	if (r)
		return r;
	if ((r = need(c, in->imm_size)))
		return r;
	in->imm_off = (uint8_t)c->pos;
	in->imm = read_le(c->p + c->pos, in->imm_size);
	c->pos += in->imm_size;
	return X86_DECODE_OK;
}

/* EVEX (62): four-byte prefix, opcode, ModRM, immediate. */
static int decode_evex(struct decode_ctx *c)
{
	struct x86_insn *in = c->in;
	unsigned p0, p1, p2;
	int r;

	if (in->pfx & (X86_PFX_LOCK | X86_PFX_REP | X86_PFX_REPNE | X86_PFX_OPSIZE) || in->rex)
		return X86_DECODE_INVALID;
	if ((r = need(c, 5)))
		return r;
	p0 = c->p[c->pos + 1];
	p1 = c->p[c->pos + 2];
	p2 = c->p[c->pos + 3];
	c->pos += 4;
	in->enc = X86_ENC_EVEX;
	if ((p0 & 0x08) || !(p1 & 0x04))
		return X86_DECODE_INVALID;
	in->map = (uint8_t)(p0 & 7);
	in->vex_w = (uint8_t)(p1 >> 7);
	in->pp = (uint8_t)(p1 & 3);
	in->evex_z = (uint8_t)(p2 >> 7);
	in->vex_l = (uint8_t)((p2 >> 5) & 3);
	in->evex_b = (uint8_t)((p2 >> 4) & 1);
	in->evex_aaa = (uint8_t)(p2 & 7);
	if (in->mode == X86_MODE_64) {
		in->ext_r = (uint8_t)(((p0 & 0x80) ? 0 : 8) | ((p0 & 0x10) ? 0 : 16));
		in->ext_x = (p0 & 0x40) ? 0 : 8;
		in->ext_b = (p0 & 0x20) ? 0 : 8;
		in->ext_rm_vec = (uint8_t)(in->ext_b | ((p0 & 0x40) ? 0 : 16));
		in->vvvv = (uint8_t)(((~p1 >> 3) & 15) | ((p2 & 0x08) ? 0 : 16));
	} else {
		if (!(p2 & 0x08))
			return X86_DECODE_INVALID; /* V' selects registers 16-31: 64-bit mode only
						    */
		in->vvvv = (uint8_t)((~p1 >> 3) & 15);
	}
	in->rex = (uint8_t)(0x40 | (in->vex_w << 3));
	in->opcode = c->p[c->pos++];
	in->addrsize = in->mode == X86_MODE_64	 ? ((in->pfx & X86_PFX_ADDRSIZE) ? 4 : 8)
		       : in->mode == X86_MODE_32 ? ((in->pfx & X86_PFX_ADDRSIZE) ? 2 : 4)
						 : ((in->pfx & X86_PFX_ADDRSIZE) ? 4 : 2);
	in->opsize = (in->mode == X86_MODE_64 && in->vex_w) ? 8 : 4;
	if ((r = read_modrm_byte(c)) || (r = x86_decode_modrm(c)))
		return r;
	if ((r = x86_evex_check(in)))
		return r;
	if ((r = need(c, in->imm_size)))
		return r;
	in->imm_off = (uint8_t)c->pos;
	in->imm = read_le(c->p + c->pos, in->imm_size);
	c->pos += in->imm_size;
	return X86_DECODE_OK;
}

int x86_decode(const uint8_t *buf, size_t len, enum x86_mode mode, unsigned flags,
	       struct x86_insn *out)
{
	struct decode_ctx c = {
	    .p = buf,
	    .avail = len < X86_MAX_INSN_LEN ? len : X86_MAX_INSN_LEN,
	    .flags = flags,
	    .in = out,
	};
	int lead, r;

	memset(out, 0, sizeof(*out));
	out->mode = (uint8_t)mode;
	out->seg = X86_SEG_NONE;
	out->mem.base = out->mem.index = X86_REG_NONE;
	lead = scan_prefixes(&c);
	if (lead < 0) {
		r = lead;
	} else if ((lead == 0xc4 || lead == 0xc5 || lead == 0x62 || lead == 0x8f) &&
		   mode != X86_MODE_REAL && c.pos + 1 < c.avail) {
		uint8_t next = buf[c.pos + 1];

		if (lead == 0x8f ? (next & 0x1f) >= 8
				 : mode == X86_MODE_64 || (next & 0xc0) == 0xc0)
			r = lead == 0x62 ? decode_evex(&c) : decode_vex(&c, (uint8_t)lead);
		else
			r = decode_legacy(&c);
	} else if ((lead == 0xc4 || lead == 0xc5 || lead == 0x62 || lead == 0x8f) &&
		   mode != X86_MODE_REAL) {
		r = need(&c, 2); /* cannot tell VEX from LES without the next byte */
		if (!r)
			r = decode_legacy(&c);
	} else {
		r = decode_legacy(&c);
	}
	out->len = (uint8_t)c.pos;
	if (r)
		return r;
	memcpy(out->bytes, buf, out->len);
	return x86_decode_operands(out);
}
