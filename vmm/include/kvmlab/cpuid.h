/* Building the guest-visible CPUID from what KVM supports. */
#ifndef KVMLAB_CPUID_H
#define KVMLAB_CPUID_H

#include <stdbool.h>

#include "err.h"

struct kvm_cpuid2;

/* KVM_GET_SUPPORTED_CPUID into a malloc'd table the caller frees. */
struct kvm_cpuid2 *cpuid_supported(int kvm_fd, struct errbuf *e);

/* Sets the hypervisor-present bit; hides SVM and VMX unless keep_virt; KVM's paravirtual
 * leaves stay. */
void cpuid_filter(struct kvm_cpuid2 *c, bool keep_virt);

/* Writes the initial APIC ID into leaves 1 (EBX[31:24]), 0xB and 0x1F (EDX). */
void cpuid_set_apic_id(struct kvm_cpuid2 *c, unsigned apic_id);

#endif
