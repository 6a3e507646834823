/* Past RAM is the VMM's MMIO bus, a ROM ignores writes, unclaimed ports read all-ones. */
#include "lib/guest.h"

#define PARAM_DEVICE	0 /* a test device the host claimed on the MMIO bus (just past RAM) */
#define PARAM_UNCLAIMED 1 /* an address past RAM that nothing claims */
#define PARAM_ROM	2 /* a read-only region the host filled */
#define PARAM_NPORTS	3 /* input[0 .. n-1]: unclaimed ports to read */

#define VALUE_DEV_READ32   0
#define VALUE_DEV_READ64   1
#define VALUE_UNCLAIMED	   2
#define VALUE_ROM_BEFORE   3
#define VALUE_ROM_AFTER	   4
#define VALUE_PORTS_BAD	   5
#define VALUE_PORT_FIRST   6 /* (port << 8) | width of the first port that did not read all-ones */
#define VALUE_PORTS_READ   7
#define VALUE_UNCLAIMED_64 8

static volatile uint32_t *at32(uint64_t gpa)
{
	return (volatile uint32_t *)(uintptr_t)gpa;
}

static volatile uint64_t *at64(uint64_t gpa)
{
	return (volatile uint64_t *)(uintptr_t)gpa;
}

static uint16_t inw(uint16_t port)
{
	uint16_t v;

	__asm__ volatile("inw %1, %0" : "=a"(v) : "Nd"(port));
	return v;
}

static void sweep_ports(struct results_abi *r, uint64_t n)
{
	uint64_t bad = 0, first = 0, reads = 0;

	for (uint64_t i = 0; i < n && i < RESULTS_NINPUT; i++) {
		uint16_t port = (uint16_t)r->input[i];
		bool ok1 = inb(port) == 0xff, ok2 = inw(port) == 0xffff, ok4 = inl(port) == ~0u;

		reads += 3;
		if (!(ok1 && ok2 && ok4) && !bad++)
			first = (uint64_t)port << 8 | (!ok1 ? 1 : !ok2 ? 2 : 4);
	}
	r->value[VALUE_PORTS_BAD] = bad;
	r->value[VALUE_PORT_FIRST] = first;
	r->value[VALUE_PORTS_READ] = reads;
}

int guest_main(unsigned ncpus)
{
	struct results_abi *r = results_init();
	uint64_t dev = results_param(PARAM_DEVICE, 0),
		 unclaimed = results_param(PARAM_UNCLAIMED, 0);
	uint64_t rom = results_param(PARAM_ROM, 0);

	(void)ncpus;
	GUEST_ASSERT(dev && unclaimed && rom);
	/* The device sees these writes with their offsets and values... */
	*at32(dev + 0x8) = 0x11223344u;
	*at64(dev + 0x18) = 0x5566778899aabbccull;
	/* ...and answers these reads; RAM would have held zeroes. */
	r->value[VALUE_DEV_READ32] = *at32(dev + 0x10);
	r->value[VALUE_DEV_READ64] = *at64(dev + 0x20);
	*at32(unclaimed) = 0xdeadbeefu;
	r->value[VALUE_UNCLAIMED] = *at32(unclaimed);
	r->value[VALUE_UNCLAIMED_64] = *at64(unclaimed + 8);
	r->value[VALUE_ROM_BEFORE] = *at64(rom);
	*at64(rom) = 0x0badc0de0badc0deull;
	r->value[VALUE_ROM_AFTER] = *at64(rom);
	sweep_ports(r, results_param(PARAM_NPORTS, 0));
	guest_printf("iso_mmio: device 0x%llx 0x%llx, unclaimed 0x%llx, ROM 0x%llx -> 0x%llx, "
		     "%llu of %llu port reads not all-ones\n",
		     (unsigned long long)r->value[VALUE_DEV_READ32],
		     (unsigned long long)r->value[VALUE_DEV_READ64],
		     (unsigned long long)r->value[VALUE_UNCLAIMED],
		     (unsigned long long)r->value[VALUE_ROM_BEFORE],
		     (unsigned long long)r->value[VALUE_ROM_AFTER],
		     (unsigned long long)r->value[VALUE_PORTS_BAD],
		     (unsigned long long)r->value[VALUE_PORTS_READ]);
	GUEST_DONE();
}
