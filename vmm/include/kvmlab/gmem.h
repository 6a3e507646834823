/* Guest-physical memory: the single checked door between guest addresses and host pointers. */
#ifndef KVMLAB_GMEM_H
#define KVMLAB_GMEM_H

#include <stdbool.h>
#include <stdint.h>

#include "err.h"

#define GMEM_MAX_REGIONS 32

enum gmem_flags {
	GMEM_READONLY =
	    1u << 0, /* guest writes exit to the MMIO bus; devices may not DMA into it */
};

struct gmem_region {
	uint64_t gpa;
	uint64_t size;
	uint8_t *host;
	uint32_t flags;
};

/*
 * The guest's RAM and ROM regions. Regions never overlap. Nothing in kvmlab
 * turns a guest-physical address into a host pointer except gmem_ptr() and
 * the copy helpers below, which check bounds and arithmetic overflow, so a
 * device or loader handed a hostile address or length cannot reach outside
 * guest memory.
 *
 * Concurrency: lookups take no lock, so vCPU threads may read while another
 * thread adds a region (memslot hot-add). gmem_add fills the new entry and
 * then publishes it with a release store of nregions; readers acquire-load
 * nregions once and look only at entries below it. Writers (gmem_add,
 * gmem_remove) are serialised by the caller. gmem_remove is only safe when no
 * thread can be reading: kvmlab pauses the VM around it (see docs/memory.md).
 */
struct gmem {
	struct gmem_region regions[GMEM_MAX_REGIONS];
	_Atomic unsigned nregions;
};

/* Adds a region backed by host memory the caller owns. Refuses empty,
 * wrapping or overlapping ranges and a full table. */
int gmem_add(struct gmem *m, uint64_t gpa, uint64_t size, void *host, uint32_t flags,
	     struct errbuf *e);

/* Removes the region that starts at gpa; -1 with a report if there is none.
 * The caller guarantees that no reader runs concurrently (see above). */
int gmem_remove(struct gmem *m, uint64_t gpa, struct errbuf *e);

/* The region holding gpa, or NULL. */
const struct gmem_region *gmem_region_at(const struct gmem *m, uint64_t gpa);

/*
 * Host pointer for [gpa, gpa + len) when that whole range lies inside one
 * region (and, for write, the region is writable); NULL otherwise, including
 * when gpa + len overflows. len == 0 is refused: callers always mean bytes.
 */
void *gmem_ptr(const struct gmem *m, uint64_t gpa, uint64_t len, bool write);

/* Copies between guest memory and a host buffer; 0 on success, -1 if the
 * range is not entirely inside one (writable, for gmem_write) region. */
int gmem_read(const struct gmem *m, uint64_t gpa, void *dst, uint64_t len);
int gmem_write(const struct gmem *m, uint64_t gpa, const void *src, uint64_t len);

/* Like gmem_write, but also into read-only regions: for loaders filling a
 * ROM before the guest sees it, never for devices. */
int gmem_load(const struct gmem *m, uint64_t gpa, const void *src, uint64_t len);

#endif
