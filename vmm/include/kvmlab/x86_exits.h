/* The x86 emulator in the VMM: finishing what KVM cannot emulate, and tracing exits. */
#ifndef KVMLAB_X86_EXITS_H
#define KVMLAB_X86_EXITS_H

#include <stdint.h>

#include "err.h"

struct vm;
struct vcpu;
struct x86_cpu;
struct x86_emu;

/*
 * Enables KVM_CAP_EXIT_ON_EMULATION_FAILURE when KVM has it and installs a
 * handler over KVM_EXIT_INTERNAL_ERROR: an emulation failure is decoded
 * (from the bytes KVM passes, or fetched through the guest's page tables
 * when it passes none), run by the x86 emulator against the VM's guest
 * memory and MMIO bus, and the guest resumes, or takes the exception the
 * instruction raised. Instructions the emulator does not run, and every
 * other internal error, go to the handler it wraps, which stops the VM with
 * its report. vm_create calls this; call it before any vCPU runs.
 */
int x86_emulate_exit_install(struct vm *vm, struct errbuf *e);

struct x86_emulate_exit_stats {
	uint64_t emulated; /* instructions finished by kvmlab's emulator */
	uint64_t faults;   /* ... of which raised an exception in the guest */
	uint64_t refused;  /* emulation failures passed on (unsupported or failed) */
	int cap_enabled;   /* KVM_CAP_EXIT_ON_EMULATION_FAILURE was enabled */
};

/* The handler's counters; -1 if the VM's INTERNAL_ERROR slot does not hold it
 * (not installed, or wrapped since, e.g. by stats_enable). */
int x86_emulate_exit_stats(struct vm *vm, struct x86_emulate_exit_stats *out);

/*
 * Wraps every exit handler of the VM with one that prints each exit to fd:
 * its vCPU, reason and, for MMIO, the access and the guest's instruction
 * (read at RIP through the guest's page tables, decoded and formatted):
 *   exit vcpu 0 MMIO write 0xd0000000 len 4 data 0x12345678 at 0x100234: mov dword ptr [rax], ecx
 * Call before the VM starts.
 */
int x86_trace_exits_enable(struct vm *vm, int fd, struct errbuf *e);

/* The vCPU's registers as the emulator sees them (KVM_GET_REGS, SREGS, XCRS);
 * shared by the two handlers above. */
int x86_vcpu_state(struct vcpu *v, struct x86_cpu *cpu, struct errbuf *e);

#endif
