/* Fuzz target: bus registration, removal and lookup, checked against a linear reference model. */
#include <string.h>

#include "fuzz.h"
#include "kvmlab/bus.h"

#define MODEL_MAX 24
#define SEL_RARE  63 /* all six selector bits set: arbitrary 64-bit values */
#define SEL_TOP	  62 /* ranges at the very top of the address space */
#define SEL_EDGE  61 /* ranges around the end of the direct (port I/O) index */
#define DIRECT	  0x10000u

enum bus_op { OP_REGISTER, OP_UNREGISTER, OP_ACCESS, OP_FIND };

/* What the last device callback saw. */
struct call {
	unsigned slot;
	uint64_t offset;
	uint32_t len;
	bool write;
	unsigned count;
};

/* Slot s is a device whose opaque is &dev[s]; used[s] says whether a range holds it. */
struct model {
	struct {
		uint64_t base, len;
		unsigned slot;
	} r[MODEL_MAX];
	unsigned n;
	struct dev {
		struct model *mo;
		unsigned slot;
	} dev[MODEL_MAX];
	bool used[MODEL_MAX];
	struct call call;
};

static void bus_fuzz_fn(void *opaque, uint64_t offset, uint8_t *data, uint32_t len, bool write)
{
	struct dev *d = opaque;
	struct call *c = &d->mo->call;

	*c = (struct call){d->slot, offset, len, write, c->count + 1};
	if (!write)
		memset(data, 0xa5, len);
}

/* The range holding all of [addr, addr + len), by the obvious linear search. */
static int model_find(const struct model *mo, uint64_t addr, uint32_t len)
{
	for (unsigned i = 0; i < mo->n; i++)
		if (addr >= mo->r[i].base && len <= mo->r[i].len &&
		    addr - mo->r[i].base <= mo->r[i].len - len)
			return (int)i;
	return -1;
}

static bool model_can_add(const struct model *mo, uint64_t base, uint64_t len)
{
	if (len == 0 || base + (len - 1) < base)
		return false;
	for (unsigned i = 0; i < mo->n; i++)
		if (base <= mo->r[i].base + (mo->r[i].len - 1) && mo->r[i].base <= base + (len - 1))
			return false;
	return true;
}

static void op_register(struct fuzz_in *in, struct bus *b, struct model *mo, unsigned sel)
{
	struct errbuf e;
	uint64_t base, len;
	unsigned s = 0;
	bool ok;

	if (sel == SEL_RARE) { /* anything, including empty and wrapping ranges */
		base = fuzz_u64(in);
		len = fuzz_u64(in);
	} else if (sel == SEL_TOP) {
		base = UINT64_MAX - fuzz_u8(in);
		len = 1 + fuzz_u8(in);
	} else if (sel == SEL_EDGE) {
		base = DIRECT - 128 + fuzz_u8(in);
		len = 1 + fuzz_u8(in);
	} else { /* a crowded small space, so overlaps are common */
		base = (uint64_t)fuzz_u8(in) * 4;
		len = 1 + fuzz_u8(in) % 64;
	}
	if (mo->n == MODEL_MAX)
		return;
	while (mo->used[s])
		s++;
	ok = model_can_add(mo, base, len);
	FUZZ_CHECK((bus_register(b, base, len, "fuzz", bus_fuzz_fn, &mo->dev[s], &e) == 0) == ok,
		   "register 0x%llx+0x%llx: the model says %s", (unsigned long long)base,
		   (unsigned long long)len, ok ? "accept" : "refuse");
	if (ok) {
		mo->r[mo->n].base = base;
		mo->r[mo->n].len = len;
		mo->r[mo->n].slot = s;
		mo->used[s] = true;
		mo->n++;
	}
}

static void op_unregister(struct fuzz_in *in, struct bus *b, struct model *mo, unsigned sel)
{
	uint64_t base = sel == SEL_RARE || !mo->n ? fuzz_u64(in) : mo->r[sel % mo->n].base;
	int at = -1;

	for (unsigned i = 0; i < mo->n; i++)
		if (mo->r[i].base == base)
			at = (int)i;
	FUZZ_CHECK((bus_unregister(b, base) == 0) == (at >= 0), "unregister 0x%llx: model says %s",
		   (unsigned long long)base, at >= 0 ? "present" : "absent");
	if (at >= 0) {
		mo->used[mo->r[at].slot] = false;
		mo->r[at] = mo->r[--mo->n];
	}
}

/* Near a registered range's edges most of the time, rarely anywhere. */
static uint64_t pick_addr(struct fuzz_in *in, const struct model *mo, unsigned sel)
{
	if (sel == SEL_RARE || mo->n == 0)
		return fuzz_u64(in);
	return mo->r[sel % mo->n].base + (uint64_t)(int64_t)(int8_t)fuzz_u8(in);
}

static void op_access(struct fuzz_in *in, struct bus *b, struct model *mo, unsigned sel, bool find)
{
	uint8_t ctl = fuzz_u8(in);
	uint32_t len = FUZZ_IO_SIZE(ctl);
	bool write = ctl & FUZZ_IO_WRITE;
	uint64_t addr = pick_addr(in, mo, sel);
	int at = model_find(mo, addr, len);
	unsigned before = mo->call.count;
	uint8_t data[8] = {0};

	if (find) {
		const struct bus_range *r = bus_find(b, addr, len);

		FUZZ_CHECK((r != NULL) == (at >= 0), "find 0x%llx/%u: model says %s",
			   (unsigned long long)addr, len, at >= 0 ? "claimed" : "unclaimed");
		if (r)
			FUZZ_CHECK(r->base == mo->r[at].base && r->len == mo->r[at].len &&
				       r->opaque == &mo->dev[mo->r[at].slot],
				   "find 0x%llx/%u returned the wrong range",
				   (unsigned long long)addr, len);
		return;
	}
	FUZZ_CHECK(bus_access(b, addr, data, len, write) == (at >= 0),
		   "access 0x%llx/%u: model says %s", (unsigned long long)addr, len,
		   at >= 0 ? "claimed" : "unclaimed");
	if (at < 0) {
		FUZZ_CHECK(mo->call.count == before, "unclaimed access reached a device");
		for (uint32_t i = 0; !write && i < len; i++)
			FUZZ_CHECK(data[i] == 0xff, "unclaimed read gave 0x%02x", data[i]);
		return;
	}
	FUZZ_CHECK(mo->call.count == before + 1 && mo->call.slot == mo->r[at].slot &&
		       mo->call.offset == addr - mo->r[at].base && mo->call.len == len &&
		       mo->call.write == write,
		   "access 0x%llx/%u reached slot %u at offset 0x%llx", (unsigned long long)addr,
		   len, mo->call.slot, (unsigned long long)mo->call.offset);
}

/* The bus's own invariant: sorted, non-overlapping, as many ranges as the model. */
static void bus_check(const struct bus *b, const struct model *mo)
{
	FUZZ_CHECK(b->nranges == mo->n, "bus has %zu ranges, model %u", b->nranges, mo->n);
	for (size_t i = 1; i < b->nranges; i++)
		FUZZ_CHECK(b->ranges[i - 1].base + (b->ranges[i - 1].len - 1) < b->ranges[i].base,
			   "ranges %zu and %zu out of order or overlapping", i - 1, i);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct fuzz_in in;
	struct bus b;
	struct model mo = {0};

	fuzz_in_init(&in, data, size);
	bus_init(&b, "fuzz");
	if (fuzz_u8(&in) & 1) /* the O(1) port I/O index machines use, kept up to date from here */
		bus_enable_direct(&b, DIRECT);
	for (unsigned s = 0; s < MODEL_MAX; s++)
		mo.dev[s] = (struct dev){&mo, s};
	while (fuzz_more(&in)) {
		uint8_t ctl = fuzz_u8(&in);
		unsigned sel = ctl >> 2;

		switch ((enum bus_op)(ctl & 3)) {
		case OP_REGISTER:
			op_register(&in, &b, &mo, sel);
			break;
		case OP_UNREGISTER:
			op_unregister(&in, &b, &mo, sel);
			break;
		case OP_ACCESS:
		case OP_FIND:
			op_access(&in, &b, &mo, sel, (ctl & 3) == OP_FIND);
			break;
		}
		bus_check(&b, &mo);
	}
	bus_free(&b);
	return 0;
}
