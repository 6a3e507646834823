/* VEX, XOP and EVEX encodings: which opcode/prefix/L/W combinations exist, and their immediates. */
#include "decode_internal.h"

/*
 * VEX tables: [pp][opcode] -> constraints. Zero is invalid. Sources: Intel
 * SDM vol. 2 (instruction pages, "VEX.L0/LIG/W0/WIG" encodings; vvvv must be
 * 1111b where unused, else #UD), AMD APM vol. 4 (XOP, FMA4, VPERMIL2).
 */
/* clang-format off */
enum {
	V_OK = 1u << 0,
	V_MEM = 1u << 1,    /* memory operand only */
	V_REG = 1u << 2,    /* register operand only */
	V_L0 = 1u << 3,	    /* VEX.L must be 0 */
	V_L1 = 1u << 4,	    /* VEX.L must be 1 */
	V_W0 = 1u << 5,	    /* VEX.W must be 0 */
	V_W1 = 1u << 6,	    /* VEX.W must be 1 */
	V_NOV = 1u << 7,    /* vvvv unused: must be 1111b */
	V_IB = 1u << 8,	    /* an imm8 (or is4 byte) follows */
	V_GRP = 1u << 9,    /* valid ModRM.reg values in vex_groups */
	V_VSIB = 1u << 10,  /* memory operand with a SIB byte (vector index) */
	V_NOVM = 1u << 11,  /* vvvv must be 1111b with a memory operand (VMOVSS/SD) */
	V_NOMRM = 1u << 12, /* no ModRM (VZEROUPPER/VZEROALL) */
	V_O64W = 1u << 13,  /* W selects a 64-bit GPR only in 64-bit mode (W ignored elsewhere) */
	V_KR = 1u << 14,    /* ModRM.reg names an opmask register: no R extension */
	V_KV = 1u << 15,    /* vvvv names an opmask register: k0-k7 */
	V_AMX = 1u << 16,   /* AMX: 64-bit mode only; tiles tmm0-7 (no R/B, vvvv < 8) */
	V_GATHER = 1u << 17, /* destination, index and mask registers must all differ */
	V_SIB = 1u << 18,    /* a SIB byte is required (AMX tile loads/stores) */
};

#define VX  V_OK
#define NV  (V_OK | V_NOV)
#define L0  V_L0
#define L1  V_L1
#define W0  V_W0
#define W1  V_W1
#define IB  V_IB
#define MEM V_MEM
#define REG V_REG
#define KR  V_KR
#define KOP (V_OK | V_REG | V_KR | V_KV) /* kD, kS1 (vvvv), kS2 */

/* Map 1 (0F). */
static const uint32_t vex_map1[4][256] = {
	[X86_PP_NONE] = {
		[0x10] = NV, [0x11] = NV, [0x12] = VX | L0, [0x13] = NV | L0 | MEM, [0x14] = VX,
		[0x15] = VX, [0x16] = VX | L0, [0x17] = NV | L0 | MEM, [0x28] = NV, [0x29] = NV,
		[0x2b] = NV | MEM, [0x2e] = NV, [0x2f] = NV, [0x50] = NV | REG, [0x51] = NV,
		[0x52] = NV, [0x53] = NV, [0x54 ... 0x59] = VX, [0x5a] = NV, [0x5b] = NV,
		[0x5c ... 0x5f] = VX, [0x77] = NV | V_NOMRM, [0xae] = NV | L0 | MEM | V_GRP,
		[0xc2] = VX | IB, [0xc6] = VX | IB,
		/* AVX-512 opmask instructions (VEX-encoded) */
		[0x41] = KOP | L1, [0x42] = KOP | L1, [0x44] = NV | L0 | REG | KR,
		[0x45 ... 0x47] = KOP | L1, [0x4a] = KOP | L1, [0x4b] = KOP | L1,
		[0x90] = NV | L0 | KR, [0x91] = NV | L0 | MEM | KR, [0x92] = NV | L0 | REG | W0 | KR,
		[0x93] = NV | L0 | REG | W0, [0x98] = NV | L0 | REG | KR, [0x99] = NV | L0 | REG | KR,
	},
	[X86_PP_66] = {
		[0x10] = NV, [0x11] = NV, [0x12] = VX | L0 | MEM, [0x13] = NV | L0 | MEM,
		[0x14] = VX, [0x15] = VX, [0x16] = VX | L0 | MEM, [0x17] = NV | L0 | MEM,
		[0x28] = NV, [0x29] = NV, [0x2b] = NV | MEM, [0x2e] = NV, [0x2f] = NV,
		[0x50] = NV | REG, [0x51] = NV, [0x54 ... 0x59] = VX, [0x5a] = NV, [0x5b] = NV,
		[0x5c ... 0x5f] = VX, [0x60 ... 0x6d] = VX, [0x6e] = NV | L0 | V_O64W, [0x6f] = NV,
		[0x70] = NV | IB, [0x71 ... 0x73] = VX | REG | IB | V_GRP, [0x74 ... 0x76] = VX,
		[0x7c] = VX, [0x7d] = VX, [0x7e] = NV | L0 | V_O64W, [0x7f] = NV, [0xc2] = VX | IB,
		[0xc4] = VX | L0 | IB, [0xc5] = NV | L0 | REG | IB, [0xc6] = VX | IB,
		[0xd0 ... 0xd5] = VX, [0xd6] = NV | L0, [0xd7] = NV | REG, [0xd8 ... 0xe5] = VX,
		[0xe6] = NV, [0xe7] = NV | MEM, [0xe8 ... 0xef] = VX, [0xf1 ... 0xf6] = VX,
		[0xf7] = NV | L0 | REG, [0xf8 ... 0xfe] = VX,
		[0x41] = KOP | L1, [0x42] = KOP | L1, [0x44] = NV | L0 | REG | KR,
		[0x45 ... 0x47] = KOP | L1, [0x4a] = KOP | L1, [0x4b] = KOP | L1 | W0,
		[0x90] = NV | L0 | KR, [0x91] = NV | L0 | MEM | KR, [0x92] = NV | L0 | REG | W0 | KR,
		[0x93] = NV | L0 | REG | W0, [0x98] = NV | L0 | REG | KR, [0x99] = NV | L0 | REG | KR,
	},
	[X86_PP_F3] = {
		[0x10] = VX | V_NOVM, [0x11] = VX | V_NOVM, [0x12] = NV, [0x16] = NV, [0x2a] = VX,
		[0x2c] = NV, [0x2d] = NV, [0x51 ... 0x53] = VX, [0x58 ... 0x5a] = VX, [0x5b] = NV,
		[0x5c ... 0x5f] = VX, [0x6f] = NV, [0x70] = NV | IB, [0x7e] = NV | L0, [0x7f] = NV,
		[0xc2] = VX | IB, [0xe6] = NV,
	},
	[X86_PP_F2] = {
		[0x10] = VX | V_NOVM, [0x11] = VX | V_NOVM, [0x12] = NV, [0x2a] = VX, [0x2c] = NV,
		[0x2d] = NV, [0x51] = VX, [0x58 ... 0x5a] = VX, [0x5c ... 0x5f] = VX,
		[0x70] = NV | IB, [0x7c] = VX, [0x7d] = VX, [0xc2] = VX | IB, [0xd0] = VX, [0xe6] = NV,
		[0xf0] = NV | MEM, [0x92] = NV | L0 | REG | KR, [0x93] = NV | L0 | REG,
	},
};

/* FMA: 96-9F, A6-AF, B6-BF; the odd-low-nibble scalar forms ignore L. */
#define FMA_ROW(b)                                                                                 \
	[(b) + 0x6] = VX, [(b) + 0x7] = VX, [(b) + 0x8] = VX, [(b) + 0x9] = VX, [(b) + 0xa] = VX,       \
	[(b) + 0xb] = VX, [(b) + 0xc] = VX, [(b) + 0xd] = VX, [(b) + 0xe] = VX, [(b) + 0xf] = VX

/* Map 2 (0F38). */
static const uint32_t vex_map2[4][256] = {
	[X86_PP_NONE] = {
		[0x49] = L0 | W0 | V_OK, /* LDTILECFG / TILERELEASE: x86_vex_check */
		[0xf2] = VX | L0, [0xf3] = VX | L0 | V_GRP, [0xf5] = VX | L0, [0xf7] = VX | L0,
		[0x5e] = VX | L0 | W0 | REG | V_AMX,
	},
	[X86_PP_66] = {
		[0x00 ... 0x0b] = VX, [0x0c] = VX | W0, [0x0d] = VX | W0, [0x0e] = NV | W0,
		[0x0f] = NV | W0, [0x13] = NV | W0, [0x16] = VX | L1 | W0, [0x17] = NV,
		[0x18] = NV | W0, [0x19] = NV | L1 | W0, [0x1a] = NV | L1 | W0 | MEM,
		[0x1c ... 0x1e] = NV, [0x20 ... 0x25] = NV, [0x28] = VX, [0x29] = VX,
		[0x2a] = NV | MEM, [0x2b] = VX, [0x2c ... 0x2f] = VX | W0 | MEM, [0x30 ... 0x35] = NV,
		[0x36] = VX | L1 | W0, [0x37 ... 0x40] = VX, [0x41] = NV | L0, [0x45] = VX,
		[0x46] = VX | W0, [0x47] = VX, [0x50 ... 0x53] = VX | W0, [0x58] = NV | W0,
		[0x59] = NV | W0, [0x5a] = NV | L1 | W0 | MEM, [0x5e] = VX | L0 | W0 | REG | V_AMX,
		[0x78] = NV | W0, [0x79] = NV | W0, [0x8c] = VX | MEM, [0x8e] = VX | MEM,
		[0x90 ... 0x93] = VX | MEM | V_VSIB | V_GATHER, FMA_ROW(0x90), FMA_ROW(0xa0), FMA_ROW(0xb0),
		[0xcf] = VX | W0, [0xdb] = NV | L0, [0xdc ... 0xdf] = VX, [0xf7] = VX | L0,
		[0x49] = NV | L0 | W0 | MEM | V_GRP | V_AMX,
		[0x4b] = NV | L0 | W0 | MEM | V_SIB | V_AMX,
	},
	[X86_PP_F3] = {
		[0xf5] = VX | L0, [0xf7] = VX | L0, [0x5c] = VX | L0 | W0 | REG | V_AMX,
		[0x5e] = VX | L0 | W0 | REG | V_AMX, [0x4b] = NV | L0 | W0 | MEM | V_SIB | V_AMX,
	},
	[X86_PP_F2] = {
		[0xf5] = VX | L0, [0xf6] = VX | L0, [0xf7] = VX | L0, [0x5e] = VX | L0 | W0 | REG | V_AMX,
		[0x49] = NV | L0 | W0 | REG | V_AMX, [0x4b] = NV | L0 | W0 | MEM | V_SIB | V_AMX,
	},
};

/* FMA4 (AMD): 5C-5F, 68-6F, 78-7F with an is4 byte; W swaps the sources. */
#define FMA4(b) [(b)] = VX | IB, [(b) + 1] = VX | IB, [(b) + 2] = VX | IB, [(b) + 3] = VX | IB

/* Map 3 (0F3A): every instruction has an imm8. */
static const uint32_t vex_map3[4][256] = {
	[X86_PP_66] = {
		[0x00] = NV | L1 | W1, [0x01] = NV | L1 | W1, [0x02] = VX | W0, [0x04] = NV | W0,
		[0x05] = NV | W0, [0x06] = VX | L1 | W0, [0x08] = NV, [0x09] = NV, [0x0a] = VX,
		[0x0b] = VX, [0x0c ... 0x0f] = VX, [0x14] = NV | L0, [0x15] = NV | L0,
		[0x16] = NV | L0 | V_O64W, [0x17] = NV | L0, [0x18] = VX | L1 | W0,
		[0x19] = NV | L1 | W0, [0x1d] = NV | W0, [0x20] = VX | L0, [0x21] = VX | L0,
		[0x22] = VX | L0 | V_O64W, [0x30 ... 0x33] = NV | L0 | REG | KR, [0x38] = VX | L1 | W0,
		[0x39] = NV | L1 | W0, [0x40] = VX, [0x41] = VX | L0, [0x42] = VX, [0x44] = VX,
		[0x46] = VX | L1 | W0, [0x48] = VX, [0x49] = VX, [0x4a ... 0x4c] = VX | W0,
		FMA4(0x5c), FMA4(0x68), FMA4(0x6c), FMA4(0x78), FMA4(0x7c),
		[0x60 ... 0x63] = NV | L0, [0xce] = VX | W1, [0xcf] = VX | W1, [0xdf] = NV | L0,
	},
	[X86_PP_F2] = {
		[0xf0] = NV | L0,
	},
};

/* Valid ModRM.reg values of VEX group opcodes: {map, pp, opcode, reg mask}. */
static const struct {
	uint8_t map, pp, op, regs;
} vex_groups[] = {
	{1, X86_PP_NONE, 0xae, 0x0c},		   /* /2 VLDMXCSR, /3 VSTMXCSR */
	{1, X86_PP_66, 0x71, 0x54},		   /* /2 /4 /6 */
	{1, X86_PP_66, 0x72, 0x54},		   /* /2 /4 /6 */
	{1, X86_PP_66, 0x73, 0xcc},		   /* /2 /3 /6 /7 */
	{2, X86_PP_NONE, 0xf3, 0x0e},		   /* /1 BLSR, /2 BLSMSK, /3 BLSI */
	{2, X86_PP_66, 0x49, 0x01},		   /* STTILECFG m */
};

/* clang-format on */

static const uint32_t *vex_row(unsigned map, unsigned pp)
{
	switch (map) {
	case 1:
		return vex_map1[pp];
	case 2:
		return vex_map2[pp];
	case 3:
		return vex_map3[pp];
	default:
		return NULL;
	}
}

bool x86_vex_has_modrm(const struct x86_insn *in)
{
	const uint32_t *row = vex_row(in->map, in->pp);

	return !row || !(row[in->opcode] & V_NOMRM);
}

static bool group_ok(const struct x86_insn *in)
{
	for (unsigned i = 0; i < sizeof(vex_groups) / sizeof(vex_groups[0]); i++)
		if (vex_groups[i].map == in->map && vex_groups[i].pp == in->pp &&
		    vex_groups[i].op == in->opcode)
			return (vex_groups[i].regs >> modrm_reg(in->modrm)) & 1;
	return false;
}

/* The checks VEX and XOP share, given the table's constraints. */
static int vex_constraints(struct x86_insn *in, unsigned c)
{
	bool mem = in->has_modrm && modrm_mod(in->modrm) != 3;
	unsigned w = in->vex_w;
	unsigned vmask = in->mode == X86_MODE_64 ? 15 : 7; /* vvvv bit 3 selects nothing outside */

	if (!(c & V_OK))
		return X86_DECODE_INVALID;
	if ((c & V_O64W) && in->mode != X86_MODE_64)
		w = 0;
	if (((c & V_MEM) && !mem) || ((c & V_REG) && mem))
		return X86_DECODE_INVALID;
	if (((c & V_L0) && in->vex_l) || ((c & V_L1) && !in->vex_l))
		return X86_DECODE_INVALID;
	if (((c & V_W0) && w) || ((c & V_W1) && !w))
		return X86_DECODE_INVALID;
	if (((c & V_NOV) || ((c & V_NOVM) && mem)) && (in->vvvv & 15) != 0)
		return X86_DECODE_INVALID;
	if ((c & (V_VSIB | V_SIB)) && !in->has_sib)
		return X86_DECODE_INVALID;
	if (c & V_VSIB) { /* the index names a vector register; index 4 is xmm4, not "none" */
		in->mem.index = (uint8_t)(((in->sib >> 3) & 7) | in->ext_x);
		in->vsib = true;
	}
	if ((c & V_GRP) && !group_ok(in))
		return X86_DECODE_INVALID;
	if (((c & V_KR) && in->ext_r) || ((c & V_KV) && (in->vvvv & vmask) >= 8))
		return X86_DECODE_INVALID;
	/* TILEZERO (F2 49) ignores B: its ModRM.rm is fixed at 000b. */
	if ((c & V_AMX) && (in->mode != X86_MODE_64 || in->ext_r || in->vvvv >= 8 ||
			    (in->ext_b && !(in->opcode == 0x49 && in->pp == X86_PP_F2))))
		return X86_DECODE_INVALID;
	if (c & V_GATHER) {
		unsigned d = modrm_reg(in->modrm) | in->ext_r, v = in->vvvv & vmask;

		if (d == in->mem.index || d == v || v == in->mem.index)
			return X86_DECODE_INVALID;
	}
	in->imm_size = (c & V_IB) ? 1 : 0;
	return X86_DECODE_OK;
}

int x86_vex_check(struct x86_insn *in)
{
	const uint32_t *row = vex_row(in->map, in->pp);
	unsigned c;

	if (!row)
		return X86_DECODE_INVALID;
	c = row[in->opcode];
	/* AMX register forms need an exact ModRM; LDTILECFG/TILERELEASE share 49. */
	if (in->map == 2 && in->opcode == 0x49 && in->pp == X86_PP_NONE) {
		if (in->vex_l || in->vex_w || (in->vvvv & 15) || in->mode != X86_MODE_64)
			return X86_DECODE_INVALID;
		if (modrm_mod(in->modrm) == 3)
			return in->modrm == 0xc0 ? X86_DECODE_OK : X86_DECODE_INVALID;
		return modrm_reg(in->modrm) == 0 ? X86_DECODE_OK : X86_DECODE_INVALID;
	}
	if (in->map == 2 && in->opcode == 0x49 && in->pp == X86_PP_F2)
		if (modrm_rm(in->modrm) != 0)
			return X86_DECODE_INVALID;
	/* AMX TDP*: the three tile registers must differ (SDM: TDPBSSD, #UD). */
	if (in->map == 2 && (in->opcode == 0x5c || in->opcode == 0x5e) && in->has_modrm) {
		unsigned r = modrm_reg(in->modrm), m = modrm_rm(in->modrm), v = in->vvvv & 7;

		if (r == m || r == v || m == v)
			return X86_DECODE_INVALID;
	}
	if (in->map == 3)
		c |= V_IB;
	return vex_constraints(in, c);
}

/* XOP (AMD APM vol. 4): map 8 has an imm8, map 9 none, map A an imm32; pp must be 0. */
static const uint32_t xop_map8[256] = {
    [0x85 ... 0x87] = VX | L0 | W0 | IB,
    [0x8e] = VX | L0 | W0 | IB,
    [0x8f] = VX | L0 | W0 | IB,
    [0x95 ... 0x97] = VX | L0 | W0 | IB,
    [0x9e] = VX | L0 | W0 | IB,
    [0x9f] = VX | L0 | W0 | IB,
    [0xa2] = VX | IB,
    [0xa3] = VX | L0 | IB,
    [0xa6] = VX | L0 | W0 | IB,
    [0xb6] = VX | L0 | W0 | IB,
    [0xc0 ... 0xc3] = NV | L0 | W0 | IB,
    [0xcc ... 0xcf] = VX | L0 | W0 | IB,
    [0xec ... 0xef] = VX | L0 | W0 | IB,
};

static const uint32_t xop_map9[256] = {
    [0x01] = VX | L0 | V_GRP,
    [0x02] = VX | L0 | V_GRP,
    [0x12] = NV | L0 | REG | V_GRP,
    [0x80] = NV | W0,
    [0x81] = NV | W0,
    [0x82] = NV | L0 | W0,
    [0x83] = NV | L0 | W0,
    [0x90 ... 0x9b] = VX | L0,
    [0xc1 ... 0xc3] = NV | L0 | W0,
    [0xc6] = NV | L0 | W0,
    [0xc7] = NV | L0 | W0,
    [0xcb] = NV | L0 | W0,
    [0xd1 ... 0xd3] = NV | L0 | W0,
    [0xd6] = NV | L0 | W0,
    [0xd7] = NV | L0 | W0,
    [0xdb] = NV | L0 | W0,
    [0xe1 ... 0xe3] = NV | L0 | W0,
};

static const uint32_t xop_mapa[256] = {
    [0x10] = NV | L0,
    [0x12] = VX | L0 | V_GRP,
};

int x86_xop_check(struct x86_insn *in)
{
	unsigned c, regs = 0xff;

	if (in->pp != X86_PP_NONE)
		return X86_DECODE_INVALID;
	switch (in->map) {
	case X86_MAP_XOP8:
		c = xop_map8[in->opcode];
		break;
	case X86_MAP_XOP9:
		c = xop_map9[in->opcode];
		regs = in->opcode == 0x01 ? 0xfe : in->opcode == 0x02 ? 0x42 : 0x03;
		break;
	case X86_MAP_XOPA:
		c = xop_mapa[in->opcode];
		regs = 0x03;
		break;
	default:
		return X86_DECODE_INVALID;
	}
	if ((c & V_GRP) && !((regs >> modrm_reg(in->modrm)) & 1))
		return X86_DECODE_INVALID;
	c &= ~V_GRP;
	if (vex_constraints(in, c))
		return X86_DECODE_INVALID;
	if (in->map == X86_MAP_XOPA)
		in->imm_size = 4;
	return X86_DECODE_OK;
}

/*
 * EVEX: the structure is checked (the fixed bits, a defined map, L'L = 3
 * only with register rounding), and the immediate follows the map; which
 * opcode/prefix/W combinations AVX-512 defines is not tabulated (see
 * docs/x86-emulation.md), except for the moves kvmlab emulates.
 */
int x86_evex_check(struct x86_insn *in)
{
	bool reg = modrm_mod(in->modrm) == 3;

	if (in->vex_l == 3 && !(in->evex_b && reg))
		return X86_DECODE_INVALID;
	switch (in->map) {
	case 1:
		in->imm_size = (in->opcode >= 0x70 && in->opcode <= 0x73) ||
				       (in->opcode >= 0xc2 && in->opcode <= 0xc6)
				   ? 1
				   : 0;
		break;
	case 3:
		in->imm_size = 1;
		break;
	case 2:
	case 5:
	case 6:
		in->imm_size = 0;
		break;
	default:
		return X86_DECODE_INVALID;
	}
	return X86_DECODE_OK;
}
