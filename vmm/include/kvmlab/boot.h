/* Booting a kernel on a VM: ACPI tables, a loader, the PC's interrupt routing and the boot vCPU's
 * state. */
#ifndef KVMLAB_BOOT_H
#define KVMLAB_BOOT_H

#include <stddef.h>

#include "err.h"
#include "loader.h"

struct machine;
struct vm;

/*
 * The platform arguments every Linux kernel gets before the user's
 * (--cmdline), which can override them: the console on COM1 (and no probing
 * for COM2-4), pci=off (there is no PCI bus, and early scans of it cost
 * ~33,000 port exits on AMD CPUs), no timer check, the boot log kept off the
 * console (one port exit per character), and a panic ending the VM.
 */
#define BOOT_LINUX_CMDLINE                                                                         \
	"console=ttyS0 8250.nr_uarts=1 reboot=acpi panic=-1 pci=off no_timer_check "               \
	"tsc=reliable quiet"

struct kernel_boot {
	const char *loader;	 /* a loader_types name; NULL or "auto": detect from the image */
	const char *kernel_name; /* for reports and the multiboot command line */
	const void *kernel;
	size_t kernel_len;
	const char *initrd_name; /* NULL when there is no initrd */
	const void *initrd;
	size_t initrd_len;
	const char *cmdline; /* the user's; NULL for none */
};

/*
 * Everything between vm_create and vm_start for a kernel: picks the loader,
 * writes the ACPI tables (after every device has attached), builds the
 * command line (Linux: BOOT_LINUX_CMDLINE, then each virtio-mmio device as
 * virtio_mmio.device=SIZE@BASE:GSI, then the user's), loads the kernel,
 * installs the PC interrupt routing the MADT describes (GSI 0, the PIT, on
 * IOAPIC pin 2) and sets the boot vCPU's entry state. The other vCPUs wait
 * for the kernel's INIT/SIPI. Returns 0, -2 when the image or its
 * arguments are refused (the report starts with kernel_name), or -1 when the
 * host failed.
 */
int vm_boot_kernel(struct vm *vm, const struct kernel_boot *kb, struct errbuf *e);

/* The boot vCPU's registers for b (x86_boot.c); other vCPUs are left waiting for SIPI. */
int vm_setup_boot_entry(struct vm *vm, const struct boot_entry *b, struct errbuf *e);

/* KVM GSI routing like a PC's (and QEMU's): ISA IRQ n on PIC pin n and IOAPIC pin n,
 * except IRQ 0 on IOAPIC pin 2 (core/irq.c). Needs the in-kernel irqchip. */
int vm_irq_routing_pc(struct vm *vm, struct errbuf *e);

/* The command line vm_boot_kernel gives a kernel loaded by t, into buf. */
int boot_cmdline(const struct machine *m, const struct loader_type *t, const char *user, char *buf,
		 size_t len, struct errbuf *e);

#endif
