/* Reads a port and an MMIO address no device claims: both must read as all-ones. */
#include "lib/guest.h"

#define UNCLAIMED_PORT 0x5f0
#define UNCLAIMED_MMIO 0xd0000000ull /* inside the MMIO hole below 4 GiB */

int guest_main(unsigned ncpus)
{
	volatile uint32_t *mmio = (volatile uint32_t *)UNCLAIMED_MMIO;
	uint32_t port = inl(UNCLAIMED_PORT);
	uint32_t mem = *mmio;

	(void)ncpus;
	outl(UNCLAIMED_PORT, 0x1234); /* an unclaimed write, counted and ignored */
	guest_printf("port=0x%x mmio=0x%x\n", port, mem);
	return (port == 0xffffffffu && mem == 0xffffffffu) ? 0 : 1;
}
