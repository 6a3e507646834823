/* Fuzz targets of the kernel loaders: guest RAM layouts, loader arguments, shared invariants. */
#include <stdlib.h>
#include <string.h>

#include "kernel.h"
#include "kvmlab/acpi.h"

#define MIB	    0x100000ull
#define ARENA_SIZE  (3 * MIB) /* the largest region a layout makes */
#define LOW_PC	    0xa0000ull
#define BIOS_AREA   0xe0000ull
#define ARGS_RARE   0xf0
#define INITRD_MAX  8192
#define CMDLINE_BIG (BOOT_CMDLINE_MAX + 16)

/*
 * Guest RAM lives in arenas allocated once per process and refilled for every
 * input (fresh multi-MiB allocations would cost more page faults than the
 * loaders cost instructions). Each region ends where its arena ends, so a
 * write past a region's end still lands in ASan's redzone.
 */
static uint8_t *arena[FUZZ_KERNEL_REGIONS];

static void region_add(struct fuzz_kernel *k, uint64_t gpa, uint64_t size, uint32_t flags)
{
	unsigned slot = k->g.nregions;
	struct errbuf e;
	uint8_t *host;

	if (!arena[slot]) {
		arena[slot] = malloc(ARENA_SIZE);
		FUZZ_CHECK(arena[slot], "out of memory");
	}
	host = arena[slot] + ARENA_SIZE - size;
	memset(host, FUZZ_KERNEL_FILL, size);
	FUZZ_CHECK(gmem_add(&k->g, gpa, size, host, flags, &e) == 0, "layout: %s", e.msg);
	k->ram_bytes += size;
}

static void layout_build(struct fuzz_in *in, struct fuzz_kernel *k)
{
	uint8_t how = fuzz_u8(in);
	uint64_t high = ((uint64_t)fuzz_u8(in) + 1) * 4096 + ((how & 0x80) ? MIB : 0);
	unsigned shape = how & 7, rare = (how >> 3) & 3;

	if (shape <= 3) {
		region_add(k, 0, MIB + high, 0);
		return;
	}
	if (shape == 7 && rare == 0) { /* no RAM below 1 MiB at all */
		region_add(k, MIB, high, 0);
		return;
	}
	if (shape == 7 && rare == 1) /* low RAM ends inside the command-line area */
		region_add(k, 0, BOOT_CMDLINE_GPA + 0x100, 0);
	else
		region_add(k, 0, shape == 6 ? BIOS_AREA : LOW_PC, 0);
	if (shape == 6)
		region_add(k, BIOS_AREA, MIB - BIOS_AREA, GMEM_READONLY);
	region_add(k, MIB, high, shape == 7 && rare == 2 ? GMEM_READONLY : 0);
	if (shape == 7 && rare == 3)
		region_add(k, 4ull << 30, 64 << 10, 0);
}

/* len bytes of the input (zeros past its end) as a string of up to len characters. */
static char *take_string(struct fuzz_in *in, size_t len)
{
	char *s = malloc(len + 1);

	FUZZ_CHECK(s, "out of memory");
	for (size_t i = 0; i < len; i++)
		s[i] = (char)fuzz_u8(in);
	s[len] = '\0';
	return s;
}

static void name_take(struct fuzz_in *in, char *buf, size_t size)
{
	size_t n = fuzz_u8(in) % size;

	for (size_t i = 0; i < n; i++)
		buf[i] = (char)fuzz_u8(in);
	buf[n] = '\0';
}

static void args_build(struct fuzz_in *in, struct fuzz_kernel *k)
{
	uint8_t how = fuzz_u8(in);
	uint8_t rare = (how & ARGS_RARE) == ARGS_RARE ? fuzz_u8(in) % 3 : 0xff;

	k->a.rsdp = ACPI_AREA_GPA;
	if (how & 1) {
		k->cmdline = take_string(in, fuzz_u8(in));
		k->a.cmdline = k->cmdline;
	}
	if (how & 2) {
		size_t n = fuzz_u16(in) % INITRD_MAX + 1;

		k->initrd = (uint8_t *)take_string(in, n);
		k->a.initrd = k->initrd;
		k->a.initrd_len = n;
	}
	if (how & 4) {
		name_take(in, k->names[0], sizeof(k->names[0]));
		k->a.image_name = k->names[0];
	}
	if (how & 8) {
		name_take(in, k->names[1], sizeof(k->names[1]));
		k->a.initrd_name = k->names[1];
	}
	if (rare == 0) {
		free(k->cmdline);
		k->cmdline = malloc(CMDLINE_BIG + 1);
		FUZZ_CHECK(k->cmdline, "out of memory");
		memset(k->cmdline, 'x', CMDLINE_BIG);
		k->cmdline[CMDLINE_BIG] = '\0';
		k->a.cmdline = k->cmdline;
	} else if (rare == 1) {
		if (!k->initrd) {
			k->initrd = (uint8_t *)take_string(in, 16);
			k->a.initrd = k->initrd;
		}
		/* More than all RAM, so no correct loader reads past the small buffer. */
		k->a.initrd_len = k->ram_bytes + 1 + fuzz_u32(in);
	} else if (rare == 2) {
		k->a.rsdp = fuzz_u64(in);
	}
}

void fuzz_kernel_setup(struct fuzz_in *in, struct fuzz_kernel *k)
{
	memset(k, 0, sizeof(*k));
	layout_build(in, k);
	args_build(in, k);
}

/* The first byte in [p, p + n) that is not FUZZ_KERNEL_FILL, or NULL. memcmp against a filled
 * block, not a loop: the sanitizers intercept it and check the range once, not per byte. */
static const uint8_t *changed(const uint8_t *p, uint64_t n)
{
	static uint8_t fill[4096];

	if (!fill[0])
		memset(fill, FUZZ_KERNEL_FILL, sizeof(fill));
	for (uint64_t i = 0; i < n; i += sizeof(fill)) {
		uint64_t chunk = n - i < sizeof(fill) ? n - i : sizeof(fill);

		if (memcmp(p + i, fill, chunk))
			for (uint64_t j = i; j < i + chunk; j++)
				if (p[j] != FUZZ_KERNEL_FILL)
					return p + j;
	}
	return NULL;
}

/* Every byte of guest RAM in [lo, hi) still holds the fill. */
static void check_unchanged(const struct fuzz_kernel *k, uint64_t lo, uint64_t hi, const char *why,
			    const struct errbuf *e)
{
	for (unsigned i = 0; i < k->g.nregions; i++) {
		const struct gmem_region *r = &k->g.regions[i];
		uint64_t a = r->gpa > lo ? r->gpa : lo;
		uint64_t b = r->gpa + r->size < hi ? r->gpa + r->size : hi;
		const uint8_t *at;

		if (a >= b)
			continue;
		at = changed(r->host + (a - r->gpa), b - a);
		FUZZ_CHECK(!at, "%s: guest byte at 0x%llx changed (%s)", why,
			   (unsigned long long)(r->gpa + (uint64_t)(at - r->host)), e->msg);
	}
}

void fuzz_kernel_check(const struct fuzz_kernel *k, int rc, const struct boot_entry *be,
		       const struct errbuf *e)
{
	const struct gmem_region *at;

	FUZZ_CHECK(rc == 0 || rc == -1, "loader returned %d", rc);
	if (rc) {
		FUZZ_CHECK(memchr(e->msg, '\0', sizeof(e->msg)) && e->msg[0],
			   "refusal without a report");
		FUZZ_CHECK(!strchr(e->msg, '\n'), "report is more than one line: %s", e->msg);
		check_unchanged(k, 0, UINT64_MAX, "refused image was half-loaded", e);
		return;
	}
	at = gmem_region_at(&k->g, be->rip);
	FUZZ_CHECK(at && !(at->flags & GMEM_READONLY), "entry 0x%llx is not in writable guest RAM",
		   (unsigned long long)be->rip);
	FUZZ_CHECK(be->mode != BOOT_PROT32 || be->rip < (4ull << 30),
		   "32-bit entry 0x%llx above 4 GiB", (unsigned long long)be->rip);
	for (unsigned i = 0; i < k->g.nregions; i++) {
		const struct gmem_region *r = &k->g.regions[i];

		if (r->flags & GMEM_READONLY)
			check_unchanged(k, r->gpa, r->gpa + r->size, "read-only region written", e);
	}
	/* Below 1 MiB: only the boot structures' pages (the GDT, page tables, EBDA and the ACPI
	 * area are someone else's). */
	check_unchanged(k, 0, BOOT_INFO_GPA, "write below the boot info", e);
	check_unchanged(k, BOOT_MAP_GPA + 0x1000, BOOT_CMDLINE_GPA, "write between boot areas", e);
	check_unchanged(k, BOOT_STRINGS_GPA + BOOT_STRINGS_MAX, BOOT_KERNEL_MIN,
			"write above the boot areas", e);
}

const char *fuzz_kernel_str(const struct fuzz_kernel *k, uint64_t gpa)
{
	const struct gmem_region *r = gmem_region_at(&k->g, gpa);
	const char *s;

	if (!r)
		return NULL;
	s = (const char *)r->host + (gpa - r->gpa);
	return memchr(s, '\0', r->size - (gpa - r->gpa)) ? s : NULL;
}

bool fuzz_kernel_holds(const struct fuzz_kernel *k, uint64_t gpa, const void *data, size_t len)
{
	const uint8_t *p = len ? gmem_ptr(&k->g, gpa, len, false) : NULL;

	return len == 0 || (p && memcmp(p, data, len) == 0);
}

void fuzz_kernel_free(struct fuzz_kernel *k)
{
	free(k->cmdline);
	free(k->initrd);
}

int fuzz_kernel_run(const uint8_t *data, size_t size, loader_fn load, fuzz_kernel_check_fn check)
{
	struct fuzz_in in;
	struct fuzz_kernel k;
	struct boot_entry be = {0};
	struct errbuf e = {{0}};
	const uint8_t *img;
	size_t len;
	int rc;

	fuzz_in_init(&in, data, size);
	fuzz_kernel_setup(&in, &k);
	img = fuzz_rest(&in, &len);
	rc = load(&k.g, img, len, &k.a, &be, &e);
	fuzz_kernel_check(&k, rc, &be, &e);
	if (rc == 0)
		check(&k, img, len, &be);
	fuzz_kernel_free(&k);
	return 0;
}
