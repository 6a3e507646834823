/* Booting APs from the guest: copy the trampoline low, then INIT and SIPI through the xAPIC. */
#include "guest.h"

#define TRAMPOLINE_GPA 0x9000
#define XAPIC_BASE     0xfee00000ull
#define XAPIC_SVR      0xf0
#define XAPIC_ICR_LOW  0x300
#define XAPIC_ICR_HIGH 0x310
#define ICR_BUSY       (1u << 12)
#define ICR_ALL_BUT_ME (3u << 18)
#define ICR_INIT       (5u << 8)
#define ICR_STARTUP    (6u << 8)
#define ICR_ASSERT     (1u << 14)
#define ICR_LEVEL      (1u << 15)

extern char ap_trampoline_start[], ap_trampoline_end[], ap_trampoline_data[];
uint32_t guest_ncpus;

static void xapic_write(uint32_t reg, uint32_t v)
{
	*(volatile uint32_t *)(uintptr_t)(XAPIC_BASE + reg) = v;
}

static uint32_t xapic_read(uint32_t reg)
{
	return *(volatile uint32_t *)(uintptr_t)(XAPIC_BASE + reg);
}

static void xapic_send(uint32_t icr)
{
	xapic_write(XAPIC_ICR_HIGH, 0);
	xapic_write(XAPIC_ICR_LOW, icr);
	while (xapic_read(XAPIC_ICR_LOW) & ICR_BUSY)
		cpu_relax();
}

static void fill_trampoline_data(uint8_t *data)
{
	struct {
		uint16_t limit;
		uint64_t base;
	} __attribute__((packed)) gdt;
	uint64_t cr0, cr3, cr4;
	uint32_t lo, hi, v;

	__asm__ volatile("sgdt %0" : "=m"(gdt));
	__asm__ volatile("mov %%cr0, %0" : "=r"(cr0));
	__asm__ volatile("mov %%cr3, %0" : "=r"(cr3));
	__asm__ volatile("mov %%cr4, %0" : "=r"(cr4));
	__asm__ volatile("rdmsr" : "=a"(lo), "=d"(hi) : "c"(0xc0000080));
	memcpy(data, &gdt.limit, 2);
	v = (uint32_t)gdt.base;
	memcpy(data + 2, &v, 4);
	v = (uint32_t)cr4;
	memcpy(data + 8, &v, 4);
	v = (uint32_t)cr3; /* page tables live below 4 GiB */
	memcpy(data + 12, &v, 4);
	v = lo & ((1u << 0) | (1u << 8) | (1u << 11)); /* SCE, LME, NXE; not LMA */
	memcpy(data + 16, &v, 4);
	v = (uint32_t)cr0;
	memcpy(data + 20, &v, 4);
	(void)hi;
}

void guest_smp_boot_aps(unsigned ncpus)
{
	uint8_t *low = (uint8_t *)(uintptr_t)TRAMPOLINE_GPA;
	size_t len = (size_t)(ap_trampoline_end - ap_trampoline_start);

	guest_ncpus = ncpus;
	memcpy(low, ap_trampoline_start, len);
	fill_trampoline_data(low + (ap_trampoline_data - ap_trampoline_start));
	xapic_write(XAPIC_SVR, 0x1ff); /* software-enable the local APIC */
	xapic_send(ICR_ALL_BUT_ME | ICR_INIT | ICR_ASSERT | ICR_LEVEL);
	for (int i = 0; i < 2; i++) /* the MP spec's INIT, SIPI, SIPI */
		xapic_send(ICR_ALL_BUT_ME | ICR_STARTUP | ICR_ASSERT | (TRAMPOLINE_GPA >> 12));
}
