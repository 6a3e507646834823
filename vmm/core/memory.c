/* Guest RAM: backing memory, KVM memory slots, and the layout around the MMIO hole. */
#include <linux/kvm.h>
#include <sys/mman.h>

#include "kvmlab/kvm.h"
#include "vm_internal.h"

#define MMIO_HOLE_START (3ull << 30)
#define HIGH_RAM_START	(4ull << 30)

static int vm_map_ram_slot(struct vm *vm, uint32_t slot, uint64_t gpa, uint64_t size,
			   uint8_t *host, struct errbuf *e)
{
	struct kvm_userspace_memory_region r = {
		.slot = slot,
		.guest_phys_addr = gpa,
		.memory_size = size,
		.userspace_addr = (uintptr_t)host,
	};

	if (KVM_IOCTL(vm->vm_fd, KVM_SET_USER_MEMORY_REGION, &r, e, "mapping guest RAM"))
		return -1;
	return gmem_add(&vm->m.mem, gpa, size, host, 0, e);
}

/* RAM from 0 up to the MMIO hole at 3 GiB; the rest continues at 4 GiB. */
int vm_memory_init(struct vm *vm, struct errbuf *e)
{
	uint64_t size = vm->cfg.mem_size;
	uint64_t low = size < MMIO_HOLE_START ? size : MMIO_HOLE_START;

	if (size < (2ull << 20) || size % 4096)
		return err_set(e, "guest memory size %llu is not a multiple of 4 KiB of at least "
				  "2 MiB",
			       (unsigned long long)size);
	vm->ram = mmap(NULL, size, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE,
		       -1, 0);
	if (vm->ram == MAP_FAILED) {
		vm->ram = NULL;
		return err_errno(e, "cannot reserve %llu MiB of guest RAM",
				 (unsigned long long)(size >> 20));
	}
	/* Debian enables THP for all memory: keep the default policy at 4 KiB pages. */
	madvise(vm->ram, size, MADV_NOHUGEPAGE);
	if (vm_map_ram_slot(vm, 0, 0, low, vm->ram, e))
		return -1;
	if (size > low && vm_map_ram_slot(vm, 1, HIGH_RAM_START, size - low,
					  (uint8_t *)vm->ram + low, e))
		return -1;
	return 0;
}

void vm_memory_destroy(struct vm *vm)
{
	if (vm->ram)
		munmap(vm->ram, vm->cfg.mem_size);
	vm->ram = NULL;
}
