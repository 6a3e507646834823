/* Exits through debug-exit with 42, so kvmlab's status must be (42 << 1) | 1 = 85. */
#include "lib/guest.h"

int guest_main(unsigned ncpus)
{
	(void)ncpus;
	serial_puts("exiting with 42\n");
	return 42;
}
