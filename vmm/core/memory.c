/* Guest RAM and regions: the layout around the MMIO hole, KVM slots, hot-add and hot-remove. */
#include <linux/kvm.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "../mem/mem_internal.h"
#include "kvmlab/kvm.h"
#include "vm_internal.h"

int mem_slot_set(struct vm *vm, struct mem_state *ms, struct mem_region *r, struct errbuf *e)
{
	struct kvm_userspace_memory_region kr = {
	    .slot = (uint32_t)(r - ms->region),
	    .flags = ((r->flags & MEM_REGION_READONLY) ? KVM_MEM_READONLY : 0) |
		     ((r->flags & MEM_REGION_DIRTY_LOG) ? KVM_MEM_LOG_DIRTY_PAGES : 0),
	    .guest_phys_addr = r->gpa,
	    .memory_size = r->in_kvm ? r->size : 0,
	    .userspace_addr = (uintptr_t)r->b.host,
	};
	char what[96];

	snprintf(what, sizeof(what), "%s the memory slot at 0x%llx",
		 r->in_kvm ? "setting" : "deleting", (unsigned long long)r->gpa);
	return KVM_IOCTL(vm->vm_fd, KVM_SET_USER_MEMORY_REGION, &kr, e, what) < 0 ? -1 : 0;
}

/*
 * Backing, then gmem, then the KVM slot: devices see new memory no later than
 * the guest does. If KVM then refuses the slot, a device may already hold a
 * pointer into the region, and gmem entries can only be taken back with the VM
 * paused: so the region stays, published to gmem but not to the guest, until
 * vm_mem_region_remove (which pauses) or vm_destroy frees it.
 */
static int mem_region_add_locked(struct vm *vm, struct mem_state *ms, uint64_t gpa, uint64_t size,
				 uint32_t flags, bool ram, struct errbuf *e)
{
	struct mem_range taken[MEM_MAX_REGIONS];
	struct mem_region *r = NULL;
	unsigned n = 0;

	for (unsigned i = 0; i < MEM_MAX_REGIONS; i++) {
		if (ms->region[i].used)
			taken[n++] = (struct mem_range){ms->region[i].gpa, ms->region[i].size};
		else if (!r)
			r = &ms->region[i];
	}
	if (mem_region_check(taken, n, &vm->m.mmio, gpa, size, flags, ms->policy.page_size, e))
		return -1;
	if (!r)
		return err_set(e, "too many memory regions (at most %d)", MEM_MAX_REGIONS);
	if ((flags & MEM_REGION_READONLY) && !ms->readonly_ok)
		return err_set(e, "this KVM has no read-only memory (KVM_CAP_READONLY_MEM)");
	if (mem_backing_alloc(&ms->policy, &r->b, gpa, size, e)) {
		memset(r, 0, sizeof(*r));
		return -1;
	}
	r->used = true;
	r->ram = ram;
	r->flags = flags;
	r->gpa = gpa;
	r->size = size;
	if ((flags & MEM_REGION_DIRTY_LOG) && mem_dirty_region_on(ms, r, e))
		goto fail;
	if (gmem_add(&vm->m.mem, gpa, size, r->b.host,
		     (flags & MEM_REGION_READONLY) ? GMEM_READONLY : 0, e))
		goto fail;
	r->in_kvm = true;
	if (mem_slot_set(vm, ms, r, e)) {
		char why[ERR_MSG_LEN];

		r->in_kvm = false;
		snprintf(why, sizeof(why), "%s", e->msg);
		return err_set(e, "%s; 0x%llx stays reserved until vm_mem_region_remove", why,
			       (unsigned long long)gpa);
	}
	return 0;
fail:
	mem_dirty_region_off(r);
	mem_backing_free(&ms->policy, &r->b);
	memset(r, 0, sizeof(*r));
	return -1;
}

/* The machine's discard hook (virtio-balloon). */
static int vm_memory_discard(void *opaque, uint64_t gpa, uint64_t len, struct errbuf *e)
{
	return vm_mem_discard(opaque, gpa, len, e);
}

/* RAM from 0 up to the MMIO hole at 3 GiB; the rest continues at 4 GiB. */
int vm_memory_init(struct vm *vm, struct errbuf *e)
{
	uint64_t size = vm->cfg.mem_size;
	uint32_t ring;
	struct mem_range ram[2];
	struct mem_state *ms;
	struct mem_opts o;
	unsigned n;

	if (size < (2ull << 20) || size % MEM_PAGE_SIZE)
		return err_set(e,
			       "guest memory size %llu is not a multiple of 4 KiB of at least "
			       "2 MiB",
			       (unsigned long long)size);
	ms = calloc(1, sizeof(*ms));
	if (!ms)
		return err_set(e, "out of memory creating the memory state");
	pthread_mutex_init(&ms->lock, NULL);
	pthread_mutex_init(&ms->remove_lock, NULL);
	vm->mem_state = ms;
	if (mem_spec_parse(vm->cfg.mem_policy, &o, e) || mem_opts_take_vm(&o, &ring, e) ||
	    mem_policy_init(&ms->policy, &o, &vm->m, e))
		return -1;
	ms->policy_ready = true;
	if (size % ms->policy.page_size)
		return err_set(e,
			       "guest memory size %llu KiB is not a multiple of the %s policy's "
			       "%llu KiB page",
			       (unsigned long long)(size >> 10), ms->policy.ops->name,
			       (unsigned long long)(ms->policy.page_size >> 10));
	ms->readonly_ok = kvm_cap(vm->vm_fd, KVM_CAP_READONLY_MEM, e) > 0;
	if (mem_dirty_init(vm, ms, ring, e))
		return -1;
	n = mem_ram_ranges(size, ram);
	for (unsigned i = 0; i < n; i++)
		if (mem_region_add_locked(vm, ms, ram[i].gpa, ram[i].size, 0, true, e))
			return -1;
	vm->ram = ms->region[0].b.host;
	vm->m.discard = vm_memory_discard;
	vm->m.discard_opaque = vm;
	vm->m.discard_align = ms->policy.page_size;
	vm->m.discard_min = ms->policy.ops->discard_min ? ms->policy.ops->discard_min
						       : ms->policy.page_size;
	return 0;
}

void vm_memory_destroy(struct vm *vm)
{
	struct mem_state *ms = mem_of(vm);
	struct errbuf ignored;

	if (!ms)
		return;
	mem_dirty_destroy(vm, ms);
	for (unsigned i = 0; i < MEM_MAX_REGIONS; i++) {
		struct mem_region *r = &ms->region[i];

		if (!r->used)
			continue;
		gmem_remove(&vm->m.mem, r->gpa, &ignored);
		mem_dirty_region_off(r);
		mem_backing_free(&ms->policy, &r->b);
	}
	if (ms->policy_ready)
		mem_policy_close(&ms->policy);
	pthread_mutex_destroy(&ms->lock);
	pthread_mutex_destroy(&ms->remove_lock);
	free(ms);
	vm->mem_state = NULL;
	vm->ram = NULL;
}

int vm_mem_region_add(struct vm *vm, uint64_t gpa, uint64_t size, uint32_t flags, struct errbuf *e)
{
	struct mem_state *ms = mem_of(vm);
	int r;

	if (flags & ~(uint32_t)(MEM_REGION_READONLY | MEM_REGION_DIRTY_LOG))
		return err_set(e, "unknown memory region flags 0x%x", flags);
	pthread_mutex_lock(&ms->lock);
	r = mem_region_add_locked(vm, ms, gpa, size, flags, false, e);
	pthread_mutex_unlock(&ms->lock);
	return r;
}

static bool on_vcpu_thread(struct vm *vm)
{
	for (unsigned i = 0; i < vm->nvcpus; i++)
		if (vm->vcpus[i].thread_started &&
		    pthread_equal(vm->vcpus[i].thread, pthread_self()))
			return true;
	return false;
}

/* Called with both locks held and no vCPU in KVM_RUN or an exit handler. */
static int mem_region_unplug(struct vm *vm, struct mem_state *ms, struct mem_region *r,
			     struct mem_backing *b, uint64_t **ring_dirty, struct errbuf *e)
{
	struct errbuf ignored;

	/* Rings may hold entries for this slot: drain them before the slot number is reused. */
	if (ms->ring_entries)
		mem_ring_harvest_locked(vm, ms, &ignored);
	if (r->in_kvm) {
		r->in_kvm = false;
		if (mem_slot_set(vm, ms, r, e)) {
			r->in_kvm = true;
			return -1;
		}
	}
	gmem_remove(&vm->m.mem, r->gpa, &ignored);
	*b = r->b;
	*ring_dirty = r->ring_dirty;
	memset(r, 0, sizeof(*r));
	return 0;
}

int vm_mem_region_remove(struct vm *vm, uint64_t gpa, struct errbuf *e)
{
	struct mem_state *ms = mem_of(vm);
	uint64_t *ring_dirty = NULL;
	struct mem_backing b = {.host = NULL};
	struct mem_region *r;
	bool paused = false;
	int rc = -1;

	pthread_mutex_lock(&ms->remove_lock);
	pthread_mutex_lock(&ms->lock);
	r = mem_region_starting(ms, gpa, e);
	if (r && r->ram) {
		err_set(e,
			"the RAM at 0x%llx comes from the VM's memory size and cannot be removed",
			(unsigned long long)gpa);
		r = NULL;
	}
	pthread_mutex_unlock(&ms->lock);
	if (!r)
		goto out;
	if (vm_get_state(vm) == VM_RUNNING) {
		if (on_vcpu_thread(vm)) {
			err_set(e, "cannot remove memory from a vCPU thread of a running VM");
			goto out;
		}
		if (vm_pause(vm, e))
			goto out;
		paused = true;
	}
	pthread_mutex_lock(&ms->lock);
	rc = mem_region_unplug(vm, ms, r, &b, &ring_dirty, e);
	pthread_mutex_unlock(&ms->lock);
	if (paused) {
		struct errbuf ignored;

		vm_resume(vm, &ignored);
	}
	/* Nothing can reach the backing now: no slot, no gmem entry, no vCPU mid-exit. */
	mem_backing_free(&ms->policy, &b);
	free(ring_dirty);
out:
	pthread_mutex_unlock(&ms->remove_lock);
	return rc;
}
