/* vCPU scheduling policies: who may enter KVM_RUN when, selected per VM by name. */
#ifndef KVMLAB_SCHED_H
#define KVMLAB_SCHED_H

#include <stdbool.h>
#include <stdint.h>

#include "err.h"

struct vm;
struct vcpu;

/*
 * A policy is one file defining a struct sched_ops plus one line in
 * vmm/sched/policies.c. Every vCPU keeps its own thread (a vCPU run from a
 * different thread than last time pays a synchronize_rcu in Linux 6.1); a
 * policy decides when each thread may enter the guest, and may preempt a
 * running vCPU with vcpu_kick(). Hooks left NULL cost one branch per exit.
 *
 * Threads: create/destroy run on the VM's owner thread; vcpu_start, enter and
 * leave on the vCPU's own thread; tick on the VM's scheduler thread (started
 * only when tick_ns > 0); kick and set on any thread. The policy locks its own state.
 */
struct sched_ops {
	const char *name;
	const char *help; /* one line: what it does and its k=v parameters */

	/* Parses "k=v,k=v" (may be empty) and allocates the policy's state. */
	int (*create)(struct vm *vm, const char *args, void **state, struct errbuf *e);
	void (*destroy)(void *state);

	/* On the vCPU's thread before its first KVM_RUN (pinning goes here). */
	int (*vcpu_start)(void *state, struct vcpu *v, struct errbuf *e);

	/* Before each KVM_RUN; may block until v may run. Returns false when it
	 * gave up waiting because the VM was kicked (pause or stop): the vCPU loop
	 * then looks at the VM's flags and calls enter again later. */
	bool (*enter)(void *state, struct vcpu *v);

	/* After each KVM_RUN returns (exit or kick), with the time v spent in it. */
	void (*leave)(void *state, struct vcpu *v, uint64_t ran_ns);

	/* Every tick_ns on the scheduler thread: account, refill, preempt. */
	void (*tick)(void *state, uint64_t now_ns);
	uint64_t tick_ns;

	/* The VM is being kicked (pause/stop): wake every vCPU blocked in enter. */
	void (*kick)(void *state);

	/* Changes a parameter while the VM runs ("weight", "cap", ...); vcpu -1
	 * means the whole VM. For the control API. */
	int (*set)(void *state, int vcpu, const char *key, const char *value, struct errbuf *e);
};

/* The registered policies, NULL-terminated (vmm/sched/policies.c). */
extern const struct sched_ops *const sched_policies[];

/* Looks up "NAME[:k=v,...]" (NULL or "" means "os"); reports unknown names
 * with the list of known ones. On success *args points into spec. */
const struct sched_ops *sched_find(const char *spec, const char **args, struct errbuf *e);

/* Preempts a running vCPU: it leaves KVM_RUN soon and goes back through enter. */
void vcpu_kick(struct vcpu *v);

/* Monotonic nanoseconds, the clock all policies use. */
uint64_t sched_now_ns(void);

#endif
