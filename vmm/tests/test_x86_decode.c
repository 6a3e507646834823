/* Unit tests of the x86 decoder: lengths, invalid encodings, modes, prefixes, operands and text. */
#include "kvmlab/x86_decode.h"
#include "unit.h"

struct len_case {
	enum x86_mode mode;
	const char *hex;
	int len; /* bytes, or an enum x86_decode_status */
};

static size_t unhex(const char *s, uint8_t *out)
{
	size_t n = 0;

	for (; s[0] && s[1]; s += 2) {
		unsigned v;

		if (*s == ' ') {
			s--;
			continue;
		}
		sscanf(s, "%2x", &v);
		out[n++] = (uint8_t)v;
	}
	return n;
}

static int decode_len(enum x86_mode mode, const char *hex, unsigned flags, struct x86_insn *in)
{
	uint8_t b[32] = {0};
	size_t n = unhex(hex, b);
	int r = x86_decode(b, n, mode, flags, in);

	return r ? r : in->len;
}

#define R    X86_MODE_REAL
#define M16  X86_MODE_16
#define M32  X86_MODE_32
#define M64  X86_MODE_64
#define INV  X86_DECODE_INVALID
#define TRN  X86_DECODE_TRUNCATED
#define LONG X86_DECODE_TOO_LONG

/* Expected lengths from the SDM's encoding tables (vol. 2, chapter 2 and appendix A). */
static const struct len_case lengths[] = {
    {M64, "90", 1},
    {M64, "4889d8", 3},		       /* mov rax, rbx */
    {M64, "48b81122334455667788", 10}, /* mov rax, imm64 */
    {M64, "b811223344", 5},	       /* mov eax, imm32 */
    {M64, "66b81122", 4},	       /* mov ax, imm16 */
    {M32, "66b81122", 4},
    {M16, "b81122", 3},
    {M16, "66b811223344", 6},
    {M64, "a11122334455667788", 9}, /* mov eax, moffs64 */
    {M64, "67a111223344", 6},	    /* moffs32 */
    {M32, "a111223344", 5},
    {M16, "a11122", 3},
    {M64, "8b0425 44332211", 7},   /* [disp32] via SIB */
    {M64, "8b05 44332211", 6},	   /* [rip+disp32] */
    {M64, "8b4500", 3},		   /* [rbp+disp8] */
    {M64, "8b4c2408", 4},	   /* [rsp+disp8] */
    {M64, "8b8c2408000000", 7},	   /* [rsp+disp32] */
    {M16, "8b4600", 3},		   /* [bp+disp8] */
    {M16, "8b063412", 4},	   /* [disp16] */
    {M16, "678b0425 44332211", 8}, /* 32-bit addressing in 16-bit code */
    {M64, "c7400812345678", 7},	   /* mov dword [rax+8], imm32 */
    {M64, "66c740081234", 6},	   /* imm16 */
    {M64, "48c7400812345678", 8},  /* imm32 sign-extended */
    {M64, "e800000000", 5},
    {M64, "66e800000000", 6}, /* Intel: 66 ignored in 64-bit mode */
    {M32, "66e80000", 4},     /* rel16 */
    {M64, "0f8500000000", 6},
    {M64, "c8123401", 4},	/* enter */
    {M32, "9a112233445566", 7}, /* call far ptr16:32 */
    {M16, "9a11223344", 5},
    {M64, "9a112233445566", INV},
    {M64, "0f0b", 2},
    {M64, "f00100", 3},		/* lock add [rax], eax */
    {M64, "f001c0", INV},	/* lock with a register operand */
    {M64, "f08b00", INV},	/* lock mov */
    {M64, "0f2000", 3},		/* mov rax, cr0: ModRM always a register */
    {M64, "0f20c8", INV},	/* cr1 */
    {M64, "440f20c0", 4},	/* cr8 */
    {M64, "c5fe6f00", 4},	/* vmovdqu ymm0, [rax] */
    {M64, "c4e27d2a00", 5},	/* vmovntdqa ymm0, [rax] */
    {M64, "c5f96ec0", 4},	/* vmovd xmm0, eax */
    {M64, "c5fd6ec0", INV},	/* ... with VEX.L = 1 */
    {M64, "c5b16f00", INV},	/* vvvv must be 1111b */
    {M64, "66c5fe6f00", INV},	/* legacy 66 before VEX */
    {M64, "48c5fe6f00", INV},	/* REX before VEX */
    {M32, "c5fe6f00", 4},	/* VEX in 32-bit mode (mod = 11b next) */
    {M32, "c500", 2},		/* LDS eax, [eax] */
    {R, "c5fe6f00", INV},	/* real mode: LDS with a register operand */
    {M64, "62f17e486f00", 6},	/* vmovdqu32 zmm0, [rax] */
    {M64, "62f17e486f4001", 7}, /* disp8 (compressed) */
    {M64, "0f0f00b4", 4},	/* 3DNow! pfmul mm0, [rax] */
    {M64, "0f0f0000", INV},	/* no 3DNow! opcode 00 */
    {M64, "8fe878c20000", 6},	/* XOP vprotd */
    {M64, "8f00", 2},		/* pop [rax] */
    {M64, "d9d1", INV},		/* x87 hole */
    {M64, "dd28", INV},		/* dd /5 memory */
    {M64, "db2800", 2},		/* fld tbyte [rax] */
    {M64, "660f3a0f0000", 6},	/* palignr */
    {M64, "f30fb800", 4},	/* popcnt */
    {M64, "0fb800", INV},	/* jmpe */
    {M64, "0f0700", 2},		/* sysret */
    {M32, "0f01f8", INV},	/* swapgs outside 64-bit mode */
    {M64, "0f01f8", 3},
    {M64, "06", INV}, /* push es */
    {M32, "06", 1},
    {M64, "26262626262626262626262626262600", LONG}, /* 16 bytes */
    {M64, "262626262626262626262626262600", LONG},   /* 15 + ModRM */
    {M64, "0f", TRN},
    {M64, "c4e27d", TRN},
    {M64, "b8112233", TRN},
    {M64, "0f1a20", INV},	/* bndldx bnd4 */
    {M16, "0f1a00", INV},	/* MPX with 16-bit addressing */
    {M64, "c7f800000000", 6},	/* xbegin rel32 */
    {M64, "66c7f80000", 4 + 1}, /* xbegin rel16 */
    {M64, "c7f900000000", INV},
    {M64, "0fa7c0", 3},	  /* xstore */
    {M64, "0fa7c8", INV}, /* xcrypt needs REP */
    {M64, "f30fa7c8", 4},
};

TEST(x86_decode_lengths_and_validity)
{
	for (unsigned i = 0; i < sizeof(lengths) / sizeof(lengths[0]); i++) {
		struct x86_insn in;
		int got = decode_len(lengths[i].mode, lengths[i].hex, 0, &in);

		if (got != lengths[i].len) {
			fprintf(stderr, "mode %d bytes %s: got %d, want %d\n", lengths[i].mode,
				lengths[i].hex, got, lengths[i].len);
			CHECK(got == lengths[i].len);
		}
	}
}

TEST(x86_decode_amd_near_branches)
{
	struct x86_insn in;

	CHECK_EQ(decode_len(M64, "66e80000", X86_DECODE_AMD, &in), 4); /* rel16 on AMD */
	CHECK_EQ(decode_len(M64, "66e800000000", 0, &in), 6);
	CHECK_EQ(decode_len(M64, "66eb00", X86_DECODE_AMD, &in), 3);
}

TEST(x86_decode_prefix_rules)
{
	struct x86_insn in;

	/* A REX followed by a legacy prefix is ignored. */
	CHECK_EQ(decode_len(M64, "48668900", 0, &in), 4);
	CHECK_EQ(in.opsize, 2);
	/* The last of F2/F3 is the mandatory prefix; 66 loses to either. */
	CHECK_EQ(decode_len(M64, "f3f20f1000", 0, &in), 5);
	CHECK_EQ(in.pp, X86_PP_F2);
	CHECK_EQ(in.mnemonic, X86_MN_MOVSD_SSE);
	CHECK_EQ(decode_len(M64, "66f30f2800", 0, &in), INV); /* F3 0F 28 does not exist */
	/* ES/CS/SS/DS overrides are null prefixes in 64-bit mode; FS wins over a later DS. */
	CHECK_EQ(decode_len(M64, "643e8b00", 0, &in), 4);
	CHECK_EQ(in.mem.seg, X86_SEG_FS);
	CHECK_EQ(decode_len(M64, "268b00", 0, &in), 3);
	CHECK_EQ(in.mem.seg, X86_SEG_DS);
	CHECK_EQ(decode_len(M32, "268b00", 0, &in), 3);
	CHECK_EQ(in.mem.seg, X86_SEG_ES);
	/* rBP and rSP bases default to SS, r12/r13 do not. */
	CHECK_EQ(decode_len(M64, "8b4500", 0, &in), 3);
	CHECK_EQ(in.mem.seg, X86_SEG_SS);
	CHECK_EQ(decode_len(M64, "418b4500", 0, &in), 4);
	CHECK_EQ(in.mem.seg, X86_SEG_DS);
	CHECK_EQ(decode_len(M16, "8b02", 0, &in), 2); /* [bp+si] */
	CHECK_EQ(in.mem.seg, X86_SEG_SS);
}

TEST(x86_decode_operands)
{
	struct x86_insn in;

	/* add qword [r12+r13*4-0x10], r9 */
	CHECK_EQ(decode_len(M64, "4f014cac f0", 0, &in), 5);
	CHECK_EQ(in.mnemonic, X86_MN_ADD);
	CHECK_EQ(in.nops, 2);
	CHECK_EQ(in.ops[0].kind, X86_OPK_MEM);
	CHECK_EQ(in.ops[0].size, 8);
	CHECK_EQ(in.mem.base, 12);
	CHECK_EQ(in.mem.index, 13);
	CHECK_EQ(in.mem.scale, 4);
	CHECK_EQ(in.mem.disp, (uint64_t)-16);
	CHECK_EQ(in.ops[1].rclass, X86_RC_GPR);
	CHECK_EQ(in.ops[1].reg, 9);
	/* mov ah, [rax] vs mov spl, [rax] */
	CHECK_EQ(decode_len(M64, "8a20", 0, &in), 2);
	CHECK_EQ(in.ops[0].rclass, X86_RC_GPR8H);
	CHECK_EQ(decode_len(M64, "408a20", 0, &in), 3);
	CHECK_EQ(in.ops[0].rclass, X86_RC_GPR);
	CHECK_EQ(in.ops[0].reg, 4);
	/* EVEX disp8*N: vmovdqu32 zmm0, [rax+0x40] is disp8 1 times 64. */
	CHECK_EQ(decode_len(M64, "62f17e486f4001", 0, &in), 7);
	CHECK_EQ(in.mnemonic, X86_MN_VMOVDQU32);
	CHECK_EQ(in.mem.disp, 64);
	/* ... and an EVEX move with broadcast is undefined. */
	CHECK_EQ(decode_len(M64, "62f17e586f00", 0, &in), INV);
	/* x87 sizes. */
	CHECK_EQ(decode_len(M64, "db28", 0, &in), 2);
	CHECK_EQ(in.mnemonic, X86_MN_FLD);
	CHECK_EQ(in.ops[0].size, 10);
	CHECK_EQ(decode_len(M64, "dd18", 0, &in), 2);
	CHECK_EQ(in.mnemonic, X86_MN_FSTP);
	CHECK_EQ(in.ops[0].size, 8);
	/* movdir64b rax, [rcx]: the destination register has the address size. */
	CHECK_EQ(decode_len(M64, "670f38f801", 0, &in), INV); /* needs 66 */
	CHECK_EQ(decode_len(M64, "66670f38f801", 0, &in), 6);
	CHECK_EQ(in.mnemonic, X86_MN_MOVDIR64B);
	CHECK_EQ(in.ops[0].size, 4);
	/* An instruction outside the subset decodes with no operands. */
	CHECK_EQ(decode_len(M64, "0fa2", 0, &in), 2);
	CHECK_EQ(in.mnemonic, X86_MN_OTHER);
	CHECK_EQ(in.nops, 0);
}

TEST(x86_format_text)
{
	static const struct {
		enum x86_mode mode;
		const char *hex, *text;
	} cases[] = {
	    {M64, "4f014cacf0", "add qword ptr [r12+r13*4-0x10], r9"},
	    {M64, "c5fe7f02", "vmovdqu ymmword ptr [rdx], ymm0"},
	    {M64, "48a31122334455667788", "mov qword ptr [0x8877665544332211], rax"},
	    {M64, "f3a4", "rep movsb"},
	    {M64, "f348ab", "rep stosq"},
	    {M64, "f0480fc10b", "lock xadd qword ptr [rbx], rcx"},
	    {M64, "64660f6f4010", "movdqa xmm0, xmmword ptr fs:[rax+0x10]"},
	    {M64, "62f17e4f6f00", "vmovdqu32 zmm0 {k7}, zmmword ptr [rax]"},
	    {M32, "8b0424", "mov eax, dword ptr [esp]"},
	    {M16, "8b02", "mov ax, word ptr [bp+si]"},
	    {M64, "0fa2", "(0f a2) 0f a2"},
	    {M64, "dd5c2408", "fstp qword ptr [rsp+0x8]"},
	};
	for (unsigned i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		struct x86_insn in;
		char buf[128];

		CHECK(decode_len(cases[i].mode, cases[i].hex, 0, &in) > 0);
		x86_format(&in, buf, sizeof(buf));
		if (strcmp(buf, cases[i].text)) {
			fprintf(stderr, "%s: got '%s', want '%s'\n", cases[i].hex, buf,
				cases[i].text);
			CHECK(strcmp(buf, cases[i].text) == 0);
		}
	}
}

/* Every one- and two-byte opcode, every ModRM, in every mode: no crash, and a length that
 * fits the bytes it was given; truncating an instruction by one byte says TRUNCATED. */
TEST(x86_decode_every_opcode_and_modrm)
{
	for (int mode = R; mode <= M64; mode++)
		for (unsigned esc = 0; esc < 2; esc++)
			for (unsigned op = 0; op < 256; op++)
				for (unsigned modrm = 0; modrm < 256; modrm++) {
					uint8_t b[16] = {
					    0x0f, (uint8_t)op, (uint8_t)modrm, 0x24, 0x11,
					    0x22, 0x33,	       0x44,	       0x55, 0x66,
					    0x77, 0x88,	       0x99,	       0xaa, 0xbb};
					const uint8_t *p = esc ? b : b + 1;
					size_t n = esc ? 15 : 14;
					struct x86_insn in;
					int r = x86_decode(p, n, (enum x86_mode)mode, 0, &in);

					if (r != X86_DECODE_OK)
						continue;
					CHECK(in.len >= 1 && in.len <= n);
					CHECK(x86_decode(p, in.len - 1u, (enum x86_mode)mode, 0,
							 &in) == X86_DECODE_TRUNCATED);
				}
}
