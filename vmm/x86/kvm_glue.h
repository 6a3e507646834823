/* Between KVM and the x86 emulator: a vCPU's registers and the VM's memory as emulator ops. */
#ifndef KVMLAB_X86_KVM_GLUE_H
#define KVMLAB_X86_KVM_GLUE_H

#include <stdbool.h>

#include "kvmlab/err.h"
#include "kvmlab/x86_emulate.h"

struct vcpu;

/* Large enough for KVM_GET_XSAVE2 with every component x86-64 defines today. */
#define X86_KVM_XSAVE_MAX 16384

/* One instruction's worth of access to a vCPU and its VM. */
struct x86_kvm_ctx {
	struct vcpu *v;
	const struct x86_xsave_layout *layout;
	unsigned xsave_size; /* 0: KVM_GET_XSAVE's 4 KiB; else KVM_GET_XSAVE2's size */
	bool xsave_loaded;
	struct errbuf e; /* the first failing ioctl or access, for the report */
	bool failed;
	uint8_t xsave[X86_KVM_XSAVE_MAX] __attribute__((aligned(64)));
};

/* Guest memory through gmem (RAM) or the VM's MMIO bus (everything else, and
 * writes to read-only regions); x87/vector state through KVM_GET/SET_XSAVE. */
extern const struct x86_emu_ops x86_kvm_ops;

/* Writes back what the emulator changed: general registers, RIP, RFLAGS, and CR2
 * when a page fault is to be raised. */
int x86_vcpu_commit(struct vcpu *v, const struct x86_cpu *cpu, bool cr2, struct errbuf *e);

/* Raises exception f in the guest (KVM_SET_VCPU_EVENTS). */
int x86_vcpu_inject(struct vcpu *v, const struct x86_fault *f, struct errbuf *e);

/* The host's physical-address width and vendor (for x86_cpu.maxphyaddr and
 * X86_DECODE_AMD), from CPUID. */
unsigned x86_host_maxphyaddr(void);
unsigned x86_host_decode_flags(void);

#endif
