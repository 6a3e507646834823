/* Triple-faults on purpose: an invalid opcode with no usable IDT. */
#include "lib/guest.h"

int guest_main(unsigned ncpus)
{
	static const struct {
		uint16_t limit;
		uint64_t base;
	} __attribute__((packed)) no_idt = {0, 0};

	(void)ncpus;
	serial_puts("about to triple-fault\n");
	__asm__ volatile("lidt %0; ud2" : : "m"(no_idt));
	return 0;
}
