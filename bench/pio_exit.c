/* PIO exit round trip: kvmlab's whole exit path against a bare KVM_RUN loop on the same VM. */
#include <stdio.h>
#include <time.h>

#include "bench.h"
#include "pio_vm.h"

#define WARMUP_EXITS 1000 /* faults in guest pages and KVM's first-run state */
#define RATIO_CHUNK  256  /* exits per timed chunk: long enough to hide clock_gettime */

static void pio_fail(struct bench_state *st, const struct pio_vm *p, const char *what)
{
	struct errbuf e;

	pio_vm_explain(p, what, &e);
	bench_skip_with_error(st, e.msg);
}

static bool pio_setup(struct bench_state *st, struct pio_vm *p)
{
	struct errbuf e;

	if (pio_vm_create(p, bench_options(), &e)) {
		bench_skip_with_error(st, e.msg);
		return false;
	}
	for (int i = 0; i < WARMUP_EXITS; i++) {
		if (!pio_vm_step(p)) {
			pio_fail(st, p, "warming up");
			pio_vm_destroy(p);
			return false;
		}
	}
	p->hits = 0;
	return true;
}

/* The device must have seen every dispatched exit: proof the path ran end to end. */
static void pio_check_hits(struct bench_state *st, const struct pio_vm *p, uint64_t exits)
{
	char msg[128];

	if (p->hits == exits)
		return;
	snprintf(msg, sizeof(msg), "the device saw %llu writes for %llu dispatched exits",
		 (unsigned long long)p->hits, (unsigned long long)exits);
	bench_skip_with_error(st, msg);
}

static void pio_exit_dispatch(struct bench_state *st)
{
	struct pio_vm p;
	bool ok = true;

	if (!pio_setup(st, &p))
		return;
	while (bench_keep_running(st)) {
		if (!pio_vm_step(&p)) {
			pio_fail(st, &p, "dispatched exit");
			ok = false;
			break;
		}
	}
	if (ok)
		pio_check_hits(st, &p, (uint64_t)bench_iterations(st));
	pio_vm_destroy(&p);
}
BENCH(pio_exit_dispatch, .name = "pio_exit/dispatch", .run = pio_exit_dispatch,
      .doc = "one PIO exit through vcpu_step: KVM_RUN, exit table, bus, device");

static void pio_exit_bare(struct bench_state *st)
{
	struct pio_vm p;

	if (!pio_setup(st, &p))
		return;
	while (bench_keep_running(st)) {
		if (!pio_vm_step_bare(&p)) {
			pio_fail(st, &p, "bare exit");
			break;
		}
	}
	pio_vm_destroy(&p);
}
BENCH(pio_exit_bare, .name = "pio_exit/bare", .run = pio_exit_bare,
      .doc = "one PIO exit through a bare ioctl(KVM_RUN), no kvmlab code");

/* The thread's CPU time, which includes its time in the guest but not time spent
 * waiting for a CPU: on a busy machine it keeps the ratio within a fraction of a
 * percent where wall-clock time scatters by several percent. */
static uint64_t now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts);
	return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

static bool chunk_dispatch(struct pio_vm *p, uint64_t *ns)
{
	uint64_t t0 = now_ns();

	for (int i = 0; i < RATIO_CHUNK; i++)
		if (!pio_vm_step(p))
			return false;
	*ns += now_ns() - t0;
	return true;
}

static bool chunk_bare(struct pio_vm *p, uint64_t *ns)
{
	uint64_t t0 = now_ns();

	for (int i = 0; i < RATIO_CHUNK; i++)
		if (!pio_vm_step_bare(p))
			return false;
	*ns += now_ns() - t0;
	return true;
}

/*
 * Both paths on one VM, interleaved chunk by chunk (alternating which goes
 * first), so frequency changes, noisy neighbours and cache state hit both
 * alike: the ratio is the cost of kvmlab's layers over KVM's own.
 */
static void pio_exit_ratio(struct bench_state *st)
{
	uint64_t dispatch_ns = 0, bare_ns = 0, chunks = 0;
	struct pio_vm p;
	bool ok = true;

	if (!pio_setup(st, &p))
		return;
	while (bench_keep_running(st)) {
		bool bare_first = chunks & 1;

		if ((bare_first && !chunk_bare(&p, &bare_ns)) ||
		    !chunk_dispatch(&p, &dispatch_ns) ||
		    (!bare_first && !chunk_bare(&p, &bare_ns))) {
			pio_fail(st, &p, "interleaved exits");
			ok = false;
			break;
		}
		chunks++;
	}
	if (ok && chunks) {
		double exits = (double)(chunks * RATIO_CHUNK);

		pio_check_hits(st, &p, chunks * RATIO_CHUNK);
		bench_set_counter(st, "dispatch_ns", (double)dispatch_ns / exits,
				  BENCH_COUNTER_PLAIN);
		bench_set_counter(st, "bare_ns", (double)bare_ns / exits, BENCH_COUNTER_PLAIN);
		bench_set_counter(st, "ratio", (double)dispatch_ns / (double)bare_ns,
				  BENCH_COUNTER_PLAIN);
		bench_set_items_processed(st, (int64_t)(2 * chunks * RATIO_CHUNK));
	}
	pio_vm_destroy(&p);
}
BENCH(pio_exit_ratio, .name = "pio_exit/ratio", .run = pio_exit_ratio,
      .doc = "256 dispatched + 256 bare PIO exits, interleaved; counters: CPU ns per exit, ratio");
