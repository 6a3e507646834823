/* Questions about a VM's regions and per-range operations: listing, fds, discard, faults. */
#include <string.h>

#include "mem_internal.h"

struct mem_region *mem_region_starting(struct mem_state *ms, uint64_t gpa, struct errbuf *e)
{
	for (unsigned i = 0; i < MEM_MAX_REGIONS; i++)
		if (ms->region[i].used && ms->region[i].gpa == gpa)
			return &ms->region[i];
	err_set(e, "no memory region starts at 0x%llx", (unsigned long long)gpa);
	return NULL;
}

struct mem_region *mem_region_holding(struct mem_state *ms, uint64_t gpa, struct errbuf *e)
{
	for (unsigned i = 0; i < MEM_MAX_REGIONS; i++) {
		struct mem_region *r = &ms->region[i];

		if (r->used && gpa >= r->gpa && gpa - r->gpa < r->size)
			return r;
	}
	err_set(e, "no memory region holds 0x%llx", (unsigned long long)gpa);
	return NULL;
}

unsigned vm_mem_regions(struct vm *vm, struct mem_region_info *out, unsigned max)
{
	struct mem_state *ms = mem_of(vm);
	unsigned n = 0;

	pthread_mutex_lock(&ms->lock);
	for (unsigned i = 0; i < MEM_MAX_REGIONS; i++) {
		const struct mem_region *r = &ms->region[i];

		if (!r->used)
			continue;
		if (n < max)
			out[n] = (struct mem_region_info){
			    .gpa = r->gpa,
			    .size = r->size,
			    .flags = r->flags,
			    .slot = i,
			    .ram = r->ram,
			    .fd = r->b.fd,
			    .fd_offset = r->b.fd_offset,
			};
		n++;
	}
	pthread_mutex_unlock(&ms->lock);
	return n;
}

int vm_mem_fd(struct vm *vm, uint64_t gpa, uint64_t *offset, struct errbuf *e)
{
	struct mem_state *ms = mem_of(vm);
	struct mem_region *r;
	int fd = -1;

	pthread_mutex_lock(&ms->lock);
	r = mem_region_holding(ms, gpa, e);
	if (r && r->b.fd < 0)
		err_set(e,
			"guest memory at 0x%llx has no file descriptor under the %s policy (use "
			"memfd)",
			(unsigned long long)gpa, ms->policy.ops->name);
	else if (r) {
		fd = r->b.fd;
		*offset = r->b.fd_offset + (gpa - r->gpa);
	}
	pthread_mutex_unlock(&ms->lock);
	return fd;
}

int vm_mem_discard(struct vm *vm, uint64_t gpa, uint64_t len, struct errbuf *e)
{
	struct mem_state *ms = mem_of(vm);
	struct mem_region *r;
	int rc = -1;

	pthread_mutex_lock(&ms->lock);
	r = mem_region_holding(ms, gpa, e);
	if (r && (r->flags & MEM_REGION_READONLY))
		err_set(e, "the region at 0x%llx is read-only: discarding would lose its contents",
			(unsigned long long)r->gpa);
	else if (r)
		rc = mem_backing_discard(&ms->policy, &r->b, gpa - r->gpa, len, e);
	pthread_mutex_unlock(&ms->lock);
	return rc;
}

int vm_mem_set_fault_handler(struct vm *vm, const struct mem_fault_ops *ops, struct errbuf *e)
{
	return mem_policy_set_fault_handler(&mem_of(vm)->policy, ops, e);
}
