// The bridge from kvmlab's C benchmarks to Google Benchmark: registration, the C API, context.
#include <benchmark/benchmark.h>

#include <algorithm>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <string>
#include <vector>

#include "bench.h"
#include "context.h"

#ifndef BENCH_GUEST_DIR
#define BENCH_GUEST_DIR "guests"
#endif

// The linker collects every BENCH() line's pointer between these two symbols.
extern "C" {
extern const struct bench_def *const __start_kvmlab_bench[] __attribute__((weak));
extern const struct bench_def *const __stop_kvmlab_bench[] __attribute__((weak));
}

struct bench_state {
	benchmark::State *st;
	const struct bench_def *def;
};

namespace
{

// One process runs one set of benchmarks: the options and the failure flag are
// the shim's, set in main() or by the benchmark thread, read after the run.
struct bench_options options = {BENCH_GUEST_DIR, "anon", "os", "all"};
bool any_error = false;

benchmark::TimeUnit time_unit(enum bench_unit u)
{
	switch (u) {
	case BENCH_US:
		return benchmark::kMicrosecond;
	case BENCH_MS:
		return benchmark::kMillisecond;
	case BENCH_S:
		return benchmark::kSecond;
	default:
		return benchmark::kNanosecond;
	}
}

bool selected(const struct bench_def *def)
{
	if (!strcmp(options.select, "host"))
		return def->host_only;
	if (!strcmp(options.select, "kvm"))
		return !def->host_only;
	return true;
}

// Instances whose available() says no are left out, each with its reason on stderr
// (once per process), so a run on a host without, say, huge pages still succeeds.
bool instance_available(const struct bench_def *def, int64_t arg, bool report)
{
	char why[256] = "";

	if (!def->available || def->available(arg, why, sizeof(why)))
		return true;
	if (report)
		fprintf(stderr, "kvmlab_bench: %s/%lld not run: %s\n", def->name, (long long)arg,
			why);
	return false;
}

void register_one(const struct bench_def *def)
{
	auto run = [def](benchmark::State &st) {
		struct bench_state bs = {&st, def};

		def->run(&bs);
	};

	if (def->nargs) {
		// One registration per available value: Google Benchmark names them name/value.
		benchmark::internal::Benchmark *b = nullptr;

		for (unsigned i = 0; i < def->nargs && i < BENCH_MAX_ARGS; i++) {
			if (!instance_available(def, def->args[i], true))
				continue;
			if (!b)
				b = benchmark::RegisterBenchmark(def->name, run)
					->Unit(time_unit(def->unit));
			b->Arg(def->args[i]);
		}
		if (b && def->iterations > 0)
			b->Iterations(def->iterations);
		return;
	}
	auto *b = benchmark::RegisterBenchmark(def->name, run);

	b->Unit(time_unit(def->unit));
	if (def->iterations > 0)
		b->Iterations(def->iterations);
	if (def->range_hi > 0)
		b->RangeMultiplier(def->range_mult > 1 ? def->range_mult : 8)
		    ->Range(def->range_lo, def->range_hi);
}

// The BENCH() lines, by name: the linker's order is not the files' order.
std::vector<const struct bench_def *> all_defs()
{
	std::vector<const struct bench_def *> defs;

	if (__start_kvmlab_bench)
		defs.assign(__start_kvmlab_bench, __stop_kvmlab_bench);
	std::sort(defs.begin(), defs.end(), [](const bench_def *a, const bench_def *b) {
		return strcmp(a->name, b->name) < 0;
	});
	return defs;
}

void add_context(void *, const char *key, const char *value)
{
	benchmark::AddCustomContext(key, value);
}

// Takes --kvmlab_NAME=VALUE options out of argv before Google Benchmark sees it.
bool take_option(const char *arg, const char *name, const char **value)
{
	size_t n = strlen(name);

	if (strncmp(arg, name, n) || arg[n] != '=')
		return false;
	*value = arg + n + 1;
	return true;
}

void usage_extra()
{
	fputs(
	    "kvmlab options:\n"
	    "  --kvmlab_mem_policy=SPEC  memory policy of the benchmark VMs (default anon)\n"
	    "  --kvmlab_sched=SPEC       vCPU scheduler of the benchmark VMs (default os)\n"
	    "  --kvmlab_guests=DIR       where the bench guests are (default " BENCH_GUEST_DIR ")\n"
	    "  --kvmlab_select=WHICH     all (default), kvm (needs /dev/kvm) or host (host-only)\n"
	    "  --kvmlab_list             list the benchmarks: name, kvm|host, what one iteration "
	    "is\n",
	    stdout);
}

void list_defs()
{
	for (const struct bench_def *d : all_defs()) {
		if (!selected(d))
			continue;
		printf("%-32s %-4s %s\n", d->name, d->host_only ? "host" : "kvm",
		       d->doc ? d->doc : "");
		for (unsigned i = 0; i < d->nargs && i < BENCH_MAX_ARGS; i++) {
			char why[256] = "";

			if (d->available && !d->available(d->args[i], why, sizeof(why)))
				printf("%-32s %-4s   /%lld unavailable here: %s\n", "", "",
				       (long long)d->args[i], why);
		}
	}
}

} // namespace

extern "C" {

bool bench_keep_running(struct bench_state *s)
{
	return s->st->KeepRunning();
}

int64_t bench_arg(struct bench_state *s)
{
	return s->def->nargs || s->def->range_hi > 0 ? s->st->range(0) : 0;
}

int64_t bench_iterations(struct bench_state *s)
{
	return static_cast<int64_t>(s->st->iterations());
}

void bench_pause_timing(struct bench_state *s)
{
	s->st->PauseTiming();
}

void bench_resume_timing(struct bench_state *s)
{
	s->st->ResumeTiming();
}

void bench_set_counter(struct bench_state *s, const char *name, double value, unsigned flags)
{
	int f = benchmark::Counter::kDefaults;

	if (flags & BENCH_COUNTER_RATE)
		f |= benchmark::Counter::kIsRate;
	if (flags & BENCH_COUNTER_PER_ITER)
		f |= benchmark::Counter::kAvgIterations;
	s->st->counters[name] =
	    benchmark::Counter(value, static_cast<benchmark::Counter::Flags>(f));
}

void bench_set_items_processed(struct bench_state *s, int64_t items)
{
	s->st->SetItemsProcessed(items);
}

void bench_set_label(struct bench_state *s, const char *label)
{
	s->st->SetLabel(label);
}

void bench_skip_with_error(struct bench_state *s, const char *msg)
{
	any_error = true;
	s->st->SkipWithError(msg);
}

const struct bench_options *bench_options(void)
{
	return &options;
}

} // extern "C"

int main(int argc, char **argv)
{
	bool list = false;
	int kept = 1;

	for (int i = 1; i < argc; i++) {
		if (take_option(argv[i], "--kvmlab_mem_policy", &options.mem_policy) ||
		    take_option(argv[i], "--kvmlab_guests", &options.guest_dir) ||
		    take_option(argv[i], "--kvmlab_sched", &options.sched) ||
		    take_option(argv[i], "--kvmlab_select", &options.select))
			continue;
		if (!strcmp(argv[i], "--kvmlab_list")) {
			list = true;
			continue;
		}
		if (!strcmp(argv[i], "--help") || !strcmp(argv[i], "-h"))
			usage_extra();
		argv[kept++] = argv[i];
	}
	argc = kept;
	argv[argc] = nullptr;
	if (strcmp(options.select, "all") && strcmp(options.select, "kvm") &&
	    strcmp(options.select, "host")) {
		fprintf(stderr,
			"kvmlab_bench: --kvmlab_select must be all, kvm or host, not '%s'\n",
			options.select);
		return 2;
	}
	if (list) {
		list_defs();
		return 0;
	}
	for (const struct bench_def *d : all_defs())
		if (selected(d))
			register_one(d);
	benchmark::Initialize(&argc, argv);
	if (benchmark::ReportUnrecognizedArguments(argc, argv))
		return 2;
	bench_context_collect(&options, add_context, nullptr);
	benchmark::RunSpecifiedBenchmarks();
	benchmark::Shutdown();
	// A benchmark that could not run is a failure, not a missing line in a report.
	return any_error ? 1 : 0;
}
