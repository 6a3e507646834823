/* PIO and MMIO address spaces: sorted, non-overlapping ranges with binary-search lookup. */
#include <stdlib.h>
#include <string.h>

#include "kvmlab/bus.h"

void bus_init(struct bus *b, const char *name)
{
	memset(b, 0, sizeof(*b));
	b->name = name;
}

#define BUS_DIRECT_MAX 0x10000u

/* The index of a bus that asked for one and cannot keep it (no memory, or more
 * than 255 ranges): every port unclaimed, so the exit path reads it without a
 * bound check and falls back to bus_access. Read-only, never written. */
static const uint8_t bus_direct_none[BUS_DIRECT_MAX];

static void bus_direct_drop(struct bus *b)
{
	if (b->direct_len)
		free(b->direct);
	b->direct = (uint8_t *)bus_direct_none;
	b->direct_len = 0;
}

void bus_free(struct bus *b)
{
	if (b->direct_len)
		free(b->direct);
	b->direct = NULL;
	b->direct_len = 0;
	free(b->ranges);
	b->ranges = NULL;
	b->nranges = b->cap = 0;
}

/* Writes value into the direct index for every port of r below the index's end. */
static void bus_direct_fill(struct bus *b, const struct bus_range *r, uint8_t value)
{
	for (uint64_t a = r->base; a - r->base < r->len && a < BUS_DIRECT_MAX; a++)
		b->direct[a] = value;
}

/*
 * Re-indexes ranges from index `from` on, after an insert or removal there
 * shifted them (set-up time only). Touches only claimed ports, so building a
 * machine stays cheap (fuzz targets build one per input).
 */
static void bus_direct_update(struct bus *b, size_t from)
{
	if (!b->direct_len)
		return;
	if (b->nranges > UINT8_MAX) { /* the index holds bytes: binary search from now on */
		bus_direct_drop(b);
		return;
	}
	for (size_t i = from; i < b->nranges; i++)
		bus_direct_fill(b, &b->ranges[i], (uint8_t)(i + 1));
}

void bus_enable_direct(struct bus *b, uint64_t len)
{
	if (len != BUS_DIRECT_MAX || b->direct)
		return;
	if (b->nranges > UINT8_MAX || !(b->direct = calloc(1, BUS_DIRECT_MAX))) {
		bus_direct_drop(b);
		return;
	}
	b->direct_len = BUS_DIRECT_MAX;
	bus_direct_update(b, 0);
}

/* Index of the first range whose end lies above addr (where addr would go). */
static size_t bus_lower_bound(const struct bus *b, uint64_t addr)
{
	size_t lo = 0, hi = b->nranges;

	while (lo < hi) {
		size_t mid = lo + (hi - lo) / 2;
		const struct bus_range *r = &b->ranges[mid];

		if (r->base + (r->len - 1) < addr)
			lo = mid + 1;
		else
			hi = mid;
	}
	return lo;
}

int bus_register(struct bus *b, uint64_t base, uint64_t len, const char *name, bus_fn fn,
		 void *opaque, struct errbuf *e)
{
	size_t at;

	if (len == 0 || base + (len - 1) < base)
		return err_set(e, "%s range for %s at 0x%llx of length 0x%llx is empty or wraps",
			       b->name, name, (unsigned long long)base, (unsigned long long)len);
	at = bus_lower_bound(b, base);
	if (at < b->nranges && b->ranges[at].base <= base + (len - 1)) {
		const struct bus_range *r = &b->ranges[at];

		return err_set(e, "%s range 0x%llx-0x%llx for %s overlaps %s at 0x%llx-0x%llx",
			       b->name, (unsigned long long)base,
			       (unsigned long long)(base + len - 1), name, r->name,
			       (unsigned long long)r->base,
			       (unsigned long long)(r->base + r->len - 1));
	}
	if (b->nranges == b->cap) {
		size_t cap = b->cap ? b->cap * 2 : 16;
		struct bus_range *grown = realloc(b->ranges, cap * sizeof(*grown));

		if (!grown)
			return err_set(e, "out of memory registering %s on the %s bus", name,
				       b->name);
		b->ranges = grown;
		b->cap = cap;
	}
	memmove(&b->ranges[at + 1], &b->ranges[at], (b->nranges - at) * sizeof(*b->ranges));
	b->ranges[at] = (struct bus_range){
		.base = base, .len = len, .fn = fn, .opaque = opaque, .name = name};
	b->nranges++;
	bus_direct_update(b, at);
	return 0;
}

int bus_unregister(struct bus *b, uint64_t base)
{
	size_t at = bus_lower_bound(b, base);

	if (at == b->nranges || b->ranges[at].base != base)
		return -1;
	if (b->direct_len)
		bus_direct_fill(b, &b->ranges[at], 0);
	memmove(&b->ranges[at], &b->ranges[at + 1], (b->nranges - at - 1) * sizeof(*b->ranges));
	b->nranges--;
	bus_direct_update(b, at);
	return 0;
}

const struct bus_range *bus_find(const struct bus *b, uint64_t addr, uint32_t len)
{
	const struct bus_range *r;
	size_t at;

	if (addr < b->direct_len)
		return bus_find_direct(b, addr, len);
	at = bus_lower_bound(b, addr);
	if (at == b->nranges || len == 0)
		return NULL;
	r = &b->ranges[at];
	if (addr < r->base || addr - r->base > r->len - len || len > r->len)
		return NULL;
	return r;
}

bool bus_access(struct bus *b, uint64_t addr, uint8_t *data, uint32_t len, bool is_write)
{
	const struct bus_range *r = bus_find(b, addr, len);

	if (r) {
		r->fn(r->opaque, addr - r->base, data, len, is_write);
		return true;
	}
	if (is_write) {
		atomic_fetch_add_explicit(&b->unclaimed_writes, 1, memory_order_relaxed);
	} else {
		memset(data, 0xff, len);
		atomic_fetch_add_explicit(&b->unclaimed_reads, 1, memory_order_relaxed);
	}
	return false;
}
