/* The exit benchmark VM: guests/bench_exits.c repeating one kind of exit, and the devices it hits.
 */
#ifndef KVMLAB_BENCH_EXIT_VM_H
#define KVMLAB_BENCH_EXIT_VM_H

#include <stdbool.h>
#include <stdint.h>

#include "bench.h"
#include "kvmlab/err.h"
#include "kvmlab/vm.h"

/* Keep in step with guests/bench_exits.c. */
#define EXIT_VM_GUEST	  "bench_exits.bin"
#define EXIT_VM_CFG_PORT  0x5c0 /* inl: kind; +4 batch; +8, +12, +16 touch gpa, pages, stride */
#define EXIT_VM_OP_PORT	  0x5f0
#define EXIT_VM_MMIO	  0xe0000000ull /* OP at +0, REPORT at +8, EMU at +0x10 */
#define EXIT_VM_IOEVENTFD (EXIT_VM_MMIO + 0x1000)
#define EXIT_VM_IRQ_GSI	  20

enum exit_kind {
	EXIT_KIND_PIO = 0,     /* OUT to a port a userspace device claims */
	EXIT_KIND_MMIO = 1,    /* a store to a userspace MMIO device */
	EXIT_KIND_EMULATE = 2, /* an x87 store to MMIO: KVM fails, kvmlab's emulator finishes it */
	EXIT_KIND_CPUID = 3,   /* handled in the kernel */
	EXIT_KIND_IOEVENTFD = 4, /* an MMIO store KVM turns into an eventfd signal */
	EXIT_KIND_HLT_TIMER = 5, /* HLT until the LAPIC timer fires (in the kernel) */
	EXIT_KIND_IRQFD = 6,	 /* the guest HLTs; the host's irqfd write wakes it */
	EXIT_KIND_TOUCH = 7,	 /* one write per page of [touch_gpa, + touch_pages pages) */
};

/*
 * One VM on vCPU 0 driven by the caller with vcpu_step (the VM stays CREATED).
 * The guest asks for its kind and batch size on EXIT_VM_CFG_PORT, then runs
 * batches of that exit forever, reporting each batch's TSC cycles with one
 * 8-byte store to EXIT_VM_MMIO + 8. The struct must not move while the VM
 * exists (the devices point into it).
 */
struct exit_vm {
	struct vm *vm;
	struct vcpu *vcpu;
	enum exit_kind kind;
	uint32_t batch;
	uint64_t op_exits;    /* op exits that reached the userspace device */
	uint64_t acks;	      /* irqfd: interrupts the guest's handler acknowledged */
	bool reported;	      /* a report arrived since the caller cleared it */
	uint64_t last_cycles; /* the guest's figure for the last batch */
	uint64_t tsc_khz;     /* the vCPU's TSC rate (KVM_GET_TSC_KHZ) */
	int efd;	      /* the ioeventfd's or irqfd's eventfd, or -1 */
	uint32_t touch_gpa, touch_pages, touch_stride; /* EXIT_KIND_TOUCH, read each batch */
};

int exit_vm_create(struct exit_vm *x, enum exit_kind kind, uint32_t batch,
		   const struct bench_options *o, struct errbuf *e);
void exit_vm_destroy(struct exit_vm *x);

/* Runs vcpu_step until the guest reports a batch. host_ns (may be NULL) gets
 * the monotonic time spent in the steps that ended in an op exit. -1 with e
 * filled when the VM stopped or an exit was not one the guest should make. */
int exit_vm_run_batch(struct exit_vm *x, uint64_t *host_ns, struct errbuf *e);

/* irqfd: writes the eventfd, then steps until the guest's handler acknowledges
 * on EXIT_VM_OP_PORT; *ns is the time from the write to that exit. */
int exit_vm_irq_round_trip(struct exit_vm *x, uint64_t *ns, struct errbuf *e);

/* Explains why the VM cannot go on (its stop message or the last exit). */
void exit_vm_explain(const struct exit_vm *x, const char *what, struct errbuf *e);

uint64_t exit_vm_now_ns(void);

#endif
