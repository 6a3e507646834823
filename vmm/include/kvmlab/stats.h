/* Exit statistics: a wrapping exit handler that counts exits and times them, readable live. */
#ifndef KVMLAB_STATS_H
#define KVMLAB_STATS_H

#include <stdint.h>

#include "err.h"
#include "exit.h"

struct vm;

#define STATS_HIST_BUCKETS 32 /* bucket i counts handler times in [2^i, 2^(i+1)) ns */
#define STATS_MAX_PORTS	   64 /* distinct ports / MMIO ranges tracked; the rest are summed */

struct stats_reason {
	uint64_t count;
	uint64_t total_ns;
	uint64_t hist[STATS_HIST_BUCKETS];
};

struct stats_addr {
	uint64_t addr; /* port number, or the base of the MMIO range (or address if unclaimed) */
	const char *name; /* the claiming device's range name, or "unclaimed" */
	uint64_t count;
};

/* A consistent-enough copy (each counter read atomically) taken while the VM runs. */
struct stats_snapshot {
	struct stats_reason reason[EXIT_TABLE_SIZE];
	struct stats_addr pio[STATS_MAX_PORTS];
	unsigned npio;
	struct stats_addr mmio[STATS_MAX_PORTS];
	unsigned nmmio;
	uint64_t other_pio, other_mmio; /* exits to addresses beyond the tracked ones */
	uint64_t unclaimed_pio_reads, unclaimed_pio_writes;
	uint64_t unclaimed_mmio_reads, unclaimed_mmio_writes;
};

/*
 * Wraps every handler in the VM's exit table with a counting, timing one.
 * When disabled, the table holds the original handlers again, so the bare
 * dispatch path pays nothing. Both may be called while the VM runs.
 */
int stats_enable(struct vm *vm, struct errbuf *e);
void stats_disable(struct vm *vm);

/* Fills out; counts exits only while statistics were enabled. */
int stats_read(struct vm *vm, struct stats_snapshot *out, struct errbuf *e);

#endif
