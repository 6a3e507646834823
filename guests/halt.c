/* Halts with interrupts off and never exits: kvmlab's --timeout must stop it. */
#include "lib/guest.h"

int guest_main(unsigned ncpus)
{
	(void)ncpus;
	serial_puts("halting with interrupts off\n");
	cpu_halt_forever();
}
