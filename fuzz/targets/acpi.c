/* Fuzz target: the ACPI tables for any vCPU count and virtio-mmio list, checked as a kernel reads
 * them. */
#include <stdlib.h>
#include <string.h>

#include "fuzz.h"
#include "kvmlab/acpi.h"

#define AREA	      (ACPI_AREA_END - ACPI_AREA_GPA)
#define RARE	      0xf0 /* selector bytes at or above: the rare variant */
#define MAX_CPUS      256  /* what the MADT describes (vmm/acpi/tables.c) */
#define IOAPIC_PINS   24
#define FILL	      0xa5
#define HDR_LEN	      36
#define MADT_LAPIC    0
#define MADT_X2APIC   9
#define VIRTIO_HID    "LNRO0005"
#define VIRTIO_WINDOW 0xd0000000ull

static uint8_t sum(const uint8_t *p, size_t n)
{
	uint8_t s = 0;

	while (n--)
		s += *p++;
	return s;
}

/* Whether [p, p + n) still holds FILL; memcmp, which the sanitizers check once, not per byte. */
static bool untouched(const uint8_t *p, size_t n)
{
	static uint8_t fill[4096];

	if (!fill[0])
		memset(fill, FILL, sizeof(fill));
	for (size_t i = 0; i < n; i += sizeof(fill))
		if (memcmp(p + i, fill, n - i < sizeof(fill) ? n - i : sizeof(fill)))
			return false;
	return true;
}

static uint32_t rd32(const uint8_t *p)
{
	uint32_t v;

	memcpy(&v, p, 4);
	return v;
}

static uint64_t rd64(const uint8_t *p)
{
	uint64_t v;

	memcpy(&v, p, 8);
	return v;
}

/* The table at guest address gpa: inside what was built, as long as it says, summing to 0. */
static const uint8_t *table_at(const uint8_t *buf, long used, uint64_t gpa, const char *sig)
{
	uint64_t off = gpa - ACPI_AREA_GPA;
	uint32_t len;

	FUZZ_CHECK(gpa >= ACPI_AREA_GPA && off + HDR_LEN <= (uint64_t)used,
		   "%s at 0x%llx outside the tables", sig, (unsigned long long)gpa);
	len = rd32(buf + off + 4);
	FUZZ_CHECK(len >= HDR_LEN && off + len <= (uint64_t)used, "%s is %u bytes", sig, len);
	FUZZ_CHECK(!memcmp(buf + off, sig, 4), "expected %s at 0x%llx", sig,
		   (unsigned long long)gpa);
	FUZZ_CHECK(sum(buf + off, len) == 0, "%s checksum", sig);
	return buf + off;
}

/* What the kernel walks: RSDP -> XSDT (and RSDT) -> FADT -> DSDT, and the MADT. */
static void tables_check(const uint8_t *buf, long used, unsigned ncpus, unsigned nvirtio)
{
	const uint8_t *xsdt, *rsdt, *fadt = NULL, *madt = NULL, *dsdt, *p;
	unsigned n, lapics = 0, hids = 0;

	FUZZ_CHECK(used >= 36 && !memcmp(buf, "RSD PTR ", 8), "no RSDP at the area's start");
	FUZZ_CHECK(sum(buf, 20) == 0 && sum(buf, 36) == 0 && rd32(buf + 20) == 36,
		   "RSDP checksums or length");
	xsdt = table_at(buf, used, rd64(buf + 24), "XSDT");
	rsdt = table_at(buf, used, rd32(buf + 16), "RSDT");
	n = (rd32(xsdt + 4) - HDR_LEN) / 8;
	FUZZ_CHECK(rd32(rsdt + 4) - HDR_LEN == n * 4, "RSDT and XSDT list different tables");
	for (unsigned i = 0; i < n; i++) {
		uint64_t gpa = rd64(xsdt + HDR_LEN + 8 * i);

		FUZZ_CHECK(rd32(rsdt + HDR_LEN + 4 * i) == gpa, "RSDT entry %u differs", i);
		if (gpa - ACPI_AREA_GPA + 4 <= (uint64_t)used &&
		    !memcmp(buf + gpa - ACPI_AREA_GPA, "FACP", 4))
			fadt = table_at(buf, used, gpa, "FACP");
		else
			madt = table_at(buf, used, gpa, "APIC");
	}
	FUZZ_CHECK(fadt && madt, "the XSDT lacks the FADT or the MADT");
	FUZZ_CHECK(rd64(fadt + 140) == rd32(fadt + 40), "FADT DSDT and X_DSDT differ");
	dsdt = table_at(buf, used, rd32(fadt + 40), "DSDT");
	for (p = madt + 44; p + 2 <= madt + rd32(madt + 4); p += p[1]) {
		FUZZ_CHECK(p[1] >= 2 && p + p[1] <= madt + rd32(madt + 4), "MADT entry overruns");
		lapics += p[0] == MADT_LAPIC || p[0] == MADT_X2APIC;
	}
	FUZZ_CHECK(lapics == ncpus, "MADT has %u processors, the machine %u", lapics, ncpus);
	for (p = dsdt; (p = memmem(p, (size_t)(dsdt + rd32(dsdt + 4) - p), VIRTIO_HID, 8)); p++)
		hids++;
	FUZZ_CHECK(hids == nvirtio, "DSDT has %u virtio-mmio devices, the machine %u", hids,
		   nvirtio);
}

/*
 * Input: a vCPU-count byte (1-32; from RARE on, a 16-bit count of any size), a buffer-size
 * byte (the whole BIOS area; from RARE on, a 16-bit size), then one virtio-mmio device per
 * control byte: low nibble 15 (1 in 16) an arbitrary 64-bit base and size and a GSI byte,
 * else a page in the usual window, 0x200 bytes, and GSI byte % 24.
 */
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct fuzz_in in;
	struct machine m;
	struct errbuf e = {{0}};
	unsigned nvirtio = 0, ncpus;
	uint8_t sel;
	size_t len;
	uint8_t *buf;
	long used;

	fuzz_in_init(&in, data, size);
	machine_init(&m);
	sel = fuzz_u8(&in);
	m.ncpus = sel < RARE ? sel % 32u + 1 : fuzz_u16(&in);
	ncpus = m.ncpus ? m.ncpus : 1;
	sel = fuzz_u8(&in);
	len = sel < RARE ? AREA : fuzz_u16(&in);
	while (fuzz_more(&in)) {
		uint8_t ctl = fuzz_u8(&in);
		uint64_t base = VIRTIO_WINDOW + ((uint64_t)fuzz_u8(&in) << 12), vsize = 0x200;
		uint32_t gsi = fuzz_u8(&in);
		bool ok;
		int rc;

		if ((ctl & 0x0f) == 0x0f) {
			base = fuzz_u64(&in);
			vsize = fuzz_u64(&in);
		} else {
			gsi %= IOAPIC_PINS;
		}
		ok = vsize && base < (4ull << 30) && vsize <= (4ull << 30) - base &&
		     gsi < IOAPIC_PINS && nvirtio < ACPI_MAX_VIRTIO_MMIO;
		rc = acpi_add_virtio_mmio(&m, base, vsize, gsi, &e);
		FUZZ_CHECK((rc == 0) == ok, "virtio-mmio 0x%llx+0x%llx gsi %u: %d (%s)",
			   (unsigned long long)base, (unsigned long long)vsize, gsi, rc,
			   rc ? e.msg : "accepted");
		nvirtio += rc == 0;
	}
	buf = malloc(len ? len : 1); /* exactly len: a write past it is an ASan report */
	FUZZ_CHECK(buf, "out of memory");
	memset(buf, FILL, len);
	used = acpi_build(&m, buf, len, &e);
	if (used < 0) {
		FUZZ_CHECK(used == -1 && e.msg[0], "refused without a report");
		FUZZ_CHECK(ncpus > MAX_CPUS || len < AREA, "tables for %u vCPUs refused: %s", ncpus,
			   e.msg);
	} else {
		FUZZ_CHECK((size_t)used <= len && ncpus <= MAX_CPUS, "built %ld of %zu bytes", used,
			   len);
		tables_check(buf, used, ncpus, nvirtio);
		FUZZ_CHECK(untouched(buf + used, len - (size_t)used), "written past the %ld used",
			   used);
	}
	free(buf);
	machine_destroy(&m);
	return 0;
}
