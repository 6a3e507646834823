/* The ACPI tables: RSDP, XSDT, RSDT, FADT, FACS, MADT and the DSDT, laid out in the BIOS area. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "aml.h"
#include "kvmlab/acpi.h"

#define OEM_ID	     "KVMLAB"
#define OEM_TABLE_ID "KVMLAB  "
#define CREATOR_ID   "KVML"

struct acpi_header {
	char signature[4];
	uint32_t length;
	uint8_t revision;
	uint8_t checksum;
	char oem_id[6];
	char oem_table_id[8];
	uint32_t oem_revision;
	char creator_id[4];
	uint32_t creator_revision;
} __attribute__((packed));

struct acpi_rsdp {
	char signature[8];
	uint8_t checksum; /* of the first 20 bytes (ACPI 1.0 part) */
	char oem_id[6];
	uint8_t revision;
	uint32_t rsdt;
	uint32_t length;
	uint64_t xsdt;
	uint8_t ext_checksum; /* of all 36 bytes */
	uint8_t reserved[3];
} __attribute__((packed));

/* Generic Address Structure. */
struct acpi_gas {
	uint8_t space; /* 0 memory, 1 I/O */
	uint8_t bit_width;
	uint8_t bit_offset;
	uint8_t access_size; /* 1 byte, 2 word, 3 dword, 4 qword */
	uint64_t address;
} __attribute__((packed));

/* FADT revision 6 (ACPI 6.x); the X_ blocks stay zero, so the 32-bit ones are used. */
struct acpi_fadt {
	struct acpi_header h;
	uint32_t firmware_ctrl;
	uint32_t dsdt;
	uint8_t reserved0;
	uint8_t preferred_pm_profile;
	uint16_t sci_int;
	uint32_t smi_cmd;
	uint8_t acpi_enable, acpi_disable, s4bios_req, pstate_cnt;
	uint32_t pm1a_evt_blk, pm1b_evt_blk, pm1a_cnt_blk, pm1b_cnt_blk, pm2_cnt_blk;
	uint32_t pm_tmr_blk, gpe0_blk, gpe1_blk;
	uint8_t pm1_evt_len, pm1_cnt_len, pm2_cnt_len, pm_tmr_len;
	uint8_t gpe0_blk_len, gpe1_blk_len, gpe1_base, cst_cnt;
	uint16_t p_lvl2_lat, p_lvl3_lat, flush_size, flush_stride;
	uint8_t duty_offset, duty_width, day_alrm, mon_alrm, century;
	uint16_t iapc_boot_arch;
	uint8_t reserved1;
	uint32_t flags;
	struct acpi_gas reset_reg;
	uint8_t reset_value;
	uint16_t arm_boot_arch;
	uint8_t minor_version;
	uint64_t x_firmware_ctrl;
	uint64_t x_dsdt;
	struct acpi_gas x_blocks[8]; /* PM1a/b event, PM1a/b control, PM2, timer, GPE0/1 */
	struct acpi_gas sleep_control, sleep_status;
	char hypervisor_id[8];
} __attribute__((packed));

_Static_assert(sizeof(struct acpi_fadt) == 276, "FADT revision 6 is 276 bytes");
_Static_assert(sizeof(struct acpi_rsdp) == 36, "RSDP");

#define FADT_WBINVD	   (1u << 0)
#define FADT_PROC_C1	   (1u << 2)
#define FADT_PWR_BUTTON	   (1u << 4) /* no fixed power button */
#define FADT_SLP_BUTTON	   (1u << 5) /* no fixed sleep button */
#define FADT_RESET_REG_SUP (1u << 10)
#define FADT_HEADLESS	   (1u << 12)
#define BOOT_ARCH_NO_VGA   (1u << 2) /* and no 8042 bit: Linux does not probe a keyboard */

enum madt_type {
	MADT_LAPIC = 0,
	MADT_IOAPIC = 1,
	MADT_ISO = 2,
	MADT_LAPIC_NMI = 4,
	MADT_X2APIC = 9,
};

#define MADT_MAX_CPUS	 256
#define MADT_MAX_BYTES	 (44 + MADT_MAX_CPUS * 16 + 64)
#define MADT_PCAT_COMPAT 1	/* dual 8259s present (the in-kernel PIC) */
#define ISO_LEVEL_HIGH	 0x000d /* active high (01), level triggered (11 << 2) */

static uint8_t acpi_sum(const uint8_t *p, size_t n)
{
	uint8_t s = 0;

	while (n--)
		s += *p++;
	return s;
}

/* A buffer the tables are laid into; offsets become addresses from ACPI_AREA_GPA. */
struct layout {
	uint8_t *buf;
	size_t len, used;
	bool overflow;
};

static size_t lay_alloc(struct layout *l, size_t size, size_t align)
{
	size_t off = (l->used + align - 1) & ~(align - 1);

	if (off > l->len || size > l->len - off) {
		l->overflow = true;
		return 0;
	}
	memset(l->buf + off, 0, size);
	l->used = off + size;
	return off;
}

static uint64_t lay_gpa(size_t off)
{
	return ACPI_AREA_GPA + off;
}

static void acpi_header(struct acpi_header *h, const char *sig, uint32_t len, uint8_t rev)
{
	memcpy(h->signature, sig, 4);
	h->length = len;
	h->revision = rev;
	memcpy(h->oem_id, OEM_ID, 6);
	memcpy(h->oem_table_id, OEM_TABLE_ID, 8);
	h->oem_revision = 1;
	memcpy(h->creator_id, CREATOR_ID, 4);
	h->creator_revision = 1;
}

/* Copies a table whose header says its length, and sets its checksum. */
static size_t lay_table(struct layout *l, const void *table)
{
	struct acpi_header h;
	size_t off;

	memcpy(&h, table, sizeof(h));
	off = lay_alloc(l, h.length, 16);
	if (l->overflow)
		return 0;
	memcpy(l->buf + off, table, h.length);
	l->buf[off + offsetof(struct acpi_header, checksum)] = 0;
	l->buf[off + offsetof(struct acpi_header, checksum)] =
	    (uint8_t)-acpi_sum(l->buf + off, h.length);
	return off;
}

static void dsdt_com1(struct aml *a)
{
	struct aml_res r = {.n = 0};
	size_t dev = aml_device(a, "COM1");

	aml_name(a, "_HID");
	aml_eisaid(a, "PNP0501");
	aml_name(a, "_UID");
	aml_integer(a, 1);
	aml_res_io(&r, 0x3f8, 8);
	aml_res_irq(&r, 4);
	aml_res_end(&r);
	aml_name(a, "_CRS");
	aml_buffer(a, r.b, r.n);
	aml_close(a, dev);
}

static void dsdt_virtio(struct aml *a, unsigned i, const struct acpi_virtio_mmio *v)
{
	struct aml_res r = {.n = 0};
	char name[5];
	size_t dev;

	snprintf(name, sizeof(name), "VR%02X", i & 0xff); /* i < ACPI_MAX_VIRTIO_MMIO */
	dev = aml_device(a, name);
	aml_name(a, "_HID");
	aml_string(a, "LNRO0005");
	aml_name(a, "_UID");
	aml_integer(a, i);
	aml_res_mem32(&r, (uint32_t)v->base, (uint32_t)v->size);
	aml_res_interrupt(&r, v->gsi);
	aml_res_end(&r);
	aml_name(a, "_CRS");
	aml_buffer(a, r.b, r.n);
	aml_close(a, dev);
}

/* The DSDT's AML: \_S5 for poweroff, and \_SB with COM1 and the virtio-mmio devices. */
static size_t lay_dsdt(struct layout *l, const struct machine *m)
{
	const struct acpi_virtio_mmio *virtio;
	unsigned nvirtio = acpi_virtio_mmio_list(m, &virtio);
	struct acpi_header h;
	struct aml a;
	size_t pkg, sb, off = 0;

	aml_init(&a);
	memset(&h, 0, sizeof(h));
	aml_bytes(&a, &h, sizeof(h));
	aml_name(&a, "\\_S5");
	pkg = aml_package(&a, 4);
	aml_integer(&a, ACPI_S5_SLP_TYP);
	aml_integer(&a, 0);
	aml_integer(&a, 0);
	aml_integer(&a, 0);
	aml_close(&a, pkg);
	sb = aml_scope(&a, "\\_SB");
	dsdt_com1(&a);
	for (unsigned i = 0; i < nvirtio; i++)
		dsdt_virtio(&a, i, &virtio[i]);
	aml_close(&a, sb);
	if (a.failed) {
		l->overflow = true;
	} else {
		/* Revision 2: integers are 64 bits wide. */
		acpi_header((struct acpi_header *)a.data, "DSDT", (uint32_t)a.len, 2);
		off = lay_table(l, a.data);
	}
	aml_free(&a);
	return off;
}

static size_t lay_madt(struct layout *l, unsigned ncpus)
{
	uint8_t t[MADT_MAX_BYTES];
	size_t n = 44;
	uint32_t lapic = ACPI_LAPIC_GPA, flags = MADT_PCAT_COMPAT;

	memset(t, 0, sizeof(t));
	memcpy(t + 36, &lapic, 4);
	memcpy(t + 40, &flags, 4);
	for (unsigned i = 0; i < ncpus; i++) {
		if (i < 255) {
			/* type, length, ACPI processor UID, APIC ID, flags (enabled) */
			const uint8_t e[8] = {MADT_LAPIC, 8, (uint8_t)i, (uint8_t)i, 1, 0, 0, 0};

			memcpy(t + n, e, sizeof(e));
			n += sizeof(e);
		} else {
			/* type, length, reserved[2], x2APIC ID, flags, UID */
			uint8_t e[16] = {MADT_X2APIC, 16};
			uint32_t id = i, en = 1;

			memcpy(e + 4, &id, 4);
			memcpy(e + 8, &en, 4);
			memcpy(e + 12, &id, 4);
			memcpy(t + n, e, sizeof(e));
			n += sizeof(e);
		}
	}
	{
		/* IOAPIC 0 at its usual address with GSIs from 0. */
		uint8_t e[12] = {MADT_IOAPIC, 12, 0, 0};
		uint32_t addr = ACPI_IOAPIC_GPA, base = 0;

		memcpy(e + 4, &addr, 4);
		memcpy(e + 8, &base, 4);
		memcpy(t + n, e, sizeof(e));
		n += sizeof(e);
	}
	{
		/* The PC's overrides: the PIT's IRQ 0 is pin 2; the SCI is level, active high. */
		static const struct {
			uint8_t irq;
			uint32_t gsi;
			uint16_t flags;
		} iso[] = {{0, 2, 0}, {ACPI_SCI_IRQ, ACPI_SCI_IRQ, ISO_LEVEL_HIGH}};

		for (unsigned i = 0; i < sizeof(iso) / sizeof(iso[0]); i++) {
			uint8_t e[10] = {MADT_ISO, 10, 0, iso[i].irq};

			memcpy(e + 4, &iso[i].gsi, 4);
			memcpy(e + 8, &iso[i].flags, 2);
			memcpy(t + n, e, sizeof(e));
			n += sizeof(e);
		}
	}
	{
		/* LINT1 of every processor is NMI. */
		const uint8_t e[6] = {MADT_LAPIC_NMI, 6, 0xff, 0, 0, 1};

		memcpy(t + n, e, sizeof(e));
		n += sizeof(e);
	}
	acpi_header((struct acpi_header *)t, "APIC", (uint32_t)n, 5);
	return lay_table(l, t);
}

static size_t lay_fadt(struct layout *l, size_t facs, size_t dsdt)
{
	struct acpi_fadt f;

	memset(&f, 0, sizeof(f));
	acpi_header(&f.h, "FACP", sizeof(f), 6);
	f.firmware_ctrl = (uint32_t)lay_gpa(facs);
	f.dsdt = (uint32_t)lay_gpa(dsdt);
	f.x_dsdt = lay_gpa(dsdt);
	f.sci_int = ACPI_SCI_IRQ;
	/* smi_cmd 0: the platform is always in ACPI mode (SCI_EN reads as set). */
	f.pm1a_evt_blk = ACPI_PM1_EVT_PORT;
	f.pm1a_cnt_blk = ACPI_PM1_CNT_PORT;
	f.pm_tmr_blk = ACPI_PM_TMR_PORT;
	f.pm1_evt_len = 4;
	f.pm1_cnt_len = 2;
	f.pm_tmr_len = 4;
	f.p_lvl2_lat = 101;  /* > 100: no C2 */
	f.p_lvl3_lat = 1001; /* > 1000: no C3 */
	f.century = ACPI_RTC_CENTURY;
	f.iapc_boot_arch = BOOT_ARCH_NO_VGA;
	f.flags = FADT_WBINVD | FADT_PROC_C1 | FADT_PWR_BUTTON | FADT_SLP_BUTTON |
		  FADT_RESET_REG_SUP | FADT_HEADLESS;
	f.reset_reg = (struct acpi_gas){
	    .space = 1, .bit_width = 8, .access_size = 1, .address = ACPI_RESET_PORT};
	f.reset_value = ACPI_RESET_VALUE;
	memcpy(f.hypervisor_id, "KVMLAB\0\0", 8);
	return lay_table(l, &f);
}

long acpi_build(const struct machine *m, uint8_t *buf, size_t len, struct errbuf *e)
{
	struct layout l = {.buf = buf, .len = len};
	unsigned ncpus = m->ncpus ? m->ncpus : 1;
	size_t rsdp_off, facs, dsdt, fadt, madt, xsdt, rsdt;
	uint8_t sdt[36 + 2 * 8] = {0};
	struct acpi_rsdp rsdp;
	uint64_t x[2];
	uint32_t r[2];

	if (ncpus > MADT_MAX_CPUS)
		return err_set(e, "ACPI tables describe at most %d vCPUs, not %u", MADT_MAX_CPUS,
			       ncpus);
	rsdp_off = lay_alloc(&l, sizeof(rsdp), 16);
	facs = lay_alloc(&l, 64, 64);
	if (!l.overflow) {
		uint32_t facs_len = 64;

		memcpy(buf + facs, "FACS", 4);
		memcpy(buf + facs + 4, &facs_len, 4);
		buf[facs + 32] = 2; /* version */
	}
	dsdt = lay_dsdt(&l, m);
	fadt = lay_fadt(&l, facs, dsdt);
	madt = lay_madt(&l, ncpus);

	x[0] = lay_gpa(fadt), x[1] = lay_gpa(madt);
	memcpy(sdt + 36, x, sizeof(x));
	acpi_header((struct acpi_header *)sdt, "XSDT", 36 + sizeof(x), 1);
	xsdt = lay_table(&l, sdt);
	r[0] = (uint32_t)x[0], r[1] = (uint32_t)x[1];
	memcpy(sdt + 36, r, sizeof(r));
	acpi_header((struct acpi_header *)sdt, "RSDT", 36 + sizeof(r), 1);
	rsdt = lay_table(&l, sdt);
	if (l.overflow)
		return err_set(e, "ACPI tables for %u vCPUs do not fit in %zu bytes", ncpus, len);

	memset(&rsdp, 0, sizeof(rsdp));
	memcpy(rsdp.signature, "RSD PTR ", 8);
	memcpy(rsdp.oem_id, OEM_ID, 6);
	rsdp.revision = 2;
	rsdp.rsdt = (uint32_t)lay_gpa(rsdt);
	rsdp.length = sizeof(rsdp);
	rsdp.xsdt = lay_gpa(xsdt);
	rsdp.checksum = (uint8_t)-acpi_sum((const uint8_t *)&rsdp, 20);
	rsdp.ext_checksum = (uint8_t)-acpi_sum((const uint8_t *)&rsdp, sizeof(rsdp));
	memcpy(buf + rsdp_off, &rsdp, sizeof(rsdp));
	return (long)l.used;
}

int acpi_write_tables(struct machine *m, uint64_t *rsdp, struct errbuf *e)
{
	static const size_t size = ACPI_AREA_END - ACPI_AREA_GPA;
	uint8_t *tables = calloc(1, size);
	long used;

	if (!tables)
		return err_set(e, "out of memory building the ACPI tables");
	used = acpi_build(m, tables, size, e);
	if (used >= 0 && gmem_write(&m->mem, ACPI_AREA_GPA, tables, (uint64_t)used))
		used = err_set(e, "guest RAM does not cover the ACPI area 0x%llx-0x%llx",
			       ACPI_AREA_GPA, ACPI_AREA_END - 1);
	free(tables);
	if (used < 0)
		return -1;
	*rsdp = ACPI_AREA_GPA;
	return 0;
}
