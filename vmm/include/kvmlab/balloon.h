/* virtio-balloon: the control API sets a target, the guest gives pages back, the host discards
 * them. */
#ifndef KVMLAB_BALLOON_H
#define KVMLAB_BALLOON_H

#include <stdint.h>

#include "err.h"
#include "gmem.h"
#include "machine.h"

/*
 * The balloon (virtio 1.2 section 5.5) with its inflate and deflate queues,
 * offering VIRTIO_BALLOON_F_DEFLATE_ON_OOM. Page frame numbers are always of
 * 4 KiB pages. Each PFN the guest inflates is checked to be a page of
 * writable guest memory (else counted in refused and ignored), and runs of
 * them go to the machine's discard hook (machine.h: vm_mem_discard under a
 * VM), so the host gets the memory back; deflated pages need nothing: the
 * guest's next touch maps a zero page. A guest that lies about its pages can
 * only lose its own memory.
 */
#define BALLOON_PAGE	   4096u
#define BALLOON_PAGE_SHIFT 12

struct balloon_run {
	uint64_t gpa;
	uint64_t len;
};

/*
 * The pure core of inflation, for the device, tests and fuzzers: sorts the n
 * PFNs in place, drops duplicates and PFNs that are not a page of writable
 * guest memory in mem (counted in *refused), joins adjacent pages of one
 * region into runs, and trims each run to whole units of align (a power of
 * two >= BALLOON_PAGE: the memory policy's page size). Writes at most n runs
 * and returns how many.
 */
unsigned balloon_pfn_runs(const struct gmem *mem, uint32_t *pfns, unsigned n, uint64_t align,
			  struct balloon_run *runs, unsigned *refused);

/*
 * Pages the balloon holds, per guest memory region (a bitmap of 4 KiB pages
 * each, made on first use). For memory policies whose discard unit is larger
 * than a page (thp: 2 MiB), a unit goes back once every page of it is in the
 * balloon, however many inflate requests that took (Linux sends at most 256
 * PFNs, 1 MiB, per request); a deflated page leaves the balloon, so its unit is
 * never discarded while the guest uses it.
 */
struct balloon_blocks;
struct balloon_blocks *balloon_blocks_create(void);
void balloon_blocks_destroy(struct balloon_blocks *bb);

/* Marks run (pages of writable region r, as balloon_pfn_runs returns them) held, and writes
 * to out (at most max) the align units it touched that are now wholly held: those to
 * discard. align is a power of two >= BALLOON_PAGE. Returns how many. */
unsigned balloon_blocks_add(struct balloon_blocks *bb, const struct gmem_region *r,
			    const struct balloon_run *run, uint64_t align, struct balloon_run *out,
			    unsigned max);

/* The guest took the page at gpa (in region r) back: it is no longer held. */
void balloon_blocks_remove(struct balloon_blocks *bb, const struct gmem_region *r, uint64_t gpa);

/* Calls fn for every run of held pages in align units that are only partly held: what a
 * policy able to split its pages (discard_min < align) gives back once the balloon has
 * reached its target. */
void balloon_blocks_partial(const struct balloon_blocks *bb, uint64_t align,
			    void (*fn)(void *opaque, const struct balloon_run *run), void *opaque);

struct balloon_info {
	uint32_t target_pages;	 /* num_pages: what the host asks the guest to give */
	uint32_t actual_pages;	 /* actual: what the guest says it gave */
	uint64_t inflated;	 /* PFNs the guest inflated */
	uint64_t deflated;	 /* PFNs the guest deflated */
	uint64_t refused;	 /* inflated PFNs outside writable guest memory */
	uint64_t discarded;	 /* bytes given back through the discard hook */
	uint64_t discard_errors; /* runs the hook refused (first report in last_error) */
	char last_error[ERR_MSG_LEN];
};

struct virtio_balloon;

/* Attaches a balloon to m (virtio_balloon_type attaches one on kernel boots). */
struct virtio_balloon *virtio_balloon_attach(struct machine *m, struct errbuf *e);

/* Sets the target to pages (4 KiB) and raises the configuration-change interrupt.
 * Refuses a machine without a balloon and a target above the guest's memory. */
int virtio_balloon_set_target(struct machine *m, uint64_t pages, struct errbuf *e);

/* The balloon's state; -1 when m has none. */
int virtio_balloon_info(struct machine *m, struct balloon_info *out, struct errbuf *e);

#endif
