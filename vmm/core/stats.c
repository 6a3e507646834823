/* Exit statistics: a wrapping handler per exit reason that counts, times and attributes exits. */
#include <linux/kvm.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "kvmlab/stats.h"
#include "kvmlab/vm.h"

/* One tracked port or MMIO range; key is address + 1 so that 0 means free. */
struct stats_slot {
	_Atomic uint64_t key;
	const char *_Atomic name;
	_Atomic uint64_t count;
};

struct stats_counters {
	_Atomic uint64_t count;
	_Atomic uint64_t total_ns;
	_Atomic uint64_t hist[STATS_HIST_BUCKETS];
};

struct stats_wrapper {
	struct exit_handler handler; /* what the exit table points at */
	const struct exit_handler *inner;
	struct vm_stats *stats;
	unsigned reason;
};

struct vm_stats {
	struct vm *vm;
	bool enabled;
	struct stats_wrapper wrap[EXIT_TABLE_SIZE];
	struct stats_counters reason[EXIT_TABLE_SIZE];
	struct stats_slot pio[STATS_MAX_PORTS];
	struct stats_slot mmio[STATS_MAX_PORTS];
	_Atomic uint64_t other_pio, other_mmio;
};

static uint64_t now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;
}

/* Counts one exit at key in a small open-addressing table; full tables spill to other. */
static void stats_count_addr(struct stats_slot *slots, _Atomic uint64_t *other, uint64_t addr,
			     const char *name)
{
	uint64_t key = addr + 1;
	unsigned start = (unsigned)(key * 0x9e3779b97f4a7c15ull >> 58) % STATS_MAX_PORTS;

	for (unsigned i = 0; i < STATS_MAX_PORTS; i++) {
		struct stats_slot *s = &slots[(start + i) % STATS_MAX_PORTS];
		uint64_t seen = atomic_load_explicit(&s->key, memory_order_acquire);

		if (seen == 0) {
			uint64_t expected = 0;

			if (atomic_compare_exchange_strong(&s->key, &expected, key)) {
				atomic_store(&s->name, name);
				seen = key;
			} else {
				seen = expected;
			}
		}
		if (seen == key) {
			atomic_fetch_add_explicit(&s->count, 1, memory_order_relaxed);
			return;
		}
	}
	atomic_fetch_add_explicit(other, 1, memory_order_relaxed);
}

static void stats_attribute(struct vm_stats *st, struct vcpu *v, unsigned reason)
{
	struct kvm_run *run = v->run;

	if (reason == KVM_EXIT_IO) {
		const struct bus_range *r = bus_find(&v->vm->m.pio, run->io.port, run->io.size);

		stats_count_addr(st->pio, &st->other_pio, run->io.port,
				 r ? r->name : "unclaimed");
	} else if (reason == KVM_EXIT_MMIO) {
		const struct bus_range *r =
			bus_find(&v->vm->m.mmio, run->mmio.phys_addr, run->mmio.len);

		stats_count_addr(st->mmio, &st->other_mmio, r ? r->base : run->mmio.phys_addr,
				 r ? r->name : "unclaimed");
	}
}

static enum exit_action stats_handle(struct vcpu *v, void *opaque)
{
	struct stats_wrapper *w = opaque;
	struct stats_counters *c = &w->stats->reason[w->reason];
	enum exit_action action;
	uint64_t start, ns;
	unsigned bucket;

	stats_attribute(w->stats, v, w->reason);
	start = now_ns();
	action = w->inner->fn(v, w->inner->opaque);
	ns = now_ns() - start;
	bucket = ns ? 63u - (unsigned)__builtin_clzll(ns) : 0;
	if (bucket >= STATS_HIST_BUCKETS)
		bucket = STATS_HIST_BUCKETS - 1;
	atomic_fetch_add_explicit(&c->count, 1, memory_order_relaxed);
	atomic_fetch_add_explicit(&c->total_ns, ns, memory_order_relaxed);
	atomic_fetch_add_explicit(&c->hist[bucket], 1, memory_order_relaxed);
	return action;
}

static void stats_free(void *opaque)
{
	free(opaque);
}

int stats_enable(struct vm *vm, struct errbuf *e)
{
	struct vm_stats *st = vm->stats;

	if (!st) {
		st = calloc(1, sizeof(*st));
		if (!st)
			return err_set(e, "out of memory for exit statistics");
		/* Freed with the machine, never on disable: a vCPU may still be inside a wrapper. */
		if (machine_on_destroy(&vm->m, stats_free, st, e)) {
			free(st);
			return -1;
		}
		st->vm = vm;
		vm->stats = st;
	}
	if (st->enabled)
		return 0;
	for (unsigned r = 0; r < EXIT_TABLE_SIZE; r++) {
		struct stats_wrapper *w = &st->wrap[r];

		w->handler = (struct exit_handler){stats_handle, w, "stats"};
		w->stats = st;
		w->reason = r;
		/* Publish inner before the wrapper can run: read the current handler first. */
		w->inner = atomic_load(&vm->exits.slot[r]);
		w->inner = exit_table_set(&vm->exits, r, &w->handler);
	}
	st->enabled = true;
	return 0;
}

void stats_disable(struct vm *vm)
{
	struct vm_stats *st = vm->stats;

	if (!st || !st->enabled)
		return;
	for (unsigned r = 0; r < EXIT_TABLE_SIZE; r++) {
		const struct exit_handler *expected = &st->wrap[r].handler;

		/* Only unwrap our own wrapper; a handler installed on top of it stays. */
		atomic_compare_exchange_strong(&vm->exits.slot[r], &expected, st->wrap[r].inner);
	}
	st->enabled = false;
}

static void stats_copy_slots(const struct stats_slot *slots, struct stats_addr *out,
			     unsigned *n)
{
	*n = 0;
	for (unsigned i = 0; i < STATS_MAX_PORTS; i++) {
		uint64_t key = atomic_load(&slots[i].key);

		if (!key)
			continue;
		out[*n] = (struct stats_addr){
			.addr = key - 1,
			.name = atomic_load(&slots[i].name),
			.count = atomic_load(&slots[i].count),
		};
		if (!out[*n].name)
			out[*n].name = "?";
		(*n)++;
	}
}

int stats_read(struct vm *vm, struct stats_snapshot *out, struct errbuf *e)
{
	struct vm_stats *st = vm->stats;

	memset(out, 0, sizeof(*out));
	out->unclaimed_pio_reads = atomic_load(&vm->m.pio.unclaimed_reads);
	out->unclaimed_pio_writes = atomic_load(&vm->m.pio.unclaimed_writes);
	out->unclaimed_mmio_reads = atomic_load(&vm->m.mmio.unclaimed_reads);
	out->unclaimed_mmio_writes = atomic_load(&vm->m.mmio.unclaimed_writes);
	if (!st)
		return err_set(e, "exit statistics were never enabled for this VM");
	for (unsigned r = 0; r < EXIT_TABLE_SIZE; r++) {
		out->reason[r].count = atomic_load(&st->reason[r].count);
		out->reason[r].total_ns = atomic_load(&st->reason[r].total_ns);
		for (unsigned b = 0; b < STATS_HIST_BUCKETS; b++)
			out->reason[r].hist[b] = atomic_load(&st->reason[r].hist[b]);
	}
	stats_copy_slots(st->pio, out->pio, &out->npio);
	stats_copy_slots(st->mmio, out->mmio, &out->nmmio);
	out->other_pio = atomic_load(&st->other_pio);
	out->other_mmio = atomic_load(&st->other_mmio);
	return 0;
}
