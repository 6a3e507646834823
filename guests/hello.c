/* The first guest: prints a greeting on COM1 and exits through debug-exit with 0. */
#include "lib/guest.h"

int guest_main(unsigned ncpus)
{
	guest_printf("Hello from a kvmlab guest on %u vCPU%s!\n", ncpus, ncpus == 1 ? "" : "s");
	return 0;
}
