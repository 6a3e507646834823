/* Helpers the scheduling policies share: k=v arguments, CPU lists, and "was this vCPU kicked". */
#ifndef KVMLAB_SCHED_UTIL_H
#define KVMLAB_SCHED_UTIL_H

#include <stdbool.h>
#include <stdint.h>

#include "kvmlab/err.h"
#include "kvmlab/sched.h"

#define SCHED_MAX_ARGS_LEN 1024

/* 1 in the build with a planted fault in every policy (tests/kvm/test_sched.c
 * must then fail): policies write "if (SCHED_PLANTED_FAULT) misbehave". */
#ifdef KVMLAB_SCHED_PLANTED_FAULT
#define SCHED_PLANTED_FAULT 1
#else
#define SCHED_PLANTED_FAULT 0
#endif

/* Calls fn(ctx, key, value) for each "key=value" in args (comma-separated; ""
 * has none). A value may itself hold commas when no '=' follows them:
 * "cpus=0,2-3,slice=5" is cpus="0,2-3" and slice="5". Reports name the
 * policy: "scheduler rr: expected KEY=VALUE, got 'slots'". */
int sched_args_each(const char *policy, const char *args,
		    int (*fn)(void *ctx, const char *key, const char *value, struct errbuf *e),
		    void *ctx, struct errbuf *e);

/* value as an integer in [lo, hi]; reports "scheduler P: K: ...". */
int sched_arg_uint(const char *policy, const char *key, const char *value, uint64_t lo, uint64_t hi,
		   uint64_t *out, struct errbuf *e);

/* "KEY.N" -> N for a per-vCPU key (prefix "weight" matches "weight.3"); -1
 * when key is the plain prefix, -2 when it is something else. A number at or
 * above nvcpus is reported. */
int sched_key_vcpu(const char *key, const char *prefix, unsigned nvcpus, int *vcpu,
		   struct errbuf *e);

/* A CPU list like "0-3,6" into cpus[] (in the order given, at most max);
 * each CPU must be one this process may run on. */
int sched_parse_cpus(const char *policy, const char *list, unsigned *cpus, unsigned max,
		     unsigned *n, struct errbuf *e);

/* How many host CPUs this process may run on (at least 1). */
unsigned sched_host_cpus(void);

/*
 * True when v should stop waiting in enter and return false: the VM kicked it
 * (pause, stop) or a policy did, which the vCPU loop then sorts out. Safe
 * because vcpu_kick sets immediate_exit before the policy's kick hook runs.
 */
bool sched_vcpu_kicked(struct vcpu *v);

#endif
