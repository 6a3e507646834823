/* The PIO benchmark VM: the bench_pio guest looping on `out` to a port a trivial device claims. */
#ifndef KVMLAB_BENCH_PIO_VM_H
#define KVMLAB_BENCH_PIO_VM_H

#include <linux/kvm.h>
#include <stdbool.h>
#include <stdint.h>
#include <sys/ioctl.h>

#include "bench.h"
#include "kvmlab/err.h"
#include "kvmlab/vm.h"

#define PIO_VM_PORT  0x5e0 /* guests/bench_pio.c writes here */
#define PIO_VM_GUEST "bench_pio.bin"

/*
 * One VM made by vm_create with the bench_pio guest loaded and entered, plus
 * the device that claims PIO_VM_PORT (its state is hits). Only vCPU 0 exists;
 * it is driven from the calling thread with vcpu_step, so the VM stays
 * CREATED. The struct must not move while the VM exists (the device points
 * into it).
 */
struct pio_vm {
	struct vm *vm;
	struct vcpu *vcpu;
	uint64_t hits; /* port writes the device received */
};

/* o->guest_dir holds bench_pio.bin; a NULL policy or scheduler means the default. */
int pio_vm_create(struct pio_vm *p, const struct bench_options *o, struct errbuf *e);
void pio_vm_destroy(struct pio_vm *p);

/* One exit through kvmlab's whole exit path: KVM_RUN, the VM's exit table,
 * machine_pio, the bus, the device. False if the VM stopped. */
static inline bool pio_vm_step(struct pio_vm *p)
{
	return vcpu_step(p->vcpu) == EXIT_RESUME;
}

/* The reference: the same exit with no kvmlab code on the way, only KVM_RUN
 * and a check that the guest did exit for port I/O. */
static inline bool pio_vm_step_bare(struct pio_vm *p)
{
	return ioctl(p->vcpu->fd, KVM_RUN, 0) == 0 && p->vcpu->run->exit_reason == KVM_EXIT_IO;
}

/* Why the last step failed, for a report: the VM's stop message or the exit. */
void pio_vm_explain(const struct pio_vm *p, const char *what, struct errbuf *e);

#endif
