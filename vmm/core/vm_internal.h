/* Pieces shared between vm.c (creation) and run.c (vCPU threads and lifecycle). */
#ifndef KVMLAB_VM_INTERNAL_H
#define KVMLAB_VM_INTERNAL_H

#include <signal.h>

#include "kvmlab/vm.h"

/* Interrupts KVM_RUN on a vCPU thread; its handler does nothing. */
#define VCPU_KICK_SIGNAL SIGUSR2

/* machine.on_stop for VMs: wakes vm_wait and kicks every vCPU out of KVM_RUN. */
void vm_on_stop(void *opaque);

/* Initialises wait_cond on the monotonic clock. */
void vm_wait_cond_init(struct vm *vm);

#endif
