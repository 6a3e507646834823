/* The "credit" scheduler: per-vCPU weights and caps, in the spirit of Xen's credit scheduler. */
#include <pthread.h>
#include <stdlib.h>
#include <string.h>

#include "kvmlab/vm.h"
#include "sched_util.h"

/*
 * vCPUs share slots=M run slots. Time in KVM_RUN burns a vCPU's credit, one
 * nanosecond per nanosecond; every period the time all vCPUs actually ran is
 * paid back as credit in proportion to their weights. The richest waiter gets
 * the next free slot (the longest waiter among equals), and the tick (every
 * ms) kicks a holder whose slice is over when a waiter at least as rich as it
 * exists. Paying back what was used, rather than a nominal M * period, keeps
 * the shares at the weights even when switching or host load eats into the
 * slots' time; credit is kept within +-M * period so that no vCPU hoards or
 * owes for long. As in Xen, weights only matter under contention.
 *
 * A cap C limits a vCPU to C% of one host CPU per period even when slots sit
 * idle (not work-conserving, like Xen's cap): at its cap the vCPU is kicked
 * and waits for the next period; overshoot counts against the next one.
 *
 * Weights and caps change at run time through set ("weight", "cap"; vCPU -1
 * for all), e.g. from the control API's sched-set. A halted vCPU looks busy
 * from userspace (see rr.c): it spends credit while it sits in KVM_RUN.
 */

#define CREDIT_TICK_NS	      1000000ull
#define CREDIT_DEFAULT_WEIGHT 256

struct credit_vcpu {
	pthread_cond_t wake;
	unsigned weight, cap; /* cap in percent of one host CPU; 0 = none */
	int64_t credit;	      /* ns */
	int64_t cap_left;     /* ns it may still run this period under its cap */
	uint64_t since;	      /* when its slice started */
	uint64_t charged;     /* while in KVM_RUN: spending counted up to here */
	uint64_t used;	      /* ns in KVM_RUN this period */
	uint64_t queued_at;   /* FIFO order among equals */
	bool holds, queued, yield, in_run;
};

struct credit {
	struct vm *vm;
	pthread_mutex_t lock;
	unsigned slots, busy;
	uint64_t period_ns, slice_ns, next_refill, seq;
	struct credit_vcpu v[];
};

/* The planted fault (tests/kvm/test_sched.c must notice): weights and caps ignored. */
static unsigned credit_weight(const struct credit_vcpu *c)
{
	return SCHED_PLANTED_FAULT ? 1 : c->weight;
}

static bool credit_capped(const struct credit_vcpu *c)
{
	return !SCHED_PLANTED_FAULT && c->cap && c->cap_left <= 0;
}

/* Spends credit for the time c has been in KVM_RUN since the last charge. */
static void credit_charge(struct credit_vcpu *c, uint64_t now)
{
	int64_t d = c->in_run ? (int64_t)(now - c->charged) : 0;

	c->credit -= d;
	c->cap_left -= d;
	c->used += (uint64_t)d;
	c->charged = now;
}

/* Pays the time used this period back by weight; caps get a new budget. */
static void credit_refill(struct credit *s)
{
	int64_t limit = (int64_t)(s->slots * s->period_ns);
	uint64_t used = 0, sum = 0;

	for (unsigned i = 0; i < s->vm->nvcpus; i++) {
		sum += credit_weight(&s->v[i]);
		used += s->v[i].used;
	}
	for (unsigned i = 0; i < s->vm->nvcpus; i++) {
		struct credit_vcpu *c = &s->v[i];
		int64_t budget = (int64_t)(s->period_ns * c->cap / 100);

		c->credit += (int64_t)(used * credit_weight(c) / sum);
		c->credit = c->credit > limit ? limit : c->credit < -limit ? -limit : c->credit;
		c->used = 0;
		c->cap_left =
		    !c->cap || c->cap_left + budget > budget ? budget : c->cap_left + budget;
	}
}

/* The waiter that should get the next free slot, or NULL. */
static struct credit_vcpu *credit_best_waiter(struct credit *s)
{
	struct credit_vcpu *best = NULL;

	for (unsigned i = 0; i < s->vm->nvcpus; i++) {
		struct credit_vcpu *c = &s->v[i];

		if (!c->queued || credit_capped(c))
			continue;
		if (!best || c->credit > best->credit ||
		    (c->credit == best->credit && c->queued_at < best->queued_at))
			best = c;
	}
	return best;
}

static bool credit_must_yield(struct credit *s, struct credit_vcpu *c,
			      const struct credit_vcpu *best, uint64_t now)
{
	if (credit_capped(c))
		return true;
	return best && best->credit >= c->credit && now - c->since >= s->slice_ns;
}

static void credit_queue(struct credit *s, struct credit_vcpu *c)
{
	c->queued = true;
	c->queued_at = s->seq++;
}

static void credit_dispatch(struct credit *s, uint64_t now)
{
	struct credit_vcpu *w;

	while (s->busy < s->slots && (w = credit_best_waiter(s))) {
		w->queued = w->yield = false;
		w->holds = true;
		w->since = now;
		s->busy++;
		pthread_cond_signal(&w->wake);
	}
}

static bool credit_enter(void *state, struct vcpu *v)
{
	struct credit *s = state;
	struct credit_vcpu *me = &s->v[v->id];
	uint64_t now = sched_now_ns();
	bool ok = true;

	pthread_mutex_lock(&s->lock);
	if (me->holds) {
		if (me->yield || credit_must_yield(s, me, credit_best_waiter(s), now)) {
			me->holds = false;
			s->busy--;
			credit_queue(s, me);
		}
	} else if (!me->queued) {
		credit_queue(s, me);
	}
	credit_dispatch(s, now);
	while (!me->holds) {
		if (sched_vcpu_kicked(v)) {
			ok = false; /* stays queued; the vCPU loop parks or stops it */
			break;
		}
		pthread_cond_wait(&me->wake, &s->lock);
	}
	if (ok) {
		me->in_run = true;
		me->charged = sched_now_ns();
	}
	pthread_mutex_unlock(&s->lock);
	return ok;
}

static void credit_leave(void *state, struct vcpu *v, uint64_t ran_ns)
{
	struct credit *s = state;
	struct credit_vcpu *me = &s->v[v->id];

	(void)ran_ns; /* the tick may have charged part of it already */
	pthread_mutex_lock(&s->lock);
	credit_charge(me, sched_now_ns());
	me->in_run = false;
	pthread_mutex_unlock(&s->lock);
}

static void credit_tick(void *state, uint64_t now)
{
	struct credit *s = state;
	struct credit_vcpu *best;

	pthread_mutex_lock(&s->lock);
	for (unsigned i = 0; i < s->vm->nvcpus; i++)
		credit_charge(&s->v[i], now);
	if (now >= s->next_refill) {
		credit_refill(s);
		s->next_refill += s->period_ns;
		if (s->next_refill <= now) /* the tick thread fell behind: do not catch up */
			s->next_refill = now + s->period_ns;
	}
	credit_dispatch(s, now); /* capped vCPUs may be eligible again */
	best = credit_best_waiter(s);
	for (unsigned i = 0; i < s->vm->nvcpus; i++) {
		struct credit_vcpu *c = &s->v[i];

		if (c->holds && !c->yield && credit_must_yield(s, c, best, now)) {
			c->yield = true;
			vcpu_kick(&s->vm->vcpus[i]);
		}
	}
	pthread_mutex_unlock(&s->lock);
}

static void credit_kick(void *state)
{
	struct credit *s = state;

	pthread_mutex_lock(&s->lock);
	for (unsigned i = 0; i < s->vm->nvcpus; i++)
		pthread_cond_broadcast(&s->v[i].wake);
	pthread_mutex_unlock(&s->lock);
}

/* weight[.N] and cap[.N] for one vCPU or (vcpu -1) all; the caller holds the lock or
 * is creating the policy. */
static int credit_set_locked(struct credit *s, int vcpu, const char *key, const char *value,
			     struct errbuf *e)
{
	bool weight = !strcmp(key, "weight");
	uint64_t n;

	if (!weight && strcmp(key, "cap"))
		return err_set(e, "scheduler credit: '%s' cannot be set (known: weight, cap)", key);
	if (vcpu < -1 || vcpu >= (int)s->vm->nvcpus)
		return err_set(e, "scheduler credit: no vCPU %d (the VM has %u)", vcpu,
			       s->vm->nvcpus);
	if (sched_arg_uint("credit", key, value, weight ? 1 : 0, weight ? 65535 : 100, &n, e))
		return -1;
	for (unsigned i = 0; i < s->vm->nvcpus; i++) {
		struct credit_vcpu *c = &s->v[i];

		if (vcpu != -1 && (unsigned)vcpu != i)
			continue;
		if (weight) {
			c->weight = (unsigned)n;
		} else {
			if (!c->cap) /* a new cap starts with a full budget */
				c->cap_left = (int64_t)(s->period_ns * n / 100);
			c->cap = (unsigned)n;
		}
	}
	return 0;
}

static int credit_arg(void *ctx, const char *key, const char *value, struct errbuf *e)
{
	struct credit *s = ctx;
	int vcpu, r;
	uint64_t n;

	if (!strcmp(key, "slots")) {
		if (sched_arg_uint("credit", key, value, 1, VM_MAX_VCPUS, &n, e))
			return -1;
		s->slots = (unsigned)n;
		return 0;
	}
	if (!strcmp(key, "period") || !strcmp(key, "slice")) {
		if (sched_arg_uint("credit", key, value, 1, 10000, &n, e))
			return -1;
		*(key[1] == 'e' ? &s->period_ns : &s->slice_ns) = n * 1000000ull;
		return 0;
	}
	for (const char *const *p = (const char *const[]){"weight", "cap", NULL}; *p; p++) {
		r = sched_key_vcpu(key, *p, s->vm->nvcpus, &vcpu, e);
		if (r != -2)
			return r ? -1 : credit_set_locked(s, vcpu, *p, value, e);
	}
	return err_set(e,
		       "scheduler credit: unknown parameter '%s' (known: slots, period, slice, "
		       "weight, weight.N, cap, cap.N)",
		       key);
}

static void credit_destroy(void *state)
{
	struct credit *s = state;

	for (unsigned i = 0; i < s->vm->nvcpus; i++)
		pthread_cond_destroy(&s->v[i].wake);
	pthread_mutex_destroy(&s->lock);
	free(s);
}

static int credit_create(struct vm *vm, const char *args, void **state, struct errbuf *e)
{
	struct credit *s = calloc(1, sizeof(*s) + vm->nvcpus * sizeof(s->v[0]));

	if (!s)
		return err_set(e, "scheduler credit: out of memory");
	s->vm = vm;
	s->slots = sched_host_cpus();
	s->period_ns = 30000000ull;
	s->slice_ns = 10000000ull;
	pthread_mutex_init(&s->lock, NULL);
	for (unsigned i = 0; i < vm->nvcpus; i++) {
		pthread_cond_init(&s->v[i].wake, NULL);
		s->v[i].weight = CREDIT_DEFAULT_WEIGHT;
	}
	if (sched_args_each("credit", args, credit_arg, s, e)) {
		credit_destroy(s);
		return -1;
	}
	credit_refill(s); /* every cap starts with a full budget */
	s->next_refill = sched_now_ns() + s->period_ns;
	*state = s;
	return 0;
}

static int credit_set(void *state, int vcpu, const char *key, const char *value, struct errbuf *e)
{
	struct credit *s = state;
	int r;

	pthread_mutex_lock(&s->lock);
	r = credit_set_locked(s, vcpu, key, value, e);
	pthread_mutex_unlock(&s->lock);
	return r;
}

const struct sched_ops sched_credit = {
	.name = "credit",
	.help = "weights and caps like Xen's credit scheduler: slots=M (host CPUs), period=MS "
		"(30), slice=MS (10), weight[.N]=W (256), cap[.N]=PERCENT of a host CPU (0: none)",
	.create = credit_create,
	.destroy = credit_destroy,
	.enter = credit_enter,
	.leave = credit_leave,
	.tick = credit_tick,
	.tick_ns = CREDIT_TICK_NS,
	.kick = credit_kick,
	.set = credit_set,
};
