/* vCPU 0 sleeps on its LAPIC timer and records how late each wake-up is; the other vCPUs spin. */
#include "lib/guest.h"

#define PARAM_RUN_MS	0 /* default 2000 */
#define PARAM_GAP_NS	1 /* spinners' gap threshold; default 20 us */
#define PARAM_PERIOD_US 2 /* timer period; default 1000 */
#define TIMER_VECTOR	0x40

static volatile int stop;
static volatile int fired;
static volatile uint64_t fired_tsc;

static void on_timer(struct guest_frame *f)
{
	(void)f;
	fired_tsc = rdtsc();
	fired = 1;
	lapic_eoi();
}

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
	uint64_t period_ns = results_param(PARAM_PERIOD_US, 1000) * 1000;
	uint64_t end = rdtsc() + guest_ns_to_tsc(run_ms * 1000000), wakeups = 0;

	guest_set_irq_handler(TIMER_VECTOR, on_timer);
	guest_printf("sched_timer: 1 timer vCPU (%llu us period) beside %u spinners for %llu ms, "
		     "TSC %llu kHz, LAPIC timer %llu kHz\n",
		     (unsigned long long)(period_ns / 1000), ncpus - 1, (unsigned long long)run_ms,
		     (unsigned long long)r->tsc_khz, (unsigned long long)lapic_timer_khz());
	while ((int64_t)(rdtsc() - end) < 0) {
		uint64_t due;

		fired = 0;
		due = lapic_timer_start(TIMER_VECTOR, period_ns, false);
		while (!fired)
			__asm__ volatile("sti; hlt; cli" ::: "memory");
		/* The wake-up delay: from when the timer was due to when this vCPU ran. */
		results_sample(0, fired_tsc > due ? guest_tsc_to_ns(fired_tsc - due) : 0);
		results_progress(0, ++wakeups);
	}
	lapic_timer_stop();
	stop = 1;
	for (unsigned c = 1; c < ncpus; c++)
		while (__atomic_load_n(&r->vcpu[c].state, __ATOMIC_ACQUIRE) != 2)
			cpu_relax();
	spin_report("wake", 0, 1);
	if (ncpus > 1)
		spin_report("spin", 1, ncpus - 1);
	GUEST_DONE();
}
