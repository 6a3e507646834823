/* Fuzz target: guest-physical translation (gmem), checked against a reference model. */
#include <stdlib.h>
#include <string.h>

#include "fuzz.h"
#include "kvmlab/gmem.h"

#define SEL_RARE     31 /* all five selector bits set: arbitrary 64-bit values */
#define SEL_TOP	     30 /* regions at the very top of the address space */
#define REGION_MAX   4096
#define ACCESS_BYTES (REGION_MAX + 256)

enum gmem_op { OP_ADD, OP_PTR, OP_COPY, OP_REGION_AT };

struct model {
	struct {
		uint64_t gpa, size;
		uint8_t *host;
		bool ro;
	} r[GMEM_MAX_REGIONS];
	unsigned n;
};

/* The region holding all of [gpa, gpa + len) and the answer gmem_ptr owes, computed the
 * long way with no arithmetic that can wrap. */
static int model_find(const struct model *mo, uint64_t gpa, uint64_t len)
{
	for (unsigned i = 0; i < mo->n; i++)
		if (gpa >= mo->r[i].gpa && gpa - mo->r[i].gpa < mo->r[i].size)
			return len && len <= mo->r[i].size - (gpa - mo->r[i].gpa) ? (int)i : -1;
	return -1;
}

static bool model_can_add(const struct model *mo, uint64_t gpa, uint64_t size)
{
	if (size == 0 || gpa + size < gpa || mo->n == GMEM_MAX_REGIONS)
		return false;
	for (unsigned i = 0; i < mo->n; i++) {
		uint64_t a = gpa, b = mo->r[i].gpa;

		/* [a, a+size) and [b, b+bsize) overlap; neither end wraps here */
		if (a < b + mo->r[i].size && b < a + size)
			return false;
	}
	return true;
}

static void op_add(struct fuzz_in *in, struct gmem *g, struct model *mo, unsigned sel, bool ro)
{
	struct errbuf e;
	uint64_t gpa, size;
	uint8_t *host = NULL;
	bool ok;

	if (sel == SEL_RARE) {
		gpa = fuzz_u64(in);
		size = fuzz_u64(in);
	} else if (sel == SEL_TOP) {
		gpa = UINT64_MAX - fuzz_u16(in);
		size = 1 + fuzz_u16(in) % REGION_MAX;
	} else { /* a crowded low space, so neighbours and overlaps are common */
		gpa = (uint64_t)fuzz_u8(in) << 8;
		size = 1 + fuzz_u16(in) % REGION_MAX;
	}
	ok = model_can_add(mo, gpa, size);
	if (ok && size > REGION_MAX)
		return; /* would need more backing than a fuzz input should allocate */
	if (ok) {
		host = malloc(size);
		FUZZ_CHECK(host, "out of memory");
		memset(host, 0x5a, size);
	}
	FUZZ_CHECK((gmem_add(g, gpa, size, host, ro ? GMEM_READONLY : 0, &e) == 0) == ok,
		   "add 0x%llx+0x%llx: the model says %s", (unsigned long long)gpa,
		   (unsigned long long)size, ok ? "accept" : "refuse");
	if (ok)
		mo->r[mo->n++] = (typeof(mo->r[0])){gpa, size, host, ro};
}

/* An address and length near a region's edges, or rarely anything at all. */
static void pick_range(struct fuzz_in *in, const struct model *mo, unsigned sel, uint64_t *gpa,
		       uint64_t *len)
{
	uint8_t how = fuzz_u8(in);
	uint64_t base, size;

	if (sel == SEL_RARE || mo->n == 0) {
		*gpa = fuzz_u64(in);
		*len = fuzz_u64(in);
		return;
	}
	base = mo->r[sel % mo->n].gpa;
	size = mo->r[sel % mo->n].size;
	*gpa = base + (uint64_t)(int64_t)(int8_t)fuzz_u8(in) + ((how & 1) ? size : 0);
	*len = (how & 2) ? size + (uint64_t)(int64_t)(int8_t)fuzz_u8(in) : fuzz_u8(in);
}

static void op_ptr(struct fuzz_in *in, const struct gmem *g, const struct model *mo, unsigned sel,
		   bool write)
{
	uint64_t gpa, len;
	int at;
	uint8_t *p, *want = NULL;

	pick_range(in, mo, sel, &gpa, &len);
	at = model_find(mo, gpa, len);
	if (at >= 0 && !(write && mo->r[at].ro))
		want = mo->r[at].host + (gpa - mo->r[at].gpa);
	p = gmem_ptr(g, gpa, len, write);
	FUZZ_CHECK(p == want, "gmem_ptr(0x%llx, 0x%llx, %d) = %p, the model says %p",
		   (unsigned long long)gpa, (unsigned long long)len, write, (void *)p,
		   (void *)want);
	if (p && write)
		memset(p, (int)(gpa & 0xff), len); /* the sanitizer checks every byte is ours */
}

static void op_copy(struct fuzz_in *in, const struct gmem *g, const struct model *mo, unsigned sel,
		    bool write)
{
	uint8_t buf[ACCESS_BYTES];
	uint64_t gpa, len;
	int at;
	bool ok;

	pick_range(in, mo, sel, &gpa, &len);
	if (len > sizeof(buf))
		len = sizeof(buf); /* longer than any region: refused either way */
	at = model_find(mo, gpa, len);
	ok = at >= 0 && !(write && mo->r[at].ro);
	memset(buf, (int)len, sizeof(buf));
	if (write)
		FUZZ_CHECK((gmem_write(g, gpa, buf, len) == 0) == ok, "gmem_write(0x%llx, 0x%llx)",
			   (unsigned long long)gpa, (unsigned long long)len);
	else
		FUZZ_CHECK((gmem_read(g, gpa, buf, len) == 0) == ok, "gmem_read(0x%llx, 0x%llx)",
			   (unsigned long long)gpa, (unsigned long long)len);
	if (ok)
		FUZZ_CHECK(!memcmp(buf, mo->r[at].host + (gpa - mo->r[at].gpa), len),
			   "copied bytes differ at 0x%llx", (unsigned long long)gpa);
}

static void op_region_at(struct fuzz_in *in, const struct gmem *g, const struct model *mo,
			 unsigned sel)
{
	uint64_t gpa, len;
	const struct gmem_region *r;
	int at = -1;

	pick_range(in, mo, sel, &gpa, &len);
	for (unsigned i = 0; i < mo->n; i++)
		if (gpa >= mo->r[i].gpa && gpa - mo->r[i].gpa < mo->r[i].size)
			at = (int)i;
	r = gmem_region_at(g, gpa);
	FUZZ_CHECK(at < 0 ? !r : r && r->gpa == mo->r[at].gpa && r->host == mo->r[at].host,
		   "gmem_region_at(0x%llx)", (unsigned long long)gpa);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct fuzz_in in;
	struct gmem g = {0};
	struct model mo = {0};

	fuzz_in_init(&in, data, size);
	while (fuzz_more(&in)) {
		uint8_t ctl = fuzz_u8(&in);
		unsigned sel = ctl >> 3;
		bool flag = ctl & 4; /* a read-only region, or a write access */

		switch ((enum gmem_op)(ctl & 3)) {
		case OP_ADD:
			op_add(&in, &g, &mo, sel, flag);
			break;
		case OP_PTR:
			op_ptr(&in, &g, &mo, sel, flag);
			break;
		case OP_COPY:
			op_copy(&in, &g, &mo, sel, flag);
			break;
		case OP_REGION_AT:
			op_region_at(&in, &g, &mo, sel);
			break;
		}
	}
	for (unsigned i = 0; i < mo.n; i++)
		free(mo.r[i].host);
	return 0;
}
