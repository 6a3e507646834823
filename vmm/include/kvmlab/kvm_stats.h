/* KVM's own counters (the binary statistics file descriptor), e.g. every exit of a vCPU. */
#ifndef KVMLAB_KVM_STATS_H
#define KVMLAB_KVM_STATS_H

#include <stdint.h>

#include "err.h"

/*
 * Reads the statistic called name (e.g. "exits", "halt_exits", "io_exits")
 * from the binary statistics of a VM or vCPU file descriptor
 * (KVM_GET_STATS_FD, Linux 5.14 and later). KVM's "exits" counts every exit,
 * including the ones the kernel finishes without returning to userspace.
 * Returns 0 with *value set, or -1 with a report (no such statistic, no
 * binary statistics, a malformed header).
 */
int kvm_stats_read(int fd, const char *name, uint64_t *value, struct errbuf *e);

#endif
