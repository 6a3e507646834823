/* The legacy opcode maps (one-byte, 0F, 0F38, 0F3A, 3DNow!, x87): which encodings exist. */
#include "decode_internal.h"

/*
 * Each map is 256 entries. An entry either gives the instruction's
 * attributes (K_DIRECT) or says what selects among its variants: the ModRM
 * reg field (groups), mod and reg, or the mandatory prefix (none, 66, F3,
 * F2: the last of F2/F3 wins over 66). Unlisted entries are zero: invalid.
 * Sources: Intel SDM vol. 2, appendix A (opcode maps); AMD APM vol. 3,
 * appendix A.
 */
/* clang-format off */
#define D(a)	    {.attr = (a), .kind = K_DIRECT}
#define X	    {.kind = K_INVALID}
#define GRP(...)    {.kind = K_GROUP, .sub = (const struct x86_entry[8]){__VA_ARGS__}}
#define MODGRP(...) {.kind = K_MODGROUP, .sub = (const struct x86_entry[16]){__VA_ARGS__}}
#define PFX(n, o, r, rn)                                                                           \
	{.kind = K_PFX, .sub = (const struct x86_entry[4]){n, o, r, rn}}

#define M  A_M
#define IB IMM_B
#define IZ IMM_Z

/* SSE-style opcodes: (none, 66) valid, F3/F2 invalid. */
#define P_NP66(a)    PFX(D(a), D(a), X, X)
#define P_66(a)	     PFX(X, D(a), X, X)
#define P_NP(a)	     PFX(D(a), X, X, X)
#define P_ALL(a)     PFX(D(a), D(a), D(a), D(a))
#define ALU(lk)	     D(M | (lk)), D(M | (lk)), D(M), D(M), D(IB), D(IZ)
#define GRP1(imm, lk)                                                                              \
	GRP(D(M | (imm) | (lk)), D(M | (imm) | (lk)), D(M | (imm) | (lk)), D(M | (imm) | (lk)),    \
	    D(M | (imm) | (lk)), D(M | (imm) | (lk)), D(M | (imm) | (lk)), D(M | (imm)))
#define ALL6(a) D(a), D(a), D(a), D(a), D(a), D(a)
#define ALL8(a) ALL6(a), D(a), D(a)

/* x87 escapes D8-DF: memory forms by reg; register forms by x87_reg_valid. */
#define X87(...)                                                                                   \
	{.attr = M, .kind = K_SPECIAL, .special = SP_X87,                                          \
	 .sub = (const struct x86_entry[8]){__VA_ARGS__}}

const struct x86_entry x86_map_primary[256] = {
	[0x00] = ALU(A_LOCK),
	[0x06] = D(A_I64),
	[0x07] = D(A_I64),
	[0x08] = ALU(A_LOCK),
	[0x0e] = D(A_I64),
	[0x10] = ALU(A_LOCK),
	[0x16] = D(A_I64),
	[0x17] = D(A_I64),
	[0x18] = ALU(A_LOCK),
	[0x1e] = D(A_I64),
	[0x1f] = D(A_I64),
	[0x20] = ALU(A_LOCK),
	[0x27] = D(A_I64),
	[0x28] = ALU(A_LOCK),
	[0x2f] = D(A_I64),
	[0x30] = ALU(A_LOCK),
	[0x37] = D(A_I64),
	[0x38] = ALU(0),
	[0x3f] = D(A_I64),
	[0x40 ... 0x4f] = D(A_I64), /* INC/DEC r; REX in 64-bit mode, consumed as a prefix */
	[0x50 ... 0x5f] = D(A_D64),
	[0x60] = D(A_I64),
	[0x61] = D(A_I64),
	[0x62] = D(M | A_MEM | A_I64), /* BOUND; EVEX is recognised before the table */
	[0x63] = D(M | A_NOREAL),      /* ARPL, or MOVSXD in 64-bit mode */
	[0x68] = D(IZ | A_D64),
	[0x69] = D(M | IZ),
	[0x6a] = D(IB | A_D64),
	[0x6b] = D(M | IB),
	[0x6c ... 0x6f] = D(0),
	[0x70 ... 0x7f] = D(IMM_JB | A_F64),
	[0x80] = GRP1(IB, A_LOCK),
	[0x81] = GRP1(IZ, A_LOCK),
	[0x82] = GRP1(IB | A_I64, A_LOCK),
	[0x83] = GRP1(IB, A_LOCK),
	[0x84] = D(M),
	[0x85] = D(M),
	[0x86] = D(M | A_LOCK),
	[0x87] = D(M | A_LOCK),
	[0x88 ... 0x8b] = D(M),
	[0x8c] = GRP(D(M), D(M), D(M), D(M), D(M), D(M), X, X),
	[0x8d] = D(M | A_MEM),
	[0x8e] = GRP(D(M), X, D(M), D(M), D(M), D(M), X, X),
	[0x8f] = GRP(D(M | A_D64), X, X, X, X, X, X, X), /* XOP is recognised before the table */
	[0x90 ... 0x99] = D(0),
	[0x9a] = D(IMM_P | A_I64),
	[0x9b] = D(0),
	[0x9c] = D(A_D64),
	[0x9d] = D(A_D64),
	[0x9e] = D(0),
	[0x9f] = D(0),
	[0xa0 ... 0xa3] = D(IMM_A),
	[0xa4 ... 0xa7] = D(0),
	[0xa8] = D(IB),
	[0xa9] = D(IZ),
	[0xaa ... 0xaf] = D(0),
	[0xb0 ... 0xb7] = D(IB),
	[0xb8 ... 0xbf] = D(IMM_V),
	[0xc0] = GRP(ALL8(M | IB)),
	[0xc1] = GRP(ALL8(M | IB)),
	[0xc2] = D(IMM_W | A_F64),
	[0xc3] = D(A_F64),
	[0xc4] = D(M | A_MEM | A_I64), /* LES; VEX is recognised before the table */
	[0xc5] = D(M | A_MEM | A_I64), /* LDS */
	[0xc6] = MODGRP(D(M | IB), X, X, X, X, X, X, X, /* registers: */ D(M | IB), X, X, X, X, X,
			X, D(M | IB | A_RM0)),
	[0xc7] = MODGRP(D(M | IZ), X, X, X, X, X, X, X, D(M | IZ), X, X, X, X, X, X,
			D(M | IZ | A_RM0)),
	[0xc8] = D(IMM_WB),
	[0xc9] = D(A_D64),
	[0xca] = D(IMM_W),
	[0xcb] = D(0),
	[0xcc] = D(0),
	[0xcd] = D(IB),
	[0xce] = D(A_I64),
	[0xcf] = D(0),
	[0xd0 ... 0xd3] = GRP(ALL8(M)),
	[0xd4] = D(IB | A_I64),
	[0xd5] = D(IB | A_I64),
	[0xd6] = D(A_I64),
	[0xd7] = D(0),
	[0xd8] = X87(ALL8(M)),
	[0xd9] = X87(D(M), X, D(M), D(M), D(M), D(M), D(M), D(M)),
	[0xda] = X87(ALL8(M)),
	[0xdb] = X87(D(M), D(M), D(M), D(M), X, D(M), X, D(M)),
	[0xdc] = X87(ALL8(M)),
	[0xdd] = X87(D(M), D(M), D(M), D(M), D(M), X, D(M), D(M)),
	[0xde] = X87(ALL8(M)),
	[0xdf] = X87(ALL8(M)),
	[0xe0 ... 0xe3] = D(IMM_JB | A_F64),
	[0xe4 ... 0xe7] = D(IB),
	[0xe8] = D(IMM_JZ | A_F64),
	[0xe9] = D(IMM_JZ | A_F64),
	[0xea] = D(IMM_P | A_I64),
	[0xeb] = D(IMM_JB | A_F64),
	[0xec ... 0xef] = D(0),
	[0xf1] = D(0),
	[0xf4] = D(0),
	[0xf5] = D(0),
	[0xf6] = GRP(D(M | IB), D(M | IB), D(M | A_LOCK), D(M | A_LOCK), D(M), D(M), D(M), D(M)),
	[0xf7] = GRP(D(M | IZ), D(M | IZ), D(M | A_LOCK), D(M | A_LOCK), D(M), D(M), D(M), D(M)),
	[0xf8 ... 0xfd] = D(0),
	[0xfe] = GRP(D(M | A_LOCK), D(M | A_LOCK), X, X, X, X, X, X),
	[0xff] = GRP(D(M | A_LOCK), D(M | A_LOCK), D(M | A_F64), D(M | A_MEM), D(M | A_F64),
		     D(M | A_MEM), D(M | A_D64), X),
};

/* 0F 01: memory forms by reg; register forms by the whole ModRM byte (x86_special_attr). */
#define G7_MEM                                                                                     \
	(const struct x86_entry[8])                                                                \
	{                                                                                          \
		D(M), D(M), D(M), D(M), D(M), PFX(X, X, D(M | A_NOREAL), X), D(M), D(M)            \
	}

/* The MMX/SSE shift groups 0F 71-73: register forms only, with an imm8. */
#define SHIFT_GRP(r2, r3, r4, r6, r7)                                                              \
	GRP(X, X, r2, r3, r4, X, r6, r7)
#define SH D(M | A_REG | IB)

/* VIA PadLock (0F A6, 0F A7): register forms named by the whole ModRM byte. */
#define PADLOCK {.attr = M | A_REG, .kind = K_SPECIAL, .special = SP_PADLOCK}

const struct x86_entry x86_map_0f[256] = {
	[0x00] = GRP(ALL6(M | A_NOREAL), X, X),
	[0x01] = {.attr = M, .kind = K_SPECIAL, .special = SP_0F01, .sub = G7_MEM},
	[0x02] = D(M | A_NOREAL),
	[0x03] = D(M | A_NOREAL),
	[0x05] = D(0),
	[0x06] = D(0),
	[0x07] = D(A_NOREAL),
	[0x08] = D(0),
	[0x09] = D(0),
	[0x0b] = D(0),
	[0x0d] = D(M),
	[0x0e] = D(0),
	/* 0x0f: 3DNow!, handled by the driver */
	[0x10] = P_ALL(M),
	[0x11] = P_ALL(M),
	[0x12] = PFX(D(M), D(M | A_MEM), D(M), D(M)),
	[0x13] = P_NP66(M | A_MEM),
	[0x14] = P_NP66(M),
	[0x15] = P_NP66(M),
	[0x16] = PFX(D(M), D(M | A_MEM), D(M), X),
	[0x17] = P_NP66(M | A_MEM),
	[0x18 ... 0x1f] = D(M), /* prefetch, MPX, CET and hint NOPs: all encodings valid */
	[0x20 ... 0x23] = D(M | A_MODREG | A_F64),
	[0x28] = P_NP66(M),
	[0x29] = P_NP66(M),
	[0x2a] = P_ALL(M),
	[0x2b] = P_ALL(M | A_MEM),
	[0x2c] = P_ALL(M),
	[0x2d] = P_ALL(M),
	[0x2e] = P_NP66(M),
	[0x2f] = P_NP66(M),
	[0x30 ... 0x33] = D(0),
	[0x34] = D(A_NOREAL),
	[0x35] = D(A_NOREAL),
	[0x37] = P_NP(A_NOREAL),
	[0x40 ... 0x4f] = D(M),
	[0x50] = P_NP66(M | A_REG),
	[0x51] = P_ALL(M),
	[0x52] = PFX(D(M), X, D(M), X),
	[0x53] = PFX(D(M), X, D(M), X),
	[0x54 ... 0x57] = P_NP66(M),
	[0x58 ... 0x5a] = P_ALL(M),
	[0x5b] = PFX(D(M), D(M), D(M), X),
	[0x5c ... 0x5f] = P_ALL(M),
	[0x60 ... 0x6b] = P_NP66(M),
	[0x6c] = P_66(M),
	[0x6d] = P_66(M),
	[0x6e] = P_NP66(M),
	[0x6f] = PFX(D(M), D(M), D(M), X),
	[0x70] = P_ALL(M | IB),
	[0x71] = PFX(SHIFT_GRP(SH, X, SH, SH, X), SHIFT_GRP(SH, X, SH, SH, X), X, X),
	[0x72] = PFX(SHIFT_GRP(SH, X, SH, SH, X), SHIFT_GRP(SH, X, SH, SH, X), X, X),
	[0x73] = PFX(SHIFT_GRP(SH, X, X, SH, X), SHIFT_GRP(SH, SH, X, SH, SH), X, X),
	[0x74 ... 0x76] = P_NP66(M),
	[0x77] = P_NP(0),
	[0x78] = PFX(D(M | A_NOREAL), GRP(D(M | A_REG | IMM_BB), X, X, X, X, X, X, X), X,
		     D(M | A_REG | IMM_BB)),
	[0x79] = PFX(D(M | A_NOREAL), D(M | A_REG), X, D(M | A_REG)),
	[0x7c] = PFX(X, D(M), X, D(M)),
	[0x7d] = PFX(X, D(M), X, D(M)),
	[0x7e] = PFX(D(M), D(M), D(M), X),
	[0x7f] = PFX(D(M), D(M), D(M), X),
	[0x80 ... 0x8f] = D(IMM_JZ | A_F64),
	[0x90 ... 0x9f] = D(M),
	[0xa0] = D(A_D64),
	[0xa1] = D(A_D64),
	[0xa2] = D(0),
	[0xa3] = D(M),
	[0xa6] = PADLOCK,
	[0xa7] = PADLOCK,
	[0xa4] = D(M | IB),
	[0xa5] = D(M),
	[0xa8] = D(A_D64),
	[0xa9] = D(A_D64),
	[0xaa] = D(0),
	[0xab] = D(M | A_LOCK),
	[0xac] = D(M | IB),
	[0xad] = D(M),
	[0xae] = PFX(MODGRP(D(M), D(M), D(M), D(M), D(M), D(M), D(M), D(M), /* reg: */ X, X, X,
			    X, X, D(M), D(M), D(M)),
		     MODGRP(X, X, X, X, X, X, D(M), D(M), X, X, X, X, X, X, D(M), X),
		     MODGRP(X, X, X, X, D(M), X, D(M | A_NOREAL), X, D(M | A_O64), D(M | A_O64),
			    D(M | A_O64), D(M | A_O64), D(M), D(M | A_NOREAL), D(M), X),
		     MODGRP(X, X, X, X, X, X, X, X, X, X, X, X, X, X, D(M), X)),
	[0xaf] = D(M),
	[0xb0] = D(M | A_LOCK),
	[0xb1] = D(M | A_LOCK),
	[0xb2] = D(M | A_MEM),
	[0xb3] = D(M | A_LOCK),
	[0xb4] = D(M | A_MEM),
	[0xb5] = D(M | A_MEM),
	[0xb6] = D(M),
	[0xb7] = D(M),
	[0xb8] = PFX(X, X, D(M), X),
	[0xb9] = D(M),
	[0xba] = GRP(X, X, X, X, D(M | IB), D(M | IB | A_LOCK), D(M | IB | A_LOCK),
		     D(M | IB | A_LOCK)),
	[0xbb] = D(M | A_LOCK),
	[0xbc] = D(M),
	[0xbd] = D(M),
	[0xbe] = D(M),
	[0xbf] = D(M),
	[0xc0] = D(M | A_LOCK),
	[0xc1] = D(M | A_LOCK),
	[0xc2] = P_ALL(M | IB),
	[0xc3] = P_NP(M | A_MEM),
	[0xc4] = P_NP66(M | IB),
	[0xc5] = P_NP66(M | A_REG | IB),
	[0xc6] = P_NP66(M | IB),
	[0xc7] = PFX(MODGRP(X, D(M | A_LOCK), X, D(M), D(M), D(M), D(M | A_NOREAL), D(M | A_NOREAL),
			    /* reg: */ X, X, X, X, X, X, D(M), D(M)),
		     MODGRP(X, D(M | A_LOCK), X, X, X, X, D(M | A_NOREAL), X, X, X, X, X, X, X, D(M),
			    D(M)),
		     MODGRP(X, D(M | A_LOCK), X, X, X, X, D(M | A_NOREAL), X, X, X, X, X, X, X,
			    D(M | A_O64), D(M)),
		     MODGRP(X, D(M | A_LOCK), X, X, X, X, X, X, X, X, X, X, X, X, X, X)),
	[0xc8 ... 0xcf] = D(0),
	[0xd0] = PFX(X, D(M), X, D(M)),
	[0xd1 ... 0xd5] = P_NP66(M),
	[0xd6] = PFX(X, D(M), D(M | A_REG), D(M | A_REG)),
	[0xd7] = P_NP66(M | A_REG),
	[0xd8 ... 0xe5] = P_NP66(M),
	[0xe6] = PFX(X, D(M), D(M), D(M)),
	[0xe7] = P_NP66(M | A_MEM),
	[0xe8 ... 0xef] = P_NP66(M),
	[0xf0] = PFX(X, X, X, D(M | A_MEM)),
	[0xf1 ... 0xf6] = P_NP66(M),
	[0xf7] = P_NP66(M | A_REG),
	[0xf8 ... 0xfe] = P_NP66(M),
	[0xff] = D(M),
};

const struct x86_entry x86_map_0f38[256] = {
	[0x00 ... 0x0b] = P_NP66(M),
	[0x10] = P_66(M),
	[0x14] = P_66(M),
	[0x15] = P_66(M),
	[0x17] = P_66(M),
	[0x1c ... 0x1e] = P_NP66(M),
	[0x20 ... 0x25] = P_66(M),
	[0x28] = P_66(M),
	[0x29] = P_66(M),
	[0x2a] = P_66(M | A_MEM),
	[0x2b] = P_66(M),
	[0x30 ... 0x35] = P_66(M),
	[0x37 ... 0x41] = P_66(M),
	[0x80 ... 0x81] = P_66(M | A_MEM | A_F64 | A_NOREAL),
	[0x82] = P_66(M | A_MEM | A_F64),
	[0xc8 ... 0xcd] = P_NP(M),
	[0xcf] = P_66(M),
	[0xd8] = PFX(X, X, GRP(D(M | A_MEM), D(M | A_MEM), D(M | A_MEM), D(M | A_MEM), X, X, X, X),
		     X),
	[0xdb] = P_66(M),
	[0xdc] = PFX(X, D(M), D(M), X), /* F3: AESENC128KL m, LOADIWKEY r */
	[0xdd ... 0xdf] = PFX(X, D(M), D(M | A_MEM), X),
	[0xf0] = PFX(D(M | A_MEM), D(M | A_MEM), X, D(M)),
	[0xf1] = PFX(D(M | A_MEM), D(M | A_MEM), X, D(M)),
	[0xf5] = P_66(M | A_MEM | A_NOREAL),
	[0xf6] = PFX(D(M | A_MEM | A_NOREAL), D(M), D(M), X),
	[0xf8] = PFX(X, D(M | A_MEM), D(M | A_MEM), D(M | A_MEM)),
	[0xf9] = P_NP(M | A_MEM),
	[0xfa] = PFX(X, X, D(M | A_REG), X),
	[0xfb] = PFX(X, X, D(M | A_REG), X),
};

#define HRESET {.attr = M | IB, .kind = K_SPECIAL, .special = SP_HRESET}

const struct x86_entry x86_map_0f3a[256] = {
	[0x08 ... 0x0e] = P_66(M | IB),
	[0x0f] = P_NP66(M | IB),
	[0x14 ... 0x17] = P_66(M | IB),
	[0x20 ... 0x22] = P_66(M | IB),
	[0x40 ... 0x42] = P_66(M | IB),
	[0x44] = P_66(M | IB),
	[0x60 ... 0x63] = P_66(M | IB),
	[0xcc] = P_NP(M | IB),
	[0xce] = P_66(M | IB),
	[0xcf] = P_66(M | IB),
	[0xdf] = P_66(M | IB),
	[0xf0] = PFX(X, X, HRESET, X),
};

/* clang-format on */

/* 3DNow! opcodes (the byte after ModRM and displacement). AMD APM vol. 5. */
bool x86_3dnow_valid(uint8_t s)
{
	static const uint32_t valid[8] = {
	    [0] = (1u << 0x0c) | (1u << 0x0d) | (1u << 0x1c) | (1u << 0x1d),
	    [4] = (1u << (0x8a - 0x80)) | (1u << (0x8e - 0x80)) | (1u << (0x90 - 0x80)) |
		  (1u << (0x94 - 0x80)) | (1u << (0x96 - 0x80)) | (1u << (0x97 - 0x80)) |
		  (1u << (0x9a - 0x80)) | (1u << (0x9e - 0x80)),
	    [5] = (1u << (0xa0 - 0xa0)) | (1u << (0xa4 - 0xa0)) | (1u << (0xa6 - 0xa0)) |
		  (1u << (0xa7 - 0xa0)) | (1u << (0xaa - 0xa0)) | (1u << (0xae - 0xa0)) |
		  (1u << (0xb0 - 0xa0)) | (1u << (0xb4 - 0xa0)) | (1u << (0xb6 - 0xa0)) |
		  (1u << (0xb7 - 0xa0)) | (1u << (0xbb - 0xa0)) | (1u << (0xbf - 0xa0)),
	};

	return (valid[s >> 5] >> (s & 31)) & 1;
}

/* clang-format off */
/* x87 register forms (mod == 3), bit n = ModRM 0xC0 + n. */
static const uint64_t x87_reg_valid[8] = {
	[0] = ~0ull,										  /* D8 */
	[1] = 0xffffull | (1ull << 16) | (0xffull << 24) | (3ull << 32) | (3ull << 36) |	  /* D9 */
	      (0x7full << 40) | (0xffffull << 48),
	[2] = 0xffffffffull | (1ull << 41),							  /* DA */
	[3] = 0xffffffffull | (0x1full << 32) | (0xffffull << 40),				  /* DB */
	[4] = ~0ull,										  /* DC */
	[5] = 0xffffffffffffull,								  /* DD */
	[6] = 0xffffffull | (1ull << 25) | (0xffffffffull << 32),				  /* DE */
	[7] = 0xffffffffull | (1ull << 32) | (0xffffull << 40),					  /* DF */
};

/* 0F 01 register forms by mandatory prefix (none, 66, F3, F2), bit n = ModRM 0xC0 + n. */
#define B(x)	    (1ull << ((x) - 0xc0))
#define R(lo, hi)   ((~0ull >> (63 - ((hi) - 0xc0))) & ~(B(lo) - 1))
#define G7_ANYPFX   (R(0xd8, 0xdf) | R(0xe0, 0xe7) | R(0xf0, 0xf7) | B(0xf8) | B(0xf9) | B(0xfc) | B(0xfd))
static const uint64_t g7_reg_valid[4] = {
	[X86_PP_NONE] = G7_ANYPFX | R(0xc0, 0xc5) | R(0xc8, 0xcb) | B(0xcf) | B(0xd0) | B(0xd1) |
			R(0xd4, 0xd7) | B(0xe8) | B(0xee) | B(0xef) | R(0xfa, 0xff),
	[X86_PP_66] = G7_ANYPFX | R(0xcc, 0xcf),
	[X86_PP_F3] = G7_ANYPFX | B(0xe8) | B(0xea) | R(0xec, 0xef) | B(0xfa) | B(0xfe) | B(0xff),
	[X86_PP_F2] = G7_ANYPFX | B(0xe8) | B(0xe9) | B(0xfe) | B(0xff),
};

/* 0F 01 register forms that need protected mode: VMX (VMLAUNCH..VMXOFF), SGX (ENCL*),
 * SVM but VMMCALL, and the CET F3 forms (SETSSBSY, SAVEPREVSSP). */
#define G7_SVM (B(0xd8) | R(0xda, 0xdf))
static const uint64_t g7_reg_noreal[4] = {
	[X86_PP_NONE] = B(0xc0) | R(0xc2, 0xc4) | B(0xcf) | B(0xd7) | G7_SVM,
	[X86_PP_66] = G7_SVM,
	[X86_PP_F3] = G7_SVM | B(0xe8) | B(0xea),
	[X86_PP_F2] = G7_SVM,
};

/* 0F 01 register forms valid only in 64-bit mode: SWAPGS, TDX SEAM calls, user
 * interrupts (UIRET, TESTUI, CLUI, STUI), SEV-SNP RMPADJUST, PSMASH, RMPUPDATE. */
static const uint64_t g7_reg_o64[4] = {
	[X86_PP_NONE] = B(0xf8),
	[X86_PP_66] = B(0xf8) | R(0xcd, 0xcf),
	[X86_PP_F3] = B(0xf8) | R(0xec, 0xef) | B(0xfe) | B(0xff),
	[X86_PP_F2] = B(0xf8) | B(0xfe),
};

/* clang-format on */

int x86_special_attr(const struct x86_entry *e, const struct x86_insn *in)
{
	unsigned n = in->modrm - 0xc0;

	if (modrm_mod(in->modrm) != 3)
		return -1;
	switch (e->special) {
	case SP_X87:
		return (x87_reg_valid[in->opcode - 0xd8] >> n) & 1 ? e->attr : -1;
	case SP_0F01:
		if (!((g7_reg_valid[in->pp] >> n) & 1))
			return -1;
		if (in->mode == X86_MODE_REAL && ((g7_reg_noreal[in->pp] >> n) & 1))
			return -1;
		return (g7_reg_o64[in->pp] >> n) & 1 ? e->attr | A_O64 : e->attr;
	case SP_HRESET:
		return in->modrm == 0xc0 ? e->attr : -1;
	case SP_PADLOCK:
		/* XSTORE (A7 C0) takes any prefix but F2; the rest need REP (F3). */
		if (in->opcode == 0xa7 && in->modrm == 0xc0)
			return in->pp != X86_PP_F2 ? e->attr : -1;
		if (in->pp != X86_PP_F3)
			return -1;
		if (in->opcode == 0xa7)
			return (n & 7) == 0 && n <= 0x28 ? e->attr : -1;
		return (n & 7) == 0 && n <= 0x10 ? e->attr : -1;
	default:
		return -1;
	}
}

/*
 * 0F map encodings whose validity depends on the register numbers: MPX
 * (bnd0-3 only; no 16-bit addressing; register forms without a prefix, and
 * F3 0F 1B, are hint NOPs), MOV CRn (CR0, 2, 3, 4, 8) and MOV DRn (DR0-7).
 * SDM vol. 2: BNDMK/BNDCL/BNDCU/BNDCN/BNDMOV/BNDLDX/BNDSTX, MOV (control and
 * debug registers).
 */
bool x86_legacy_check(const struct x86_insn *in)
{
	unsigned reg = modrm_reg(in->modrm) | in->ext_r;

	switch (in->opcode) {
	case 0x1a:
	case 0x1b:
		if (modrm_mod(in->modrm) != 3) {
			/* BNDLDX, BNDSTX and BNDMK refuse RIP-relative operands. */
			if (in->mem.base == X86_REG_RIP &&
			    (in->pp == X86_PP_NONE || (in->opcode == 0x1b && in->pp == X86_PP_F3)))
				return false;
			return in->addrsize != 2 && reg < 4;
		}
		if (in->pp == X86_PP_NONE || (in->opcode == 0x1b && in->pp == X86_PP_F3))
			return true;
		if (in->pp == X86_PP_66 && (modrm_rm(in->modrm) | in->ext_b) >= 4)
			return false;
		return reg < 4;
	case 0x20:
	case 0x22:
		return reg == 0 || reg == 2 || reg == 3 || reg == 4 || reg == 8;
	case 0x21:
	case 0x23:
		return reg < 8;
	default:
		return true;
	}
}
