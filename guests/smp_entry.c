/* Every vCPU, entered by kvmlab at its own entry point, reports its APIC ID by ucall SYNC. */
#include "lib/guest.h"

static volatile uint32_t checked_in;

void guest_ap_main(unsigned cpu, unsigned ncpus)
{
	(void)ncpus;
	GUEST_SYNC_ARGS(1, cpu, cpu_apic_id(), 0);
	__atomic_fetch_add(&checked_in, 1, __ATOMIC_SEQ_CST);
	cpu_halt_forever();
}

int guest_main(unsigned ncpus)
{
	GUEST_SYNC_ARGS(1, 0, cpu_apic_id(), 0);
	while (__atomic_load_n(&checked_in, __ATOMIC_SEQ_CST) + 1 < ncpus)
		cpu_relax();
	GUEST_DONE();
}
