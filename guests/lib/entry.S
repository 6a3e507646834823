/* Guest entry: kvmlab enters every vCPU here in long mode with RDI = vCPU id, RSI = vCPU count. */
#include "config.h"

/* Rows of guest_entry_regs, as enum guest_reg in guest.h. */
	.set	ENTRY_REG_rax, 0
	.set	ENTRY_REG_rbx, 1
	.set	ENTRY_REG_rcx, 2
	.set	ENTRY_REG_rdx, 3
	.set	ENTRY_REG_rsi, 4
	.set	ENTRY_REG_rdi, 5
	.set	ENTRY_REG_rbp, 6
	.set	ENTRY_REG_rsp, 7
	.set	ENTRY_REG_r8, 8
	.set	ENTRY_REG_r9, 9
	.set	ENTRY_REG_r10, 10
	.set	ENTRY_REG_r11, 11
	.set	ENTRY_REG_r12, 12
	.set	ENTRY_REG_r13, 13
	.set	ENTRY_REG_r14, 14
	.set	ENTRY_REG_r15, 15

	.section .text.entry, "ax"
	.global _start
	.code64
_start:
	/* Each vCPU takes its own stack: guest_stacks + (id + 1) * GUEST_STACK_SIZE. */
	cmp	$GUEST_MAX_VCPUS, %rdi
	jae	1f
	/* Snapshot what kvmlab handed us before anything changes it (isolation
	 * tests check it): guest_entry_regs[reg][id], in enum guest_reg order. */
	.irp	reg, rax, rbx, rcx, rdx, rsi, rdi, rbp, rsp, r8, r9, r10, r11, r12, r13, r14, r15
	mov	%\reg, guest_entry_regs + ENTRY_REG_\reg * 8 * GUEST_MAX_VCPUS(, %rdi, 8)
	.endr
	mov	%rdi, %rax
	inc	%rax
	shl	$GUEST_STACK_SHIFT, %rax
	lea	guest_stacks(%rip), %rsp
	add	%rax, %rsp
	xor	%rbp, %rbp
	call	guest_start
1:	cli
	hlt
	jmp	1b

	.section .bss
	.balign 8
	.global guest_entry_regs
guest_entry_regs:
	.skip	16 * 8 * GUEST_MAX_VCPUS
	.balign 4096
	.global guest_stacks
guest_stacks:
	.skip	GUEST_MAX_VCPUS << GUEST_STACK_SHIFT
