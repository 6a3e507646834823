/* Port-I/O and MMIO address spaces: devices claim ranges, exits are routed to them. */
#ifndef KVMLAB_BUS_H
#define KVMLAB_BUS_H

#include <stdatomic.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "err.h"

/*
 * A device's access callback. offset is relative to the start of the range the
 * device registered; data holds len bytes (1, 2, 4 or 8 for port I/O and most
 * MMIO) in guest byte order. On a read the device fills data. Callbacks may
 * run on several vCPU threads at once: a device that keeps state shared
 * between registers takes its own lock.
 */
typedef void (*bus_fn)(void *opaque, uint64_t offset, uint8_t *data, uint32_t len, bool is_write);

struct bus_range {
	uint64_t base;
	uint64_t len;
	bus_fn fn;
	void *opaque;
	const char *name;
};

/*
 * One address space. Ranges are kept sorted for binary-search lookup.
 * Registration happens while no vCPU runs (during set-up); lookups may then
 * run concurrently from any number of vCPU threads.
 */
struct bus {
	const char *name; /* "pio" or "mmio", for reports */
	struct bus_range *ranges;
	size_t nranges;
	size_t cap;
	atomic_uint_fast64_t unclaimed_reads;
	atomic_uint_fast64_t unclaimed_writes;
	/* Optional O(1) index (port I/O): for addr < direct_len, direct[addr] is
	 * 1 + the index in ranges of the range holding addr, or 0. Once
	 * bus_enable_direct was called, direct is never NULL: an index that could
	 * not be kept is a shared all-zero table with direct_len 0 (bus_find_port). */
	uint8_t *direct;
	uint64_t direct_len;
};

void bus_init(struct bus *b, const char *name);
void bus_free(struct bus *b);

/* Gives the bus an O(1) lookup for addresses below len (only 0x10000, port
 * I/O, is supported), kept up to date by bus_register/bus_unregister. Without
 * memory for it, or past 255 ranges, lookups fall back to binary search. */
void bus_enable_direct(struct bus *b, uint64_t len);

/* Claims [base, base + len). Refuses len 0, wrap-around and any overlap with
 * a claimed range (the report names the range already there). */
int bus_register(struct bus *b, uint64_t base, uint64_t len, const char *name, bus_fn fn,
		 void *opaque, struct errbuf *e);

/* Releases the range registered at exactly base; -1 if there is none. */
int bus_unregister(struct bus *b, uint64_t base);

/* The range containing [addr, addr + len), or NULL. */
const struct bus_range *bus_find(const struct bus *b, uint64_t addr, uint32_t len);

/* bus_find through the direct index only, for the exit path; NULL means "not
 * in the index" (unclaimed, or no index): the caller then uses bus_access. */
static inline const struct bus_range *bus_find_direct(const struct bus *b, uint64_t addr,
						      uint32_t len)
{
	const struct bus_range *r;
	uint64_t off;
	size_t i; /* size_t, so that ranges + i - 1 folds into one address computation */

	if (addr >= b->direct_len || !(i = b->direct[addr]))
		return NULL;
	r = b->ranges + i - 1;
	/* The index put addr inside r, so only the access's end needs checking;
	 * off <= addr < 0x10000, so off + len cannot overflow. */
	off = addr - r->base;
	return len && off + len <= r->len ? r : NULL;
}

/*
 * bus_find_direct for the vCPU exit path: a port access of len >= 1 bytes on a
 * bus that bus_enable_direct(b, 0x10000) was called on (the machine's PIO bus),
 * whose index can be read for every port without a bound check.
 */
static inline const struct bus_range *bus_find_port(const struct bus *b, uint16_t port,
						    uint64_t len)
{
	const struct bus_range *r;
	uint64_t off;
	size_t i = b->direct[port];

	if (!i)
		return NULL;
	r = b->ranges + i - 1;
	off = port - r->base; /* below r->len: the index put port inside r */
	return off + len <= r->len ? r : NULL;
}

/*
 * Routes one access. Returns true when a device claimed it. An unclaimed read
 * fills data with all-ones; unclaimed accesses are counted either way, and the
 * caller decides whether they are fatal (strict mode).
 */
bool bus_access(struct bus *b, uint64_t addr, uint8_t *data, uint32_t len, bool is_write);

#endif
