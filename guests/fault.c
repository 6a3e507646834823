/* Touches an unmapped address: the runtime's IDT reports the #PF to the host by ucall FAULT. */
#include "lib/guest.h"

#define UNMAPPED 0x200000000ull /* 8 GiB: beyond the identity map of the low 4 GiB */

int guest_main(unsigned ncpus)
{
	(void)ncpus;
	serial_puts("touching unmapped memory\n");
	return *(volatile uint8_t *)(uintptr_t)UNMAPPED;
}
