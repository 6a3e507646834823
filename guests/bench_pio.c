/* Benchmark guest: writes a port forever, so every instruction it runs is one PIO exit. */
#include "lib/guest.h"

#define BENCH_PIO_PORT 0x5e0 /* claimed by bench/pio_vm.c's trivial device */

int guest_main(unsigned ncpus)
{
	(void)ncpus;
	for (;;)
		outb(BENCH_PIO_PORT, 0);
}
