/* Guest runtime core: start-up per vCPU, exit through debug-exit, and the C helpers gcc expects. */
#include "guest.h"

void guest_start(uint64_t cpu, uint64_t ncpus);

__attribute__((weak)) void guest_ap_main(unsigned cpu, unsigned ncpus)
{
	(void)cpu;
	(void)ncpus;
	cpu_halt_forever();
}

static volatile int idt_ready;

void guest_start(uint64_t cpu, uint64_t ncpus)
{
	if (cpu == 0) {
		guest_idt_init();
		__atomic_store_n(&idt_ready, 1, __ATOMIC_RELEASE);
	}
	while (!__atomic_load_n(&idt_ready, __ATOMIC_ACQUIRE))
		cpu_relax();
	guest_idt_load();
	if (cpu != 0) {
		guest_ap_main((unsigned)cpu, (unsigned)ncpus);
		cpu_halt_forever();
	}
	guest_exit((uint8_t)guest_main((unsigned)ncpus));
}

void guest_exit(uint8_t code)
{
	outb(DEBUG_EXIT_PORT, code);
	cpu_halt_forever(); /* not reached under kvmlab or QEMU with isa-debug-exit */
}

void *memset(void *dst, int c, size_t n)
{
	unsigned char *d = dst;

	while (n--)
		*d++ = (unsigned char)c;
	return dst;
}

void *memcpy(void *dst, const void *src, size_t n)
{
	unsigned char *d = dst;
	const unsigned char *s = src;

	while (n--)
		*d++ = *s++;
	return dst;
}

size_t strlen(const char *s)
{
	size_t n = 0;

	while (s[n])
		n++;
	return n;
}
