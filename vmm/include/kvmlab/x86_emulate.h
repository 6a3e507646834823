/* x86 instruction emulation over callbacks: what guests run on device memory. */
#ifndef KVMLAB_X86_EMULATE_H
#define KVMLAB_X86_EMULATE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "x86_decode.h"

/*
 * The emulator runs one instruction against a CPU state and an ops struct
 * that reaches guest-physical memory and the vector/x87 registers. It does
 * what the CPU does on the way: segmentation (bases, limits, types), the
 * guest's page-table walk (32-bit, PAE, 4- and 5-level, with accessed and
 * dirty bits, NX, SMEP/SMAP, WP, protection keys), alignment checks, exact
 * RFLAGS, and it reports the exception the CPU would raise instead of
 * half-doing the instruction. The same code runs under KVM (emulation-
 * failure exits, x86_emulate_exit.h), in the host-CPU oracle and in fuzzers
 * (plain buffers). It allocates nothing and keeps no global state.
 *
 * Emulated: MOV (all forms but loads of segment registers), MOVZX, MOVSX,
 * MOVSXD, MOVS/STOS/LODS/CMPS/SCAS with REP/REPE/REPNE and DF, ADD, OR,
 * ADC, SBB, AND, SUB, XOR, CMP, TEST, NOT, NEG, INC, DEC, XCHG, CMPXCHG,
 * XADD, BT/BTS/BTR/BTC, MOVNTI; MOVD, MOVQ (MMX and SSE), MOVDQA, MOVDQU,
 * MOVAPS/PD, MOVUPS/PD, MOVSS, MOVSD, MOVNTDQA, MOVNTDQ, MOVNTPS/PD, their
 * VEX forms (128 and 256 bits) and EVEX forms (with masking, up to 512
 * bits), MOVDIR64B; FLD, FST, FSTP of 32, 64 and 80-bit memory operands.
 */

enum x86_seg_type_bits {
	X86_SEG_ACCESSED = 1u << 0,
	X86_SEG_RW = 1u << 1,	/* data: writable; code: readable */
	X86_SEG_DOWN = 1u << 2, /* data: expand-down; code: conforming */
	X86_SEG_CODE = 1u << 3,
};

struct x86_segment {
	uint64_t base;
	uint32_t limit; /* in bytes (granularity already applied, as KVM reports it) */
	uint16_t selector;
	uint8_t type; /* enum x86_seg_type_bits */
	uint8_t s, dpl, present, db, l, g, unusable;
};

struct x86_cpu {
	uint64_t gpr[16]; /* RAX, RCX, RDX, RBX, RSP, RBP, RSI, RDI, R8-R15 */
	uint64_t rip;
	uint64_t rflags;
	struct x86_segment seg[6]; /* by enum x86_seg */
	uint64_t cr0, cr2, cr3, cr4, efer, xcr0;
	unsigned maxphyaddr; /* physical address width for reserved-bit checks; 0 means 52 */
};

/* The vector, x87 and opmask registers: loaded only for instructions that use them. */
struct x86_fpu {
	uint16_t fcw, fsw, fop;
	uint8_t ftw;	   /* abridged tag: bit i set = physical register i in use */
	uint64_t fip, fdp; /* last x87 instruction and data pointers */
	uint8_t st[8][10]; /* ST(i), in stack order (as FXSAVE lays them out) */
	uint32_t mxcsr;
	uint8_t zmm[32][64]; /* XMM in bytes 0-15, YMM's upper half 16-31, ZMM's 32-63 */
	uint64_t k[8];
	uint32_t pkru;
};

struct x86_fault {
	uint8_t vector;
	bool has_error;
	uint32_t error;
	uint64_t cr2; /* for #PF */
};

enum x86_vector {
	X86_EXC_DE = 0,
	X86_EXC_UD = 6,
	X86_EXC_NM = 7,
	X86_EXC_SS = 12,
	X86_EXC_GP = 13,
	X86_EXC_PF = 14,
	X86_EXC_MF = 16,
	X86_EXC_AC = 17,
};

/*
 * Guest-physical memory and extended registers, as the embedder provides
 * them. read and write see at most 8 bytes per call (MOVDIR64B: one 64-byte
 * write) and never cross a page; they return 0, or -1 when the access failed
 * in a way the embedder already reported (the machine was stopped). get_fpu
 * and set_fpu are called at most once each per instruction, and only for
 * instructions that use those registers; NULL means there are none (#UD).
 * cmpxchg, if given, makes the page-walk's accessed/dirty updates atomic
 * against other vCPUs: it returns 1 if *old matched and new was stored, 0
 * with *old updated if not, -1 if gpa is not RAM.
 */
struct x86_emu_ops {
	int (*read)(void *opaque, uint64_t gpa, void *buf, unsigned len);
	int (*write)(void *opaque, uint64_t gpa, const void *buf, unsigned len);
	int (*cmpxchg)(void *opaque, uint64_t gpa, uint64_t *old, uint64_t new_val);
	int (*get_fpu)(void *opaque, struct x86_fpu *fpu);
	int (*set_fpu)(void *opaque, const struct x86_fpu *fpu);
};

enum x86_emu_result {
	X86_EMU_OK = 0,	     /* done: registers updated, RIP past the instruction */
	X86_EMU_FAULT,	     /* raise emu.fault; RIP unchanged (REP progress so far kept) */
	X86_EMU_UNSUPPORTED, /* a valid instruction the emulator does not run (see emu.why) */
	X86_EMU_ERROR,	     /* a callback failed (see emu.why) */
	X86_EMU_PARTIAL,     /* REP stopped at max_rep iterations: RIP unchanged, run again */
};

struct x86_emu {
	const struct x86_emu_ops *ops;
	void *opaque;
	struct x86_cpu *cpu;
	unsigned decode_flags; /* enum x86_decode_flags (X86_DECODE_AMD) */
	unsigned max_rep;      /* iterations of a REP instruction per call; 0: no limit */
	/* Filled by x86_emulate: */
	struct x86_insn insn;
	struct x86_fault fault;
	char why[96];
	/* Private: the lazily loaded vector state. */
	struct x86_fpu fpu;
	bool fpu_loaded, fpu_dirty;
};

/* Prepares e for a run against cpu through ops. */
void x86_emu_init(struct x86_emu *e, const struct x86_emu_ops *ops, void *opaque,
		  struct x86_cpu *cpu);

/* The mode the CPU state runs in (real, 16, 32 or 64-bit). */
enum x86_mode x86_cpu_mode(const struct x86_cpu *cpu);

/*
 * Decodes bytes[0..len) in the CPU's mode and runs the instruction. An
 * invalid encoding is #UD and one longer than 15 bytes #GP(0), as on the CPU;
 * truncated bytes are X86_EMU_ERROR.
 */
enum x86_emu_result x86_emulate(struct x86_emu *e, const uint8_t *bytes, size_t len);

/* Runs an already decoded instruction (decoded in x86_cpu_mode(e->cpu)). */
enum x86_emu_result x86_emulate_insn(struct x86_emu *e, const struct x86_insn *in);

enum x86_access {
	X86_ACC_READ = 0,
	X86_ACC_WRITE = 1u << 0,
	X86_ACC_FETCH = 1u << 1,
};

/*
 * Translates a linear address through the guest's paging (identity when
 * CR0.PG is clear), for an access of kind acc at the CPU's privilege level.
 * Returns X86_EMU_OK with *gpa, X86_EMU_FAULT with e->fault (#PF), or
 * X86_EMU_ERROR when a page-table read failed. Sets accessed (and, for
 * writes, dirty) bits as the CPU would.
 */
enum x86_emu_result x86_translate(struct x86_emu *e, uint64_t la, unsigned acc, uint64_t *gpa);

/*
 * Whether in (decoded at rip) accesses guest-physical address gpa through its
 * memory operand, or through rSI/rDI for a string instruction, with the CPU's
 * current registers: how a trace finds the instruction behind an MMIO exit.
 */
bool x86_insn_touches(struct x86_emu *e, const struct x86_insn *in, uint64_t rip, uint64_t gpa);

/*
 * Reads len bytes (at most 15) of code at CS:rip through segmentation and
 * paging, stopping early at a fault or an unreadable page; returns how many
 * bytes it read.
 */
size_t x86_fetch(struct x86_emu *e, uint64_t rip, uint8_t *buf, size_t len);

/* ---- the XSAVE standard format, as KVM_GET_XSAVE and the XSAVE instruction use ---- */

/* Where XSAVE state components live in a standard-format buffer (CPUID leaf 0xD). */
struct x86_xsave_layout {
	uint32_t size;	     /* bytes the features in xcr0 need */
	uint32_t offset[10]; /* component i's offset (0: not present) */
	uint64_t features;   /* the components this layout covers */
};

/* The host CPU's layout for the components in features (CPUID 0xD). */
void x86_xsave_layout_host(struct x86_xsave_layout *l, uint64_t features);

/* Unpacks buf (a standard-format XSAVE image) into f: components absent from
 * XSTATE_BV read as their initial state. */
void x86_xsave_unpack(const struct x86_xsave_layout *l, const void *buf, struct x86_fpu *f);

/* Packs f into buf, setting XSTATE_BV for every component the layout covers. */
void x86_xsave_pack(const struct x86_xsave_layout *l, const struct x86_fpu *f, void *buf);

#endif
