/* Instruction forms the x86 oracles test, and a generator of random cases for each. */
#ifndef KVMLAB_X86_FORMS_H
#define KVMLAB_X86_FORMS_H

#include <stdbool.h>
#include <stdint.h>

#include "kvmlab/x86_emulate.h"
#include "x86_rand.h"

enum form_enc { FE_LEGACY, FE_VEX, FE_EVEX };

enum form_modrm {
	FM_NONE, /* no ModRM (string instructions, moffs, accumulator forms) */
	FM_MEM,	 /* memory operand only */
	FM_ANY,	 /* memory (mostly) or register */
};

enum form_kind {
	FK_INT,	   /* general-purpose registers and flags */
	FK_STRING, /* MOVS/STOS/LODS/CMPS/SCAS */
	FK_MOFFS,  /* MOV with a 64-bit absolute offset */
	FK_VEC,	   /* vector registers */
	FK_X87,
};

/* What the host CPU must have for a form to run natively (CPUID). */
enum form_need {
	NEED_NONE = 0,
	NEED_AVX = 1u << 0,
	NEED_AVX512 = 1u << 1, /* F, BW and VL */
	NEED_MOVDIR64B = 1u << 2,
};

struct x86_form {
	const char *name;
	uint8_t enc; /* enum form_enc */
	uint8_t pfx; /* mandatory prefix byte (66, F3, F2) or 0 */
	uint8_t map; /* 0: one-byte, 1: 0F, 2: 0F38 */
	uint8_t op;
	int8_t reg;	/* fixed ModRM.reg (/n), or -1 */
	uint8_t modrm;	/* enum form_modrm */
	uint8_t imm;	/* immediate bytes; 0xff: operand-sized (16 or 32) */
	uint8_t osz;	/* operand sizes allowed: bit 0 16, bit 1 32, bit 2 64; 0: fixed */
	uint8_t vl;	/* VEX/EVEX: allowed L (bit 0 128, bit 1 256, bit 2 512) */
	uint8_t w;	/* VEX/EVEX W: 0, 1, or 2 for either */
	uint8_t align;	/* natural alignment the form demands (0: none); 0xff: the VL */
	uint8_t kind;	/* enum form_kind */
	uint8_t rep;	/* string: REP prefixes allowed */
	uint8_t mask;	/* EVEX: opmask allowed (1), zeroing allowed (2) */
	uint8_t need;	/* enum form_need */
	uint64_t undef; /* RFLAGS bits the architecture leaves undefined */
};

extern const struct x86_form x86_forms[];
extern const unsigned x86_nforms;

#define CASE_PAGES 2 /* data pages A and B; a guard page follows B */
#define PAGE	   4096

/* One test case: the instruction and the whole initial state. */
struct x86_case {
	const struct x86_form *form;
	uint8_t code[16];
	unsigned len;
	uint64_t gpr[16];
	uint64_t rflags;
	struct x86_fpu fpu;
	uint8_t mem[CASE_PAGES * PAGE];
};

/* Where the case lives in the address space the oracle provides. */
struct x86_case_env {
	uint64_t code_addr; /* the instruction's address */
	uint64_t mem_addr;  /* linear address of data page A (page-aligned) */
	uint64_t fs_base;
	bool allow_fs; /* FS overrides may be generated */
	bool allow_ac; /* RFLAGS.AC may be set (CPL 3 with CR0.AM) */
};

/* Generates a random case of form f. */
void x86_case_make(struct x86_rand *r, const struct x86_form *f, const struct x86_case_env *env,
		   struct x86_case *c);

/* The host's CPUID features as enum form_need bits. */
unsigned x86_host_features(void);

/* A CPU state for a case: 64-bit user mode (CPL 3) with paging through cr3. */
void x86_case_cpu(const struct x86_case *c, const struct x86_case_env *env, uint64_t cr3,
		  uint64_t xcr0, struct x86_cpu *cpu);

#endif
