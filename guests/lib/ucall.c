/* Guest side of the ucall protocol: fill a struct on the stack, OUT its address to the host. */
#include "guest.h"

static void copy_str(char *dst, const char *src, size_t cap)
{
	size_t i = 0;

	for (; src && src[i] && i + 1 < cap; i++)
		dst[i] = src[i];
	dst[i] = '\0';
}

void ucall(uint32_t cmd, const char *file, uint32_t line, const char *msg, uint32_t nargs,
	   uint64_t a0, uint64_t a1, uint64_t a2, uint64_t a3)
{
	struct ucall_abi uc;

	memset(&uc, 0, sizeof(uc));
	uc.cmd = cmd;
	uc.line = line;
	uc.cpu = cpu_apic_id();
	uc.nargs = nargs;
	uc.args[0] = a0;
	uc.args[1] = a1;
	uc.args[2] = a2;
	uc.args[3] = a3;
	copy_str(uc.file, file, sizeof(uc.file));
	copy_str(uc.msg, msg, sizeof(uc.msg));
	__asm__ volatile("outl %0, %1" : : "a"((uint32_t)(uintptr_t)&uc), "Nd"(UCALL_PORT)
			 : "memory");
}
