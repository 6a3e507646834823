/* The guest's CPUID: KVM's supported set, filtered, with each vCPU's own APIC ID. */
#include <errno.h>
#include <linux/kvm.h>
#include <stdlib.h>
#include <sys/ioctl.h>

#include "kvmlab/cpuid.h"

#define CPUID_1_ECX_VMX	       (1u << 5)
#define CPUID_1_ECX_HYPERVISOR (1u << 31)
#define CPUID_80000001_ECX_SVM (1u << 2)

struct kvm_cpuid2 *cpuid_supported(int kvm_fd, struct errbuf *e)
{
	for (unsigned nent = 64; nent <= 4096; nent *= 2) {
		struct kvm_cpuid2 *c = calloc(1, sizeof(*c) + nent * sizeof(c->entries[0]));

		if (!c) {
			err_set(e, "out of memory reading supported CPUID");
			return NULL;
		}
		c->nent = nent;
		if (ioctl(kvm_fd, KVM_GET_SUPPORTED_CPUID, c) == 0)
			return c;
		free(c);
		if (errno != E2BIG) {
			err_errno(e, "KVM_GET_SUPPORTED_CPUID failed while building the guest CPUID");
			return NULL;
		}
	}
	err_set(e, "KVM_GET_SUPPORTED_CPUID reports more than 4096 entries");
	return NULL;
}

void cpuid_filter(struct kvm_cpuid2 *c, bool keep_virt)
{
	for (unsigned i = 0; i < c->nent; i++) {
		struct kvm_cpuid_entry2 *ent = &c->entries[i];

		/* KVM leaves "running under a hypervisor" to the VMM; without it Linux
		 * ignores KVM's leaves (no kvm-clock) and calibrates against the PIT. */
		if (ent->function == 1)
			ent->ecx |= CPUID_1_ECX_HYPERVISOR;
		if (keep_virt)
			continue;
		if (ent->function == 1)
			ent->ecx &= ~CPUID_1_ECX_VMX;
		if (ent->function == 0x80000001)
			ent->ecx &= ~CPUID_80000001_ECX_SVM;
	}
}

void cpuid_set_apic_id(struct kvm_cpuid2 *c, unsigned apic_id)
{
	for (unsigned i = 0; i < c->nent; i++) {
		struct kvm_cpuid_entry2 *ent = &c->entries[i];

		if (ent->function == 1)
			ent->ebx = (ent->ebx & 0x00ffffffu) | (apic_id << 24);
		if (ent->function == 0xb || ent->function == 0x1f)
			ent->edx = apic_id;
	}
}
