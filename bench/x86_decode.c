/* The x86 decoder against Zydis on the same code, and the emulator's cost per instruction. */
#include <Zydis/Zydis.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

#include "bench.h"
#include "kvmlab/x86_emulate.h"

/* Real x86-64 code to decode: this program's own text (kvmlab, Google Benchmark, libc glue),
 * megabytes of compiler output, the same bytes for both decoders. */
extern const uint8_t __executable_start[], etext[];

#define CHUNK (64u << 10) /* bytes per timed chunk: long enough to hide clock_gettime */

static uint64_t now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts);
	return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

/* A linear sweep of [p, p + n): instructions decoded (invalid bytes step by one). */
static uint64_t sweep_kvmlab(const uint8_t *p, size_t n)
{
	uint64_t count = 0;

	for (size_t off = 0; off < n; count++) {
		struct x86_insn in;

		off +=
		    x86_decode(p + off, n - off, X86_MODE_64, 0, &in) == X86_DECODE_OK ? in.len : 1;
	}
	return count;
}

static uint64_t sweep_zydis(const ZydisDecoder *d, const uint8_t *p, size_t n)
{
	uint64_t count = 0;

	for (size_t off = 0; off < n; count++) {
		ZydisDecodedInstruction z;
		ZydisDecodedOperand ops[ZYDIS_MAX_OPERAND_COUNT];

		off += ZYAN_SUCCESS(ZydisDecoderDecodeFull(d, p + off, n - off, &z, ops)) ? z.length
											  : 1;
	}
	return count;
}

/*
 * Both decoders over the same code, interleaved chunk by chunk (alternating
 * which goes first), so frequency changes and noisy neighbours hit both
 * alike. kvmlab's decode is complete (length, prefixes, operands of the
 * emulated subset); Zydis's is ZydisDecoderDecodeFull (every operand).
 * ratio = kvmlab's rate / Zydis's: above 1, kvmlab is faster.
 */
static void x86_decode_vs_zydis(struct bench_state *st)
{
	const uint8_t *text = __executable_start;
	size_t size = (size_t)(etext - __executable_start), at = 0;
	uint64_t kvmlab_ns = 0, zydis_ns = 0, kvmlab_n = 0, zydis_n = 0, chunks = 0;
	ZydisDecoder d;
	char label[64];

	ZydisDecoderInit(&d, ZYDIS_MACHINE_MODE_LONG_64, ZYDIS_STACK_WIDTH_64);
	if (size < CHUNK) {
		bench_skip_with_error(st, "the program's text is too small to decode");
		return;
	}
	while (bench_keep_running(st)) {
		const uint8_t *p = text + at;
		uint64_t t0, t1, t2;

		if (chunks & 1) {
			t0 = now_ns();
			zydis_n += sweep_zydis(&d, p, CHUNK);
			t1 = now_ns();
			kvmlab_n += sweep_kvmlab(p, CHUNK);
			t2 = now_ns();
			zydis_ns += t1 - t0, kvmlab_ns += t2 - t1;
		} else {
			t0 = now_ns();
			kvmlab_n += sweep_kvmlab(p, CHUNK);
			t1 = now_ns();
			zydis_n += sweep_zydis(&d, p, CHUNK);
			t2 = now_ns();
			kvmlab_ns += t1 - t0, zydis_ns += t2 - t1;
		}
		at = (at + CHUNK) % (size - CHUNK);
		chunks++;
	}
	if (!kvmlab_ns || !zydis_ns)
		return;
	bench_set_counter(st, "kvmlab_Minsn_per_s", (double)kvmlab_n * 1e3 / (double)kvmlab_ns,
			  BENCH_COUNTER_PLAIN);
	bench_set_counter(st, "zydis_Minsn_per_s", (double)zydis_n * 1e3 / (double)zydis_ns,
			  BENCH_COUNTER_PLAIN);
	bench_set_counter(st, "ratio",
			  ((double)kvmlab_n / (double)kvmlab_ns) /
			      ((double)zydis_n / (double)zydis_ns),
			  BENCH_COUNTER_PLAIN);
	bench_set_counter(st, "kvmlab_ns_per_insn", (double)kvmlab_ns / (double)kvmlab_n,
			  BENCH_COUNTER_PLAIN);
	bench_set_items_processed(st, (int64_t)kvmlab_n);
	snprintf(label, sizeof(label), "%zu KiB of code, %llu KiB per chunk", size >> 10,
		 (unsigned long long)(CHUNK >> 10));
	bench_set_label(st, label);
}
BENCH(x86_decode_vs_zydis, .name = "x86/decode_vs_zydis", .run = x86_decode_vs_zydis,
      .doc = "64 KiB of this program's code decoded by kvmlab and by Zydis (DecodeFull)",
      .host_only = true);

/* ---- the emulator: one instruction against plain memory, decode included ---- */

struct flat {
	uint8_t mem[1 << 16];
	struct x86_fpu fpu;
};

static int f_read(void *opaque, uint64_t gpa, void *buf, unsigned len)
{
	memcpy(buf, ((struct flat *)opaque)->mem + (gpa & 0xffff), len);
	return 0;
}

static int f_write(void *opaque, uint64_t gpa, const void *buf, unsigned len)
{
	memcpy(((struct flat *)opaque)->mem + (gpa & 0xffff), buf, len);
	return 0;
}

static int f_get_fpu(void *opaque, struct x86_fpu *f)
{
	*f = ((struct flat *)opaque)->fpu;
	return 0;
}

static int f_set_fpu(void *opaque, const struct x86_fpu *f)
{
	((struct flat *)opaque)->fpu = *f;
	return 0;
}

static const struct x86_emu_ops flat_ops = {
    .read = f_read, .write = f_write, .get_fpu = f_get_fpu, .set_fpu = f_set_fpu};

/* The instructions an emulation-failure exit brings, and a page-table walk for each. */
static const struct {
	const char *name;
	uint8_t bytes[8];
	unsigned len;
} emu_cases[] = {
    {"mov_store", {0x48, 0x89, 0x18}, 3},		/* mov [rax], rbx */
    {"add_rmw", {0x48, 0x01, 0x18}, 3},			/* add [rax], rbx */
    {"vmovdqu_ymm_store", {0xc5, 0xfe, 0x7f, 0x00}, 4}, /* vmovdqu [rax], ymm0 */
    {"fstp_m64", {0xdd, 0x18}, 2},			/* fstp qword [rax] */
    {"rep_movsb_64", {0xf3, 0xa4}, 2},			/* 64 iterations */
};

static void x86_emulate_cost(struct bench_state *st)
{
	static struct flat w;
	unsigned which = (unsigned)bench_arg(st);
	struct x86_cpu cpu, start;
	struct x86_emu e;
	uint64_t pt[4] = {0x2000 | 3, 0x3000 | 3, 0x4000 | 3, 0x5000 | 3};

	/* 64-bit mode, paging on: every access walks four levels to the 4 KiB page at 0x8000. */
	memset(&start, 0, sizeof(start));
	start.rflags = 2;
	start.seg[X86_SEG_CS] = (struct x86_segment){.type = 11, .s = 1, .present = 1, .l = 1};
	start.cr0 = 0x80010031;
	start.cr4 = (1u << 5) | (1u << 9) | (1u << 18);
	start.efer = 0x500;
	start.cr3 = 0x1000;
	start.xcr0 = 7;
	for (unsigned i = 0; i < 4; i++)
		memcpy(w.mem + 0x1000 * (i + 1), &pt[i], 8);
	for (unsigned i = 0; i < 16; i++) {
		uint64_t e8 = (0x8000 + i * 0x1000) | 3;

		memcpy(w.mem + 0x4000 + (8 + i) * 8, &e8, 8); /* the page table at 0x4000 */
	}
	start.gpr[0] = start.gpr[7] = 0x8000;
	start.gpr[6] = 0x9000;
	w.fpu.fcw = 0x37f;
	w.fpu.ftw = 0xff;
	w.fpu.fsw = 7u << 11;
	w.fpu.mxcsr = 0x1f80;
	while (bench_keep_running(st)) {
		cpu = start;
		cpu.gpr[1] = 64;
		x86_emu_init(&e, &flat_ops, &w, &cpu);
		if (x86_emulate(&e, emu_cases[which].bytes, emu_cases[which].len) != X86_EMU_OK) {
			bench_skip_with_error(st, e.why[0] ? e.why
							   : "the instruction did not complete");
			return;
		}
		w.fpu.ftw = 0xff; /* keep FSTP's stack from running dry */
		w.fpu.fsw = 7u << 11;
	}
	bench_set_label(st, emu_cases[which].name);
}
BENCH(x86_emulate_cost, .name = "x86/emulate", .run = x86_emulate_cost,
      .doc = "decode and emulate one instruction (0 mov store, 1 add, 2 vmovdqu ymm, "
	     "3 fstp m64, 4 rep movsb x64) on plain memory through a 4-level page walk",
      .args = BENCH_ARGS(0, 1, 2, 3, 4), .host_only = true);
