/* Boot state: GDT, identity page tables, long mode (flat guests, Linux), 32-bit mode (multiboot, PVH). */
#include <linux/kvm.h>
#include <string.h>

#include "kvmlab/boot.h"
#include "kvmlab/kvm.h"
#include "kvmlab/vm.h"
#include "kvmlab/x86.h"

#define PTE_PRESENT  (1ull << 0)
#define PTE_WRITABLE (1ull << 1)
#define PTE_HUGE     (1ull << 7)

#define CR0_PE (1ull << 0)
#define CR0_MP (1ull << 1)
#define CR0_ET (1ull << 4)
#define CR0_NE (1ull << 5)
#define CR0_WP (1ull << 16)
#define CR0_PG (1ull << 31)

#define CR4_PAE	       (1ull << 5)
#define CR4_OSFXSR     (1ull << 9)
#define CR4_OSXMMEXCPT (1ull << 10)

#define EFER_LME (1ull << 8)
#define EFER_LMA (1ull << 10)

#define TSS_LIMIT 0x67

/* null, 32-bit code, 64-bit code, data, and a 16-byte 64-bit TSS descriptor. */
static const uint64_t boot_gdt[] = {
	0,
	0x00cf9b000000ffffull, /* code32: present, DPL 0, execute/read, D=1, G=1 */
	0x00af9b000000ffffull, /* code64: present, DPL 0, execute/read, L=1, G=1 */
	0x00cf93000000ffffull, /* data: present, DPL 0, read/write, D/B=1, G=1 */
	0x00008b0000000000ull | TSS_LIMIT, /* TSS: present, busy 64-bit TSS at base 0 */
	0,
};

int x86_write_boot_tables(struct gmem *mem, struct errbuf *e)
{
	uint64_t pml4e = X86_PDPT_GPA | PTE_PRESENT | PTE_WRITABLE;
	uint64_t pdpt[512] = {0};
	uint64_t pd[512];

	if (gmem_write(mem, X86_GDT_GPA, boot_gdt, sizeof(boot_gdt)) ||
	    gmem_write(mem, X86_PML4_GPA, &pml4e, sizeof(pml4e)))
		return err_set(e, "guest RAM does not cover the boot tables at 0x%llx-0x%llx",
			       X86_GDT_GPA, X86_BOOT_AREA_END - 1);
	for (unsigned g = 0; g < X86_IDENTITY_LIMIT >> 30; g++) {
		pdpt[g] = (X86_PD_GPA + g * 0x1000) | PTE_PRESENT | PTE_WRITABLE;
		for (unsigned i = 0; i < 512; i++)
			pd[i] = (((uint64_t)g << 30) + ((uint64_t)i << 21)) | PTE_PRESENT |
				PTE_WRITABLE | PTE_HUGE;
		if (gmem_write(mem, X86_PD_GPA + g * 0x1000, pd, sizeof(pd)))
			return err_set(e, "guest RAM does not cover the page directories");
	}
	if (gmem_write(mem, X86_PDPT_GPA, pdpt, sizeof(pdpt)))
		return err_set(e, "guest RAM does not cover the page-directory pointer table");
	return 0;
}

static struct kvm_segment flat_segment(uint16_t selector, uint8_t type, bool code64)
{
	return (struct kvm_segment){
		.base = 0,
		.limit = 0xffffffff,
		.selector = selector,
		.type = type,
		.present = 1,
		.dpl = 0,
		.db = code64 ? 0 : 1,
		.s = 1,
		.l = code64 ? 1 : 0,
		.g = 1,
	};
}

void x86_sregs_long_mode(struct kvm_sregs *s)
{
	struct kvm_segment data = flat_segment(X86_SEL_DATA, 3, false);

	s->cs = flat_segment(X86_SEL_CODE64, 11, true);
	s->ds = s->es = s->fs = s->gs = s->ss = data;
	s->tr = (struct kvm_segment){
		.base = 0, .limit = TSS_LIMIT, .selector = X86_SEL_TSS, .type = 11, .present = 1};
	s->ldt = (struct kvm_segment){.type = 2, .unusable = 1};
	s->gdt.base = X86_GDT_GPA;
	s->gdt.limit = sizeof(boot_gdt) - 1;
	/* No IDT: the first exception triple-faults until the guest installs its own. */
	s->idt.base = 0;
	s->idt.limit = 0;
	s->cr0 = CR0_PE | CR0_MP | CR0_ET | CR0_NE | CR0_WP | CR0_PG;
	s->cr3 = X86_PML4_GPA;
	s->cr4 = CR4_PAE | CR4_OSFXSR | CR4_OSXMMEXCPT;
	s->efer = EFER_LME | EFER_LMA;
}

void x86_sregs_protected_mode(struct kvm_sregs *s)
{
	struct kvm_segment data = flat_segment(X86_SEL_DATA, 3, false);

	x86_sregs_long_mode(s); /* the same GDT, TSS and LDT */
	s->cs = flat_segment(X86_SEL_CODE32, 11, false);
	s->ds = s->es = s->fs = s->gs = s->ss = data;
	s->cr0 = CR0_PE | CR0_ET;
	s->cr3 = 0;
	s->cr4 = 0;
	s->efer = 0;
}

int vm_setup_boot_entry(struct vm *vm, const struct boot_entry *b, struct errbuf *e)
{
	struct vcpu *v = &vm->vcpus[0];
	struct kvm_sregs sregs;
	struct kvm_regs regs = {
		.rip = b->rip, .rflags = 0x2, .rsi = b->rsi, .rax = b->eax, .rbx = b->ebx};

	/* Without an in-kernel LAPIC nothing holds the APs until the kernel sends SIPI. */
	if (vm->nvcpus > 1 && !vm->cfg.irqchip)
		return err_set(e, "a kernel on %u vCPUs needs the in-kernel irqchip to start the "
				  "others (drop --no-irqchip)",
			       vm->nvcpus);
	if (x86_write_boot_tables(&vm->m.mem, e) ||
	    KVM_IOCTL(v->fd, KVM_GET_SREGS, &sregs, e, "reading segment registers"))
		return -1;
	if (b->mode == BOOT_LONG64)
		x86_sregs_long_mode(&sregs);
	else
		x86_sregs_protected_mode(&sregs);
	if (KVM_IOCTL(v->fd, KVM_SET_SREGS, &sregs, e, "setting the kernel's entry mode") ||
	    KVM_IOCTL(v->fd, KVM_SET_REGS, &regs, e, "setting the kernel's entry registers"))
		return -1;
	return 0;
}
