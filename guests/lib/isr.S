/* Interrupt and exception entry stubs for all 256 vectors, funnelled into guest_interrupt(). */
	.code64
	.text

/* Vectors whose exceptions push an error code; the others get a 0 pushed. */
.macro ISR_STUB vec
	.balign 16
isr_stub_\vec:
	.if (\vec == 8) || (\vec >= 10 && \vec <= 14) || (\vec == 17) || (\vec == 21) || (\vec == 29) || (\vec == 30)
	.else
	push	$0
	.endif
	push	$\vec
	jmp	isr_common
.endm

	.global isr_stubs
	.balign 16
isr_stubs:
.altmacro
.set vec, 0
.rept 256
	ISR_STUB %vec
	.set vec, vec + 1
.endr

/* Stack here: vector, error code, then the CPU's RIP, CS, RFLAGS, RSP, SS.
 * The saved registers below them make struct guest_frame (guest.h). */
isr_common:
	push	%rbx
	push	%rax
	push	%rcx
	push	%rdx
	push	%rsi
	push	%rdi
	push	%r8
	push	%r9
	push	%r10
	push	%r11
	mov	%rsp, %rdi		/* struct guest_frame * */
	mov	%rsp, %rbx
	and	$-16, %rsp		/* the ABI wants a 16-byte aligned call */
	call	guest_interrupt
	mov	%rbx, %rsp
	pop	%r11
	pop	%r10
	pop	%r9
	pop	%r8
	pop	%rdi
	pop	%rsi
	pop	%rdx
	pop	%rcx
	pop	%rax
	pop	%rbx
	add	$16, %rsp		/* vector and error code */
	iretq
