/* ACPI tables kvmlab generates for kernels: RSDP, XSDT/RSDT, FADT, FACS, MADT and an AML DSDT. */
#ifndef KVMLAB_ACPI_H
#define KVMLAB_ACPI_H

#include <stddef.h>
#include <stdint.h>

#include "err.h"
#include "machine.h"

/*
 * All tables live in the BIOS area, which the memory map reserves; the RSDP
 * is at its start, where a scan of 0xE0000-0xFFFFF finds it, and its address
 * also goes to the kernel (boot_params.acpi_rsdp_addr, hvm_start_info).
 */
#define ACPI_AREA_GPA 0xe0000ull
#define ACPI_AREA_END 0x100000ull

/* The fixed hardware the FADT declares; vmm/devices/pm.c implements it. */
#define ACPI_PM1_EVT_PORT 0x600 /* PM1a status (2 bytes) and enable (2 bytes) */
#define ACPI_PM1_CNT_PORT 0x604 /* PM1a control: SCI_EN, SLP_TYP, SLP_EN */
#define ACPI_PM_TMR_PORT  0x608 /* 24-bit PM timer at 3.579545 MHz */
#define ACPI_RESET_PORT	  0x60c /* FADT reset register: writing ACPI_RESET_VALUE resets */
#define ACPI_RESET_VALUE  0x01
#define ACPI_PM_TMR_HZ	  3579545ull
#define ACPI_SCI_IRQ	  9 /* no events are ever raised, but the FADT must name one */
#define ACPI_S5_SLP_TYP	  5 /* \_S5's SLP_TYPa: written with SLP_EN, the VM powers off */
#define ACPI_IOAPIC_GPA	  0xfec00000u
#define ACPI_LAPIC_GPA	  0xfee00000u
#define ACPI_RTC_CENTURY  0x32 /* CMOS index of the century (FADT CENTURY) */

#define ACPI_MAX_VIRTIO_MMIO 32

/*
 * A virtio-mmio transport for the DSDT: Device (VRnn) with _HID "LNRO0005",
 * _UID n (in the order added) and _CRS { Memory32Fixed (base, size),
 * Interrupt (edge, active high, exclusive) { gsi } }, which is how Debian's
 * virtio_mmio module (built without CONFIG_VIRTIO_MMIO_CMDLINE_DEVICES)
 * finds devices. The region must lie below 4 GiB and gsi below 24 (the
 * IOAPIC's pins). Call while devices attach, before the tables are written;
 * the list lives and dies with the machine.
 */
int acpi_add_virtio_mmio(struct machine *m, uint64_t base, uint64_t size, uint32_t gsi,
			 struct errbuf *e);

struct acpi_virtio_mmio {
	uint64_t base;
	uint64_t size;
	uint32_t gsi;
};

/* The transports added so far, in order; returns their number. */
unsigned acpi_virtio_mmio_list(const struct machine *m, const struct acpi_virtio_mmio **list);

/*
 * Lays out every table for m (m->ncpus LAPICs, its virtio-mmio devices) as
 * they go at ACPI_AREA_GPA, with checksums, into buf; returns the bytes used,
 * or -1 when they would not fit in len. Pure: tests dump and check the result.
 */
long acpi_build(const struct machine *m, uint8_t *buf, size_t len, struct errbuf *e);

/* acpi_build into guest memory at ACPI_AREA_GPA; *rsdp is the RSDP's address. */
int acpi_write_tables(struct machine *m, uint64_t *rsdp, struct errbuf *e);

#endif
