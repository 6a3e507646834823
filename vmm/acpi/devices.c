/* The devices a machine's DSDT describes besides COM1: virtio-mmio transports, added as they
 * attach. */
#include <stdlib.h>

#include "kvmlab/acpi.h"

#define IOAPIC_PINS 24

struct acpi_devices {
	struct acpi_virtio_mmio virtio[ACPI_MAX_VIRTIO_MMIO];
	unsigned nvirtio;
};

int acpi_add_virtio_mmio(struct machine *m, uint64_t base, uint64_t size, uint32_t gsi,
			 struct errbuf *e)
{
	struct acpi_devices *d = m->acpi;

	if (size == 0 || base >= (4ull << 30) || size > (4ull << 30) - base)
		return err_set(e,
			       "virtio-mmio at 0x%llx (0x%llx bytes) must lie below 4 GiB for ACPI",
			       (unsigned long long)base, (unsigned long long)size);
	if (gsi >= IOAPIC_PINS)
		return err_set(e, "virtio-mmio at 0x%llx: GSI %u is not an IOAPIC pin (0-%d)",
			       (unsigned long long)base, gsi, IOAPIC_PINS - 1);
	if (!d) {
		d = calloc(1, sizeof(*d));
		if (!d)
			return err_set(e, "out of memory describing virtio-mmio for ACPI");
		if (machine_on_destroy(m, free, d, e)) {
			free(d);
			return -1;
		}
		m->acpi = d;
	}
	if (d->nvirtio == ACPI_MAX_VIRTIO_MMIO)
		return err_set(e, "more than %d virtio-mmio devices", ACPI_MAX_VIRTIO_MMIO);
	d->virtio[d->nvirtio++] = (struct acpi_virtio_mmio){.base = base, .size = size, .gsi = gsi};
	return 0;
}

unsigned acpi_virtio_mmio_list(const struct machine *m, const struct acpi_virtio_mmio **list)
{
	*list = m->acpi ? m->acpi->virtio : NULL;
	return m->acpi ? m->acpi->nvirtio : 0;
}
