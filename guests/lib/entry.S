/* Guest entry: kvmlab enters every vCPU here in long mode with RDI = vCPU id, RSI = vCPU count. */
#include "config.h"

	.section .text.entry, "ax"
	.global _start
	.code64
_start:
	/* Each vCPU takes its own stack: guest_stacks + (id + 1) * GUEST_STACK_SIZE. */
	cmp	$GUEST_MAX_VCPUS, %rdi
	jae	1f
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
	.balign 4096
	.global guest_stacks
guest_stacks:
	.skip	GUEST_MAX_VCPUS << GUEST_STACK_SHIFT
