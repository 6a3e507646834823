/* Register and vector state: one vCPU or VM holds distinctive values, another starts clean. */
#include <stddef.h>

#include "lib/guest.h"

/* param[cpu] = what vCPU cpu does; param[TAG] marks this VM's values. */
#define MODE_DIRTY                                                                                 \
	1 /* load the pattern into GPRs and XMM/YMM, hold it until go, check it survived */
#define MODE_CHECK                                                                                 \
	2 /* after every dirtying vCPU is holding, check this vCPU's own state is clean */
#define PARAM_TAG 8
#define PARAM_SSE 9 /* 1: XMM only, even where the CPU has AVX */

/* value[cpu * 4 + k] */
#define V_ENTRY_DIRTY  0 /* entry GPRs that were not what kvmlab sets (0, RDI = id, RSI = count) */
#define V_VECTOR_DIRTY 1 /* 16-byte vector lanes that were not zero */
#define V_PATTERN_HITS 2 /* registers or lanes holding some vCPU's pattern */
#define V_LOST	       3 /* a dirtier's own registers that did not survive the wait */
#define VALUE_AVX      60

#define NGPR 13 /* rbx rcx rdx rsi rbp r8 .. r15: all but rax, rdi (used to hold) and rsp */

struct regs_state {
	uint8_t vec[16][32]; /* ymm0-15 (xmm = their low 16 bytes) */
	uint64_t gpr[NGPR];
};

struct hold {
	struct regs_state in, out;
	const volatile uint64_t *go;
};

_Static_assert(offsetof(struct regs_state, gpr) == 512, "offsets in the assembly below");
_Static_assert(offsetof(struct hold, out) == 616, "offsets in the assembly below");
_Static_assert(offsetof(struct hold, go) == 1232, "offsets in the assembly below");

/*
 * hold_avx(struct hold *h) / hold_sse: load h->in into the vector registers and
 * the GPRs, spin until *h->go without touching them, store them to h->out.
 * save_avx(uint8_t vec[16][32]) / save_sse: store the vector registers.
 */
__asm__(".macro ISO_HOLD name, mov, reg\n"
	".text\n"
	".global \\name\n"
	"\\name:\n"
	"push %rbx; push %rbp; push %r12; push %r13; push %r14; push %r15\n"
	".irp n, 0,1,2,3,4,5,6,7,8,9,10,11,12,13,14,15\n"
	"\\mov \\n*32(%rdi), %\\reg\\n\n"
	".endr\n"
	"mov 1232(%rdi), %rax\n"
	"mov 512(%rdi), %rbx; mov 520(%rdi), %rcx; mov 528(%rdi), %rdx\n"
	"mov 536(%rdi), %rsi; mov 544(%rdi), %rbp; mov 552(%rdi), %r8\n"
	"mov 560(%rdi), %r9; mov 568(%rdi), %r10; mov 576(%rdi), %r11\n"
	"mov 584(%rdi), %r12; mov 592(%rdi), %r13; mov 600(%rdi), %r14\n"
	"mov 608(%rdi), %r15\n"
	"1: pause; cmpq $0, (%rax); je 1b\n"
	".irp n, 0,1,2,3,4,5,6,7,8,9,10,11,12,13,14,15\n"
	"\\mov %\\reg\\n, 616+\\n*32(%rdi)\n"
	".endr\n"
	"mov %rbx, 1128(%rdi); mov %rcx, 1136(%rdi); mov %rdx, 1144(%rdi)\n"
	"mov %rsi, 1152(%rdi); mov %rbp, 1160(%rdi); mov %r8, 1168(%rdi)\n"
	"mov %r9, 1176(%rdi); mov %r10, 1184(%rdi); mov %r11, 1192(%rdi)\n"
	"mov %r12, 1200(%rdi); mov %r13, 1208(%rdi); mov %r14, 1216(%rdi)\n"
	"mov %r15, 1224(%rdi)\n"
	"pop %r15; pop %r14; pop %r13; pop %r12; pop %rbp; pop %rbx\n"
	"ret\n"
	".endm\n"
	".macro ISO_SAVE name, mov, reg\n"
	".global \\name\n"
	"\\name:\n"
	".irp n, 0,1,2,3,4,5,6,7,8,9,10,11,12,13,14,15\n"
	"\\mov %\\reg\\n, \\n*32(%rdi)\n"
	".endr\n"
	"ret\n"
	".endm\n"
	"ISO_HOLD hold_avx, vmovdqu, ymm\n"
	"ISO_HOLD hold_sse, movdqu, xmm\n"
	"ISO_SAVE save_avx, vmovdqu, ymm\n"
	"ISO_SAVE save_sse, movdqu, xmm\n");

void hold_avx(struct hold *h);
void hold_sse(struct hold *h);
void save_avx(struct regs_state *st);
void save_sse(struct regs_state *st);

static bool avx;
static volatile uint64_t dirty_ready, cpus_done;

static bool cpu_has_avx(void)
{
	uint32_t a, b, c, d;

	cpuid(1, 0, &a, &b, &c, &d);
	if (!(c & (1u << 26)) || !(c & (1u << 28))) /* XSAVE, AVX */
		return false;
	cpuid(0xd, 0, &a, &b, &c, &d);
	return (a & 7) == 7; /* x87, SSE and AVX state can be enabled in XCR0 */
}

static void enable_avx(void)
{
	uint64_t cr4;

	__asm__ volatile("mov %%cr4, %0" : "=r"(cr4));
	__asm__ volatile("mov %0, %%cr4" : : "r"(cr4 | (1ull << 18))); /* OSXSAVE */
	__asm__ volatile("xsetbv" : : "c"(0), "a"(7), "d"(0));
}

static uint64_t gpr_pattern(uint64_t tag, unsigned cpu, unsigned reg)
{
	return 0x15a0000000000000ull | (tag & 0xffff) << 32 | cpu << 8 | reg;
}

static uint8_t vec_pattern(uint64_t tag, unsigned cpu, unsigned reg, unsigned byte)
{
	return (uint8_t)((0x80 | (tag & 0xf) << 3 | ((cpu + reg + byte) & 7)) ^ (byte << 4));
}

static unsigned vec_bytes(void)
{
	return avx ? 32 : 16;
}

/* How many lanes of st match any vCPU's pattern under tag. */
static uint64_t pattern_hits(const struct regs_state *st, uint64_t tag, unsigned ncpus)
{
	uint64_t hits = 0;

	for (unsigned c = 0; c < ncpus; c++)
		for (unsigned r = 0; r < 16; r++)
			for (unsigned lane = 0; lane < vec_bytes(); lane += 16) {
				bool same = true;

				for (unsigned b = lane; b < lane + 16; b++)
					same &= st->vec[r][b] == vec_pattern(tag, c, r, b);
				hits += same;
			}
	return hits;
}

static void do_dirty(struct results_abi *r, unsigned cpu, unsigned ncpus, uint64_t tag)
{
	static struct hold holds[GUEST_MAX_VCPUS];
	struct hold *h = &holds[cpu];
	uint64_t lost = 0;

	for (unsigned reg = 0; reg < 16; reg++)
		for (unsigned b = 0; b < 32; b++)
			h->in.vec[reg][b] = vec_pattern(tag, cpu, reg, b);
	for (unsigned g = 0; g < NGPR; g++)
		h->in.gpr[g] = gpr_pattern(tag, cpu, g);
	h->go = &r->go;
	__atomic_fetch_add(&dirty_ready, 1, __ATOMIC_SEQ_CST);
	__atomic_store_n(&r->vcpu[cpu].state, 1, __ATOMIC_RELEASE); /* holding: the host may look */
	(avx ? hold_avx : hold_sse)(h);
	for (unsigned reg = 0; reg < 16; reg++)
		for (unsigned b = 0; b < vec_bytes(); b++)
			lost += h->out.vec[reg][b] != h->in.vec[reg][b];
	for (unsigned g = 0; g < NGPR; g++)
		lost += h->out.gpr[g] != h->in.gpr[g];
	r->value[cpu * 4 + V_LOST] = lost;
	(void)ncpus;
}

static void do_check(struct results_abi *r, unsigned cpu, unsigned ncpus, uint64_t tag,
		     unsigned ndirty)
{
	static struct regs_state seen[GUEST_MAX_VCPUS];
	struct regs_state *st = &seen[cpu];
	uint64_t entry_dirty = 0, vec_dirty = 0, hits;

	while (__atomic_load_n(&dirty_ready, __ATOMIC_SEQ_CST) < ndirty)
		cpu_relax();
	guest_udelay(20000); /* let the host switch between the vCPU threads a few times */
	(avx ? save_avx : save_sse)(st);
	for (unsigned reg = 0; reg < GUEST_NREGS; reg++) {
		uint64_t v = guest_entry_regs[reg][cpu];
		uint64_t want = reg == GUEST_REG_RDI ? cpu : reg == GUEST_REG_RSI ? ncpus : 0;

		entry_dirty += v != want;
		for (unsigned c = 0; c < ncpus; c++)
			for (unsigned g = 0; g < NGPR; g++)
				r->value[cpu * 4 + V_PATTERN_HITS] += v == gpr_pattern(tag, c, g);
	}
	for (unsigned reg = 0; reg < 16; reg++)
		for (unsigned lane = 0; lane < vec_bytes(); lane += 16) {
			bool zero = true;

			for (unsigned b = lane; b < lane + 16; b++)
				zero &= st->vec[reg][b] == 0;
			vec_dirty += !zero;
		}
	hits = pattern_hits(st, tag, ncpus < 4 ? 4 : ncpus);
	r->value[cpu * 4 + V_ENTRY_DIRTY] = entry_dirty;
	r->value[cpu * 4 + V_VECTOR_DIRTY] = vec_dirty;
	r->value[cpu * 4 + V_PATTERN_HITS] += hits;
}

static void run(unsigned cpu, unsigned ncpus)
{
	struct results_abi *r = guest_results();
	uint64_t mode = r->param[cpu < PARAM_TAG ? cpu : 0], tag = r->param[PARAM_TAG];
	unsigned ndirty = 0;

	for (unsigned c = 0; c < ncpus && c < PARAM_TAG; c++)
		ndirty += r->param[c] == MODE_DIRTY;
	if (avx)
		enable_avx();
	if (mode == MODE_DIRTY)
		do_dirty(r, cpu, ncpus, tag);
	else if (mode == MODE_CHECK)
		do_check(r, cpu, ncpus, tag, ndirty);
	__atomic_fetch_add(&cpus_done, 1, __ATOMIC_SEQ_CST);
	__atomic_store_n(&r->vcpu[cpu].state, 2, __ATOMIC_RELEASE);
}

void guest_ap_main(unsigned cpu, unsigned ncpus)
{
	while (!__atomic_load_n(&guest_results()->magic, __ATOMIC_ACQUIRE))
		cpu_relax(); /* vCPU 0 has looked at the CPU */
	run(cpu, ncpus);
	cpu_halt_forever();
}

int guest_main(unsigned ncpus)
{
	struct results_abi *r;

	avx = cpu_has_avx() && !guest_results()->param[PARAM_SSE];
	r = results_init();
	r->value[VALUE_AVX] = avx;
	run(0, ncpus);
	while (__atomic_load_n(&cpus_done, __ATOMIC_SEQ_CST) < ncpus)
		cpu_relax();
	for (unsigned c = 0; c < ncpus; c++)
		guest_printf(
		    "iso_regs: vCPU %u mode %llu: entry GPRs dirty %llu, vector lanes dirty "
		    "%llu, pattern hits %llu, own values lost %llu (%s)\n",
		    c, (unsigned long long)r->param[c], (unsigned long long)r->value[c * 4],
		    (unsigned long long)r->value[c * 4 + 1],
		    (unsigned long long)r->value[c * 4 + 2],
		    (unsigned long long)r->value[c * 4 + 3], avx ? "XMM+YMM" : "XMM only");
	GUEST_DONE();
}
