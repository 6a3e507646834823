/* The default machine's device list: one line per device model. */
#include "kvmlab/devices.h"

const struct device_type *const device_types[] = {
	&uart16550_device,
	&debugexit_device,
	&ucall_device,
	&rtc_device,
	&i8042_device,
	&pm_device,
	&fwcfg_device,
	&pci_absent_device,
	NULL,
};

int devices_attach_all(struct machine *m, struct errbuf *e)
{
	for (const struct device_type *const *t = device_types; *t; t++)
		if ((*t)->attach(m, e))
			return -1;
	return 0;
}
