/* Writes one quadword into every free page of RAM, so all of it is in host memory; then stops. */
#include "lib/guest.h"

#define PARAM_RAM 0 /* RAM size; 0: probe for it */

int guest_main(unsigned ncpus)
{
	struct results_abi *r = results_init();
	uint64_t top = results_param(PARAM_RAM, 0), pages = 0;

	(void)ncpus;
	if (!top)
		top = guest_ram_top();
	for (uint64_t p = (uint64_t)(uintptr_t)guest_image_end; p < top; p += 4096, pages++)
		*(volatile uint64_t *)(uintptr_t)p = p;
	r->value[0] = pages;
	guest_printf("iso_touch: %llu pages touched\n", (unsigned long long)pages);
	GUEST_DONE();
}
