/* Unit tests of QEMU-convention test devices: fw_cfg, PCI config ports with no bus, COM2-4 absent.
 */
#include <sys/mman.h>

#include "kvmlab/devices.h"
#include "unit.h"

static uint64_t fwcfg_read(struct machine *m, uint16_t key, unsigned n)
{
	uint64_t v = 0;

	CHECK(machine_pio(m, FWCFG_PORT, (uint8_t *)&key, 2, true));
	for (unsigned i = 0; i < n; i++) {
		uint8_t b;

		CHECK(machine_pio(m, FWCFG_PORT + 1, &b, 1, false));
		v |= (uint64_t)b << (8 * i);
	}
	return v;
}

TEST(fwcfg_answers_signature_cpu_count_and_ram_size)
{
	static uint8_t ram[4 << 20];
	struct machine m;
	struct errbuf e;

	machine_init(&m);
	m.ncpus = 3;
	CHECK(gmem_add(&m.mem, 0, sizeof(ram), ram, 0, &e) == 0);
	CHECK(fwcfg_device.attach(&m, &e) == 0);
	CHECK_EQ(fwcfg_read(&m, 0x0000, 4), 0x554d4551); /* "QEMU" */
	CHECK_EQ(fwcfg_read(&m, 0x0001, 4), 1);		 /* no DMA interface */
	CHECK_EQ(fwcfg_read(&m, 0x0005, 2), 3);
	CHECK_EQ(fwcfg_read(&m, 0x000f, 2), 3);
	CHECK_EQ(fwcfg_read(&m, 0x0003, 8), sizeof(ram));
	CHECK_EQ(fwcfg_read(&m, 0x0019, 4), 0); /* an empty file directory */
	CHECK_EQ(fwcfg_read(&m, 0x1234, 8), 0); /* unknown items read as zeros */
	/* past the end of an item: zeros; a new selection rewinds */
	CHECK_EQ(fwcfg_read(&m, 0x0005, 4), 3);
	CHECK_EQ(fwcfg_read(&m, 0x4000, 4), 0x554d4551); /* the write flag is ignored */
	machine_destroy(&m);
}

TEST(pci_config_ports_answer_all_ones_with_no_bus)
{
	struct machine m;
	struct errbuf e;
	uint32_t addr = 0x80000000u, v = 0;

	machine_init(&m);
	m.strict = true; /* claimed, so even strict mode does not stop */
	CHECK(devices_attach_all(&m, &e) == 0);
	CHECK(machine_pio(&m, PCI_CONFIG_PORT, (uint8_t *)&addr, 4, true));
	CHECK(machine_pio(&m, PCI_CONFIG_PORT, (uint8_t *)&v, 4, false));
	CHECK_EQ(v, 0xffffffffu); /* the address does not latch: no type-1 host bridge */
	CHECK(machine_pio(&m, PCI_CONFIG_PORT + 4, (uint8_t *)&v, 4, false));
	CHECK_EQ(v, 0xffffffffu);
	CHECK(!machine_stopping(&m));
	machine_destroy(&m);
}

TEST(com2_to_com4_are_claimed_and_absent)
{
	static const uint16_t ports[] = {0x2f8, 0x3e8, 0x2e8};
	struct machine m;
	struct errbuf e;

	machine_init(&m);
	m.strict = true;
	CHECK(devices_attach_all(&m, &e) == 0);
	for (unsigned i = 0; i < 3; i++) {
		uint8_t zero = 0, v = 0;

		/* Linux's probe: IER written 0 must read back 0 on a real UART */
		CHECK(machine_pio(&m, ports[i] + 1, &zero, 1, true));
		CHECK(machine_pio(&m, ports[i] + 1, &v, 1, false));
		CHECK_EQ(v, 0xff);
	}
	CHECK(!machine_stopping(&m));
	machine_destroy(&m);
}
