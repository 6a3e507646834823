/* Oracle: kvmlab's x86 decoder against Zydis on random bytes, every opcode, and real code. */
#include <Zydis/Zydis.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "kvmlab/x86_decode.h"
#include "x86_rand.h"

/*
 * Usage:
 *   x86_zydis_check random N [SEED]  N random 15-byte strings in each of the 16-, 32- and
 *                                    64-bit modes
 *   x86_zydis_check sweep SAMPLES [SEED]  every (prefixes, map, opcode) and, for VEX and XOP,
 *                                    every (map, pp, L, W, opcode), SAMPLES times each with
 *                                    random ModRM and tail bytes
 *   x86_zydis_check code FILE        a linear sweep of 64-bit code: both decoders must agree
 *                                    at every instruction
 * Compared: valid or not, length, opcode map and byte, SIMD prefix, and for the
 * emulated subset the mnemonic and every explicit operand. Disagreements of a
 * documented kind (docs/x86-emulation.md, "Decoder exceptions") are counted by
 * kind; any other prints and makes the exit status 1.
 */

enum exception {
	EXC_NONE,
	EXC_EVEX_VALIDITY, /* E1: EVEX opcode tables are structural only */
	EXC_KNC,	   /* E2: Knights Corner (MVEX and its VEX mask ops): not x86-64 hosts */
	EXC_R13D,	   /* E3: Zydis names r13d as base for 67 REX.B SIB.base=101 mod=00 */
	EXC_VMWRITE_REAL,  /* E4: Zydis accepts VMWRITE register forms in real mode */
	EXC_COUNT,
};

static const char *const exc_names[EXC_COUNT] = {
    [EXC_EVEX_VALIDITY] = "E1 EVEX validity outside the emulated moves",
    [EXC_KNC] = "E2 Knights Corner encodings",
    [EXC_R13D] = "E3 Zydis r13d base with 67 REX.B SIB.base=101 mod=00",
    [EXC_VMWRITE_REAL] = "E4 Zydis VMWRITE register form in real mode",
};

struct stats {
	uint64_t cases, both_valid, both_invalid, disagree, exc[EXC_COUNT], operands_compared;
	unsigned printed;
};

static ZydisDecoder zdec[4];
static ZydisFormatter zfmt;
static unsigned print_limit = 40; /* X86_CHECK_PRINT overrides */

static void zydis_init(void)
{
	ZydisDecoderInit(&zdec[X86_MODE_REAL], ZYDIS_MACHINE_MODE_REAL_16, ZYDIS_STACK_WIDTH_16);
	ZydisDecoderInit(&zdec[X86_MODE_16], ZYDIS_MACHINE_MODE_LEGACY_16, ZYDIS_STACK_WIDTH_16);
	ZydisDecoderInit(&zdec[X86_MODE_32], ZYDIS_MACHINE_MODE_LEGACY_32, ZYDIS_STACK_WIDTH_32);
	ZydisDecoderInit(&zdec[X86_MODE_64], ZYDIS_MACHINE_MODE_LONG_64, ZYDIS_STACK_WIDTH_64);
	ZydisFormatterInit(&zfmt, ZYDIS_FORMATTER_STYLE_INTEL);
}

static const char *const mode_names[4] = {"real", "16", "32", "64"};

static void hex(char *out, const uint8_t *b, size_t n)
{
	for (size_t i = 0; i < n; i++)
		sprintf(out + 2 * i, "%02x", b[i]);
}

/* Our mnemonic as Zydis names it (string instructions by element size). */
static ZydisMnemonic zydis_mnemonic(const struct x86_insn *in)
{
	static const ZydisMnemonic str[5][4] = {
	    {ZYDIS_MNEMONIC_MOVSB, ZYDIS_MNEMONIC_MOVSW, ZYDIS_MNEMONIC_MOVSD,
	     ZYDIS_MNEMONIC_MOVSQ},
	    {ZYDIS_MNEMONIC_STOSB, ZYDIS_MNEMONIC_STOSW, ZYDIS_MNEMONIC_STOSD,
	     ZYDIS_MNEMONIC_STOSQ},
	    {ZYDIS_MNEMONIC_LODSB, ZYDIS_MNEMONIC_LODSW, ZYDIS_MNEMONIC_LODSD,
	     ZYDIS_MNEMONIC_LODSQ},
	    {ZYDIS_MNEMONIC_CMPSB, ZYDIS_MNEMONIC_CMPSW, ZYDIS_MNEMONIC_CMPSD,
	     ZYDIS_MNEMONIC_CMPSQ},
	    {ZYDIS_MNEMONIC_SCASB, ZYDIS_MNEMONIC_SCASW, ZYDIS_MNEMONIC_SCASD,
	     ZYDIS_MNEMONIC_SCASQ},
	};
	static const ZydisMnemonic map[X86_MN_COUNT] = {
	    [X86_MN_MOV] = ZYDIS_MNEMONIC_MOV,
	    [X86_MN_MOVZX] = ZYDIS_MNEMONIC_MOVZX,
	    [X86_MN_MOVSX] = ZYDIS_MNEMONIC_MOVSX,
	    [X86_MN_MOVSXD] = ZYDIS_MNEMONIC_MOVSXD,
	    [X86_MN_ADD] = ZYDIS_MNEMONIC_ADD,
	    [X86_MN_OR] = ZYDIS_MNEMONIC_OR,
	    [X86_MN_ADC] = ZYDIS_MNEMONIC_ADC,
	    [X86_MN_SBB] = ZYDIS_MNEMONIC_SBB,
	    [X86_MN_AND] = ZYDIS_MNEMONIC_AND,
	    [X86_MN_SUB] = ZYDIS_MNEMONIC_SUB,
	    [X86_MN_XOR] = ZYDIS_MNEMONIC_XOR,
	    [X86_MN_CMP] = ZYDIS_MNEMONIC_CMP,
	    [X86_MN_TEST] = ZYDIS_MNEMONIC_TEST,
	    [X86_MN_NOT] = ZYDIS_MNEMONIC_NOT,
	    [X86_MN_NEG] = ZYDIS_MNEMONIC_NEG,
	    [X86_MN_INC] = ZYDIS_MNEMONIC_INC,
	    [X86_MN_DEC] = ZYDIS_MNEMONIC_DEC,
	    [X86_MN_XCHG] = ZYDIS_MNEMONIC_XCHG,
	    [X86_MN_CMPXCHG] = ZYDIS_MNEMONIC_CMPXCHG,
	    [X86_MN_XADD] = ZYDIS_MNEMONIC_XADD,
	    [X86_MN_BT] = ZYDIS_MNEMONIC_BT,
	    [X86_MN_BTS] = ZYDIS_MNEMONIC_BTS,
	    [X86_MN_BTR] = ZYDIS_MNEMONIC_BTR,
	    [X86_MN_BTC] = ZYDIS_MNEMONIC_BTC,
	    [X86_MN_MOVNTI] = ZYDIS_MNEMONIC_MOVNTI,
	    [X86_MN_MOVD] = ZYDIS_MNEMONIC_MOVD,
	    [X86_MN_MOVQ] = ZYDIS_MNEMONIC_MOVQ,
	    [X86_MN_MOVDQA] = ZYDIS_MNEMONIC_MOVDQA,
	    [X86_MN_MOVDQU] = ZYDIS_MNEMONIC_MOVDQU,
	    [X86_MN_MOVAPS] = ZYDIS_MNEMONIC_MOVAPS,
	    [X86_MN_MOVAPD] = ZYDIS_MNEMONIC_MOVAPD,
	    [X86_MN_MOVUPS] = ZYDIS_MNEMONIC_MOVUPS,
	    [X86_MN_MOVUPD] = ZYDIS_MNEMONIC_MOVUPD,
	    [X86_MN_MOVSS] = ZYDIS_MNEMONIC_MOVSS,
	    [X86_MN_MOVSD_SSE] = ZYDIS_MNEMONIC_MOVSD,
	    [X86_MN_MOVNTDQA] = ZYDIS_MNEMONIC_MOVNTDQA,
	    [X86_MN_MOVNTDQ] = ZYDIS_MNEMONIC_MOVNTDQ,
	    [X86_MN_MOVNTPS] = ZYDIS_MNEMONIC_MOVNTPS,
	    [X86_MN_MOVNTPD] = ZYDIS_MNEMONIC_MOVNTPD,
	    [X86_MN_VMOVD] = ZYDIS_MNEMONIC_VMOVD,
	    [X86_MN_VMOVQ] = ZYDIS_MNEMONIC_VMOVQ,
	    [X86_MN_VMOVDQA] = ZYDIS_MNEMONIC_VMOVDQA,
	    [X86_MN_VMOVDQU] = ZYDIS_MNEMONIC_VMOVDQU,
	    [X86_MN_VMOVAPS] = ZYDIS_MNEMONIC_VMOVAPS,
	    [X86_MN_VMOVAPD] = ZYDIS_MNEMONIC_VMOVAPD,
	    [X86_MN_VMOVUPS] = ZYDIS_MNEMONIC_VMOVUPS,
	    [X86_MN_VMOVUPD] = ZYDIS_MNEMONIC_VMOVUPD,
	    [X86_MN_VMOVNTDQA] = ZYDIS_MNEMONIC_VMOVNTDQA,
	    [X86_MN_VMOVNTDQ] = ZYDIS_MNEMONIC_VMOVNTDQ,
	    [X86_MN_VMOVDQA32] = ZYDIS_MNEMONIC_VMOVDQA32,
	    [X86_MN_VMOVDQA64] = ZYDIS_MNEMONIC_VMOVDQA64,
	    [X86_MN_VMOVDQU8] = ZYDIS_MNEMONIC_VMOVDQU8,
	    [X86_MN_VMOVDQU16] = ZYDIS_MNEMONIC_VMOVDQU16,
	    [X86_MN_VMOVDQU32] = ZYDIS_MNEMONIC_VMOVDQU32,
	    [X86_MN_VMOVDQU64] = ZYDIS_MNEMONIC_VMOVDQU64,
	    [X86_MN_MOVDIR64B] = ZYDIS_MNEMONIC_MOVDIR64B,
	    [X86_MN_FLD] = ZYDIS_MNEMONIC_FLD,
	    [X86_MN_FST] = ZYDIS_MNEMONIC_FST,
	    [X86_MN_FSTP] = ZYDIS_MNEMONIC_FSTP,
	};
	unsigned size = in->opcode & 1 ? in->opsize : 1;
	unsigned si = size == 1 ? 0 : size == 2 ? 1 : size == 4 ? 2 : 3;

	switch (in->mnemonic) {
	case X86_MN_MOVS:
		return str[0][si];
	case X86_MN_STOS:
		return str[1][si];
	case X86_MN_LODS:
		return str[2][si];
	case X86_MN_CMPS:
		return str[3][si];
	case X86_MN_SCAS:
		return str[4][si];
	}
	return map[in->mnemonic];
}

static const char *zreg(ZydisRegister r)
{
	const char *s = ZydisRegisterGetString(r);

	return s ? s : "none";
}

/* One explicit operand as text, the same way for both decoders. */
static void zydis_operand_text(const ZydisDecodedOperand *op, char *out, size_t len)
{
	switch (op->type) {
	case ZYDIS_OPERAND_TYPE_REGISTER:
		snprintf(out, len, "reg %s", zreg(op->reg.value));
		break;
	case ZYDIS_OPERAND_TYPE_MEMORY:
		snprintf(out, len, "mem%u %s:[%s+%s*%u%+" PRId64 "]", op->size / 8,
			 zreg(op->mem.segment), zreg(op->mem.base), zreg(op->mem.index),
			 op->mem.index == ZYDIS_REGISTER_NONE ? 0 : op->mem.scale,
			 op->mem.disp.has_displacement ? op->mem.disp.value : 0);
		break;
	case ZYDIS_OPERAND_TYPE_IMMEDIATE:
		snprintf(out, len, "imm %" PRIx64, op->imm.value.u);
		break;
	default:
		snprintf(out, len, "other");
		break;
	}
}

static const char *our_reg(const struct x86_insn *in, const struct x86_operand *op, char *buf)
{
	static const char *const segs[8] = {"es", "cs", "ss", "ds", "fs", "gs", "?", "?"};

	switch (op->rclass) {
	case X86_RC_GPR:
		return x86_gpr_name(op->reg, op->size);
	case X86_RC_GPR8H:
		return x86_gpr_name(op->reg, 0);
	case X86_RC_SEG:
		return segs[op->reg & 7];
	case X86_RC_VEC:
		sprintf(buf, "%cmm%u", op->size == 64 ? 'z' : op->size == 32 ? 'y' : 'x', op->reg);
		return buf;
	case X86_RC_MMX:
		sprintf(buf, "mm%u", op->reg);
		return buf;
	default:
		(void)in;
		return "?";
	}
}

static void our_operand_text(const struct x86_insn *in, const struct x86_operand *op,
			     const ZydisDecodedOperand *zop, char *out, size_t len)
{
	static const char *const segs[6] = {"es", "cs", "ss", "ds", "fs", "gs"};
	char b1[16], b2[16];

	switch (op->kind) {
	case X86_OPK_REG:
		snprintf(out, len, "reg %s", our_reg(in, op, b1));
		break;
	case X86_OPK_MEM: {
		const struct x86_mem *m = &in->mem;
		const char *base = m->base == X86_REG_NONE  ? "none"
				   : m->base == X86_REG_RIP ? (in->addrsize == 4 ? "eip" : "rip")
							    : x86_gpr_name(m->base, in->addrsize);
		const char *index =
		    m->index == X86_REG_NONE ? "none" : x86_gpr_name(m->index, in->addrsize);
		int64_t disp = m->disp;

		(void)b2;
		snprintf(out, len, "mem%u %s:[%s+%s*%u%+" PRId64 "]", op->size, segs[m->seg], base,
			 index, m->index == X86_REG_NONE ? 0 : m->scale, disp);
		break;
	}
	case X86_OPK_IMM: {
		/* Zydis sign-extends signed immediates; compare the encoded bits. */
		uint64_t mask = in->imm_size >= 8 ? ~0ull : (1ull << (8 * in->imm_size)) - 1;
		uint64_t z = zop->type == ZYDIS_OPERAND_TYPE_IMMEDIATE ? zop->imm.value.u : 0;

		snprintf(out, len, "imm %" PRIx64, (z & ~mask) | (in->imm & mask));
		break;
	}
	default:
		snprintf(out, len, "none");
		break;
	}
}

/* Returns a description of the first operand disagreement, or NULL. */
static const char *compare_operands(const struct x86_insn *in, const ZydisDecodedInstruction *z,
				    const ZydisDecodedOperand *zops, char *why, size_t len)
{
	const ZydisDecodedOperand *exp[ZYDIS_MAX_OPERAND_COUNT];
	unsigned n = 0;

	if (zydis_mnemonic(in) != z->mnemonic) {
		snprintf(why, len, "mnemonic %s vs zydis %s", x86_mnemonic_name(in->mnemonic),
			 ZydisMnemonicGetString(z->mnemonic));
		return why;
	}
	for (unsigned i = 0; i < z->operand_count; i++) {
		if (zops[i].visibility == ZYDIS_OPERAND_VISIBILITY_HIDDEN)
			continue;
		if (zops[i].type == ZYDIS_OPERAND_TYPE_REGISTER &&
		    ZydisRegisterGetClass(zops[i].reg.value) == ZYDIS_REGCLASS_MASK)
			continue; /* EVEX {k}: compared below */
		exp[n++] = &zops[i];
	}
	if (n != in->nops) {
		snprintf(why, len, "%u operands vs zydis %u", in->nops, n);
		return why;
	}
	for (unsigned i = 0; i < n; i++) {
		char a[96], b[96];

		our_operand_text(in, &in->ops[i], exp[i], a, sizeof(a));
		zydis_operand_text(exp[i], b, sizeof(b));
		if (strcmp(a, b)) {
			snprintf(why, len, "operand %u: %s vs zydis %s", i, a, b);
			return why;
		}
	}
	if (in->enc == X86_ENC_EVEX &&
	    (z->avx.mask.reg == ZYDIS_REGISTER_NONE ? 0 : z->avx.mask.reg - ZYDIS_REGISTER_K0) !=
		in->evex_aaa) {
		snprintf(why, len, "mask k%u vs zydis %s", in->evex_aaa, zreg(z->avx.mask.reg));
		return why;
	}
	return NULL;
}

static unsigned zydis_map(ZydisOpcodeMap m)
{
	return (unsigned)m; /* kvmlab numbers its maps as Zydis does */
}

/* Compares one decode. Returns true when the two agree (or differ in a documented way). */
static bool check_one(struct stats *st, const uint8_t *bytes, size_t len, enum x86_mode mode)
{
	ZydisDecodedInstruction z;
	ZydisDecodedOperand zops[ZYDIS_MAX_OPERAND_COUNT];
	struct x86_insn in;
	bool zok = ZYAN_SUCCESS(ZydisDecoderDecodeFull(&zdec[mode], bytes, len, &z, zops));
	bool ok = x86_decode(bytes, len, mode, 0, &in) == X86_DECODE_OK;
	char why[256] = "";
	char h[2 * X86_MAX_INSN_LEN + 1];

	st->cases++;
	if (!ok && !zok) {
		st->both_invalid++;
		return true;
	}
	if (ok != zok) {
		if (!ok &&
		    (z.meta.isa_ext == ZYDIS_ISA_EXT_KNC || z.meta.isa_ext == ZYDIS_ISA_EXT_KNCE ||
		     z.meta.isa_ext == ZYDIS_ISA_EXT_KNCV ||
		     z.encoding == ZYDIS_INSTRUCTION_ENCODING_MVEX)) {
			st->exc[EXC_KNC]++;
			return true;
		}
		if (!ok && zok && mode == X86_MODE_REAL && z.mnemonic == ZYDIS_MNEMONIC_VMWRITE) {
			st->exc[EXC_VMWRITE_REAL]++;
			return true;
		}
		if ((ok						     ? in.enc
		     : z.encoding == ZYDIS_INSTRUCTION_ENCODING_EVEX ? X86_ENC_EVEX
								     : 0) == X86_ENC_EVEX &&
		    (!ok || in.mnemonic == X86_MN_OTHER)) {
			st->exc[EXC_EVEX_VALIDITY]++;
			return true;
		}
		snprintf(why, sizeof(why), "kvmlab %s, zydis %s", ok ? "valid" : "invalid",
			 zok ? "valid" : "invalid");
	} else {
		st->both_valid++;
		if (in.len != z.length)
			snprintf(why, sizeof(why), "length %u vs zydis %u", in.len, z.length);
		else if (in.map != zydis_map(z.opcode_map) || in.opcode != z.opcode)
			snprintf(why, sizeof(why), "opcode map %u %02x vs zydis map %u %02x",
				 in.map, in.opcode, zydis_map(z.opcode_map), z.opcode);
		else if (in.mnemonic != X86_MN_OTHER) {
			st->operands_compared++;
			if (compare_operands(&in, &z, zops, why, sizeof(why)) && in.has_sib &&
			    in.addrsize == 4 && (in.sib & 7) == 5 && (in.modrm >> 6) == 0 &&
			    (in.rex & 1)) {
				st->exc[EXC_R13D]++;
				return true;
			}
		}
	}
	if (!why[0])
		return true;
	st->disagree++;
	if (st->printed++ < print_limit) {
		char txt[160] = "";

		hex(h, bytes, len > X86_MAX_INSN_LEN ? X86_MAX_INSN_LEN : len);
		if (zok &&
		    !ZYAN_SUCCESS(ZydisFormatterFormatInstruction(
			&zfmt, &z, zops, z.operand_count_visible, txt, sizeof(txt), 0, NULL)))
			txt[0] = 0;
		printf("disagree mode %s bytes %s: %s%s%s\n", mode_names[mode], h, why,
		       zok ? " | zydis: " : "", txt);
	}
	return false;
}

static void report(const char *what, const struct stats *st)
{
	printf("%s: %" PRIu64 " cases, %" PRIu64 " both valid, %" PRIu64 " both invalid, %" PRIu64
	       " operand sets compared, %" PRIu64 " disagreements",
	       what, st->cases, st->both_valid, st->both_invalid, st->operands_compared,
	       st->disagree);
	for (unsigned e = 1; e < EXC_COUNT; e++)
		if (st->exc[e])
			printf("; %s: %" PRIu64, exc_names[e], st->exc[e]);
	printf("\n");
}

static int cmd_random(uint64_t n, uint64_t seed)
{
	struct stats st = {0};
	struct x86_rand r;

	x86_rand_seed(&r, seed);
	for (int mode = X86_MODE_16; mode <= X86_MODE_64; mode++)
		for (uint64_t i = 0; i < n; i++) {
			uint8_t b[X86_MAX_INSN_LEN];

			x86_rand_bytes(&r, b, sizeof(b));
			check_one(&st, b, sizeof(b), (enum x86_mode)mode);
		}
	report("random", &st);
	return st.disagree ? 1 : 0;
}

/* Legacy prefix sets the sweep puts before each opcode. */
static const char *const sweep_prefixes[] = {
    "", "66", "f3", "f2", "66f3", "66f2", "f066", "f0", "67", "2e", "64", "f2f3", "f3f2",
};

static size_t unhex(const char *s, uint8_t *out)
{
	size_t n = 0;

	for (; s[0] && s[1]; s += 2) {
		unsigned v;

		sscanf(s, "%2x", &v);
		out[n++] = (uint8_t)v;
	}
	return n;
}

static int cmd_sweep(unsigned samples, uint64_t seed)
{
	static const uint8_t escapes[][2] = {{0}, {0x0f}, {0x0f, 0x38}, {0x0f, 0x3a}, {0x0f, 0x0f}};
	static const unsigned esc_len[] = {0, 1, 2, 2, 2};
	struct stats legacy = {0}, vex = {0}, xop = {0}, evex = {0};
	struct x86_rand r;

	x86_rand_seed(&r, seed);
	for (int mode = X86_MODE_REAL; mode <= X86_MODE_64; mode++) {
		for (size_t p = 0; p < sizeof(sweep_prefixes) / sizeof(sweep_prefixes[0]); p++)
			for (unsigned rex = 0; rex < (mode == X86_MODE_64 ? 3u : 1u); rex++)
				for (unsigned e = 0; e < 5; e++)
					for (unsigned op = 0; op < 256; op++)
						for (unsigned s = 0; s < samples; s++) {
							uint8_t b[32];
							size_t n = unhex(sweep_prefixes[p], b);

							if (rex)
								b[n++] = rex == 1 ? 0x48 : 0x41;
							memcpy(b + n, escapes[e], esc_len[e]);
							n += esc_len[e];
							if (e != 4)
								b[n++] = (uint8_t)op;
							x86_rand_bytes(&r, b + n, sizeof(b) - n);
							if (e == 4) /* 3DNow!: opcode after ModRM */
								b[n] =
								    (uint8_t)(0xc0 | (b[n] & 0x3f)),
								b[n + 1] = (uint8_t)op;
							if (s & 1)
								b[n + (e != 4 ? 0 : 0)] &= 0x3f;
							check_one(&legacy, b, 15,
								  (enum x86_mode)mode);
						}
		if (mode == X86_MODE_REAL)
			continue;
		/* VEX3/XOP: every map, pp, L, W, opcode; R/X/B/vvvv random. */
		for (unsigned kind = 0; kind < 2; kind++)
			for (unsigned map = kind ? 8 : 1; map <= (kind ? 10u : 3u); map++)
				for (unsigned pp = 0; pp < 4; pp++)
					for (unsigned lw = 0; lw < 4; lw++)
						for (unsigned op = 0; op < 256; op++)
							for (unsigned s = 0; s < samples; s++) {
								uint8_t b[16];
								uint8_t rxb =
								    x86_rand_u32(&r) & 0xe0;
								uint8_t v =
								    (s & 1)
									? 0xf
									: x86_rand_u32(&r) & 0xf;

								x86_rand_bytes(&r, b, sizeof(b));
								if (mode != X86_MODE_64)
									rxb |= 0xc0;
								b[0] = kind ? 0x8f : 0xc4;
								b[1] = (uint8_t)(rxb | map);
								b[2] =
								    (uint8_t)(((lw & 2) << 6) |
									      (v << 3) |
									      ((lw & 1) << 2) | pp);
								b[3] = (uint8_t)op;
								if (s & 2)
									b[4] |= 0xc0;
								check_one(kind ? &xop : &vex, b, 15,
									  (enum x86_mode)mode);
							}
		/* EVEX: every map, pp, W, opcode with random payload bits. */
		for (unsigned map = 0; map < 8; map++)
			for (unsigned pp = 0; pp < 4; pp++)
				for (unsigned op = 0; op < 256; op++)
					for (unsigned s = 0; s < samples; s++) {
						uint8_t b[16];

						x86_rand_bytes(&r, b, sizeof(b));
						b[0] = 0x62;
						b[1] = (uint8_t)((b[1] & 0xf0) | map);
						if (mode != X86_MODE_64)
							b[1] |= 0xc0;
						b[2] = (uint8_t)((b[2] & 0xf8) | 4 | pp);
						b[4] = (uint8_t)op;
						check_one(&evex, b, 15, (enum x86_mode)mode);
					}
	}
	report("sweep legacy", &legacy);
	report("sweep vex", &vex);
	report("sweep xop", &xop);
	report("sweep evex", &evex);
	return legacy.disagree || vex.disagree || xop.disagree || evex.disagree ? 1 : 0;
}

static int cmd_code(const char *path)
{
	struct stats st = {0};
	uint64_t len_disagree = 0;
	struct stat sb;
	uint8_t *code;
	FILE *f = fopen(path, "rb");
	size_t size, off = 0;

	if (!f || fstat(fileno(f), &sb)) {
		perror(path);
		return 2;
	}
	size = (size_t)sb.st_size;
	code = malloc(size + X86_MAX_INSN_LEN);
	if (!code || fread(code, 1, size, f) != size) {
		perror(path);
		return 2;
	}
	fclose(f);
	memset(code + size, 0, X86_MAX_INSN_LEN);
	while (off < size) {
		ZydisDecodedInstruction z;
		struct x86_insn in;
		bool zok = ZYAN_SUCCESS(ZydisDecoderDecodeInstruction(&zdec[X86_MODE_64], NULL,
								      code + off, size - off, &z));
		bool ok = x86_decode(code + off, size - off, X86_MODE_64, 0, &in) == X86_DECODE_OK;
		size_t step = zok ? z.length : 1;

		check_one(&st, code + off, size - off, X86_MODE_64);
		if (ok && zok && in.len != z.length)
			len_disagree++;
		off += step;
	}
	free(code);
	report("code", &st);
	printf("code: %zu bytes, %" PRIu64 " length disagreements\n", size, len_disagree);
	return st.disagree ? 1 : 0;
}

int main(int argc, char **argv)
{
	if (getenv("X86_CHECK_PRINT"))
		print_limit = (unsigned)strtoul(getenv("X86_CHECK_PRINT"), NULL, 0);
	zydis_init();
	if (argc >= 3 && !strcmp(argv[1], "random"))
		return cmd_random(strtoull(argv[2], NULL, 0),
				  argc > 3 ? strtoull(argv[3], NULL, 0) : 1);
	if (argc >= 3 && !strcmp(argv[1], "sweep"))
		return cmd_sweep((unsigned)strtoul(argv[2], NULL, 0),
				 argc > 3 ? strtoull(argv[3], NULL, 0) : 1);
	if (argc == 3 && !strcmp(argv[1], "code"))
		return cmd_code(argv[2]);
	fprintf(stderr, "usage: %s random N [SEED] | sweep SAMPLES [SEED] | code FILE\n", argv[0]);
	return 2;
}
