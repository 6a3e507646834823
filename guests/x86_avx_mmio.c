/* VEX vmovdqu of 32 bytes to and from a device, and x87/SSE4.1 moves KVM cannot emulate. */
#include "lib/guest.h"

/* The test device (vmm/tests/kvm/test_x86_emulate.c): 4 KiB that read back what was written. */
#define DEV 0xd0100000ull

/* Stages the host test counts exits by (GUEST_SYNC). */
enum { STAGE_PROBE = 1, STAGE_VEX = 2, STAGE_X87 = 3, STAGE_SSE41 = 4, STAGE_END = 5 };

static uint8_t pattern[32] __attribute__((aligned(32)));
static uint8_t back[32] __attribute__((aligned(32)));
static volatile bool saw_ud;

/* A #UD handler for the AVX probe: note it and skip the 4-byte vmovdqu. */
static void on_ud(struct guest_frame *f)
{
	saw_ud = true;
	f->rip += 4;
}

/* CR4.OSXSAVE, then XCR0 = x87 | SSE | AVX: the guest turns AVX on itself. Returns whether a
 * VEX load from RAM then runs (nested virtualization can leave AVX unusable in a guest). */
static bool enable_avx(void)
{
	uint32_t a, b, c, d;
	uint64_t cr4;

	cpuid(1, 0, &a, &b, &c, &d);
	if (!((c >> 26) & 1) || !((c >> 28) & 1)) /* XSAVE, AVX */
		return false;
	__asm__ volatile("mov %%cr4, %0" : "=r"(cr4));
	__asm__ volatile("mov %0, %%cr4" : : "r"(cr4 | (1ull << 18)));
	__asm__ volatile("xsetbv" : : "a"(7), "d"(0), "c"(0));
	/* A VM exit before probing: some nested setups (QEMU's TCG under KVM) let XSETBV
	 * through unintercepted and restore the hypervisor's XCR0 at the next entry. */
	cpuid(1, 0, &a, &b, &c, &d);
	saw_ud = false;
	guest_set_irq_handler(6, on_ud);
	__asm__ volatile(".byte 0xc5, 0xfe, 0x6f, 0x00" /* vmovdqu ymm0, [rax] */
			 :
			 : "a"(pattern)
			 : "memory");
	guest_set_irq_handler(6, NULL);
	return !saw_ud;
}

static void vex_to_device(volatile uint8_t *dev)
{
	/* ymm0 <- pattern (RAM); [device] <- ymm0; ymm1 <- [device]; back <- ymm1. */
	__asm__ volatile("vmovdqu (%0), %%ymm0\n\t"
			 "vmovdqu %%ymm0, (%1)\n\t"
			 "vmovdqu (%1), %%ymm1\n\t"
			 "vmovdqu %%ymm1, (%2)"
			 :
			 : "r"(pattern), "r"(dev), "r"(back)
			 : "memory");
	for (unsigned i = 0; i < 32; i++)
		GUEST_ASSERT_EQ(back[i], pattern[i]);
	/* The device kept what was written: a plain 8-byte read agrees. */
	GUEST_ASSERT_EQ(*(volatile uint64_t *)(dev + 8), *(uint64_t *)(pattern + 8));
}

/* FLD m64 from the device, FSTP m64 back to it at another offset, and FLD m80 / FSTP m80. */
static void x87_to_device(volatile uint8_t *dev)
{
	uint64_t one = 0x3ff0000000000000ull, got;

	*(volatile uint64_t *)(dev + 64) = one + 0x123456789ull;
	__asm__ volatile("fninit\n\t"
			 "fldl (%0)\n\t"
			 "fstpl 8(%0)\n\t"
			 "fldl 8(%0)\n\t"
			 "fstpt 16(%0)\n\t"
			 "fldt 16(%0)\n\t"
			 "fstpl (%1)"
			 :
			 : "r"(dev + 64), "r"(&got)
			 : "memory");
	GUEST_ASSERT_EQ(got, one + 0x123456789ull);
	GUEST_ASSERT_EQ(*(volatile uint64_t *)(dev + 72), one + 0x123456789ull);
	GUEST_ASSERT_EQ(*(volatile uint16_t *)(dev + 16 + 64 + 8), 0x3fff); /* sign, exponent */
}

/* MOVNTDQA (SSE4.1) from the device. */
static void sse41_from_device(volatile uint8_t *dev)
{
	for (unsigned i = 0; i < 16; i += 8)
		*(volatile uint64_t *)(dev + 128 + i) = *(uint64_t *)(pattern + i);
	__asm__ volatile("movntdqa (%0), %%xmm2\n\t"
			 "movdqu %%xmm2, (%1)"
			 :
			 : "r"(dev + 128), "r"(back)
			 : "memory");
	for (unsigned i = 0; i < 16; i++)
		GUEST_ASSERT_EQ(back[i], pattern[i]);
}

int guest_main(unsigned ncpus)
{
	volatile uint8_t *dev = (volatile uint8_t *)DEV;
	uint32_t a, b, c, d;
	bool avx;

	(void)ncpus;
	for (unsigned i = 0; i < 32; i++)
		pattern[i] = (uint8_t)(0xa5 ^ (i * 37));
	GUEST_SYNC(STAGE_PROBE);
	avx = enable_avx();
	GUEST_SYNC_ARGS(STAGE_VEX, avx, 0, 0);
	if (avx)
		vex_to_device(dev);
	GUEST_SYNC(STAGE_X87);
	x87_to_device(dev);
	cpuid(1, 0, &a, &b, &c, &d);
	GUEST_SYNC_ARGS(STAGE_SSE41, (c >> 19) & 1, 0, 0);
	if ((c >> 19) & 1)
		sse41_from_device(dev);
	GUEST_SYNC(STAGE_END);
	GUEST_DONE();
}
