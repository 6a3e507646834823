/* MMIO accesses for `kvmlab run --trace-exits`: a store, a load, an SSE store and an x87 store. */
#include "lib/guest.h"

#define UNCLAIMED 0xd0000000ull /* no device: writes are dropped, reads return all-ones */

int guest_main(unsigned ncpus)
{
	volatile uint8_t *mmio = (volatile uint8_t *)UNCLAIMED;
	uint32_t v;
	static const uint64_t pattern[2] = {0x1122334455667788ull, 0x99aabbccddeeff00ull};
	static const double one = 1.0;

	(void)ncpus;
	*(volatile uint32_t *)(mmio + 0x10) = 0x12345678;
	v = *(volatile uint32_t *)(mmio + 0x20);
	__asm__ volatile("movdqu (%0), %%xmm0\n\tmovdqu %%xmm0, 0x30(%1)"
			 :
			 : "r"(pattern), "r"(mmio)
			 : "memory");
	__asm__ volatile("fninit\n\tfldl (%1)\n\tfstpl 0x40(%0)"
			 :
			 : "r"(mmio), "r"(&one)
			 : "memory");
	GUEST_ASSERT_EQ(v, 0xffffffffu);
	GUEST_DONE();
}
