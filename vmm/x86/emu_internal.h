/* Shared between the emulator's files: registers, flags, faults and memory access helpers. */
#ifndef KVMLAB_X86_EMU_INTERNAL_H
#define KVMLAB_X86_EMU_INTERNAL_H

#include <stdio.h>
#include <string.h>

#include "kvmlab/x86_emulate.h"

#define RFLAGS_CF    (1ull << 0)
#define RFLAGS_PF    (1ull << 2)
#define RFLAGS_AF    (1ull << 4)
#define RFLAGS_ZF    (1ull << 6)
#define RFLAGS_SF    (1ull << 7)
#define RFLAGS_DF    (1ull << 10)
#define RFLAGS_OF    (1ull << 11)
#define RFLAGS_AC    (1ull << 18)
#define RFLAGS_VM    (1ull << 17)
#define RFLAGS_ARITH (RFLAGS_CF | RFLAGS_PF | RFLAGS_AF | RFLAGS_ZF | RFLAGS_SF | RFLAGS_OF)

#define CR0_PE (1ull << 0)
#define CR0_MP (1ull << 1)
#define CR0_EM (1ull << 2)
#define CR0_TS (1ull << 3)
#define CR0_NE (1ull << 5)
#define CR0_WP (1ull << 16)
#define CR0_AM (1ull << 18)
#define CR0_PG (1ull << 31)

#define CR4_PSE	    (1ull << 4)
#define CR4_PAE	    (1ull << 5)
#define CR4_OSFXSR  (1ull << 9)
#define CR4_LA57    (1ull << 12)
#define CR4_OSXSAVE (1ull << 18)
#define CR4_SMEP    (1ull << 20)
#define CR4_SMAP    (1ull << 21)
#define CR4_PKE	    (1ull << 22)

#define EFER_LMA (1ull << 10)
#define EFER_NXE (1ull << 11)

#define XCR0_X87    (1ull << 0)
#define XCR0_SSE    (1ull << 1)
#define XCR0_AVX    (1ull << 2)
#define XCR0_OPMASK (1ull << 5)
#define XCR0_ZMM_HI (1ull << 6)
#define XCR0_HI16   (1ull << 7)
#define XCR0_PKRU   (1ull << 9)

/* Results inside the emulator are enum x86_emu_result; these read better in code. */
#define OK    X86_EMU_OK
#define FAULT X86_EMU_FAULT

/* Raises an exception (returns FAULT). */
int emu_fault(struct x86_emu *e, unsigned vector, bool has_error, uint32_t error);

static inline int emu_gp0(struct x86_emu *e)
{
	return emu_fault(e, X86_EXC_GP, true, 0);
}

static inline int emu_ud(struct x86_emu *e)
{
	return emu_fault(e, X86_EXC_UD, false, 0);
}

/* An instruction or form outside the subset: X86_EMU_UNSUPPORTED with a reason. */
int emu_unsupported(struct x86_emu *e, const char *what);

/* A callback failure: X86_EMU_ERROR with a reason. */
int emu_error(struct x86_emu *e, const char *what);

unsigned emu_cpl(const struct x86_cpu *c);

static inline uint64_t size_mask(unsigned size)
{
	return size >= 8 ? ~0ull : (1ull << (8 * size)) - 1;
}

static inline uint64_t sign_extend(uint64_t v, unsigned size)
{
	unsigned sh = 64 - 8 * size;

	return size >= 8 ? v : (uint64_t)((int64_t)(v << sh) >> sh);
}

/* GPR access with the x86 width rules (32-bit writes zero the upper half). */
uint64_t emu_gpr_read(const struct x86_emu *e, unsigned reg, unsigned size, bool high8);
void emu_gpr_write(struct x86_emu *e, unsigned reg, unsigned size, bool high8, uint64_t v);

/* The value of a register operand. */
uint64_t emu_reg_op(const struct x86_emu *e, const struct x86_operand *op);
void emu_reg_op_write(struct x86_emu *e, const struct x86_operand *op, uint64_t v);

/* The immediate, sign-extended from its encoded size to size bytes. */
uint64_t emu_imm(const struct x86_insn *in, unsigned size);

/* Effective address of the instruction's memory operand (truncated to the address size). */
uint64_t emu_ea(const struct x86_emu *e, const struct x86_insn *in);

/* A translated access: up to two guest-physical pieces (it may cross a page). */
struct emu_xlat {
	uint64_t la;
	uint64_t gpa[2];
	unsigned len[2];
	unsigned n;
};

/*
 * Segmentation, alignment and paging for len bytes at seg:ea, for an access
 * of kind acc (X86_ACC_READ or X86_ACC_WRITE; read-modify-write destinations
 * are translated for writing before they are read). align > 1 demands that
 * alignment of the linear address (#GP(0), before any page fault); #AC
 * applies as the CPU's alignment-check rules say.
 */
int emu_prepare(struct x86_emu *e, unsigned seg, uint64_t ea, unsigned len, unsigned acc,
		unsigned align, struct emu_xlat *x);

/* Whether alignment checking (#AC) is on: CPL 3, CR0.AM and RFLAGS.AC. */
bool emu_ac_enabled(const struct x86_emu *e);

/* The linear address of seg:ea with segmentation's checks (no paging). */
int emu_linear(struct x86_emu *e, unsigned seg, uint64_t ea, unsigned len, unsigned acc,
	       uint64_t *la);

/* Reads or writes a prepared range, in pieces of at most 8 bytes (whole, if whole). */
int emu_xread(struct x86_emu *e, const struct emu_xlat *x, void *buf);
int emu_xwrite(struct x86_emu *e, const struct emu_xlat *x, const void *buf, bool whole);

/* prepare + read / write in one step. */
int emu_read(struct x86_emu *e, unsigned seg, uint64_t ea, void *buf, unsigned len);
int emu_write(struct x86_emu *e, unsigned seg, uint64_t ea, const void *buf, unsigned len);

/* Loads the vector/x87 state (once per instruction). */
int emu_fpu(struct x86_emu *e);

/* Instruction groups (emu_alu.c, emu_string.c, emu_vec.c, emu_x87.c). */
int emu_integer(struct x86_emu *e, const struct x86_insn *in);
int emu_string(struct x86_emu *e, const struct x86_insn *in);
int emu_vector(struct x86_emu *e, const struct x86_insn *in);
int emu_x87(struct x86_emu *e, const struct x86_insn *in);

/* Flags of an arithmetic result (emu_alu.c). */
uint64_t emu_flags_szp(uint64_t r, unsigned size);

#endif
