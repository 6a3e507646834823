/* Pieces shared between vm.c (creation) and run.c (vCPU threads and lifecycle). */
#ifndef KVMLAB_VM_INTERNAL_H
#define KVMLAB_VM_INTERNAL_H

#include <signal.h>

#include "kvmlab/vm.h"

/* Interrupts KVM_RUN on a vCPU thread; its handler does nothing. */
#define VCPU_KICK_SIGNAL SIGUSR2

/* machine.on_stop for VMs: wakes vm_wait and kicks every vCPU out of KVM_RUN. */
void vm_on_stop(void *opaque);

/* Creates guest RAM (per cfg.mem_size and cfg.mem_policy) and its KVM slots. */
int vm_memory_init(struct vm *vm, struct errbuf *e);

/* Releases guest RAM; safe on a partly initialised VM. */
void vm_memory_destroy(struct vm *vm);

/* Initialises wait_cond on the monotonic clock. */
void vm_wait_cond_init(struct vm *vm);

/* machine.set_irq for VMs with the in-kernel irqchip: KVM_IRQ_LINE (irq.c). */
void vm_irq_line(void *opaque, uint32_t gsi, bool level);

/* machine.ioeventfd and machine.irqfd for VMs: KVM_IOEVENTFD, KVM_IRQFD (eventfd.c). */
int vm_ioeventfd(void *opaque, int fd, uint64_t addr, uint32_t len, uint64_t datamatch,
		 bool assign, struct errbuf *e);
int vm_irqfd(void *opaque, int fd, uint32_t gsi, bool assign, struct errbuf *e);

#endif
