/* AP start-up code for guests that boot their own APs with INIT/SIPI: real mode straight to long mode. */
#define SEL_CODE64 0x10 /* kvmlab's boot GDT (vmm/include/kvmlab/x86.h) */
#define SEL_DATA   0x18
#define MSR_EFER   0xc0000080
#include "config.h"

	.section .rodata
	.code16
	.global ap_trampoline_start, ap_trampoline_end, ap_trampoline_data
/* Copied to a page below 1 MiB and entered there by SIPI with CS = page >> 4, IP = 0.
 * Only CS-relative addressing is used; the BSP fills ap_trampoline_data. */
ap_trampoline_start:
	cli
	mov	%cs, %ax
	mov	%ax, %ds
	lgdtl	ap_trampoline_data - ap_trampoline_start
	movl	ap_trampoline_data - ap_trampoline_start + 8, %eax	/* CR4 (PAE) */
	mov	%eax, %cr4
	movl	ap_trampoline_data - ap_trampoline_start + 12, %eax	/* CR3 */
	mov	%eax, %cr3
	mov	$MSR_EFER, %ecx
	movl	ap_trampoline_data - ap_trampoline_start + 16, %eax	/* EFER.LME */
	xor	%edx, %edx
	wrmsr
	movl	ap_trampoline_data - ap_trampoline_start + 20, %eax	/* CR0: PE|PG at once */
	mov	%eax, %cr0
	ljmpl	$SEL_CODE64, $ap_long_mode
	.balign 8
ap_trampoline_data:
	.word	0	/* GDT limit */
	.long	0	/* GDT base */
	.word	0
	.long	0	/* +8 CR4 */
	.long	0	/* +12 CR3 */
	.long	0	/* +16 EFER */
	.long	0	/* +20 CR0 */
ap_trampoline_end:

	.text
	.code64
ap_long_mode:
	mov	$SEL_DATA, %ax
	mov	%ax, %ds
	mov	%ax, %es
	mov	%ax, %ss
	/* Our vCPU number is our initial APIC ID (kvmlab numbers them from 0). */
	mov	$1, %eax
	cpuid
	shr	$24, %ebx
	mov	%rbx, %rdi
	cmp	$GUEST_MAX_VCPUS, %rdi
	jae	1f
	lea	1(%rdi), %rax
	shl	$GUEST_STACK_SHIFT, %rax
	lea	guest_stacks(%rip), %rsp
	add	%rax, %rsp
	mov	guest_ncpus(%rip), %esi
	xor	%rbp, %rbp
	call	guest_start
1:	cli
	hlt
	jmp	1b
