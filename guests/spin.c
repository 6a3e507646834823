/* Runs until stopped: every vCPU writes a counter to COM1's scratch register now and then. */
#include "lib/guest.h"

/* COM1's scratch register: claimed by the UART, so the guest also runs under --strict. */
#define SCRATCH_PORT (COM1_PORT + 7)
/* PAUSEs between writes: exits keep coming without flooding a slow (nested, TCG) host. */
#define SPIN_DELAY 256

static void spin_forever(void)
{
	for (uint8_t i = 0;; i++) {
		outb(SCRATCH_PORT, i);
		for (int k = 0; k < SPIN_DELAY; k++)
			cpu_relax();
	}
}

void guest_ap_main(unsigned cpu, unsigned ncpus)
{
	(void)cpu;
	(void)ncpus;
	spin_forever();
}

int guest_main(unsigned ncpus)
{
	guest_printf("spinning on %u vCPU%s\n", ncpus, ncpus == 1 ? "" : "s");
	spin_forever();
	return 0;
}
