/* Dirty-page tracking per region: KVM's bitmap (with manual clearing) or per-vCPU dirty rings. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include "kvmlab/kvm.h"
#include "mem_internal.h"

static enum exit_action mem_ring_full_exit(struct vcpu *v, void *opaque)
{
	struct vm *vm = opaque;
	struct mem_state *ms = mem_of(vm);
	struct errbuf e;
	long n;

	/* KVM lets the vCPU back in only once its ring has room again. */
	pthread_mutex_lock(&ms->lock);
	n = mem_ring_harvest_locked(vm, ms, &e);
	pthread_mutex_unlock(&ms->lock);
	if (n < 0) {
		machine_stop(&vm->m, STOP_HOST_ERROR, 0, "vCPU %u: dirty ring full: %s", v->id,
			     e.msg);
		return EXIT_STOP;
	}
	return EXIT_RESUME;
}

static int mem_ring_enable(struct vm *vm, struct mem_state *ms, uint32_t entries, struct errbuf *e)
{
	uint64_t bytes = (uint64_t)entries * sizeof(struct kvm_dirty_gfn);
	int acq_rel = kvm_cap(vm->vm_fd, KVM_CAP_DIRTY_LOG_RING_ACQ_REL, e);
	int max = acq_rel > 0 ? acq_rel : kvm_cap(vm->vm_fd, KVM_CAP_DIRTY_LOG_RING, e);
	struct kvm_enable_cap cap = {
	    .cap = acq_rel > 0 ? KVM_CAP_DIRTY_LOG_RING_ACQ_REL : KVM_CAP_DIRTY_LOG_RING,
	    .args = {bytes},
	};

	if (entries & (entries - 1))
		return err_set(e, "dirty_ring=%u is not a power of two", entries);
	if (max <= 0)
		return err_set(e,
			       "dirty_ring: this KVM has no dirty ring (KVM_CAP_DIRTY_LOG_RING)");
	if (bytes > (uint64_t)max)
		return err_set(e, "dirty_ring=%u is more than this KVM's %d entries", entries,
			       max / (int)sizeof(struct kvm_dirty_gfn));
	if (KVM_IOCTL(vm->vm_fd, KVM_ENABLE_CAP, &cap, e, "enabling the dirty ring") < 0)
		return -1;
	ms->ring_entries = entries;
	ms->ring_full = (struct exit_handler){mem_ring_full_exit, vm, "dirty-ring-full"};
	exit_table_set(&vm->exits, KVM_EXIT_DIRTY_RING_FULL, &ms->ring_full);
	return 0;
}

int mem_dirty_init(struct vm *vm, struct mem_state *ms, uint32_t ring_entries, struct errbuf *e)
{
	struct kvm_enable_cap cap = {
	    .cap = KVM_CAP_MANUAL_DIRTY_LOG_PROTECT2,
	    .args = {KVM_DIRTY_LOG_MANUAL_PROTECT_ENABLE},
	};

	if (ring_entries)
		return mem_ring_enable(vm, ms, ring_entries, e);
	/* Without INITIALLY_SET: a region's log starts empty, so it is exact from the start. */
	if (kvm_cap(vm->vm_fd, KVM_CAP_MANUAL_DIRTY_LOG_PROTECT2, e) <= 0)
		return 0;
	if (KVM_IOCTL(vm->vm_fd, KVM_ENABLE_CAP, &cap, e, "enabling manual dirty-log clearing") < 0)
		return -1;
	ms->manual_protect = true;
	return 0;
}

int mem_dirty_region_on(struct mem_state *ms, struct mem_region *r, struct errbuf *e)
{
	if (!ms->ring_entries || r->ring_dirty)
		return 0;
	r->ring_dirty = calloc(MEM_DIRTY_BITMAP_WORDS(r->size), sizeof(uint64_t));
	if (!r->ring_dirty)
		return err_set(e, "out of memory for the dirty bitmap of the region at 0x%llx",
			       (unsigned long long)r->gpa);
	return 0;
}

void mem_dirty_region_off(struct mem_region *r)
{
	free(r->ring_dirty);
	r->ring_dirty = NULL;
}

static int mem_ring_map(struct vm *vm, struct mem_state *ms, unsigned i, struct errbuf *e)
{
	size_t bytes = (size_t)ms->ring_entries * sizeof(struct kvm_dirty_gfn);
	void *ring = mmap(NULL, bytes, PROT_READ | PROT_WRITE, MAP_SHARED, vm->vcpus[i].fd,
			  (off_t)KVM_DIRTY_LOG_PAGE_OFFSET * getpagesize());

	if (ring == MAP_FAILED)
		return err_errno(e, "cannot map the dirty ring of vCPU %u", i);
	ms->ring[i] = ring;
	return 0;
}

static void mem_ring_mark(struct mem_state *ms, uint32_t slot, uint64_t page)
{
	struct mem_region *r;

	/* The high 16 bits name the address space; kvmlab uses only 0. */
	if (slot >= MEM_MAX_REGIONS)
		return;
	r = &ms->region[slot];
	if (r->used && r->ring_dirty && page < r->size / MEM_PAGE_SIZE)
		r->ring_dirty[page / 64] |= 1ull << (page % 64);
}

long mem_ring_harvest_locked(struct vm *vm, struct mem_state *ms, struct errbuf *e)
{
	long n = 0;

	for (unsigned i = 0; i < vm->nvcpus; i++) {
		if (!ms->ring[i] && mem_ring_map(vm, ms, i, e))
			return -1;
		for (;;) {
			struct kvm_dirty_gfn *g =
			    &ms->ring[i][ms->ring_next[i] & (ms->ring_entries - 1)];

			/* Acquire pairs with KVM's release of the entry
			 * (KVM_CAP_DIRTY_LOG_RING_ACQ_REL). */
			if (!(__atomic_load_n(&g->flags, __ATOMIC_ACQUIRE) & KVM_DIRTY_GFN_F_DIRTY))
				break;
			mem_ring_mark(ms, g->slot, g->offset);
			__atomic_store_n(&g->flags, KVM_DIRTY_GFN_F_RESET, __ATOMIC_RELEASE);
			ms->ring_next[i]++;
			n++;
		}
	}
	if (n && KVM_IOCTL(vm->vm_fd, KVM_RESET_DIRTY_RINGS, NULL, e,
			   "re-protecting harvested dirty pages") < 0)
		return -1;
	return n;
}

void mem_dirty_destroy(struct vm *vm, struct mem_state *ms)
{
	size_t bytes = (size_t)ms->ring_entries * sizeof(struct kvm_dirty_gfn);

	for (unsigned i = 0; i < VM_MAX_VCPUS; i++)
		if (ms->ring[i])
			munmap(ms->ring[i], bytes);
	(void)vm;
}

int vm_dirty_log_enable(struct vm *vm, uint64_t gpa, bool on, struct errbuf *e)
{
	struct mem_state *ms = mem_of(vm);
	struct mem_region *r;
	uint32_t old;
	int rc = -1;

	pthread_mutex_lock(&ms->lock);
	r = mem_region_starting(ms, gpa, e);
	if (!r)
		goto out;
	old = r->flags;
	if (!r->in_kvm) {
		err_set(e,
			"the region at 0x%llx is not in the guest's memory (KVM refused it); "
			"remove it",
			(unsigned long long)gpa);
		goto out;
	}
	if (!!(old & MEM_REGION_DIRTY_LOG) == on) {
		rc = 0;
		goto out;
	}
	if (on && mem_dirty_region_on(ms, r, e))
		goto out;
	r->flags = on ? old | MEM_REGION_DIRTY_LOG : old & ~(uint32_t)MEM_REGION_DIRTY_LOG;
	if (mem_slot_set(vm, ms, r, e)) {
		r->flags = old;
		if (on)
			mem_dirty_region_off(r);
		goto out;
	}
	if (!on) {
		struct errbuf ignored;

		/* Drain what the rings hold for this slot, so turning it on again starts empty. */
		if (ms->ring_entries)
			mem_ring_harvest_locked(vm, ms, &ignored);
		mem_dirty_region_off(r);
	}
	rc = 0;
out:
	pthread_mutex_unlock(&ms->lock);
	return rc;
}

int vm_dirty_log_get(struct vm *vm, uint64_t gpa, uint64_t *bitmap, size_t nwords, struct errbuf *e)
{
	struct mem_state *ms = mem_of(vm);
	struct mem_region *r;
	size_t need;
	int rc = -1;

	pthread_mutex_lock(&ms->lock);
	r = mem_region_starting(ms, gpa, e);
	if (!r)
		goto out;
	need = MEM_DIRTY_BITMAP_WORDS(r->size);
	if (!(r->flags & MEM_REGION_DIRTY_LOG)) {
		err_set(e, "dirty logging is off for the region at 0x%llx",
			(unsigned long long)gpa);
	} else if (nwords < need) {
		err_set(e,
			"a dirty bitmap of %zu words is too small for the region at 0x%llx (%zu)",
			nwords, (unsigned long long)gpa, need);
	} else if (ms->ring_entries) {
		if (mem_ring_harvest_locked(vm, ms, e) < 0)
			goto out;
		memcpy(bitmap, r->ring_dirty, need * sizeof(uint64_t));
		memset(r->ring_dirty, 0, need * sizeof(uint64_t));
		rc = 0;
	} else {
		uint32_t slot = (uint32_t)(r - ms->region);
		struct kvm_dirty_log log = {.slot = slot, .dirty_bitmap = bitmap};
		struct kvm_clear_dirty_log clear = {
		    .slot = slot,
		    .num_pages = (uint32_t)(r->size / MEM_PAGE_SIZE),
		    .first_page = 0,
		    .dirty_bitmap = bitmap,
		};

		if (KVM_IOCTL(vm->vm_fd, KVM_GET_DIRTY_LOG, &log, e, "reading a dirty log") < 0)
			goto out;
		/* With manual protection GET only reads; CLEAR re-protects exactly those pages. */
		if (ms->manual_protect && KVM_IOCTL(vm->vm_fd, KVM_CLEAR_DIRTY_LOG, &clear, e,
						    "clearing a dirty log") < 0)
			goto out;
		rc = 0;
	}
out:
	pthread_mutex_unlock(&ms->lock);
	return rc;
}

enum mem_dirty_mode vm_dirty_log_mode(struct vm *vm)
{
	return mem_of(vm)->ring_entries ? MEM_DIRTY_RING : MEM_DIRTY_BITMAP;
}

long vm_dirty_ring_harvest(struct vm *vm, struct errbuf *e)
{
	struct mem_state *ms = mem_of(vm);
	long n;

	if (!ms->ring_entries)
		return err_set(e, "this VM logs dirty pages in bitmaps, not rings (dirty_ring=N)");
	pthread_mutex_lock(&ms->lock);
	n = mem_ring_harvest_locked(vm, ms, e);
	pthread_mutex_unlock(&ms->lock);
	return n;
}
