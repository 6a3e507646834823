/* Guest memory regions and memory policies: how guest RAM is backed, added, removed and tracked. */
#ifndef KVMLAB_MEM_H
#define KVMLAB_MEM_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "err.h"

struct vm;

enum mem_region_flags {
	MEM_REGION_READONLY = 1u << 0,	/* ROM: guest writes exit to the MMIO bus, memory unchanged */
	MEM_REGION_DIRTY_LOG = 1u << 1, /* track dirty pages (KVM_MEM_LOG_DIRTY_PAGES) */
};

/*
 * Adds a region of guest memory at gpa, backed by the VM's memory policy;
 * allowed before start and while the VM runs or is paused (memslot hot-add).
 * size and gpa are 4 KiB aligned (the policy may require more, e.g. 2 MiB for
 * hugetlb). Refuses overlaps with RAM, other regions and claimed MMIO ranges.
 */
int vm_mem_region_add(struct vm *vm, uint64_t gpa, uint64_t size, uint32_t flags,
		      struct errbuf *e);

/* Removes the region that starts at gpa (added with vm_mem_region_add). */
int vm_mem_region_remove(struct vm *vm, uint64_t gpa, struct errbuf *e);

#endif
