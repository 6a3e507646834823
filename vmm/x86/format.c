/* Intel-syntax text for decoded instructions, for exit traces and reports. */
#include <stdarg.h>
#include <stdio.h>

#include "kvmlab/x86_decode.h"

static const char *const mnemonic_names[X86_MN_COUNT] = {
    [X86_MN_INVALID] = "(invalid)",
    [X86_MN_OTHER] = "(other)",
    [X86_MN_MOV] = "mov",
    [X86_MN_MOVZX] = "movzx",
    [X86_MN_MOVSX] = "movsx",
    [X86_MN_MOVSXD] = "movsxd",
    [X86_MN_MOVS] = "movs",
    [X86_MN_STOS] = "stos",
    [X86_MN_LODS] = "lods",
    [X86_MN_CMPS] = "cmps",
    [X86_MN_SCAS] = "scas",
    [X86_MN_ADD] = "add",
    [X86_MN_OR] = "or",
    [X86_MN_ADC] = "adc",
    [X86_MN_SBB] = "sbb",
    [X86_MN_AND] = "and",
    [X86_MN_SUB] = "sub",
    [X86_MN_XOR] = "xor",
    [X86_MN_CMP] = "cmp",
    [X86_MN_TEST] = "test",
    [X86_MN_NOT] = "not",
    [X86_MN_NEG] = "neg",
    [X86_MN_INC] = "inc",
    [X86_MN_DEC] = "dec",
    [X86_MN_XCHG] = "xchg",
    [X86_MN_CMPXCHG] = "cmpxchg",
    [X86_MN_XADD] = "xadd",
    [X86_MN_BT] = "bt",
    [X86_MN_BTS] = "bts",
    [X86_MN_BTR] = "btr",
    [X86_MN_BTC] = "btc",
    [X86_MN_MOVNTI] = "movnti",
    [X86_MN_MOVD] = "movd",
    [X86_MN_MOVQ] = "movq",
    [X86_MN_MOVDQA] = "movdqa",
    [X86_MN_MOVDQU] = "movdqu",
    [X86_MN_MOVAPS] = "movaps",
    [X86_MN_MOVAPD] = "movapd",
    [X86_MN_MOVUPS] = "movups",
    [X86_MN_MOVUPD] = "movupd",
    [X86_MN_MOVSS] = "movss",
    [X86_MN_MOVSD_SSE] = "movsd",
    [X86_MN_MOVNTDQA] = "movntdqa",
    [X86_MN_MOVNTDQ] = "movntdq",
    [X86_MN_MOVNTPS] = "movntps",
    [X86_MN_MOVNTPD] = "movntpd",
    [X86_MN_VMOVD] = "vmovd",
    [X86_MN_VMOVQ] = "vmovq",
    [X86_MN_VMOVDQA] = "vmovdqa",
    [X86_MN_VMOVDQU] = "vmovdqu",
    [X86_MN_VMOVAPS] = "vmovaps",
    [X86_MN_VMOVAPD] = "vmovapd",
    [X86_MN_VMOVUPS] = "vmovups",
    [X86_MN_VMOVUPD] = "vmovupd",
    [X86_MN_VMOVNTDQA] = "vmovntdqa",
    [X86_MN_VMOVNTDQ] = "vmovntdq",
    [X86_MN_VMOVDQA32] = "vmovdqa32",
    [X86_MN_VMOVDQA64] = "vmovdqa64",
    [X86_MN_VMOVDQU8] = "vmovdqu8",
    [X86_MN_VMOVDQU16] = "vmovdqu16",
    [X86_MN_VMOVDQU32] = "vmovdqu32",
    [X86_MN_VMOVDQU64] = "vmovdqu64",
    [X86_MN_MOVDIR64B] = "movdir64b",
    [X86_MN_FLD] = "fld",
    [X86_MN_FST] = "fst",
    [X86_MN_FSTP] = "fstp",
};

const char *x86_mnemonic_name(unsigned mn)
{
	return mn < X86_MN_COUNT && mnemonic_names[mn] ? mnemonic_names[mn] : "(unknown)";
}

const char *x86_gpr_name(unsigned reg, unsigned size)
{
	static const char *const r64[16] = {"rax", "rcx", "rdx", "rbx", "rsp", "rbp", "rsi", "rdi",
					    "r8",  "r9",  "r10", "r11", "r12", "r13", "r14", "r15"};
	static const char *const r32[16] = {"eax",  "ecx",  "edx",  "ebx", "esp",  "ebp",
					    "esi",  "edi",  "r8d",  "r9d", "r10d", "r11d",
					    "r12d", "r13d", "r14d", "r15d"};
	static const char *const r16[16] = {"ax",   "cx",   "dx",   "bx",  "sp",   "bp",
					    "si",   "di",   "r8w",  "r9w", "r10w", "r11w",
					    "r12w", "r13w", "r14w", "r15w"};
	static const char *const r8[16] = {"al",   "cl",   "dl",   "bl",  "spl",  "bpl",
					   "sil",  "dil",  "r8b",  "r9b", "r10b", "r11b",
					   "r12b", "r13b", "r14b", "r15b"};
	static const char *const r8h[4] = {"ah", "ch", "dh", "bh"};

	if (reg == X86_REG_RIP)
		return size == 4 ? "eip" : "rip";
	if (size == 0)
		return reg < 4 ? r8h[reg] : "?";
	if (reg >= 16)
		return "?";
	switch (size) {
	case 1:
		return r8[reg];
	case 2:
		return r16[reg];
	case 4:
		return r32[reg];
	default:
		return r64[reg];
	}
}

struct out {
	char *buf;
	size_t size, used;
};

static void put(struct out *o, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

static void put(struct out *o, const char *fmt, ...)
{
	va_list ap;
	int n;

	va_start(ap, fmt);
	n = vsnprintf(o->used < o->size ? o->buf + o->used : NULL,
		      o->used < o->size ? o->size - o->used : 0, fmt, ap);
	va_end(ap);
	if (n > 0)
		o->used += (size_t)n;
}

static const char *size_word(unsigned size)
{
	switch (size) {
	case 1:
		return "byte";
	case 2:
		return "word";
	case 4:
		return "dword";
	case 8:
		return "qword";
	case 10:
		return "tbyte";
	case 16:
		return "xmmword";
	case 32:
		return "ymmword";
	default:
		return "zmmword";
	}
}

static void put_mem(struct out *o, const struct x86_insn *in, unsigned size)
{
	static const char *const segs[6] = {"es", "cs", "ss", "ds", "fs", "gs"};
	const struct x86_mem *m = &in->mem;
	bool any = false;

	put(o, "%s ptr ", size_word(size));
	if (in->seg != X86_SEG_NONE && m->seg < 6)
		put(o, "%s:", segs[m->seg]);
	put(o, "[");
	if (m->base != X86_REG_NONE) {
		put(o, "%s", x86_gpr_name(m->base, in->addrsize));
		any = true;
	}
	if (m->index != X86_REG_NONE) {
		if (in->vsib)
			put(o, "%s%cmm%u", any ? "+" : "", in->vex_l ? 'y' : 'x', m->index);
		else
			put(o, "%s%s", any ? "+" : "", x86_gpr_name(m->index, in->addrsize));
		if (m->scale > 1)
			put(o, "*%u", m->scale);
		any = true;
	}
	if (m->disp || !any) {
		uint64_t d = (uint64_t)m->disp;

		if (!any)
			put(o, "0x%llx",
			    (unsigned long long)(in->addrsize == 8   ? d
						 : in->addrsize == 4 ? (uint32_t)d
								     : (uint16_t)d));
		else if (m->disp < 0)
			put(o, "-0x%llx", (unsigned long long)-d);
		else
			put(o, "+0x%llx", (unsigned long long)d);
	}
	put(o, "]");
}

static void put_operand(struct out *o, const struct x86_insn *in, const struct x86_operand *op)
{
	static const char *const segs[8] = {"es", "cs", "ss", "ds", "fs", "gs", "?", "?"};

	switch (op->kind) {
	case X86_OPK_REG:
		switch (op->rclass) {
		case X86_RC_GPR:
			put(o, "%s", x86_gpr_name(op->reg, op->size));
			break;
		case X86_RC_GPR8H:
			put(o, "%s", x86_gpr_name(op->reg, 0));
			break;
		case X86_RC_SEG:
			put(o, "%s", segs[op->reg & 7]);
			break;
		case X86_RC_VEC:
			put(o, "%cmm%u",
			    op->size == 64   ? 'z'
			    : op->size == 32 ? 'y'
					     : 'x',
			    op->reg);
			break;
		case X86_RC_MMX:
			put(o, "mm%u", op->reg);
			break;
		case X86_RC_ST:
			put(o, "st%u", op->reg);
			break;
		case X86_RC_K:
			put(o, "k%u", op->reg);
			break;
		}
		break;
	case X86_OPK_MEM:
		put_mem(o, in, op->size);
		break;
	case X86_OPK_IMM:
		put(o, "0x%llx", (unsigned long long)in->imm);
		break;
	default:
		break;
	}
}

int x86_format(const struct x86_insn *in, char *buf, size_t size)
{
	struct out o = {buf, size, 0};
	static const char suffix[9] = {0, 'b', 'w', 0, 'd', 0, 0, 0, 'q'};

	if (size)
		buf[0] = 0;
	if (in->mnemonic == X86_MN_OTHER || in->mnemonic == X86_MN_INVALID) {
		static const char *const maps[12] = {"",      "0f ",	"0f38 ",  "0f3a ",
						     "?",     "evex5 ", "evex6 ", "?",
						     "0f0f ", "xop8 ",	"xop9 ",  "xopa "};

		put(&o, "(%s%s%02x) ",
		    in->enc == X86_ENC_VEX    ? "vex "
		    : in->enc == X86_ENC_EVEX ? "evex "
		    : in->enc == X86_ENC_XOP  ? ""
					      : "",
		    maps[in->map < 12 ? in->map : 4], in->opcode);
		for (unsigned i = 0; i < in->len; i++)
			put(&o, "%s%02x", i ? " " : "", in->bytes[i]);
		return (int)o.used;
	}
	switch (in->mnemonic) {
	case X86_MN_MOVS:
	case X86_MN_STOS:
	case X86_MN_LODS:
	case X86_MN_CMPS:
	case X86_MN_SCAS:
		if (in->pfx & X86_PFX_REP)
			put(&o, in->mnemonic == X86_MN_CMPS || in->mnemonic == X86_MN_SCAS
				    ? "repe "
				    : "rep ");
		else if (in->pfx & X86_PFX_REPNE)
			put(&o, "repne ");
		put(&o, "%s%c", x86_mnemonic_name(in->mnemonic),
		    suffix[in->opcode & 1 ? in->opsize : 1]);
		return (int)o.used;
	default:
		break;
	}
	if (in->pfx & X86_PFX_LOCK)
		put(&o, "lock ");
	put(&o, "%s", x86_mnemonic_name(in->mnemonic));
	for (unsigned i = 0; i < in->nops; i++) {
		put(&o, i ? ", " : " ");
		put_operand(&o, in, &in->ops[i]);
		if (i == 0 && in->enc == X86_ENC_EVEX && in->evex_aaa)
			put(&o, " {k%u}%s", in->evex_aaa, in->evex_z ? "{z}" : "");
	}
	return (int)o.used;
}
