/* The "rr" scheduler: N vCPUs take turns on M run slots, each for a time slice. */
#include <pthread.h>
#include <stdlib.h>
#include <string.h>

#include "kvmlab/vm.h"
#include "sched_util.h"

/*
 * A vCPU enters KVM_RUN only while it holds one of the slots; the others wait
 * in enter, in a FIFO queue. When a holder's slice is over and someone waits,
 * the tick kicks it (vcpu_kick: signal + immediate_exit); it comes back
 * through enter, gives up its slot and queues at the tail. A vCPU that exits
 * on its own (I/O) after its slice yields the same way without a kick.
 *
 * Halted vCPUs: a vCPU in HLT with the in-kernel LAPIC blocks inside KVM_RUN,
 * where userspace cannot tell it from a busy one. It keeps its slot until its
 * slice ends, then is kicked out and requeued like any other. So an idle vCPU
 * wastes at most one slice per round, and its wake-ups wait for its turn:
 * with N vCPUs on M slots, up to (N/M - 1) slices.
 */

#define RR_DEFAULT_SLICE_MS 10
#define RR_TICK_NS	    1000000ull

struct rr_vcpu {
	pthread_cond_t wake;
	bool holds, queued, yield;
	uint64_t since; /* when it took its slot */
};

struct rr {
	struct vm *vm;
	pthread_mutex_t lock;
	unsigned slots, busy;
	uint64_t slice_ns;
	unsigned *queue, head, nqueued; /* a ring of vCPU ids, nvcpus long */
	struct rr_vcpu v[];
};

static void rr_push(struct rr *s, unsigned id)
{
	s->queue[(s->head + s->nqueued++) % s->vm->nvcpus] = id;
	s->v[id].queued = true;
}

/* Hands free slots to the longest waiters. */
static void rr_dispatch(struct rr *s, uint64_t now)
{
	while (s->busy < s->slots && s->nqueued) {
		struct rr_vcpu *w = &s->v[s->queue[s->head]];

		s->head = (s->head + 1) % s->vm->nvcpus;
		s->nqueued--;
		w->queued = w->yield = false;
		w->holds = true;
		w->since = now;
		s->busy++;
		pthread_cond_signal(&w->wake);
	}
}

static bool rr_slice_over(struct rr *s, struct rr_vcpu *me, uint64_t now)
{
	if (SCHED_PLANTED_FAULT) /* tests/kvm/test_sched.c must notice: slices never end */
		return false;
	return s->nqueued && now - me->since >= s->slice_ns;
}

static bool rr_enter(void *state, struct vcpu *v)
{
	struct rr *s = state;
	struct rr_vcpu *me = &s->v[v->id];
	uint64_t now = sched_now_ns();
	bool ok = true;

	pthread_mutex_lock(&s->lock);
	if (me->holds && (me->yield || rr_slice_over(s, me, now))) {
		me->holds = me->yield = false;
		s->busy--;
		rr_push(s, v->id);
	} else if (!me->holds && !me->queued) {
		rr_push(s, v->id);
	}
	rr_dispatch(s, now);
	while (!me->holds) {
		if (sched_vcpu_kicked(v)) {
			ok = false; /* stays queued; the vCPU loop parks or stops it */
			break;
		}
		pthread_cond_wait(&me->wake, &s->lock);
	}
	pthread_mutex_unlock(&s->lock);
	return ok;
}

static void rr_tick(void *state, uint64_t now)
{
	struct rr *s = state;

	pthread_mutex_lock(&s->lock);
	for (unsigned i = 0; i < s->vm->nvcpus; i++) {
		struct rr_vcpu *h = &s->v[i];

		if (h->holds && !h->yield && rr_slice_over(s, h, now)) {
			h->yield = true;
			vcpu_kick(&s->vm->vcpus[i]);
		}
	}
	pthread_mutex_unlock(&s->lock);
}

static void rr_kick(void *state)
{
	struct rr *s = state;

	pthread_mutex_lock(&s->lock);
	for (unsigned i = 0; i < s->vm->nvcpus; i++)
		pthread_cond_broadcast(&s->v[i].wake);
	pthread_mutex_unlock(&s->lock);
}

static int rr_arg(void *ctx, const char *key, const char *value, struct errbuf *e)
{
	struct rr *s = ctx;
	uint64_t n;

	if (!strcmp(key, "slots")) {
		if (sched_arg_uint("rr", key, value, 1, VM_MAX_VCPUS, &n, e))
			return -1;
		s->slots = (unsigned)n;
	} else if (!strcmp(key, "slice")) {
		if (sched_arg_uint("rr", key, value, 1, 10000, &n, e))
			return -1;
		s->slice_ns = n * 1000000ull;
	} else {
		return err_set(e, "scheduler rr: unknown parameter '%s' (known: slots, slice)",
			       key);
	}
	return 0;
}

static void rr_destroy(void *state)
{
	struct rr *s = state;

	for (unsigned i = 0; i < s->vm->nvcpus; i++)
		pthread_cond_destroy(&s->v[i].wake);
	pthread_mutex_destroy(&s->lock);
	free(s->queue);
	free(s);
}

static int rr_create(struct vm *vm, const char *args, void **state, struct errbuf *e)
{
	struct rr *s = calloc(1, sizeof(*s) + vm->nvcpus * sizeof(s->v[0]));

	if (!s || !(s->queue = calloc(vm->nvcpus, sizeof(unsigned)))) {
		free(s);
		return err_set(e, "scheduler rr: out of memory");
	}
	s->vm = vm;
	s->slots = sched_host_cpus();
	s->slice_ns = RR_DEFAULT_SLICE_MS * 1000000ull;
	pthread_mutex_init(&s->lock, NULL);
	for (unsigned i = 0; i < vm->nvcpus; i++)
		pthread_cond_init(&s->v[i].wake, NULL);
	if (sched_args_each("rr", args, rr_arg, s, e)) {
		rr_destroy(s);
		return -1;
	}
	*state = s;
	return 0;
}

/* At run time: "slice" (ms) for the whole VM. */
static int rr_set(void *state, int vcpu, const char *key, const char *value, struct errbuf *e)
{
	struct rr *s = state;
	uint64_t n;

	if (strcmp(key, "slice"))
		return err_set(e, "scheduler rr: only 'slice' can change while the VM runs");
	if (vcpu != -1)
		return err_set(e, "scheduler rr: the slice is the same for every vCPU");
	if (sched_arg_uint("rr", key, value, 1, 10000, &n, e))
		return -1;
	pthread_mutex_lock(&s->lock);
	s->slice_ns = n * 1000000ull;
	pthread_mutex_unlock(&s->lock);
	return 0;
}

const struct sched_ops sched_rr = {
	.name = "rr",
	.help = "round robin: vCPUs take turns on slots=M run slots (default: host CPUs) for "
		"slice=MS (default 10); halted vCPUs keep their slot until their slice ends",
	.create = rr_create,
	.destroy = rr_destroy,
	.enter = rr_enter,
	.tick = rr_tick,
	.tick_ns = RR_TICK_NS,
	.kick = rr_kick,
	.set = rr_set,
};
