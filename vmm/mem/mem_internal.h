/* Internals of the memory subsystem shared by memory.c, dirty.c and the policy files. */
#ifndef KVMLAB_MEM_INTERNAL_H
#define KVMLAB_MEM_INTERNAL_H

#include <linux/kvm.h>
#include <pthread.h>

#include "kvmlab/exit.h"
#include "kvmlab/mem.h"
#include "kvmlab/vm.h"

/* ---- building blocks for policies ---- */

/* Maps b->size bytes of private anonymous memory at an align-aligned address. */
int mem_map_anon(struct mem_backing *b, uint64_t align, int extra_flags, struct errbuf *e);

/* madvise over [off, off + len) of b, with a report naming what it was for. */
int mem_madvise(struct mem_backing *b, uint64_t off, uint64_t len, int advice, const char *what,
		struct errbuf *e);

void mem_unmap(struct mem_backing *b);

/* The anon policy's hooks, reused by policies that are "anon plus something". */
int mem_anon_alloc(struct mem_policy *p, struct mem_backing *b, struct errbuf *e);
int mem_anon_discard(struct mem_policy *p, struct mem_backing *b, uint64_t off, uint64_t len,
		     struct errbuf *e);
void mem_anon_free(struct mem_policy *p, struct mem_backing *b);

/* ---- per-VM state (vm->mem_state) ---- */

struct mem_region {
	bool used;   /* this table entry holds a region */
	bool in_kvm; /* KVM has its slot (false only after KVM refused a hot-add) */
	bool ram;
	uint32_t flags; /* enum mem_region_flags */
	uint64_t gpa;
	uint64_t size;
	struct mem_backing b;
	uint64_t *ring_dirty; /* dirty-ring mode: pages harvested and not yet fetched */
};

/*
 * lock guards the region table, the rings' read positions and the ring
 * bitmaps; it is never held while waiting for vCPUs, so a vCPU thread may
 * take it (ring-full exits, hot-add from a ucall). remove_lock serialises
 * removals, which pause the VM while holding it; vCPU threads never take it.
 */
struct mem_state {
	pthread_mutex_t lock;
	pthread_mutex_t remove_lock;
	struct mem_policy policy;
	bool policy_ready;
	struct mem_region region[MEM_MAX_REGIONS]; /* index = KVM slot */
	bool readonly_ok;
	bool manual_protect;
	uint32_t ring_entries; /* 0: bitmap mode */
	struct kvm_dirty_gfn *ring[VM_MAX_VCPUS];
	uint32_t ring_next[VM_MAX_VCPUS];
	struct exit_handler ring_full;
};

static inline struct mem_state *mem_of(struct vm *vm)
{
	return vm->mem_state;
}

/* The region starting at (holding) gpa, or NULL with a report. Called with lock held. */
struct mem_region *mem_region_starting(struct mem_state *ms, uint64_t gpa, struct errbuf *e);
struct mem_region *mem_region_holding(struct mem_state *ms, uint64_t gpa, struct errbuf *e);

/* (Re)writes region r's KVM slot with its current flags, or deletes it when !r->in_kvm. */
int mem_slot_set(struct vm *vm, struct mem_state *ms, struct mem_region *r, struct errbuf *e);

/* ---- dirty logging (dirty.c) ---- */

/* Enables manual clearing, or the rings when ring_entries != 0 (before vCPUs exist). */
int mem_dirty_init(struct vm *vm, struct mem_state *ms, uint32_t ring_entries, struct errbuf *e);

/* Allocates or frees a region's ring bitmap as its logging turns on or off. */
int mem_dirty_region_on(struct mem_state *ms, struct mem_region *r, struct errbuf *e);
void mem_dirty_region_off(struct mem_region *r);

/* Drains every ring into the region bitmaps; lock held. */
long mem_ring_harvest_locked(struct vm *vm, struct mem_state *ms, struct errbuf *e);

void mem_dirty_destroy(struct vm *vm, struct mem_state *ms);

#endif
