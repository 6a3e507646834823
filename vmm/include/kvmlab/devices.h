/* Device registry: each device model attaches itself to a machine through one table entry. */
#ifndef KVMLAB_DEVICES_H
#define KVMLAB_DEVICES_H

#include "err.h"
#include "machine.h"

/*
 * A device model. attach() allocates the device's state, claims its bus
 * ranges and registers its cleanup with machine_on_destroy(); it must touch
 * nothing but the machine it is given. Adding a device is one file defining
 * its struct device_type plus one line in devices.c.
 */
struct device_type {
	const char *name;
	int (*attach)(struct machine *m, struct errbuf *e);
};

/* The default machine's devices, in attach order, NULL-terminated. */
extern const struct device_type *const device_types[];

/* Attaches every device in device_types. */
int devices_attach_all(struct machine *m, struct errbuf *e);

/* Individual devices, for tests and fuzz targets. */
extern const struct device_type uart16550_device;
extern const struct device_type debugexit_device;
extern const struct device_type ucall_device;
extern const struct device_type rtc_device;	   /* CMOS RTC, ports 0x70-0x71 */
extern const struct device_type i8042_device;	   /* reset line, ports 0x60 and 0x64 */
extern const struct device_type pm_device;	   /* ACPI PM1, PM timer, reset (acpi.h) */
extern const struct device_type fwcfg_device;	   /* QEMU fw_cfg, FWCFG_PORT */
extern const struct device_type pci_absent_device; /* 0xcf8-0xcff with no PCI bus */

#define COM1_PORT	 0x3f8
#define DEBUG_EXIT_PORT	 0xf4
#define DEBUG_EXIT_WIDTH 4
#define FWCFG_PORT	 0x510 /* selector (16-bit), data at FWCFG_PORT + 1 */
#define PCI_CONFIG_PORT	 0xcf8

#endif
