/* Every vCPU spins, counting progress and scheduling gaps; vCPU 0 reports after run_ms. */
#include "lib/guest.h"

#define PARAM_RUN_MS 0 /* default 2000 */
#define PARAM_GAP_NS 1 /* gaps longer than this count as descheduled; default 20 us */

static volatile int stop;

void guest_ap_main(unsigned cpu, unsigned ncpus)
{
	(void)ncpus;
	spin_run(cpu, results_param(PARAM_GAP_NS, 20000), 0, &stop);
	cpu_halt_forever();
}

int guest_main(unsigned ncpus)
{
	struct results_abi *r = results_init();
	uint64_t run_ms = results_param(PARAM_RUN_MS, 2000);

	guest_printf("sched_spin: %u vCPUs for %llu ms, TSC %llu kHz\n", ncpus,
		     (unsigned long long)run_ms, (unsigned long long)r->tsc_khz);
	spin_run(0, results_param(PARAM_GAP_NS, 20000), rdtsc() + guest_ns_to_tsc(run_ms * 1000000),
		 &stop);
	stop = 1;
	for (unsigned c = 1; c < ncpus; c++)
		while (__atomic_load_n(&r->vcpu[c].state, __ATOMIC_ACQUIRE) != 2)
			cpu_relax();
	spin_report("spin", 0, ncpus);
	GUEST_DONE();
}
