/* Emulation-failure exits: instructions KVM cannot emulate are finished by kvmlab's emulator. */
#include <linux/kvm.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>

#include "emu_internal.h"
#include "kvm_glue.h"
#include "kvmlab/kvm.h"
#include "kvmlab/vm.h"
#include "kvmlab/x86_exits.h"

/* Per-VM state; freed with the machine. The handler struct must outlive its slot. */
struct emu_exit {
	struct exit_handler handler;
	const struct exit_handler *inner;
	struct x86_xsave_layout layout;
	unsigned xsave_size;
	unsigned decode_flags;
	int cap_enabled;
	_Atomic uint64_t emulated, faults, refused;
	unsigned nctx;
	struct x86_kvm_ctx *ctx; /* one per vCPU: no allocation on the exit path */
};

/* Stops the VM naming the instruction and why kvmlab could not finish it either. */
static enum exit_action refuse(struct emu_exit *x, struct vcpu *v, const struct x86_cpu *cpu,
			       const char *insn, const char *why)
{
	atomic_fetch_add(&x->refused, 1);
	machine_stop(&v->vm->m, STOP_GUEST_ERROR, 0,
		     "vCPU %u: KVM could not emulate the instruction at RIP 0x%llx (%s), and "
		     "neither could kvmlab: %s",
		     v->id, (unsigned long long)cpu->rip, insn, why);
	return EXIT_STOP;
}

static enum exit_action emulate_exit(struct vcpu *v, void *opaque)
{
	struct emu_exit *x = opaque;
	struct kvm_run *run = v->run;
	struct x86_kvm_ctx *ctx;
	struct x86_emu emu;
	struct x86_cpu cpu;
	struct x86_xsave_layout layout;
	uint8_t bytes[X86_MAX_INSN_LEN];
	size_t n;
	enum x86_emu_result r;
	char insn[96] = "undecodable";
	struct errbuf e;

	if (run->internal.suberror != KVM_INTERNAL_ERROR_EMULATION)
		return x->inner->fn(v, x->inner->opaque);
	if (x86_vcpu_state(v, &cpu, &e)) {
		machine_stop(&v->vm->m, STOP_HOST_ERROR, 0, "vCPU %u: %s", v->id, e.msg);
		return EXIT_STOP;
	}
	if (v->id >= x->nctx) {
		machine_stop(&v->vm->m, STOP_HOST_ERROR, 0, "vCPU %u has no emulation context",
			     v->id);
		return EXIT_STOP;
	}
	ctx = &x->ctx[v->id];
	ctx->v = v;
	ctx->xsave_size = x->xsave_size;
	ctx->xsave_loaded = ctx->failed = false;
	/* Write back only the components the guest has enabled: KVM refuses others. */
	layout = x->layout;
	layout.features &= cpu.xcr0 | 3;
	ctx->layout = &layout;
	x86_emu_init(&emu, &x86_kvm_ops, ctx, &cpu);
	emu.decode_flags = x->decode_flags;
	if (run->emulation_failure.ndata >= 3 &&
	    (run->emulation_failure.flags & KVM_INTERNAL_ERROR_EMULATION_FLAG_INSTRUCTION_BYTES)) {
		n = run->emulation_failure.insn_size;
		if (n > X86_MAX_INSN_LEN)
			n = X86_MAX_INSN_LEN;
		memcpy(bytes, run->emulation_failure.insn_bytes, n);
	} else {
		n = x86_fetch(&emu, cpu.rip, bytes, X86_MAX_INSN_LEN); /* an older KVM */
	}
	r = x86_emulate(&emu, bytes, n);
	if (emu.insn.len)
		x86_format(&emu.insn, insn, sizeof(insn));
	switch (r) {
	case X86_EMU_OK:
	case X86_EMU_PARTIAL:
		if (x86_vcpu_commit(v, &cpu, false, &e))
			break;
		atomic_fetch_add(&x->emulated, 1);
		return machine_stopping(&v->vm->m) ? EXIT_STOP : EXIT_RESUME;
	case X86_EMU_FAULT:
		if (x86_vcpu_commit(v, &cpu, emu.fault.vector == X86_EXC_PF, &e) ||
		    x86_vcpu_inject(v, &emu.fault, &e))
			break;
		atomic_fetch_add(&x->emulated, 1);
		atomic_fetch_add(&x->faults, 1);
		return EXIT_RESUME;
	case X86_EMU_UNSUPPORTED:
		if (machine_stopping(&v->vm->m))
			return EXIT_STOP;
		/* KVM's own policy without the cap: #UD for user code, a stop for the kernel. */
		if (emu_cpl(&cpu) > 0) {
			if (x86_vcpu_inject(v, &(struct x86_fault){.vector = X86_EXC_UD}, &e))
				break;
			atomic_fetch_add(&x->refused, 1);
			atomic_fetch_add(&x->faults, 1);
			return EXIT_RESUME;
		}
		return refuse(x, v, &cpu, insn, emu.why);
	case X86_EMU_ERROR:
	default:
		if (machine_stopping(
			&v->vm->m)) { /* a device access stopped it: that report wins */
			return EXIT_STOP;
		}
		snprintf(e.msg, sizeof(e.msg), "%.90s%s%.150s", emu.why, ctx->failed ? ": " : "",
			 ctx->failed ? ctx->e.msg : "");
		return refuse(x, v, &cpu, insn, e.msg);
	}
	machine_stop(&v->vm->m, STOP_HOST_ERROR, 0, "vCPU %u: %s", v->id, e.msg);
	return EXIT_STOP;
}

static void emu_exit_free(void *opaque)
{
	struct emu_exit *x = opaque;

	free(x->ctx);
	free(x);
}

int x86_emulate_exit_install(struct vm *vm, struct errbuf *e)
{
	struct emu_exit *x = calloc(1, sizeof(*x));
	int cap, xsave2;
	uint64_t host_xcr0 = 3;

	if (x) {
		x->nctx = vm->nvcpus;
		x->ctx = aligned_alloc(64, (x->nctx ? x->nctx : 1) * sizeof(*x->ctx));
	}
	if (!x || !x->ctx) {
		free(x);
		return err_set(e, "out of memory installing the emulation-failure handler");
	}
	if (machine_on_destroy(&vm->m, emu_exit_free, x, e)) {
		emu_exit_free(x);
		return -1;
	}
	cap = kvm_cap(vm->kvm_fd, KVM_CAP_EXIT_ON_EMULATION_FAILURE, e);
	if (cap > 0) {
		struct kvm_enable_cap ec = {.cap = KVM_CAP_EXIT_ON_EMULATION_FAILURE, .args = {1}};

		if (KVM_IOCTL(vm->vm_fd, KVM_ENABLE_CAP, &ec, e,
			      "enabling KVM_CAP_EXIT_ON_EMULATION_FAILURE"))
			return -1;
		x->cap_enabled = 1;
	}
	xsave2 = kvm_cap(vm->kvm_fd, KVM_CAP_XSAVE2, e);
	if (xsave2 > 4096) {
		if (xsave2 > X86_KVM_XSAVE_MAX)
			return err_set(e, "KVM's XSAVE area of %d bytes is larger than kvmlab's %d",
				       xsave2, X86_KVM_XSAVE_MAX);
		x->xsave_size = (unsigned)xsave2;
	}
	{
		unsigned lo, hi, a, b, c, d;

		__asm__ volatile("cpuid" : "=a"(a), "=b"(b), "=c"(c), "=d"(d) : "a"(1), "c"(0));
		if ((c >> 27) & 1) {
			__asm__ volatile("xgetbv" : "=a"(lo), "=d"(hi) : "c"(0));
			host_xcr0 = ((uint64_t)hi << 32) | lo;
		}
	}
	x86_xsave_layout_host(&x->layout, host_xcr0);
	x->decode_flags = x86_host_decode_flags();
	x->handler = (struct exit_handler){emulate_exit, x, "x86-emulate"};
	x->inner = exit_table_set(&vm->exits, KVM_EXIT_INTERNAL_ERROR, &x->handler);
	return 0;
}

int x86_emulate_exit_stats(struct vm *vm, struct x86_emulate_exit_stats *out)
{
	const struct exit_handler *h = atomic_load(&vm->exits.slot[KVM_EXIT_INTERNAL_ERROR]);
	struct emu_exit *x;

	if (h->fn != emulate_exit)
		return -1;
	x = h->opaque;
	out->emulated = atomic_load(&x->emulated);
	out->faults = atomic_load(&x->faults);
	out->refused = atomic_load(&x->refused);
	out->cap_enabled = x->cap_enabled;
	return 0;
}
