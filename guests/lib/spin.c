/* Spinning vCPUs for scheduling experiments: progress counters, TSC gaps, their summary. */
#include "guest.h"

static uint32_t pooled[RESULTS_MAX_VCPUS * RESULTS_MAX_SAMPLES];

/* The cheapest of a few timed loop iterations: the floor a gap must clear. */
static uint64_t spin_iteration_cycles(unsigned cpu)
{
	uint64_t best = ~0ull;

	for (int i = 0; i < 32; i++) {
		uint64_t t0 = rdtsc(), t1;

		results_progress(cpu, 0);
		t1 = rdtsc();
		best = t1 - t0 < best ? t1 - t0 : best;
	}
	return best;
}

void spin_run(unsigned cpu, uint64_t gap_ns, uint64_t end_tsc, const volatile int *stop)
{
	uint64_t thr = guest_ns_to_tsc(gap_ns), floor = 16 * spin_iteration_cycles(cpu);
	uint64_t last, n = 0;

	/* Where guest code is slow (emulated or nested), a plain loop iteration
	 * can take longer than gap_ns: only gaps well above it are descheduling. */
	if (thr < floor)
		thr = floor;
	last = rdtsc();

	__atomic_store_n(&guest_results()->vcpu[cpu].state, 1, __ATOMIC_RELAXED);
	while (!*stop) {
		uint64_t now = rdtsc();

		if (end_tsc && (int64_t)(now - end_tsc) >= 0)
			break;
		/* A gap is time this vCPU did not run: the host ran something else. */
		if (now - last > thr)
			results_sample(cpu, guest_tsc_to_ns(now - last));
		last = now;
		results_progress(cpu, ++n);
	}
	__atomic_store_n(&guest_results()->vcpu[cpu].state, 2, __ATOMIC_RELEASE);
}

/* Jain's fairness index (sum x)^2 / (n sum x^2), in thousandths, of the
 * progress of vCPUs first .. first + n - 1. */
static uint64_t jain_permille(unsigned first, unsigned n)
{
	uint64_t max = 0, sum = 0, sq = 0;
	unsigned shift = 0;

	for (unsigned c = first; c < first + n; c++) {
		uint64_t p = guest_results()->vcpu[c].progress;

		max = p > max ? p : max;
	}
	while ((max >> shift) >= (1ull << 20)) /* keeps sum^2 * 1000 within 64 bits */
		shift++;
	for (unsigned c = first; c < first + n; c++) {
		uint64_t p = guest_results()->vcpu[c].progress >> shift;

		sum += p;
		sq += p * p;
	}
	if (!sq)
		return 0;
	return sum * sum / n * 1000 / sq;
}

void spin_report(const char *prefix, unsigned first, unsigned n)
{
	struct results_abi *r = guest_results();
	uint64_t total = 0, kept = 0, count = 0, max = 0;

	for (unsigned c = first; c < first + n && c < RESULTS_MAX_VCPUS; c++) {
		struct results_vcpu *rv = &r->vcpu[c];
		uint64_t k =
		    rv->nsamples < RESULTS_MAX_SAMPLES ? rv->nsamples : RESULTS_MAX_SAMPLES;

		guest_printf("%s cpu %u: progress %llu, %llu samples, max %llu ns\n", prefix, c,
			     (unsigned long long)rv->progress, (unsigned long long)rv->nsamples,
			     (unsigned long long)rv->max_sample);
		total += rv->progress;
		memcpy(&pooled[kept], r->sample[c], k * sizeof(uint32_t));
		kept += k;
		count += rv->nsamples;
		max = rv->max_sample > max ? rv->max_sample : max;
	}
	guest_sort_u32(pooled, kept);
	guest_printf("RESULT %s_progress=%llu %s_jain_permille=%llu %s_samples=%llu "
		     "%s_p50_ns=%u %s_p99_ns=%u %s_max_ns=%llu\n",
		     prefix, (unsigned long long)total, prefix,
		     (unsigned long long)jain_permille(first, n), prefix, (unsigned long long)count,
		     prefix, guest_percentile_u32(pooled, kept, 50), prefix,
		     guest_percentile_u32(pooled, kept, 99), prefix, (unsigned long long)max);
}
