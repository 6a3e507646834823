/* The C side of kvmlab's benchmarks: a benchmark is one C function plus one BENCH() line. */
#ifndef KVMLAB_BENCH_H
#define KVMLAB_BENCH_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

/* One running benchmark (a benchmark::State underneath); valid during run() only. */
struct bench_state;

#define BENCH_MAX_ARGS 16

enum bench_unit {
	BENCH_NS = 0, /* the default */
	BENCH_US,
	BENCH_MS,
	BENCH_S,
};

/*
 * A benchmark. run() does its set-up, then loops `while (bench_keep_running(st))`
 * around exactly the work one iteration measures, then tears down; only the
 * loop is timed. Google Benchmark calls run() several times (growing the
 * iteration count), so set-up must be repeatable. With args, run() is
 * registered once per value ("name/value") and reads it with bench_arg();
 * with range_hi > 0, once per power of range_mult (default 8) from range_lo to
 * range_hi, as Google Benchmark's Range().
 */
struct bench_def {
	const char *name;
	void (*run)(struct bench_state *st);
	const char *doc; /* one line: what one iteration is */
	enum bench_unit unit;
	int64_t args[BENCH_MAX_ARGS];
	unsigned nargs;
	int64_t range_lo, range_hi;
	int range_mult;
	/* Iterations per repetition, instead of Google Benchmark's --benchmark_min_time: for
	 * benchmarks whose untimed set-up per iteration dwarfs the timed part. */
	int64_t iterations;
	/* Needs no /dev/kvm: `kvmlab bench` runs it natively, never in the box. */
	bool host_only;
	/* Optional: false (with why filled) leaves the instance for arg unregistered, e.g. a
	 * memory policy the host cannot provide; --kvmlab_list shows why. */
	bool (*available)(int64_t arg, char *why, size_t len);
};

/*
 * Registers a benchmark from its own file: BENCH(ident, .name = ..., .run = ...).
 * The definition goes into the kvmlab_bench section, which the shim walks at
 * start-up; adding a benchmark needs no edit anywhere else.
 */
#define BENCH(ident, ...)                                                                          \
	static const struct bench_def ident##_bench_def = {__VA_ARGS__};                           \
	static const struct bench_def *const ident##_bench_ptr                                     \
	    __attribute__((used, section("kvmlab_bench"))) = &ident##_bench_def

/* `.args = BENCH_ARGS(1, 8, 64)` fills both args and nargs. */
#define BENCH_ARGS(...) {__VA_ARGS__}, .nargs = sizeof((int64_t[]){__VA_ARGS__}) / sizeof(int64_t)

/* True while another iteration should run; the first call starts the timer. */
bool bench_keep_running(struct bench_state *st);

/* The instance's argument (0 when the benchmark has no args or range). */
int64_t bench_arg(struct bench_state *st);

/* Iterations of the current run, once the loop has finished. */
int64_t bench_iterations(struct bench_state *st);

/* Excludes set-up inside the loop from the time. */
void bench_pause_timing(struct bench_state *st);
void bench_resume_timing(struct bench_state *st);

enum bench_counter_flags {
	BENCH_COUNTER_PLAIN = 0,	 /* reported as given */
	BENCH_COUNTER_RATE = 1 << 0,	 /* divided by the run's time: per second */
	BENCH_COUNTER_PER_ITER = 1 << 1, /* divided by the iteration count */
};

/* A named figure reported with the run (and in the JSON, next to real_time). */
void bench_set_counter(struct bench_state *st, const char *name, double value, unsigned flags);

/* items_per_second in the report: items is the total over the run. */
void bench_set_items_processed(struct bench_state *st, int64_t items);

void bench_set_label(struct bench_state *st, const char *label);

/* Marks the run failed with msg (copied); the next bench_keep_running returns false. */
void bench_skip_with_error(struct bench_state *st, const char *msg);

/* Run-wide options the shim parsed from its command line (see shim.cc). */
struct bench_options {
	const char *guest_dir;	/* where bench guests are: --kvmlab_guests, default the build's */
	const char *mem_policy; /* VMs' memory policy: --kvmlab_mem_policy, default "anon" */
	const char *sched;	/* VMs' vCPU scheduler: --kvmlab_sched, default "os" */
	const char *select;	/* --kvmlab_select: "all" (default), "kvm" or "host" (host_only) */
};

const struct bench_options *bench_options(void);

#ifdef __cplusplus
}
#endif

#endif
