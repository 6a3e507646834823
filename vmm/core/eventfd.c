/* KVM ioeventfds and irqfds for a VM: how virtio kicks and interrupts skip userspace exits. */
#include <linux/kvm.h>
#include <stdio.h>

#include "kvmlab/kvm.h"
#include "vm_internal.h"

int vm_ioeventfd(void *opaque, int fd, uint64_t addr, uint32_t len, uint64_t datamatch, bool assign,
		 struct errbuf *e)
{
	struct vm *vm = opaque;
	struct kvm_ioeventfd io = {
	    .datamatch = datamatch,
	    .addr = addr,
	    .len = len,
	    .fd = fd,
	    .flags = KVM_IOEVENTFD_FLAG_DATAMATCH | (assign ? 0 : KVM_IOEVENTFD_FLAG_DEASSIGN),
	};
	char what[96];

	snprintf(what, sizeof(what), "%s an ioeventfd at MMIO 0x%llx for value %llu",
		 assign ? "registering" : "removing", (unsigned long long)addr,
		 (unsigned long long)datamatch);
	return KVM_IOCTL(vm->vm_fd, KVM_IOEVENTFD, &io, e, what) < 0 ? -1 : 0;
}

int vm_irqfd(void *opaque, int fd, uint32_t gsi, bool assign, struct errbuf *e)
{
	struct vm *vm = opaque;
	struct kvm_irqfd irq = {
	    .fd = (uint32_t)fd, .gsi = gsi, .flags = assign ? 0 : KVM_IRQFD_FLAG_DEASSIGN};
	char what[64];

	snprintf(what, sizeof(what), "%s an irqfd for GSI %u", assign ? "registering" : "removing",
		 gsi);
	return KVM_IOCTL(vm->vm_fd, KVM_IRQFD, &irq, e, what) < 0 ? -1 : 0;
}
