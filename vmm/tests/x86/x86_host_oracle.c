/* Oracle: each emulated form run natively on the host CPU and in the emulator, compared. */
#include <asm/prctl.h>
#include <cpuid.h>
#include <inttypes.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/syscall.h>
#include <ucontext.h>
#include <unistd.h>

#include "x86_forms.h"

/*
 * For each form, N random cases: the instruction is written into an
 * executable page next to two data pages and a guard page (all below 2 GiB,
 * so 32-bit addressing reaches them); x86_host_run.S loads the registers,
 * RFLAGS and the XSAVE image, runs it and saves everything back. The same
 * case then runs in the emulator against a copy of the data pages mapped
 * through page tables of its own (the guard page unmapped). Results must
 * agree: the fault (vector, error code, CR2) or completion, every GPR,
 * RFLAGS but the bits the form leaves undefined, both data pages, and the
 * x87/SSE/AVX/AVX-512 state (but FIP/FDP/FOP and the x87 condition codes
 * C0/C2/C3, which FLD/FST leave undefined).
 *
 * Inside harness/kvmbox the "host CPU" is QEMU's TCG (CPUID hypervisor
 * signature "TCGTCGTCGTCG"), which does not model everything a CPU does:
 * there the oracle leaves out what TCG lacks and says so: RFLAGS.AC (TCG
 * raises no #AC), the x87 and MMX forms (no stack faults, no C1 rounding
 * flag, other conversions of unsupported formats, other MMX tag handling),
 * and of a faulting instruction all but the fault itself (TCG reports the
 * W bit of a read-modify-write's #PF as a read, #GP for stack-segment
 * faults, stale RFLAGS, and writes the first page of a store that faults on
 * the second). The real CPU is the oracle for those, on the host.
 *
 * Usage: x86_host_oracle [-n CASES] [-s SEED] [-f NAME-PREFIX] [-v]
 */

#define XSAVE_MAX 8192

struct oracle_regs {
	uint64_t gpr[16];
	uint64_t rflags;
	uint64_t host_rsp;
	uint64_t pad[6];
	uint8_t xsave[XSAVE_MAX] __attribute__((aligned(64)));
	uint8_t host_xsave[XSAVE_MAX] __attribute__((aligned(64)));
};

_Static_assert(__builtin_offsetof(struct oracle_regs, xsave) == 192, "x86_host_run.S offsets");

int oracle_run(struct oracle_regs *r, const void *code, uint64_t xcr0);
void oracle_return(void);
void oracle_faulted(void);

/* What a signal during the instruction left. */
struct host_fault {
	int signo;
	uint64_t trapno, err, addr;
	uint64_t gpr[16], rflags;
};

static struct host_fault fault;
static uint64_t *fault_host_rsp; /* where oracle_run saved the host's RSP */

/*
 * Records the fault and makes the signal return into oracle_faulted on the
 * oracle's own stack (no longjmp: sigreturn restores a sane context).
 */
static void on_fault(int signo, siginfo_t *si, void *ctx)
{
	greg_t *g;

	/* Signal delivery keeps RFLAGS.AC: clear it before C code runs misaligned accesses. */
	__asm__ volatile("pushfq; andq $~0x40000, (%%rsp); popfq" ::: "memory", "cc");
	g = ((ucontext_t *)ctx)->uc_mcontext.gregs;
	static const int order[16] = {REG_RAX, REG_RCX, REG_RDX, REG_RBX, REG_RSP, REG_RBP,
				      REG_RSI, REG_RDI, REG_R8,	 REG_R9,  REG_R10, REG_R11,
				      REG_R12, REG_R13, REG_R14, REG_R15};

	fault.signo = signo;
	fault.trapno = (uint64_t)g[REG_TRAPNO];
	fault.err = (uint64_t)g[REG_ERR];
	fault.addr = (uint64_t)si->si_addr;
	for (unsigned i = 0; i < 16; i++)
		fault.gpr[i] = (uint64_t)g[order[i]];
	fault.rflags = (uint64_t)g[REG_EFL];
	g[REG_RIP] = (greg_t)(uintptr_t)oracle_faulted;
	g[REG_RSP] = (greg_t)*fault_host_rsp;
	g[REG_EFL] = 0x202;
}

/* ---- the emulator's view: fake physical frames and page tables ---- */

#define NFRAMES 16

struct phys {
	uint8_t frame[NFRAMES][PAGE];
	unsigned used;
	uint64_t cr3;
};

static int phys_read(void *opaque, uint64_t gpa, void *buf, unsigned len)
{
	struct phys *p = opaque;

	if (gpa + len > (uint64_t)NFRAMES * PAGE)
		return -1;
	memcpy(buf, &p->frame[0][0] + gpa, len);
	return 0;
}

static int phys_write(void *opaque, uint64_t gpa, const void *buf, unsigned len)
{
	struct phys *p = opaque;

	if (gpa + len > (uint64_t)NFRAMES * PAGE)
		return -1;
	memcpy(&p->frame[0][0] + gpa, buf, len);
	return 0;
}

static uint64_t new_frame(struct phys *p)
{
	memset(p->frame[p->used], 0, PAGE);
	return (uint64_t)p->used++ * PAGE;
}

/* Maps the user page at la to frame (4-level paging, U/S=1, R/W=1, NX). */
static void map_page(struct phys *p, uint64_t la, uint64_t frame)
{
	uint64_t table = p->cr3;

	for (int level = 4; level > 1; level--) {
		uint64_t *e =
		    (uint64_t *)(&p->frame[0][0] + table) + ((la >> (12 + 9 * (level - 1))) & 511);

		if (!(*e & 1))
			*e = new_frame(p) | 7;
		table = *e & ~0xfffull & ((1ull << 52) - 1);
	}
	((uint64_t *)(&p->frame[0][0] + table))[(la >> 12) & 511] = frame | 7 | (1ull << 63);
}

struct emu_side {
	struct phys phys;
	uint64_t data_frame[CASE_PAGES];
	uint64_t code_frame;
	struct x86_fpu fpu_in, fpu_out;
	bool fpu_written;
};

static int get_fpu(void *opaque, struct x86_fpu *f)
{
	struct emu_side *s = (struct emu_side *)((char *)opaque - offsetof(struct emu_side, phys));

	*f = s->fpu_in;
	return 0;
}

static int set_fpu(void *opaque, const struct x86_fpu *f)
{
	struct emu_side *s = (struct emu_side *)((char *)opaque - offsetof(struct emu_side, phys));

	s->fpu_out = *f;
	s->fpu_written = true;
	return 0;
}

static const struct x86_emu_ops oracle_ops = {
    .read = phys_read, .write = phys_write, .get_fpu = get_fpu, .set_fpu = set_fpu};

/* ---- comparison ---- */

struct stats {
	uint64_t cases, faults, mismatches;
};

static const char *const gpr_names[16] = {"rax", "rcx", "rdx", "rbx", "rsp", "rbp", "rsi", "rdi",
					  "r8",	 "r9",	"r10", "r11", "r12", "r13", "r14", "r15"};

static int verbose;
static unsigned printed;

static void show_case(const struct x86_case *c, const char *what)
{
	char h[40] = "", txt[96] = "";
	struct x86_insn in;

	for (unsigned i = 0; i < c->len; i++)
		sprintf(h + 2 * i, "%02x", c->code[i]);
	if (x86_decode(c->code, c->len, X86_MODE_64, X86_DECODE_AMD, &in) == X86_DECODE_OK)
		x86_format(&in, txt, sizeof(txt));
	if (printed++ < 30) {
		printf("  MISMATCH %s [%s] %s: %s\n", c->form->name, h, txt, what);
		if (verbose > 1)
			for (unsigned i = 0; i < 16; i++)
				printf("    %s=%#" PRIx64 "%s", gpr_names[i], c->gpr[i],
				       i % 4 == 3 ? "\n" : "");
	}
}

static bool fpu_equal(const struct x86_fpu *a, const struct x86_fpu *b, uint64_t xcr0, bool x87,
		      char *why, size_t len)
{
	uint16_t cc = x87 ? 0x4500 : 0; /* C0, C2, C3: undefined after FLD/FST */

	if (a->fcw != b->fcw || ((a->fsw ^ b->fsw) & ~cc) || a->ftw != b->ftw) {
		snprintf(why, len,
			 "x87 control/status/tag: fcw %04x/%04x fsw %04x/%04x ftw %02x/%02x",
			 a->fcw, b->fcw, a->fsw, b->fsw, a->ftw, b->ftw);
		return false;
	}
	for (unsigned i = 0; i < 8; i++)
		if (memcmp(a->st[i], b->st[i], 10)) {
			uint64_t ma, mb;
			uint16_t ea, eb;

			memcpy(&ma, a->st[i], 8), memcpy(&ea, a->st[i] + 8, 2);
			memcpy(&mb, b->st[i], 8), memcpy(&eb, b->st[i] + 8, 2);
			snprintf(why, len, "st%u emu %04x:%016" PRIx64 " host %04x:%016" PRIx64, i,
				 ea, ma, eb, mb);
			return false;
		}
	if (a->mxcsr != b->mxcsr) {
		snprintf(why, len, "mxcsr %08x/%08x", a->mxcsr, b->mxcsr);
		return false;
	}
	for (unsigned i = 0; i < 32; i++) {
		unsigned n = (xcr0 & 0xe0) ? 64 : (xcr0 & 4) ? 32 : 16;

		if (i >= 16 && !(xcr0 & 0x80))
			break;
		if (memcmp(a->zmm[i], b->zmm[i], n)) {
			snprintf(why, len, "zmm%u differs", i);
			return false;
		}
	}
	if ((xcr0 & 0x20) && memcmp(a->k, b->k, sizeof(a->k))) {
		snprintf(why, len, "opmask registers differ");
		return false;
	}
	return true;
}

struct oracle {
	bool tcg; /* the "host CPU" is QEMU's TCG */
	struct oracle_regs *regs;
	void *altstack;
	uint8_t *code, *mem; /* code page, then data pages A, B, then the guard */
	struct x86_xsave_layout layout;
	uint64_t xcr0;
	struct x86_case_env env;
	struct emu_side *emu;
};

static bool run_case(struct oracle *o, const struct x86_case *c, struct stats *st)
{
	const struct x86_form *f = c->form;
	struct emu_side *s = o->emu;
	struct x86_cpu cpu;
	struct x86_emu e;
	struct x86_fpu host_fpu;
	enum x86_emu_result r;
	bool host_faulted;
	uint64_t host_gpr[16], host_rflags, flag_mask;
	char why[160];

	/* Host. */
	memset(o->code, 0xcc, PAGE);
	memcpy(o->mem, c->mem, sizeof(c->mem));
	memcpy(o->code, c->code, c->len);
	o->code[c->len] = 0xff; /* jmp [rip + to slot at 32] */
	o->code[c->len + 1] = 0x25;
	{
		int32_t rel = 32 - (int32_t)(c->len + 6);
		uint64_t ret = (uint64_t)(uintptr_t)oracle_return;

		memcpy(o->code + c->len + 2, &rel, 4);
		memcpy(o->code + 32, &ret, 8);
	}
	memcpy(s->phys.frame[s->code_frame / PAGE], o->code, PAGE); /* the emulator's copy */
	memcpy(o->regs->gpr, c->gpr, sizeof(c->gpr));
	o->regs->rflags = c->rflags;
	memset(o->regs->xsave, 0, 576);
	x86_xsave_pack(&o->layout, &c->fpu, o->regs->xsave);
	fault.signo = 0;
	fault_host_rsp = &o->regs->host_rsp;
	if (oracle_run(o->regs, o->code, o->xcr0) == 0) {
		host_faulted = false;
		memcpy(host_gpr, o->regs->gpr, sizeof(host_gpr));
		host_rflags = o->regs->rflags;
		x86_xsave_unpack(&o->layout, o->regs->xsave, &host_fpu);
	} else {
		host_faulted = true;
		memcpy(host_gpr, fault.gpr, sizeof(host_gpr));
		host_rflags = fault.rflags;
	}

	/* Emulator, on a copy of the same pages. */
	memcpy(s->phys.frame[s->data_frame[0] / PAGE], c->mem, PAGE);
	memcpy(s->phys.frame[s->data_frame[1] / PAGE], c->mem + PAGE, PAGE);
	s->fpu_in = c->fpu;
	s->fpu_written = false;
	x86_case_cpu(c, &o->env, s->phys.cr3, o->xcr0, &cpu);
	x86_emu_init(&e, &oracle_ops, &s->phys, &cpu);
	e.decode_flags = X86_DECODE_AMD;
	r = x86_emulate(&e, c->code, c->len);

	st->cases++;
	if (r == X86_EMU_UNSUPPORTED || r == X86_EMU_ERROR) {
		snprintf(why, sizeof(why), "emulator: %s (%s)",
			 r == X86_EMU_ERROR ? "error" : "unsupported", e.why);
		goto mismatch;
	}
	if (host_faulted != (r == X86_EMU_FAULT)) {
		if (host_faulted)
			snprintf(why, sizeof(why),
				 "host faulted (signal %d, vector %" PRIu64 ", error %#" PRIx64
				 ", addr %#" PRIx64 "), emulator did not",
				 fault.signo, fault.trapno, fault.err, fault.addr);
		else
			snprintf(why, sizeof(why),
				 "emulator raised vector %u (error %#x, cr2 %#" PRIx64
				 "), host completed",
				 e.fault.vector, e.fault.error, e.fault.cr2);
		goto mismatch;
	}
	if (host_faulted) {
		st->faults++;
		if (o->tcg &&
		    (fault.trapno == e.fault.vector ||
		     (fault.trapno == X86_EXC_GP && e.fault.vector == X86_EXC_SS)) &&
		    (e.fault.vector != X86_EXC_PF || fault.addr == e.fault.cr2))
			return true;
		if (fault.trapno != e.fault.vector) {
			snprintf(why, sizeof(why), "vector %u vs host %" PRIu64, e.fault.vector,
				 fault.trapno);
			goto mismatch;
		}
		if (e.fault.vector == X86_EXC_PF &&
		    (((fault.err ^ e.fault.error) & (o->tcg ? 0x1d : 0x1f)) ||
		     fault.addr != e.fault.cr2)) {
			snprintf(why, sizeof(why),
				 "#PF error %#x cr2 %#" PRIx64 " vs host %#" PRIx64 " %#" PRIx64,
				 e.fault.error, e.fault.cr2, fault.err, fault.addr);
			goto mismatch;
		}
	}
	for (unsigned i = 0; i < 16; i++)
		if (cpu.gpr[i] != host_gpr[i]) {
			snprintf(why, sizeof(why), "%s %#" PRIx64 " vs host %#" PRIx64,
				 gpr_names[i], cpu.gpr[i], host_gpr[i]);
			goto mismatch;
		}
	flag_mask = 0x40cd5ull & ~f->undef; /* arithmetic flags, DF, AC */
	if ((cpu.rflags ^ host_rflags) & flag_mask) {
		snprintf(why, sizeof(why), "rflags %#" PRIx64 " vs host %#" PRIx64, cpu.rflags,
			 host_rflags);
		goto mismatch;
	}
	for (unsigned p = 0; p < CASE_PAGES; p++)
		if (memcmp(s->phys.frame[s->data_frame[p] / PAGE], o->mem + p * PAGE, PAGE)) {
			unsigned at = 0;

			while (s->phys.frame[s->data_frame[p] / PAGE][at] == o->mem[p * PAGE + at])
				at++;
			snprintf(why, sizeof(why), "memory differs at page %u offset %#x", p, at);
			goto mismatch;
		}
	if (memcmp(s->phys.frame[s->code_frame / PAGE], o->code, PAGE)) {
		snprintf(why, sizeof(why), "the code page differs");
		goto mismatch;
	}
	if (!host_faulted && (f->kind == FK_VEC || f->kind == FK_X87)) {
		const struct x86_fpu *mine = s->fpu_written ? &s->fpu_out : &s->fpu_in;

		if (!fpu_equal(mine, &host_fpu, o->xcr0, f->kind == FK_X87, why, sizeof(why)))
			goto mismatch;
	}
	return true;
mismatch:
	st->mismatches++;
	show_case(c, why);
	return false;
}

static int setup(struct oracle *o)
{
	stack_t ss = {.ss_sp = malloc(1 << 16), .ss_size = 1 << 16};
	struct sigaction sa;
	uint64_t fs_base = 0;
	unsigned lo, hi;

	__asm__ volatile("xgetbv" : "=a"(lo), "=d"(hi) : "c"(0));
	o->xcr0 = ((uint64_t)hi << 32) | lo;
	o->xcr0 &= 0x2e7; /* x87, SSE, AVX, opmask, ZMM, PKRU: the state the emulator knows */
	x86_xsave_layout_host(&o->layout, o->xcr0);
	if (o->layout.size > XSAVE_MAX) {
		fprintf(stderr, "XSAVE area of %u bytes is too large\n", o->layout.size);
		return -1;
	}
	o->regs = aligned_alloc(64, sizeof(*o->regs));
	o->emu = calloc(1, sizeof(*o->emu));
	o->code = mmap(NULL, 4 * PAGE, PROT_READ | PROT_WRITE | PROT_EXEC,
		       MAP_PRIVATE | MAP_ANONYMOUS | MAP_32BIT, -1, 0);
	o->altstack = ss.ss_sp;
	if (!o->regs || !o->emu || o->code == MAP_FAILED || !ss.ss_sp) {
		perror("x86_host_oracle: setting up");
		return -1;
	}
	o->mem = o->code + PAGE;
	mprotect(o->mem + 2 * PAGE, PAGE, PROT_NONE);
	syscall(SYS_arch_prctl, ARCH_GET_FS, &fs_base);
	{
		unsigned a, b, c, d;

		__cpuid(0x40000000, a, b, c, d);
		o->tcg = b == 0x54474354 && c == 0x43544743 && d == 0x47435447; /* "TCGTCGTCGTCG" */
	}
	o->env = (struct x86_case_env){.code_addr = (uint64_t)(uintptr_t)o->code,
				       .mem_addr = (uint64_t)(uintptr_t)o->mem,
				       .fs_base = fs_base,
				       .allow_fs = true,
				       .allow_ac = !o->tcg};

	o->emu->phys.used = 0;
	o->emu->phys.cr3 = new_frame(&o->emu->phys);
	o->emu->data_frame[0] = new_frame(&o->emu->phys);
	o->emu->data_frame[1] = new_frame(&o->emu->phys);
	o->emu->code_frame = new_frame(&o->emu->phys);
	map_page(&o->emu->phys, o->env.code_addr, o->emu->code_frame);
	map_page(&o->emu->phys, o->env.mem_addr, o->emu->data_frame[0]);
	map_page(&o->emu->phys, o->env.mem_addr + PAGE, o->emu->data_frame[1]);

	sigaltstack(&ss, NULL);
	memset(&sa, 0, sizeof(sa));
	sa.sa_sigaction = on_fault;
	sa.sa_flags = SA_SIGINFO | SA_ONSTACK;
	sigemptyset(&sa.sa_mask);
	sigaction(SIGSEGV, &sa, NULL);
	sigaction(SIGBUS, &sa, NULL);
	sigaction(SIGILL, &sa, NULL);
	sigaction(SIGFPE, &sa, NULL);
	return 0;
}

int main(int argc, char **argv)
{
	unsigned n = 1000, have = x86_host_features(), skipped = 0;
	uint64_t seed = 1, total = 0, faults = 0, bad = 0;
	const char *only = NULL;
	struct oracle o;
	int opt;

	while ((opt = getopt(argc, argv, "n:s:f:v")) != -1) {
		switch (opt) {
		case 'n':
			n = (unsigned)strtoul(optarg, NULL, 0);
			break;
		case 's':
			seed = strtoull(optarg, NULL, 0);
			break;
		case 'f':
			only = optarg;
			break;
		case 'v':
			verbose++;
			break;
		default:
			fprintf(stderr, "usage: %s [-n CASES] [-s SEED] [-f NAME] [-v]\n", argv[0]);
			return 2;
		}
	}
	setvbuf(stdout, NULL, _IOLBF, 0);
	if (setup(&o))
		return 2;
	for (unsigned i = 0; i < x86_nforms; i++) {
		const struct x86_form *f = &x86_forms[i];
		struct stats st = {0};
		struct x86_rand r;
		static struct x86_case c;

		if (only && strncmp(f->name, only, strlen(only)))
			continue;
		bool mmx = f->enc == FE_LEGACY && f->kind == FK_VEC && f->map == 1 && !f->pfx &&
			   (f->op == 0x6e || f->op == 0x7e || f->op == 0x6f || f->op == 0x7f);

		if (o.tcg && (f->kind == FK_X87 || mmx)) {
			printf("form %-20s NOT COMPARED: QEMU's TCG is the host CPU here\n",
			       f->name);
			skipped++;
			continue;
		}
		if ((f->need & have) != f->need) {
			printf("form %-20s SKIPPED: the host CPU lacks %s\n", f->name,
			       f->need & NEED_MOVDIR64B ? "MOVDIR64B"
			       : f->need & NEED_AVX512	? "AVX-512 F/BW/VL"
							: "AVX");
			skipped++;
			continue;
		}
		x86_rand_seed(&r, seed * 1000003 + i);
		for (unsigned k = 0; k < n; k++) {
			x86_case_make(&r, f, &o.env, &c);
			run_case(&o, &c, &st);
		}
		if (verbose || st.mismatches)
			printf("form %-20s %6" PRIu64 " cases %5" PRIu64 " faults %5" PRIu64
			       " mismatches\n",
			       f->name, st.cases, st.faults, st.mismatches);
		total += st.cases;
		faults += st.faults;
		bad += st.mismatches;
	}
	if (o.tcg)
		printf("x86_host_oracle: the host CPU is QEMU's TCG: no #AC, no x87 or MMX forms, "
		       "faults compared by vector and CR2 only\n");
	printf("x86_host_oracle: %u forms, %" PRIu64 " cases (%" PRIu64 " faulting), %" PRIu64
	       " mismatches, %u forms skipped\n",
	       x86_nforms - skipped, total, faults, bad, skipped);
	munmap(o.code, 4 * PAGE);
	free(o.regs);
	free(o.emu);
	sigaltstack(&(stack_t){.ss_flags = SS_DISABLE}, NULL);
	free(o.altstack);
	return bad ? 1 : 0;
}
