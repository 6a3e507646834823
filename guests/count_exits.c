/* Makes exactly 1000 port writes to 0x5e8, then reports DONE (one more port write). */
#include "lib/guest.h"

#define TICK_PORT 0x5e8
#define TICKS	  1000

int guest_main(unsigned ncpus)
{
	(void)ncpus;
	for (uint32_t i = 0; i < TICKS; i++)
		outl(TICK_PORT, i);
	GUEST_DONE();
}
