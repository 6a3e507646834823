/* Runs until stopped, writing an increasing counter to port 0x5e8 (a test device counts them). */
#include "lib/guest.h"

#define TICK_PORT 0x5e8

int guest_main(unsigned ncpus)
{
	(void)ncpus;
	for (uint32_t i = 0;; i++)
		outl(TICK_PORT, i);
}
