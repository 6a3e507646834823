/* Host-CPU oracle runner: loads a register state, runs one generated instruction, saves it. */
	.intel_syntax noprefix

/* struct oracle_regs (x86_host_oracle.c) */
#define R_RFLAGS  128
#define R_HOSTRSP 136
#define R_XSAVE	  192
#define R_HOSTX	  (192 + 8192)

	.text
/* int oracle_run(struct oracle_regs *r, const void *code, uint64_t xcr0): 0 when the
 * instruction completed, 1 when it faulted (the signal handler resumes at oracle_faulted). */
	.globl oracle_run
	.type oracle_run, @function
oracle_run:
	push rbx
	push rbp
	push r12
	push r13
	push r14
	push r15
	mov [rip + oracle_ctx], rdi
	mov [rip + oracle_target], rsi
	mov [rip + oracle_mask], rdx
	mov [rdi + R_HOSTRSP], rsp
	mov rax, rdx
	shr rdx, 32
	xsave64 [rdi + R_HOSTX]
	mov rax, [rip + oracle_mask]
	mov rdx, rax
	shr rdx, 32
	xrstor64 [rdi + R_XSAVE]
	push qword ptr [rdi + R_RFLAGS]
	popfq
	mov rax, [rdi + 0]
	mov rcx, [rdi + 8]
	mov rdx, [rdi + 16]
	mov rbx, [rdi + 24]
	mov rsp, [rdi + 32]
	mov rbp, [rdi + 40]
	mov rsi, [rdi + 48]
	mov r8, [rdi + 64]
	mov r9, [rdi + 72]
	mov r10, [rdi + 80]
	mov r11, [rdi + 88]
	mov r12, [rdi + 96]
	mov r13, [rdi + 104]
	mov r14, [rdi + 112]
	mov r15, [rdi + 120]
	mov rdi, [rdi + 56]
	jmp qword ptr [rip + oracle_target]

/* The generated code jumps here after its one instruction. */
	.globl oracle_return
	.type oracle_return, @function
oracle_return:
	mov [rip + oracle_scratch], rdi
	mov rdi, [rip + oracle_ctx]
	mov [rdi + 0], rax
	mov [rdi + 8], rcx
	mov [rdi + 16], rdx
	mov [rdi + 24], rbx
	mov [rdi + 32], rsp
	mov [rdi + 40], rbp
	mov [rdi + 48], rsi
	mov [rdi + 64], r8
	mov [rdi + 72], r9
	mov [rdi + 80], r10
	mov [rdi + 88], r11
	mov [rdi + 96], r12
	mov [rdi + 104], r13
	mov [rdi + 112], r14
	mov [rdi + 120], r15
	mov rax, [rip + oracle_scratch]
	mov [rdi + 56], rax
	mov rsp, [rdi + R_HOSTRSP]
	pushfq
	pop qword ptr [rdi + R_RFLAGS]
	push 0x202
	popfq
	mov rax, [rip + oracle_mask]
	mov rdx, rax
	shr rdx, 32
	xsave64 [rdi + R_XSAVE]
	xrstor64 [rdi + R_HOSTX]
	xor eax, eax
	pop r15
	pop r14
	pop r13
	pop r12
	pop rbp
	pop rbx
	ret

/* The signal handler points the faulting context here, with RSP back at oracle_run's frame. */
	.globl oracle_faulted
	.type oracle_faulted, @function
oracle_faulted:
	mov rdi, [rip + oracle_ctx]
	mov rax, [rip + oracle_mask]
	mov rdx, rax
	shr rdx, 32
	xrstor64 [rdi + R_HOSTX]
	mov eax, 1
	pop r15
	pop r14
	pop r13
	pop r12
	pop rbp
	pop rbx
	ret

	.data
	.balign 8
oracle_ctx:	.quad 0
oracle_target:	.quad 0
oracle_mask:	.quad 0
oracle_scratch:	.quad 0

	.section .note.GNU-stack,"",@progbits
