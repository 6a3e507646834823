/* Shared between the decoder's files: opcode-table entries, their attributes and lookups. */
#ifndef KVMLAB_X86_DECODE_INTERNAL_H
#define KVMLAB_X86_DECODE_INTERNAL_H

#include "kvmlab/x86_decode.h"

/* Immediate kinds (attribute bits 0-3). */
enum imm_kind {
	IMM_NONE,
	IMM_B,	/* 8 bits */
	IMM_W,	/* 16 bits */
	IMM_Z,	/* 16 with a 16-bit operand size, else 32 */
	IMM_V,	/* the operand size: 16, 32 or 64 (MOV r, imm) */
	IMM_A,	/* a memory offset of the address size (MOV moffs) */
	IMM_WB, /* 16 then 8 (ENTER) */
	IMM_P,	/* far pointer: 16-bit selector after a 16 or 32-bit offset */
	IMM_JB, /* 8-bit branch displacement */
	IMM_JZ, /* 16/32-bit branch displacement, operand size per the branch rules */
	IMM_BB, /* two 8-bit immediates (EXTRQ, INSERTQ) */
};

/* Attributes of a resolved legacy-map entry. */
enum {
	A_IMM = 0x000f,	     /* enum imm_kind */
	A_M = 1u << 4,	     /* has a ModRM byte */
	A_MEM = 1u << 5,     /* valid only with a memory operand (mod != 3) */
	A_REG = 1u << 6,     /* valid only with a register operand (mod == 3) */
	A_LOCK = 1u << 7,    /* LOCK allowed (with a memory operand) */
	A_I64 = 1u << 8,     /* invalid in 64-bit mode */
	A_O64 = 1u << 9,     /* valid only in 64-bit mode */
	A_D64 = 1u << 10,    /* operand size defaults to 64 in 64-bit mode (66 gives 16) */
	A_F64 = 1u << 11,    /* operand size is 64 in 64-bit mode (Intel ignores 66) */
	A_MODREG = 1u << 12, /* ModRM names registers whatever mod says (MOV CRn/DRn) */
	A_RM0 = 1u << 13,    /* ModRM must be exactly 11 reg 000 (XABORT, XBEGIN) */
	A_NOREAL = 1u << 14, /* invalid in real and virtual-8086 mode */
};

/* How an entry resolves (entry.kind). Zero is invalid so unlisted entries are. */
enum entry_kind {
	K_INVALID = 0,
	K_DIRECT,   /* attr says it all */
	K_GROUP,    /* sub[modrm.reg] */
	K_MODGROUP, /* sub[modrm.reg] for memory forms, sub[8 + modrm.reg] for registers */
	K_PFX,	    /* sub[mandatory prefix: none, 66, F3, F2] */
	K_SPECIAL,  /* resolved in code (0F 01, x87 register forms, ...); attr is the base */
};

struct x86_entry {
	uint16_t attr;
	uint8_t kind;
	uint8_t special; /* for K_SPECIAL */
	const struct x86_entry *sub;
};

enum special_kind {
	SP_NONE,
	SP_0F01,    /* 0F 01: register forms by the whole ModRM byte and prefix */
	SP_X87,	    /* D8-DF: register forms by the whole ModRM byte */
	SP_HRESET,  /* F3 0F 3A F0 C0 ib */
	SP_PADLOCK, /* 0F A6, 0F A7 */
};

/* Where the decoder is; the tables and the ModRM reader share it. */
struct decode_ctx {
	const uint8_t *p;
	size_t avail; /* bytes readable at p[pos...] (at most 15 counting from the start) */
	unsigned pos;
	unsigned flags;
	struct x86_insn *in;
};

/* Legacy maps (decode_maps.c): the top-level entry for an opcode. */
extern const struct x86_entry x86_map_primary[256];
extern const struct x86_entry x86_map_0f[256];
extern const struct x86_entry x86_map_0f38[256];
extern const struct x86_entry x86_map_0f3a[256];

/* Register-number rules of 0F map instructions (MPX bounds, CRn, DRn), after ModRM
 * (decode_maps.c). */
bool x86_legacy_check(const struct x86_insn *in);

/* 3DNow! suffixes (decode_maps.c). */
bool x86_3dnow_valid(uint8_t suffix);

/* Resolves a special entry's register forms (decode_maps.c): attribute, or -1 if invalid. */
int x86_special_attr(const struct x86_entry *e, const struct x86_insn *in);

/* VEX, XOP and EVEX validity (decode_vex.c): checks in (opcode, map, pp, L, W, vvvv,
 * ModRM) and sets in->imm_size; returns 0 or X86_DECODE_INVALID. x86_vex_has_modrm tells
 * the caller whether to read a ModRM byte first (every XOP and EVEX instruction has one). */
bool x86_vex_has_modrm(const struct x86_insn *in);
int x86_vex_check(struct x86_insn *in);
int x86_xop_check(struct x86_insn *in);
int x86_evex_check(struct x86_insn *in);

/* ModRM, SIB and displacement (decode_modrm.c): reads them and fills in->mem. */
int x86_decode_modrm(struct decode_ctx *c);

/* Mnemonic and operands for the emulated subset (decode_operands.c); X86_DECODE_INVALID for
 * subset encodings the architecture leaves undefined (EVEX moves with bad fields). */
int x86_decode_operands(struct x86_insn *in);

static inline unsigned modrm_mod(uint8_t m)
{
	return m >> 6;
}

static inline unsigned modrm_reg(uint8_t m)
{
	return (m >> 3) & 7;
}

static inline unsigned modrm_rm(uint8_t m)
{
	return m & 7;
}

#endif
