/* x86 instruction decoding: exact lengths, prefixes, opcodes, operands of the subset. */
#ifndef KVMLAB_X86_DECODE_H
#define KVMLAB_X86_DECODE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/*
 * The decoder knows every x86-64 encoding Intel's SDM and AMD's APM define
 * (legacy, 3DNow!, VEX, XOP, and EVEX for its structure and length): it gives
 * the exact length of every valid encoding and a clean "invalid" for
 * everything else (what the CPU would #UD on), in 16-, 32- and 64-bit code.
 * Operands (and a mnemonic) are filled in for the instructions the emulator
 * runs (x86_emulate.h); any other valid instruction decodes with
 * mnemonic X86_MN_OTHER and no operands. It needs no KVM and allocates nothing.
 */

#define X86_MAX_INSN_LEN 15

enum x86_mode {
	X86_MODE_REAL, /* real and virtual-8086 mode: 16-bit, no VEX/EVEX/XOP */
	X86_MODE_16,   /* 16-bit protected mode (CS.D = 0) */
	X86_MODE_32,   /* 32-bit protected or compatibility mode (CS.D = 1) */
	X86_MODE_64,   /* 64-bit mode (CS.L = 1 with EFER.LMA) */
};

enum x86_decode_flags {
	/* AMD's near-branch operand size in 64-bit mode: 66 makes rel16 (Intel ignores it). */
	X86_DECODE_AMD = 1u << 0,
};

enum x86_decode_status {
	X86_DECODE_OK = 0,
	X86_DECODE_INVALID = -1,   /* no such instruction: the CPU raises #UD */
	X86_DECODE_TRUNCATED = -2, /* the bytes ran out before the instruction ended */
	X86_DECODE_TOO_LONG = -3,  /* longer than 15 bytes: the CPU raises #GP(0) */
};

enum x86_encoding {
	X86_ENC_LEGACY,
	X86_ENC_3DNOW, /* 0F 0F modrm ... opcode */
	X86_ENC_VEX,
	X86_ENC_XOP,
	X86_ENC_EVEX,
};

/* Opcode maps, numbered as the VEX/EVEX map field (and as Zydis does). */
enum x86_map {
	X86_MAP_PRIMARY = 0,
	X86_MAP_0F = 1,
	X86_MAP_0F38 = 2,
	X86_MAP_0F3A = 3,
	X86_MAP_EVEX5 = 5,
	X86_MAP_EVEX6 = 6,
	X86_MAP_0F0F = 8, /* 3DNow!: the opcode is the byte after the operands */
	X86_MAP_XOP8 = 9,
	X86_MAP_XOP9 = 10,
	X86_MAP_XOPA = 11,
};

/* Legacy prefixes and REX seen (x86_insn.pfx). */
enum x86_prefix {
	X86_PFX_LOCK = 1u << 0,
	X86_PFX_REP = 1u << 1,	 /* F3 (REP/REPE) is the last of F2/F3 */
	X86_PFX_REPNE = 1u << 2, /* F2 (REPNE) is the last of F2/F3 */
	X86_PFX_OPSIZE = 1u << 3,
	X86_PFX_ADDRSIZE = 1u << 4,
	X86_PFX_REX = 1u << 5,
};

/* The SIMD prefix (VEX/EVEX/XOP pp, or the legacy mandatory prefix). */
enum x86_simd_prefix {
	X86_PP_NONE = 0,
	X86_PP_66 = 1,
	X86_PP_F3 = 2,
	X86_PP_F2 = 3,
};

enum x86_seg { X86_SEG_ES, X86_SEG_CS, X86_SEG_SS, X86_SEG_DS, X86_SEG_FS, X86_SEG_GS };
#define X86_SEG_NONE 0xff

#define X86_REG_NONE 0xff
#define X86_REG_RIP  16 /* as a memory base: RIP-relative (disp counts from the next insn) */

enum x86_regclass {
	X86_RC_GPR,   /* 0-15; with size 1, 4-7 are SPL..DIL (REX present) */
	X86_RC_GPR8H, /* AH, CH, DH, BH (0-3), byte registers without REX */
	X86_RC_SEG,
	X86_RC_VEC, /* XMM/YMM/ZMM 0-31; the operand's size says which */
	X86_RC_MMX,
	X86_RC_ST, /* ST(i) */
	X86_RC_K,  /* AVX-512 opmask */
};

enum x86_opkind {
	X86_OPK_NONE,
	X86_OPK_REG,
	X86_OPK_MEM, /* the address is x86_insn.mem */
	X86_OPK_IMM, /* x86_insn.imm, sign-extended to the operand size as the CPU does */
};

struct x86_operand {
	uint8_t kind;	/* enum x86_opkind */
	uint8_t rclass; /* enum x86_regclass, for registers */
	uint8_t reg;
	uint8_t size; /* bytes (x87 m80: 10; 512-bit: 64) */
};

/* A ModRM (or moffs) memory operand: seg:[base + index * scale + disp]. */
struct x86_mem {
	uint8_t seg;   /* effective segment: the override, else DS or SS (for rBP/rSP bases) */
	uint8_t base;  /* GPR, X86_REG_RIP or X86_REG_NONE */
	uint8_t index; /* GPR (a vector register for VSIB) or X86_REG_NONE */
	uint8_t scale; /* 1, 2, 4, 8 */
	int64_t disp;  /* sign-extended; EVEX compressed disp8 already multiplied */
};

/* The instructions the emulator runs (and the trace names). */
enum x86_mnemonic {
	X86_MN_INVALID = 0,
	X86_MN_OTHER, /* a valid instruction outside the emulated subset */
	X86_MN_MOV,
	X86_MN_MOVZX,
	X86_MN_MOVSX,
	X86_MN_MOVSXD,
	X86_MN_MOVS,
	X86_MN_STOS,
	X86_MN_LODS,
	X86_MN_CMPS,
	X86_MN_SCAS,
	X86_MN_ADD,
	X86_MN_OR,
	X86_MN_ADC,
	X86_MN_SBB,
	X86_MN_AND,
	X86_MN_SUB,
	X86_MN_XOR,
	X86_MN_CMP,
	X86_MN_TEST,
	X86_MN_NOT,
	X86_MN_NEG,
	X86_MN_INC,
	X86_MN_DEC,
	X86_MN_XCHG,
	X86_MN_CMPXCHG,
	X86_MN_XADD,
	X86_MN_BT,
	X86_MN_BTS,
	X86_MN_BTR,
	X86_MN_BTC,
	X86_MN_MOVNTI,
	X86_MN_MOVD,
	X86_MN_MOVQ,
	X86_MN_MOVDQA,
	X86_MN_MOVDQU,
	X86_MN_MOVAPS,
	X86_MN_MOVAPD,
	X86_MN_MOVUPS,
	X86_MN_MOVUPD,
	X86_MN_MOVSS,
	X86_MN_MOVSD_SSE,
	X86_MN_MOVNTDQA,
	X86_MN_MOVNTDQ,
	X86_MN_MOVNTPS,
	X86_MN_MOVNTPD,
	X86_MN_VMOVD,
	X86_MN_VMOVQ,
	X86_MN_VMOVDQA,
	X86_MN_VMOVDQU,
	X86_MN_VMOVAPS,
	X86_MN_VMOVAPD,
	X86_MN_VMOVUPS,
	X86_MN_VMOVUPD,
	X86_MN_VMOVNTDQA,
	X86_MN_VMOVNTDQ,
	X86_MN_VMOVDQA32,
	X86_MN_VMOVDQA64,
	X86_MN_VMOVDQU8,
	X86_MN_VMOVDQU16,
	X86_MN_VMOVDQU32,
	X86_MN_VMOVDQU64,
	X86_MN_MOVDIR64B,
	X86_MN_FLD,
	X86_MN_FST,
	X86_MN_FSTP,
	X86_MN_COUNT,
};

/* "mov", "vmovdqu", ...; "(other)" for X86_MN_OTHER. */
const char *x86_mnemonic_name(unsigned mn);

#define X86_MAX_OPERANDS 3

struct x86_insn {
	uint8_t len;
	uint8_t mode;	  /* enum x86_mode */
	uint8_t enc;	  /* enum x86_encoding */
	uint8_t map;	  /* enum x86_map */
	uint8_t opcode;	  /* the byte after the escape (3DNow!: the suffix byte) */
	uint8_t pfx;	  /* enum x86_prefix bits */
	uint8_t pp;	  /* enum x86_simd_prefix: mandatory prefix or VEX/EVEX pp */
	uint8_t seg;	  /* segment override, or X86_SEG_NONE */
	uint8_t rex;	  /* the REX byte (0x40-0x4f) in effect, or 0 */
	uint8_t opsize;	  /* effective operand size: 2, 4 or 8 */
	uint8_t addrsize; /* effective address size: 2, 4 or 8 */
	uint8_t modrm;
	uint8_t sib;
	bool has_modrm, has_sib;
	uint8_t disp_size, imm_size, imm2_size; /* bytes in the encoding */
	uint8_t modrm_off, disp_off, imm_off;	/* offsets of those fields */
	/* VEX/XOP/EVEX fields, decoded (inverted bits un-inverted). */
	uint8_t vex_w, vex_l; /* L: 0 = 128, 1 = 256, 2 = 512 (EVEX L'L) */
	uint8_t vvvv;	      /* 0-31 (EVEX V' included) */
	uint8_t evex_aaa, evex_z, evex_b;
	/* Register-number extensions from REX, VEX, XOP or EVEX: added to ModRM.reg
	 * (R, EVEX R'), to SIB.index (X, EVEX V' for VSIB) and to ModRM.rm or
	 * SIB.base (B, and EVEX X for a vector ModRM.rm). */
	uint8_t ext_r, ext_x, ext_b, ext_rm_vec;
	uint64_t imm;	   /* first immediate (moffs, rel, imm), zero-extended from the encoding */
	uint8_t imm2;	   /* the second immediate of ENTER, EXTRQ, INSERTQ */
	uint16_t mnemonic; /* enum x86_mnemonic */
	uint8_t nops;
	struct x86_operand ops[X86_MAX_OPERANDS];
	bool has_mem; /* an explicit memory operand: mem is valid */
	bool vsib;    /* mem.index names a vector register (gathers) */
	struct x86_mem mem;
	uint8_t bytes[X86_MAX_INSN_LEN]; /* a copy of the encoding */
};

/*
 * Decodes one instruction from buf[0..len). On X86_DECODE_OK, *out describes
 * it; on any other result only out->len (bytes consumed so far) is meaningful.
 * len may be larger than the instruction; bytes beyond 15 are never read.
 */
int x86_decode(const uint8_t *buf, size_t len, enum x86_mode mode, unsigned flags,
	       struct x86_insn *out);

/* GPR names by size: x86_gpr_name(0, 8) = "rax", (4, 1) = "spl"; rclass GPR8H via size 0. */
const char *x86_gpr_name(unsigned reg, unsigned size);

/*
 * Formats an instruction in Intel syntax ("mov dword ptr [rax+0x10], ecx"),
 * for traces and reports; instructions outside the subset print as their
 * map, opcode and bytes. Returns the length snprintf would.
 */
int x86_format(const struct x86_insn *in, char *buf, size_t size);

#endif
