/* Checked access to /dev/kvm: opening it, capability checks and ioctls that report what failed. */
#ifndef KVMLAB_KVM_H
#define KVMLAB_KVM_H

#include "err.h"

#define KVM_EXPECTED_API_VERSION 12

/* Opens the KVM device (path NULL means /dev/kvm) and checks the API
 * version; returns the fd or -1 with a one-line report. */
int kvm_open(const char *path, unsigned *api_version, struct errbuf *e);

/* Returns the capability's value (0 if absent), or -1 if the query failed. */
int kvm_cap(int fd, long cap, struct errbuf *e);

/* Fails with a report naming the capability when it is absent. */
int kvm_require_cap(int fd, long cap, const char *cap_name, struct errbuf *e);

/*
 * ioctl that, on failure, reports "<REQUEST> failed while <what>: <strerror>".
 * Use through KVM_IOCTL so the request's name comes from the source.
 */
int kvm_ioctl_named(int fd, unsigned long req, const char *req_name, void *arg, struct errbuf *e,
		    const char *what);
#define KVM_IOCTL(fd, req, arg, e, what) kvm_ioctl_named((fd), (req), #req, (arg), (e), (what))

#endif
