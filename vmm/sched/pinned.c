/* The "pinned" scheduler: each vCPU thread bound to one host CPU, then left to the host kernel. */
#include <errno.h>
#include <pthread.h>
#include <sched.h>
#include <stdlib.h>
#include <string.h>

#include "kvmlab/vm.h"
#include "sched_util.h"

/* vCPU i runs on cpus[i % ncpus]: with fewer CPUs than vCPUs they wrap around. */
struct pinned {
	unsigned ncpus;
	unsigned cpus[CPU_SETSIZE];
};

static int pinned_arg(void *ctx, const char *key, const char *value, struct errbuf *e)
{
	struct pinned *p = ctx;

	if (strcmp(key, "cpus"))
		return err_set(e, "scheduler pinned: unknown parameter '%s' (known: cpus)", key);
	return sched_parse_cpus("pinned", value, p->cpus, CPU_SETSIZE, &p->ncpus, e);
}

static int pinned_create(struct vm *vm, const char *args, void **state, struct errbuf *e)
{
	struct pinned *p = calloc(1, sizeof(*p));
	cpu_set_t allowed;

	(void)vm;
	if (!p)
		return err_set(e, "scheduler pinned: out of memory");
	if (sched_args_each("pinned", args, pinned_arg, p, e)) {
		free(p);
		return -1;
	}
	if (p->ncpus == 0 && sched_getaffinity(0, sizeof(allowed), &allowed) == 0) {
		for (unsigned c = 0; c < CPU_SETSIZE; c++)
			if (CPU_ISSET(c, &allowed))
				p->cpus[p->ncpus++] = c;
	}
	if (p->ncpus == 0) {
		free(p);
		return err_errno(e, "scheduler pinned: cannot read this process's CPU affinity");
	}
	*state = p;
	return 0;
}

static int pinned_vcpu_start(void *state, struct vcpu *v, struct errbuf *e)
{
	struct pinned *p = state;
	unsigned cpu = p->cpus[v->id % p->ncpus];
	cpu_set_t one;
	int r;

	CPU_ZERO(&one);
	CPU_SET(cpu, &one);
	if (SCHED_PLANTED_FAULT) /* tests/kvm/test_sched.c must notice: pin nothing */
		return 0;
	r = pthread_setaffinity_np(pthread_self(), sizeof(one), &one);
	if (r) {
		errno = r;
		return err_errno(e, "cannot pin vCPU %u to host CPU %u", v->id, cpu);
	}
	return 0;
}

const struct sched_ops sched_pinned = {
	.name = "pinned",
	.help = "each vCPU thread bound to one host CPU; cpus=LIST (e.g. 0-3,6; vCPU i gets the "
		"i-th, wrapping; default: every CPU this process may use)",
	.create = pinned_create,
	.destroy = free,
	.vcpu_start = pinned_vcpu_start,
};
