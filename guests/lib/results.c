/* The results window (kvmlab/results_abi.h), per-vCPU samples, percentiles and RAM discovery. */
#include "guest.h"

#define PROBE_VALUE 0x5a5aa5a5c3c33c3cull
#define LOW_RAM_MAX (3ull << 30) /* the MMIO hole starts here */

struct results_abi *results_init(void)
{
	struct results_abi *r = guest_results();

	r->tsc_khz = guest_tsc_khz();
	__atomic_store_n(&r->magic, RESULTS_MAGIC, __ATOMIC_RELEASE);
	return r;
}

uint64_t results_param(unsigned i, uint64_t dflt)
{
	uint64_t v =
	    i < RESULTS_NPARAMS ? __atomic_load_n(&guest_results()->param[i], __ATOMIC_RELAXED) : 0;

	return v ? v : dflt;
}

void results_sample(unsigned cpu, uint64_t ns)
{
	struct results_vcpu *rv;
	uint32_t v = ns > 0xffffffffull ? 0xffffffffu : (uint32_t)ns;
	uint64_t n;

	if (cpu >= RESULTS_MAX_VCPUS)
		return;
	rv = &guest_results()->vcpu[cpu];
	n = rv->nsamples;
	if (n < RESULTS_MAX_SAMPLES)
		__atomic_store_n(&guest_results()->sample[cpu][n], v, __ATOMIC_RELAXED);
	__atomic_store_n(&rv->sum_samples, rv->sum_samples + ns, __ATOMIC_RELAXED);
	if (ns > rv->max_sample)
		__atomic_store_n(&rv->max_sample, ns, __ATOMIC_RELAXED);
	__atomic_store_n(&rv->nsamples, n + 1, __ATOMIC_RELEASE);
}

/* True when gpa holds RAM: a write there reads back. Beyond RAM the access
 * exits to the VMM's MMIO bus, where an unclaimed read returns all-ones. */
static bool ram_at(uint64_t gpa)
{
	volatile uint64_t *p = (volatile uint64_t *)(uintptr_t)gpa;
	uint64_t old = *p;
	bool ram;

	*p = PROBE_VALUE;
	ram = *p == PROBE_VALUE;
	if (ram)
		*p = old;
	return ram;
}

uint64_t guest_ram_top(void)
{
	uint64_t lo = 1ull << 20, hi = LOW_RAM_MAX; /* RAM at lo, none at or above hi */

	if (ram_at(hi - 4096))
		return hi;
	while (hi - lo > 4096) {
		uint64_t mid = (lo + (hi - lo) / 2) & ~4095ull;

		if (ram_at(mid))
			lo = mid;
		else
			hi = mid;
	}
	return hi;
}

void guest_sort_u32(uint32_t *a, size_t n)
{
	/* Shell sort with Ciura's gaps: short, no recursion, fine for a few thousand. */
	static const size_t gaps[] = {701, 301, 132, 57, 23, 10, 4, 1};

	for (size_t g = 0; g < sizeof(gaps) / sizeof(gaps[0]); g++) {
		for (size_t i = gaps[g]; i < n; i++) {
			uint32_t v = a[i];
			size_t j = i;

			for (; j >= gaps[g] && a[j - gaps[g]] > v; j -= gaps[g])
				a[j] = a[j - gaps[g]];
			a[j] = v;
		}
	}
}

uint32_t guest_percentile_u32(const uint32_t *sorted, size_t n, unsigned pct)
{
	size_t i;

	if (n == 0)
		return 0;
	i = (n * pct + 99) / 100; /* nearest rank */
	return sorted[i ? i - 1 : 0];
}

uint64_t guest_scan_hidden(uint64_t start, uint64_t end, const uint64_t halves[2], uint64_t *first)
{
	uint64_t *d = (uint64_t *)(uintptr_t)start, n = (end - start) / 8, hits = 0, at = ~0ull;

	/* The value is rebuilt inside RAX and lives only there: stored anywhere in
	 * RAM it would be found by this very scan. repne scasq stops on a match
	 * (ZF=1) or at the end (RCX=0). */
	__asm__ volatile("mov (%[h]), %%rax\n\t"
			 "xor 8(%[h]), %%rax\n"
			 "1: repne scasq\n\t"
			 "jne 2f\n\t"
			 "cmp $-1, %[at]\n\t"
			 "jne 3f\n\t"
			 "lea -8(%%rdi), %[at]\n"
			 "3: inc %[hits]\n\t"
			 "test %%rcx, %%rcx\n\t"
			 "jnz 1b\n"
			 "2: xor %%eax, %%eax"
			 : "+D"(d), "+c"(n), [hits] "+r"(hits), [at] "+r"(at)
			 : [h] "r"(halves)
			 : "rax", "memory", "cc");
	if (first)
		*first = at;
	return hits;
}
