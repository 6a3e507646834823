/* Fuzz target: the flat-binary loader copying an image into a small, oddly shaped guest memory. */
#include <stdlib.h>
#include <string.h>

#include "fuzz.h"
#include "kvmlab/loader.h"

#define REGIONS_MAX 4
#define REGION_MAX  8192
#define FILL	    0x5a
#define GPA_RARE    0xff /* load-address selector: an arbitrary 64-bit address */

struct layout {
	struct gmem g;
	uint8_t *host[REGIONS_MAX];
	unsigned n;
};

/* Regions at 1 KiB steps with sizes up to 8 KiB: neighbours, gaps and refused overlaps. */
static void layout_build(struct fuzz_in *in, struct layout *l)
{
	unsigned want = 1 + (fuzz_u8(in) & 3);
	struct errbuf e;

	for (unsigned i = 0; i < want; i++) {
		uint8_t how = fuzz_u8(in);
		uint64_t gpa = (uint64_t)fuzz_u8(in) << 10;
		uint64_t size = 1 + fuzz_u16(in) % REGION_MAX;
		uint8_t *host = malloc(size);

		FUZZ_CHECK(host, "out of memory");
		memset(host, FILL, size);
		if (gmem_add(&l->g, gpa, size, host, (how & 1) ? GMEM_READONLY : 0, &e)) {
			free(host);
			continue;
		}
		l->host[l->n++] = host;
	}
}

/* Selector byte (bit 7: measure from the region's end, low bits: which region) and a signed
 * displacement byte; selector 0xff is the rare variant, an arbitrary 64-bit address. */
static uint64_t pick_gpa(struct fuzz_in *in, const struct layout *l)
{
	uint8_t sel = fuzz_u8(in);
	int64_t delta = (int8_t)fuzz_u8(in);
	const struct gmem_region *r;

	if (sel == GPA_RARE || l->g.nregions == 0)
		return fuzz_u64(in);
	r = &l->g.regions[(sel & 0x7f) % l->g.nregions];
	return r->gpa + (uint64_t)delta + ((sel & 0x80) ? r->size : 0);
}

/* Success exactly when the image fits in the writable region at gpa; the image lands there
 * and nothing else in guest memory changes. */
static void loader_check(const struct layout *l, const uint8_t *img, size_t len, uint64_t gpa,
			 int rc, const struct errbuf *e)
{
	const struct gmem_region *at = gmem_region_at(&l->g, gpa);
	bool fits = at && len && !(at->flags & GMEM_READONLY) && len <= at->size - (gpa - at->gpa);

	FUZZ_CHECK((rc == 0) == fits, "load of %zu bytes at 0x%llx returned %d: %s", len,
		   (unsigned long long)gpa, rc, rc ? e->msg : "ok");
	FUZZ_CHECK(rc == 0 || memchr(e->msg, '\0', sizeof(e->msg)), "unterminated report");
	for (unsigned i = 0; i < l->g.nregions; i++) {
		const struct gmem_region *r = &l->g.regions[i];
		uint64_t start = r == at && fits ? gpa - r->gpa : r->size, end = start + len;

		if (start < r->size)
			FUZZ_CHECK(!memcmp(r->host + start, img, len), "image not at 0x%llx",
				   (unsigned long long)gpa);
		for (uint64_t b = 0; b < r->size; b++)
			if (b < start || b >= end)
				FUZZ_CHECK(r->host[b] == FILL, "stray write at 0x%llx",
					   (unsigned long long)(r->gpa + b));
	}
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct fuzz_in in;
	struct layout l = {0};
	struct errbuf e = {{0}};
	const uint8_t *img;
	size_t len;
	uint64_t gpa;
	int rc;

	fuzz_in_init(&in, data, size);
	layout_build(&in, &l);
	gpa = pick_gpa(&in, &l);
	img = fuzz_rest(&in, &len);
	rc = loader_flat_load_buf(&l.g, img, len, gpa, &e);
	loader_check(&l, img, len, gpa, rc, &e);
	for (unsigned i = 0; i < l.n; i++)
		free(l.host[i]);
	return 0;
}
