/* Oracle: the emulator against Unicorn on random integer instructions in 16/32/64-bit code. */
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unicorn/unicorn.h>
#include <unistd.h>

#include "kvmlab/x86_emulate.h"
#include "x86_rand.h"

/*
 * Cheaper than the host CPU and not limited to 64-bit user mode: random
 * instructions of the emulated integer subset (prefixes, ModRM, SIB,
 * displacements and immediates at random) run in real mode (16-bit), flat
 * 32-bit protected mode and 64-bit mode, over 64 KiB of memory at address 0,
 * in the emulator (paging off) and in Unicorn 2. Both must agree on every
 * GPR, the defined flags and memory, or both refuse the access (outside the
 * 64 KiB). What Unicorn does not model is counted apart, not compared:
 * real-mode segment-limit faults (QEMU ignores limits), and the undefined
 * flags of each instruction. Usage: x86_unicorn_check [-n CASES] [-s SEED].
 */

#define MEM_SIZE  0x10000
#define CODE_ADDR 0xf000 /* inside the 64 KiB: real mode's IP reaches it with CS = 0 */

static const char *const mode_names[] = {"16 (real)", "16", "32", "64"};

/* One-byte and 0F opcodes of the integer subset, to bias the generator. */
static const uint8_t ops1[] = {
    0x00, 0x01, 0x02, 0x03, 0x04, 0x05, 0x08, 0x09, 0x0a, 0x0b, 0x10, 0x11, 0x12, 0x13, 0x18,
    0x19, 0x1a, 0x1b, 0x20, 0x21, 0x22, 0x23, 0x28, 0x29, 0x2a, 0x2b, 0x30, 0x31, 0x32, 0x33,
    0x38, 0x39, 0x3a, 0x3b, 0x3c, 0x3d, 0x80, 0x81, 0x83, 0x84, 0x85, 0x86, 0x87, 0x88, 0x89,
    0x8a, 0x8b, 0xa0, 0xa1, 0xa2, 0xa3, 0xa4, 0xa5, 0xa6, 0xa7, 0xa8, 0xa9, 0xaa, 0xab, 0xac,
    0xad, 0xae, 0xaf, 0xb0, 0xb8, 0xc6, 0xc7, 0xf6, 0xf7, 0xfe, 0xff, 0x91, 0x63};
static const uint8_t ops2[] = {0xa3, 0xab, 0xb3, 0xbb, 0xba, 0xb0, 0xb1,
			       0xc0, 0xc1, 0xb6, 0xb7, 0xbe, 0xbf, 0xc3};

struct mem {
	uint8_t b[MEM_SIZE];
};

static int mem_read(void *opaque, uint64_t gpa, void *buf, unsigned len)
{
	struct mem *m = opaque;

	if (gpa >= MEM_SIZE || len > MEM_SIZE - gpa)
		return -1;
	memcpy(buf, m->b + gpa, len);
	return 0;
}

static int mem_write(void *opaque, uint64_t gpa, const void *buf, unsigned len)
{
	struct mem *m = opaque;

	if (gpa >= MEM_SIZE || len > MEM_SIZE - gpa)
		return -1;
	memcpy(m->b + gpa, buf, len);
	return 0;
}

static const struct x86_emu_ops flat_ops = {.read = mem_read, .write = mem_write};

static const int uc_gpr[16] = {UC_X86_REG_RAX, UC_X86_REG_RCX, UC_X86_REG_RDX, UC_X86_REG_RBX,
			       UC_X86_REG_RSP, UC_X86_REG_RBP, UC_X86_REG_RSI, UC_X86_REG_RDI,
			       UC_X86_REG_R8,  UC_X86_REG_R9,  UC_X86_REG_R10, UC_X86_REG_R11,
			       UC_X86_REG_R12, UC_X86_REG_R13, UC_X86_REG_R14, UC_X86_REG_R15};

static const int uc_gpr32[8] = {UC_X86_REG_EAX, UC_X86_REG_ECX, UC_X86_REG_EDX, UC_X86_REG_EBX,
				UC_X86_REG_ESP, UC_X86_REG_EBP, UC_X86_REG_ESI, UC_X86_REG_EDI};

static int uc_reg(enum x86_mode mode, unsigned i)
{
	return mode == X86_MODE_64 ? uc_gpr[i] : uc_gpr32[i];
}

/* Random bytes with a prefix or two and a subset opcode in front. */
static size_t gen(struct x86_rand *r, enum x86_mode mode, uint8_t *b)
{
	uint8_t head[8];
	size_t n = 0;

	if (x86_rand_below(r, 4) == 0)
		head[n++] = 0x66;
	if (x86_rand_below(r, 6) == 0)
		head[n++] = 0x67;
	if (x86_rand_below(r, 8) == 0)
		head[n++] = x86_rand_below(r, 2) ? 0xf3 : 0xf2;
	if (x86_rand_below(r, 10) == 0)
		head[n++] = 0x26; /* ES: base 0 too */
	if (mode == X86_MODE_64 && x86_rand_below(r, 2))
		head[n++] = (uint8_t)(0x40 | x86_rand_below(r, 16));
	if (x86_rand_below(r, 5) == 0) {
		head[n++] = 0x0f;
		head[n++] = ops2[x86_rand_below(r, sizeof(ops2))];
	} else {
		head[n++] = ops1[x86_rand_below(r, sizeof(ops1))];
	}
	x86_rand_bytes(r, b, 16);
	/* Small displacements mostly, so addresses land in the 64 KiB. */
	if (x86_rand_below(r, 2))
		for (size_t i = n + 2; i < 16; i++)
			b[i] &= 0x0f;
	memcpy(b, head, n);
	return 15;
}

struct stats {
	uint64_t cases, compared, both_refused, unmodeled, mismatches, skipped;
};

static void show(const uint8_t *b, const struct x86_insn *in, enum x86_mode mode, const char *why)
{
	static unsigned printed;
	char txt[96];

	if (printed++ >= 30)
		return;
	x86_format(in, txt, sizeof(txt));
	printf("  MISMATCH mode %s [", mode_names[mode]);
	for (unsigned i = 0; i < in->len; i++)
		printf("%02x", b[i]);
	printf("] %s: %s\n", txt, why);
}

/* Flags an instruction leaves undefined (SDM vol. 1, appendix A). */
static uint64_t undefined_flags(const struct x86_insn *in)
{
	switch (in->mnemonic) {
	case X86_MN_AND:
	case X86_MN_OR:
	case X86_MN_XOR:
	case X86_MN_TEST:
		return 1u << 4;
	case X86_MN_BT:
	case X86_MN_BTS:
	case X86_MN_BTR:
	case X86_MN_BTC:
		return (1u << 11) | (1u << 7) | (1u << 4) | (1u << 2);
	default:
		return 0;
	}
}

/*
 * Encodings the CPU runs and Unicorn (QEMU 5's decoder) refuses: TEST's /1 alias of F6/F7
 * (SDM vol. 2, table A-6 lists /0; CPUs and Zydis decode /1 the same), and a REX.R on an
 * opcode-extension group, which the CPU ignores (SDM vol. 2, 2.2.1.2).
 */
static bool unicorn_refuses(const struct x86_insn *in)
{
	unsigned reg = (in->modrm >> 3) & 7;

	if (!in->has_modrm || in->map != X86_MAP_PRIMARY)
		return (in->rex & 4) && in->map == X86_MAP_0F && in->opcode == 0xba;
	if ((in->opcode == 0xf6 || in->opcode == 0xf7) && reg == 1)
		return true;
	return (in->rex & 4) && (in->opcode == 0xc6 || in->opcode == 0xc7 || in->opcode == 0xf6 ||
				 in->opcode == 0xf7 || in->opcode == 0xfe || in->opcode == 0xff ||
				 (in->opcode >= 0x80 && in->opcode <= 0x83));
}

static void one(struct x86_rand *r, enum x86_mode mode, uc_engine *uc, struct mem *m,
		struct stats *st)
{
	static struct mem mine;
	uint8_t b[16];
	struct x86_insn in;
	struct x86_cpu cpu;
	struct x86_emu e;
	uint64_t regs[16], rflags, mask;
	enum x86_emu_result er;
	uc_err ue;
	char why[160];

	st->cases++;
	gen(r, mode, b);
	if (x86_decode(b, 15, mode, 0, &in) || in.mnemonic == X86_MN_OTHER ||
	    in.mnemonic >= X86_MN_MOVD) {
		st->skipped++;
		return;
	}
	for (unsigned i = 0; i < 16; i++)
		regs[i] = x86_rand_below(r, 3) ? x86_rand_below(r, 0x7000) : x86_rand_u64(r);
	regs[1] &= 0xf; /* bounded REP counts */
	regs[4] = 0x8000;
	if (mode != X86_MODE_64)
		for (unsigned i = 0; i < 16; i++)
			regs[i] &= 0xffffffffull;
	rflags = 0x2 | (x86_rand_u64(r) & 0x8d5) | (x86_rand_below(r, 4) ? 0 : 0x400);
	x86_rand_bytes(r, m->b, MEM_SIZE);
	memcpy(m->b + CODE_ADDR, b, 16);
	mine = *m;

	/* The emulator: paging off, flat segments (base 0). */
	memset(&cpu, 0, sizeof(cpu));
	memcpy(cpu.gpr, regs, sizeof(regs));
	cpu.rflags = rflags;
	cpu.rip = CODE_ADDR;
	for (unsigned i = 0; i < 6; i++)
		cpu.seg[i] =
		    (struct x86_segment){.limit = mode == X86_MODE_REAL ? 0xffff : 0xffffffff,
					 .type = 3,
					 .s = 1,
					 .present = 1,
					 .db = mode == X86_MODE_32,
					 .g = mode != X86_MODE_REAL};
	cpu.seg[X86_SEG_CS].type = 11;
	cpu.seg[X86_SEG_CS].l = mode == X86_MODE_64;
	cpu.cr0 = mode == X86_MODE_REAL ? 0x10 : 0x11;
	if (mode == X86_MODE_64)
		cpu.efer = 0x500;
	x86_emu_init(&e, &flat_ops, &mine, &cpu);
	e.decode_flags = 0; /* Intel's vendor choices, as QEMU makes them */
	er = x86_emulate(&e, b, in.len);

	/* Unicorn. */
	uc_mem_write(uc, 0, m->b, MEM_SIZE);
	for (unsigned i = 0; i < (mode == X86_MODE_64 ? 16u : 8u); i++)
		uc_reg_write(uc, uc_reg(mode, i), &regs[i]);
	uc_reg_write(uc, UC_X86_REG_EFLAGS, &rflags);
	/* The code at CODE_ADDR changes every case: drop QEMU's translation of the last one. Run
	 * to the end of the instruction, not one "instruction": QEMU counts REP iterations. */
	uc_ctl_remove_cache(uc, CODE_ADDR, CODE_ADDR + 16);
	ue = uc_emu_start(uc, CODE_ADDR, CODE_ADDR + in.len, 0, 0);

	if (er == X86_EMU_UNSUPPORTED) {
		st->skipped++;
		return;
	}
	if (er == X86_EMU_FAULT && mode == X86_MODE_REAL &&
	    (e.fault.vector == X86_EXC_GP || e.fault.vector == X86_EXC_SS) && ue == UC_ERR_OK) {
		st->unmodeled++; /* a real-mode segment-limit fault QEMU does not raise */
		return;
	}
	if (er == X86_EMU_OK && ue == UC_ERR_INSN_INVALID && unicorn_refuses(&in)) {
		st->unmodeled++;
		return;
	}
	if ((er != X86_EMU_OK) != (ue != UC_ERR_OK)) {
		snprintf(why, sizeof(why), "emulator %s%s%s, unicorn %s",
			 er == X86_EMU_OK      ? "completed"
			 : er == X86_EMU_FAULT ? "faulted"
					       : "failed",
			 e.why[0] ? ": " : "", e.why, uc_strerror(ue));
		goto bad;
	}
	if (er != X86_EMU_OK) {
		st->both_refused++;
		return;
	}
	st->compared++;
	for (unsigned i = 0; i < (mode == X86_MODE_64 ? 16u : 8u); i++) {
		uint64_t v = 0;

		uc_reg_read(uc, uc_reg(mode, i), &v);
		if (mode != X86_MODE_64)
			v &= 0xffffffffull, cpu.gpr[i] &= 0xffffffffull;
		if (v != cpu.gpr[i]) {
			snprintf(why, sizeof(why), "gpr %u: %#" PRIx64 " vs unicorn %#" PRIx64, i,
				 cpu.gpr[i], v);
			goto bad;
		}
	}
	mask = 0x8d5 & ~undefined_flags(&in);
	{
		uint64_t f = 0;

		uc_reg_read(uc, UC_X86_REG_EFLAGS, &f);
		if ((f ^ cpu.rflags) & mask) {
			snprintf(why, sizeof(why), "rflags %#" PRIx64 " vs unicorn %#" PRIx64,
				 cpu.rflags, f);
			goto bad;
		}
	}
	uc_mem_read(uc, 0, m->b, MEM_SIZE);
	if (memcmp(m->b, mine.b, MEM_SIZE)) {
		snprintf(why, sizeof(why), "memory differs");
		goto bad;
	}
	return;
bad:
	st->mismatches++;
	show(b, &in, mode, why);
}

int main(int argc, char **argv)
{
	static struct mem m;
	uint64_t n = 20000, seed = 1, bad = 0;
	int opt;

	while ((opt = getopt(argc, argv, "n:s:")) != -1) {
		if (opt == 'n')
			n = strtoull(optarg, NULL, 0);
		else if (opt == 's')
			seed = strtoull(optarg, NULL, 0);
		else
			return 2;
	}
	for (int mode = X86_MODE_REAL; mode <= X86_MODE_64; mode++) {
		struct stats st = {0};
		struct x86_rand r;
		uc_engine *uc;

		if (mode == X86_MODE_16)
			continue; /* Unicorn's 16-bit mode is real mode */
		if (uc_open(UC_ARCH_X86,
			    mode == X86_MODE_64	  ? UC_MODE_64
			    : mode == X86_MODE_32 ? UC_MODE_32
						  : UC_MODE_16,
			    &uc) != UC_ERR_OK ||
		    uc_mem_map(uc, 0, MEM_SIZE, UC_PROT_ALL)) {
			fprintf(stderr, "x86_unicorn_check: cannot set up Unicorn\n");
			return 2;
		}
		x86_rand_seed(&r, seed * 7919 + (uint64_t)mode);
		for (uint64_t i = 0; i < n; i++)
			one(&r, (enum x86_mode)mode, uc, &m, &st);
		uc_close(uc);
		printf("mode %-9s: %" PRIu64 " cases, %" PRIu64 " compared, %" PRIu64
		       " refused by both, %" PRIu64 " not modeled by unicorn, %" PRIu64
		       " outside the subset, %" PRIu64 " mismatches\n",
		       mode_names[mode], st.cases, st.compared, st.both_refused, st.unmodeled,
		       st.skipped, st.mismatches);
		bad += st.mismatches;
	}
	return bad ? 1 : 0;
}
