/* Unit tests of the ACPI tables and the AML writer: checksums, links, FADT/MADT/DSDT contents. */
#include <stdint.h>
#include <stdlib.h>

#include "../acpi/aml.h"
#include "kvmlab/acpi.h"
#include "unit.h"

#define AREA (ACPI_AREA_END - ACPI_AREA_GPA)

static uint8_t sum(const uint8_t *p, size_t n)
{
	uint8_t s = 0;

	while (n--)
		s += *p++;
	return s;
}

static uint32_t u32(const uint8_t *p)
{
	uint32_t v;

	memcpy(&v, p, 4);
	return v;
}

static uint64_t u64(const uint8_t *p)
{
	uint64_t v;

	memcpy(&v, p, 8);
	return v;
}

/* The table at guest address gpa, after checking that it lies in the area and sums to 0. */
static const uint8_t *table(const uint8_t *buf, uint64_t gpa, const char *sig)
{
	const uint8_t *t;

	CHECK(gpa >= ACPI_AREA_GPA && gpa + 36 <= ACPI_AREA_END);
	t = buf + (gpa - ACPI_AREA_GPA);
	CHECK(memcmp(t, sig, 4) == 0);
	CHECK(gpa + u32(t + 4) <= ACPI_AREA_END);
	CHECK_EQ(sum(t, u32(t + 4)), 0);
	return t;
}

static bool contains(const uint8_t *p, size_t n, const void *needle, size_t len)
{
	for (size_t i = 0; i + len <= n; i++)
		if (!memcmp(p + i, needle, len))
			return true;
	return false;
}

static uint8_t *build(struct machine *m, unsigned ncpus, unsigned nvirtio)
{
	uint8_t *buf = calloc(1, AREA);
	struct errbuf e;

	CHECK(buf);
	machine_init(m);
	m->ncpus = ncpus;
	for (unsigned i = 0; i < nvirtio; i++)
		CHECK(acpi_add_virtio_mmio(m, 0xd0000000u + i * 0x1000, 0x200, 5 + i, &e) == 0);
	CHECK(acpi_build(m, buf, AREA, &e) > 0);
	return buf;
}

TEST(acpi_tables_link_up_with_valid_checksums)
{
	struct machine m;
	uint8_t *buf = build(&m, 3, 2);
	const uint8_t *xsdt, *rsdt, *fadt, *madt, *dsdt, *facs;

	CHECK(memcmp(buf, "RSD PTR ", 8) == 0);
	CHECK_EQ(sum(buf, 20), 0);
	CHECK_EQ(sum(buf, 36), 0);
	CHECK_EQ(buf[15], 2); /* revision: XSDT present */
	xsdt = table(buf, u64(buf + 24), "XSDT");
	rsdt = table(buf, u32(buf + 16), "RSDT");
	CHECK_EQ(u32(xsdt + 4), 36 + 2 * 8);
	fadt = table(buf, u64(xsdt + 36), "FACP");
	madt = table(buf, u64(xsdt + 44), "APIC");
	CHECK_EQ(u32(rsdt + 36), u64(xsdt + 36));
	CHECK_EQ(u32(rsdt + 40), u64(xsdt + 44));
	dsdt = table(buf, u32(fadt + 40), "DSDT");
	CHECK_EQ(u64(fadt + 140), u32(fadt + 40)); /* X_DSDT */
	CHECK_EQ(u32(fadt + 36) % 64, 0);	   /* FACS alignment */
	facs = buf + (u32(fadt + 36) - ACPI_AREA_GPA);
	CHECK(memcmp(facs, "FACS", 4) == 0);
	(void)dsdt;
	(void)madt;
	machine_destroy(&m);
	free(buf);
}

TEST(acpi_fadt_declares_pm_block_timer_reset_and_sci)
{
	struct machine m;
	uint8_t *buf = build(&m, 1, 0);
	const uint8_t *fadt = table(buf, u64(table(buf, u64(buf + 24), "XSDT") + 36), "FACP");
	uint16_t sci, boot_arch;

	CHECK_EQ(u32(fadt + 4), 276);
	CHECK_EQ(fadt[8], 6);
	memcpy(&sci, fadt + 46, 2);
	CHECK_EQ(sci, ACPI_SCI_IRQ);
	CHECK_EQ(u32(fadt + 48), 0); /* no SMI_CMD: always in ACPI mode */
	CHECK_EQ(u32(fadt + 56), ACPI_PM1_EVT_PORT);
	CHECK_EQ(u32(fadt + 64), ACPI_PM1_CNT_PORT);
	CHECK_EQ(u32(fadt + 76), ACPI_PM_TMR_PORT);
	CHECK_EQ(fadt[88], 4); /* PM1_EVT_LEN */
	CHECK_EQ(fadt[89], 2); /* PM1_CNT_LEN */
	CHECK_EQ(fadt[91], 4); /* PM_TMR_LEN */
	CHECK_EQ(fadt[108], ACPI_RTC_CENTURY);
	memcpy(&boot_arch, fadt + 109, 2);
	CHECK_EQ(boot_arch & 0x2, 0);	     /* no 8042: Linux does not probe a keyboard */
	CHECK(u32(fadt + 112) & (1u << 10)); /* RESET_REG_SUP */
	CHECK_EQ(fadt[116], 1);		     /* reset register in I/O space */
	CHECK_EQ(u64(fadt + 120), ACPI_RESET_PORT);
	CHECK_EQ(fadt[128], ACPI_RESET_VALUE);
	machine_destroy(&m);
	free(buf);
}

TEST(acpi_madt_has_one_lapic_per_vcpu_the_ioapic_and_overrides)
{
	struct machine m;
	uint8_t *buf = build(&m, 4, 0);
	const uint8_t *madt = table(buf, u64(table(buf, u64(buf + 24), "XSDT") + 44), "APIC");
	unsigned lapics = 0, ioapics = 0, irq0 = 0, sci = 0;

	CHECK_EQ(u32(madt + 36), ACPI_LAPIC_GPA);
	for (uint32_t off = 44; off < u32(madt + 4); off += madt[off + 1]) {
		const uint8_t *e = madt + off;

		CHECK(e[1] >= 2);
		if (e[0] == 0) {
			CHECK_EQ(e[2], lapics); /* processor UID */
			CHECK_EQ(e[3], lapics); /* APIC ID */
			CHECK_EQ(u32(e + 4), 1);
			lapics++;
		} else if (e[0] == 1) {
			CHECK_EQ(u32(e + 4), ACPI_IOAPIC_GPA);
			CHECK_EQ(u32(e + 8), 0);
			ioapics++;
		} else if (e[0] == 2 && e[3] == 0) {
			CHECK_EQ(u32(e + 4), 2); /* IRQ 0 -> GSI 2 */
			irq0++;
		} else if (e[0] == 2 && e[3] == ACPI_SCI_IRQ) {
			CHECK_EQ(e[8] | e[9] << 8, 0x000d); /* level, active high */
			sci++;
		}
	}
	CHECK_EQ(lapics, 4);
	CHECK_EQ(ioapics, 1);
	CHECK_EQ(irq0, 1);
	CHECK_EQ(sci, 1);
	machine_destroy(&m);
	free(buf);
}

TEST(acpi_dsdt_describes_s5_com1_and_virtio_mmio)
{
	struct machine m;
	uint8_t *buf = build(&m, 1, 2);
	const uint8_t *fadt = table(buf, u64(table(buf, u64(buf + 24), "XSDT") + 36), "FACP");
	const uint8_t *dsdt = table(buf, u32(fadt + 40), "DSDT");
	uint32_t n = u32(dsdt + 4);
	static const uint8_t pnp0501[] = {0x0c, 0x41, 0xd0, 0x05, 0x01}; /* DWordConst */
	static const uint8_t com1_io[] = {0x47, 0x01, 0xf8, 0x03, 0xf8, 0x03, 0x01, 0x08};
	static const uint8_t irq4[] = {0x22, 0x10, 0x00};
	static const uint8_t mem1[] = {0x86, 0x09, 0x00, 0x01, 0x00, 0x10,
				       0x00, 0xd0, 0x00, 0x02, 0x00, 0x00};
	static const uint8_t gsi6[] = {0x89, 0x06, 0x00, 0x03, 0x01, 0x06, 0x00, 0x00, 0x00};

	CHECK_EQ(dsdt[8], 2); /* 64-bit integers */
	CHECK(contains(dsdt, n, "_S5_", 4));
	CHECK(contains(dsdt, n, "\x5c_SB_", 5));
	CHECK(contains(dsdt, n, "COM1", 4));
	CHECK(contains(dsdt, n, pnp0501, sizeof(pnp0501)));
	CHECK(contains(dsdt, n, com1_io, sizeof(com1_io)));
	CHECK(contains(dsdt, n, irq4, sizeof(irq4)));
	CHECK(contains(dsdt, n, "VR00", 4));
	CHECK(contains(dsdt, n, "VR01", 4));
	CHECK(contains(dsdt, n, "LNRO0005", 9));
	CHECK(contains(dsdt, n, mem1, sizeof(mem1))); /* the second device at 0xd0001000 */
	CHECK(contains(dsdt, n, gsi6, sizeof(gsi6)));
	machine_destroy(&m);
	free(buf);
}

TEST(acpi_virtio_mmio_refuses_what_acpi_cannot_describe)
{
	struct machine m;
	struct errbuf e;
	const struct acpi_virtio_mmio *list;

	machine_init(&m);
	CHECK(acpi_add_virtio_mmio(&m, 5ull << 30, 0x200, 5, &e) == -1);
	CHECK_CONTAINS(e.msg, "below 4 GiB");
	CHECK(acpi_add_virtio_mmio(&m, 0xd0000000, 0x200, 24, &e) == -1);
	CHECK_CONTAINS(e.msg, "not an IOAPIC pin");
	for (unsigned i = 0; i < ACPI_MAX_VIRTIO_MMIO; i++)
		CHECK(acpi_add_virtio_mmio(&m, 0xd0000000u + i * 0x1000, 0x200, 5, &e) == 0);
	CHECK(acpi_add_virtio_mmio(&m, 0xe0000000, 0x200, 5, &e) == -1);
	CHECK_EQ(acpi_virtio_mmio_list(&m, &list), ACPI_MAX_VIRTIO_MMIO);
	CHECK_EQ(list[1].base, 0xd0001000u);
	machine_destroy(&m);
}

TEST(acpi_build_refuses_a_small_area)
{
	struct machine m;
	struct errbuf e;
	uint8_t small[256];

	machine_init(&m);
	m.ncpus = 2;
	CHECK(acpi_build(&m, small, sizeof(small), &e) == -1);
	CHECK_CONTAINS(e.msg, "do not fit");
	machine_destroy(&m);
}

/* PkgLength counts its own bytes: 1 byte below 64, then 2, 3 bytes (ACPI 20.2.4). */
TEST(aml_package_lengths_are_encoded_at_each_size_boundary)
{
	static const size_t bodies[] = {0, 61, 62, 63, 4092, 4093, 4094, 70000};

	for (unsigned i = 0; i < sizeof(bodies) / sizeof(bodies[0]); i++) {
		struct aml a;
		size_t mark, total = 0, nbytes;
		uint8_t lead;

		aml_init(&a);
		mark = aml_package(&a, 0);
		for (size_t j = 0; j < bodies[i]; j++)
			aml_byte(&a, 0xa5);
		aml_close(&a, mark);
		CHECK(!a.failed);
		CHECK_EQ(a.data[0], 0x12);
		lead = a.data[1];
		nbytes = (lead >> 6) + 1;
		if (nbytes == 1) {
			total = lead & 0x3f;
		} else {
			total = lead & 0x0f;
			for (size_t k = 1; k < nbytes; k++)
				total |= (size_t)a.data[1 + k] << (4 + 8 * (k - 1));
		}
		CHECK_EQ(total, a.len - 1); /* from the PkgLength to the end */
		CHECK_EQ(total, nbytes + 1 + bodies[i]);
		CHECK_EQ(a.data[a.len - 1], bodies[i] ? 0xa5 : 0x00);
		aml_free(&a);
	}
}

TEST(aml_integers_take_the_shortest_form)
{
	struct aml a;
	static const uint8_t want[] = {0x00, 0x01, 0x0a, 0x05, 0x0b, 0x34, 0x12,
				       0x0c, 0x78, 0x56, 0x34, 0x12, 0x0e, 1,
				       0,    0,	   0,	 0,    0,    0,	   1};

	aml_init(&a);
	aml_integer(&a, 0);
	aml_integer(&a, 1);
	aml_integer(&a, 5);
	aml_integer(&a, 0x1234);
	aml_integer(&a, 0x12345678);
	aml_integer(&a, 0x0100000000000001ull);
	CHECK_EQ(a.len, sizeof(want));
	CHECK(memcmp(a.data, want, sizeof(want)) == 0);
	aml_free(&a);
}

/* With KVMLAB_ACPI_DUMP=DIR, writes each table as DIR/SIG.dat for `iasl -d` (test_loaders.py). */
TEST(acpi_tables_dump)
{
	const char *dir = getenv("KVMLAB_ACPI_DUMP");
	struct machine m;
	uint8_t *buf = build(&m, 2, 1);
	const uint8_t *xsdt = table(buf, u64(buf + 24), "XSDT");
	const uint8_t *fadt = table(buf, u64(xsdt + 36), "FACP");
	const uint8_t *tables[] = {xsdt, fadt, table(buf, u64(xsdt + 44), "APIC"),
				   table(buf, u32(fadt + 40), "DSDT")};

	for (unsigned i = 0; dir && i < sizeof(tables) / sizeof(tables[0]); i++) {
		char path[4096];
		FILE *f;

		snprintf(path, sizeof(path), "%s/%.4s.dat", dir, (const char *)tables[i]);
		f = fopen(path, "wb");
		CHECK(f);
		CHECK_EQ(fwrite(tables[i], 1, u32(tables[i] + 4), f), u32(tables[i] + 4));
		fclose(f);
	}
	machine_destroy(&m);
	free(buf);
}
