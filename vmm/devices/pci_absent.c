/* PCI configuration mechanism #1 ports 0xcf8-0xcff with no host bridge: reads all-ones, writes
 * dropped. */
#include <string.h>

#include "kvmlab/devices.h"

/*
 * kvmlab has no PCI bus. Claiming the ports makes "nothing here" an explicit
 * answer (strict mode does not stop on it, statistics name it) instead of an
 * unclaimed access. The address register does not latch either, so Linux's
 * type-1 check (write 0x80000000, read it back) fails at once instead of
 * scanning 256 functions through the data port.
 */

static void pci_absent_access(void *opaque, uint64_t offset, uint8_t *data, uint32_t len,
			      bool is_write)
{
	(void)opaque;
	if (!is_write)
		memset(data, 0xff, len);
}

static int pci_absent_attach(struct machine *m, struct errbuf *e)
{
	return bus_register(&m->pio, PCI_CONFIG_PORT, 8, "pci-config (no bus)", pci_absent_access,
			    NULL, e);
}

const struct device_type pci_absent_device = {"pci-absent", pci_absent_attach};
