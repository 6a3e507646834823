/* Fault injection for tests: KVM ioctls and disk I/O that fail on purpose, off unless configured.
 */
#ifndef KVMLAB_FAULTS_H
#define KVMLAB_FAULTS_H

#include <stdbool.h>
#include <sys/types.h>
#include <sys/uio.h>

#include "err.h"

/*
 * A plan is a list of rules "POINT:ERROR:TRIGGER" separated by ';' (the
 * KVMLAB_FAULTS environment variable of `kvmlab run`, docs/security.md):
 *   POINT    a KVM ioctl named as in the source without "KVM_", any case
 *            (kvm_run, set_user_memory_region, create_vcpu, ...), or
 *            disk_read, disk_write, disk_flush (virtio-blk's host I/O)
 *   ERROR    eintr, eagain, enomem (ioctls); eio, enospc, short, skip (disks:
 *            "short" moves half the bytes asked for and returns that count;
 *            "skip" reports success without doing anything: a lying disk,
 *            which the power-cut test must catch)
 *   TRIGGER  every=N (calls N, 2N, ... of that point fail) or nth=N (only
 *            call N fails); calls are counted per rule from 1, process-wide
 * e.g. "kvm_run:eintr:every=5;set_user_memory_region:enomem:nth=1".
 *
 * The plan is process-wide test machinery, not VM state: set once by
 * faults_configure before any VM exists (the one writer), then read by
 * every thread; rule counters are atomic. With no plan each check is one
 * load of a NULL pointer. A NULL or empty spec removes the plan.
 */
int faults_configure(const char *spec, struct errbuf *e);

/* Whether some rule names this KVM ioctl ("KVM_RUN", as KVM_IOCTL spells it). */
bool faults_armed(const char *req_name);

/*
 * The injection point of every KVM ioctl: 0, or the errno this call of
 * req_name must fail with (without reaching KVM). kvm_ioctl_named consults
 * it; vcpu_step's KVM_RUN does in its slow path, which a VM takes when
 * faults_armed("KVM_RUN") (vm_sched_init).
 */
int faults_kvm_ioctl(const char *req_name);

/* preadv, pwritev and fdatasync with the disk_read, disk_write and disk_flush rules applied;
 * with no rule they are the plain calls. */
ssize_t faults_preadv(int fd, const struct iovec *iov, int n, off_t off);
ssize_t faults_pwritev(int fd, const struct iovec *iov, int n, off_t off);
int faults_fdatasync(int fd);

#endif
