/* The example scheduler (docs/scheduling.md): one run slot, handed on in FIFO order every slice. */
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>

#include "kvmlab/vm.h"
#include "sched_util.h"

/* A ticket queue: a vCPU that wants the slot takes a ticket; once the holder has
 * had its slice and someone waits (next_ticket != serving), the next ticket runs. */
struct fifo {
	struct vm *vm;
	pthread_mutex_t lock;
	pthread_cond_t turn;
	uint64_t next_ticket, serving, slice_ns, since;
	int holder;	   /* the vCPU holding the slot, -1 if none */
	uint64_t ticket[]; /* per vCPU: its ticket, 0 when it has none */
};

static int fifo_create(struct vm *vm, const char *args, void **state, struct errbuf *e)
{
	unsigned ms = 10;
	struct fifo *f;

	if (*args && (sscanf(args, "slice=%u", &ms) != 1 || ms == 0))
		return err_set(e, "scheduler example_fifo: expected slice=MS, got '%s'", args);
	f = calloc(1, sizeof(*f) + vm->nvcpus * sizeof(f->ticket[0]));
	if (!f)
		return err_set(e, "scheduler example_fifo: out of memory");
	f->vm = vm;
	f->slice_ns = ms * 1000000ull;
	f->next_ticket = f->serving = 1;
	f->holder = -1;
	pthread_mutex_init(&f->lock, NULL);
	pthread_cond_init(&f->turn, NULL);
	*state = f;
	return 0;
}

static bool fifo_enter(void *state, struct vcpu *v)
{
	struct fifo *f = state;
	int me = (int)v->id;
	bool mine;

	pthread_mutex_lock(&f->lock);
	if (f->holder == me && f->next_ticket != f->serving &&
	    sched_now_ns() - f->since >= f->slice_ns) {
		f->holder = -1; /* pass the slot on */
		pthread_cond_broadcast(&f->turn);
	}
	if (f->holder != me && !f->ticket[me])
		f->ticket[me] = f->next_ticket++;
	while (f->holder != me && !sched_vcpu_kicked(v)) {
		if (f->ticket[me] == f->serving && f->holder == -1) {
			f->ticket[me] = 0;
			f->serving++;
			f->holder = me;
			f->since = sched_now_ns();
		} else {
			pthread_cond_wait(&f->turn, &f->lock);
		}
	}
	mine = f->holder == me;
	pthread_mutex_unlock(&f->lock);
	return mine; /* false: kicked for pause or stop; it keeps its ticket */
}

/* Each ms: kick a holder whose slice is over, so it passes the slot on in fifo_enter. */
static void fifo_tick(void *state, uint64_t now)
{
	struct fifo *f = state;

	pthread_mutex_lock(&f->lock);
	if (!SCHED_PLANTED_FAULT && /* the planted fault: never preempt */
	    f->holder >= 0 && f->next_ticket != f->serving && now - f->since >= f->slice_ns)
		vcpu_kick(&f->vm->vcpus[f->holder]);
	pthread_mutex_unlock(&f->lock);
}

static void fifo_kick(void *state) /* pause or stop: wake every waiter */
{
	struct fifo *f = state;

	pthread_mutex_lock(&f->lock);
	pthread_cond_broadcast(&f->turn);
	pthread_mutex_unlock(&f->lock);
}

const struct sched_ops sched_example_fifo = {
	.name = "example_fifo",
	.help = "the example policy: one run slot, passed on in FIFO order every slice=MS (10)",
	.create = fifo_create,
	.destroy = free,
	.enter = fifo_enter,
	.tick = fifo_tick,
	.tick_ns = 1000000,
	.kick = fifo_kick,
};
