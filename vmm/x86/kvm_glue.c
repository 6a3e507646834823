/* Between KVM and the x86 emulator: vCPU registers in and out, guest memory and MMIO as ops. */
#include <cpuid.h>
#include <linux/kvm.h>
#include <string.h>
#include <sys/ioctl.h>

#include "kvm_glue.h"
#include "kvmlab/kvm.h"
#include "kvmlab/vm.h"
#include "kvmlab/x86_exits.h"

static void seg_from_kvm(struct x86_segment *s, const struct kvm_segment *k)
{
	*s = (struct x86_segment){.base = k->base,
				  .limit = k->limit,
				  .selector = k->selector,
				  .type = k->type,
				  .s = k->s,
				  .dpl = k->dpl,
				  .present = k->present,
				  .db = k->db,
				  .l = k->l,
				  .g = k->g,
				  .unusable = k->unusable};
}

int x86_vcpu_state(struct vcpu *v, struct x86_cpu *cpu, struct errbuf *e)
{
	struct kvm_regs r;
	struct kvm_sregs s;
	struct kvm_xcrs xcrs;
	const struct kvm_segment *segs[6];

	if (KVM_IOCTL(v->fd, KVM_GET_REGS, &r, e, "reading registers to emulate an instruction") ||
	    KVM_IOCTL(v->fd, KVM_GET_SREGS, &s, e, "reading segment and control registers"))
		return -1;
	memset(cpu, 0, sizeof(*cpu));
	cpu->gpr[0] = r.rax, cpu->gpr[1] = r.rcx, cpu->gpr[2] = r.rdx, cpu->gpr[3] = r.rbx;
	cpu->gpr[4] = r.rsp, cpu->gpr[5] = r.rbp, cpu->gpr[6] = r.rsi, cpu->gpr[7] = r.rdi;
	cpu->gpr[8] = r.r8, cpu->gpr[9] = r.r9, cpu->gpr[10] = r.r10, cpu->gpr[11] = r.r11;
	cpu->gpr[12] = r.r12, cpu->gpr[13] = r.r13, cpu->gpr[14] = r.r14, cpu->gpr[15] = r.r15;
	cpu->rip = r.rip;
	cpu->rflags = r.rflags;
	segs[X86_SEG_ES] = &s.es, segs[X86_SEG_CS] = &s.cs, segs[X86_SEG_SS] = &s.ss;
	segs[X86_SEG_DS] = &s.ds, segs[X86_SEG_FS] = &s.fs, segs[X86_SEG_GS] = &s.gs;
	for (unsigned i = 0; i < 6; i++)
		seg_from_kvm(&cpu->seg[i], segs[i]);
	cpu->cr0 = s.cr0, cpu->cr2 = s.cr2, cpu->cr3 = s.cr3, cpu->cr4 = s.cr4;
	cpu->efer = s.efer;
	cpu->maxphyaddr = x86_host_maxphyaddr();
	cpu->xcr0 = 1; /* x87 only, if KVM cannot say */
	memset(&xcrs, 0, sizeof(xcrs));
	if (ioctl(v->fd, KVM_GET_XCRS, &xcrs) == 0)
		for (unsigned i = 0; i < xcrs.nr_xcrs && i < KVM_MAX_XCRS; i++)
			if (xcrs.xcrs[i].xcr == 0)
				cpu->xcr0 = xcrs.xcrs[i].value;
	return 0;
}

int x86_vcpu_commit(struct vcpu *v, const struct x86_cpu *cpu, bool cr2, struct errbuf *e)
{
	const uint64_t *g = cpu->gpr;
	struct kvm_regs r = {
	    .rax = g[0],
	    .rcx = g[1],
	    .rdx = g[2],
	    .rbx = g[3],
	    .rsp = g[4],
	    .rbp = g[5],
	    .rsi = g[6],
	    .rdi = g[7],
	    .r8 = g[8],
	    .r9 = g[9],
	    .r10 = g[10],
	    .r11 = g[11],
	    .r12 = g[12],
	    .r13 = g[13],
	    .r14 = g[14],
	    .r15 = g[15],
	    .rip = cpu->rip,
	    .rflags = cpu->rflags,
	};

	if (KVM_IOCTL(v->fd, KVM_SET_REGS, &r, e, "writing back emulated registers"))
		return -1;
	if (cr2) {
		struct kvm_sregs s;

		if (KVM_IOCTL(v->fd, KVM_GET_SREGS, &s, e, "reading sregs to set CR2"))
			return -1;
		s.cr2 = cpu->cr2;
		if (KVM_IOCTL(v->fd, KVM_SET_SREGS, &s, e, "setting CR2 for a page fault"))
			return -1;
	}
	return 0;
}

int x86_vcpu_inject(struct vcpu *v, const struct x86_fault *f, struct errbuf *e)
{
	struct kvm_vcpu_events ev;

	if (KVM_IOCTL(v->fd, KVM_GET_VCPU_EVENTS, &ev, e, "reading vCPU events to inject a fault"))
		return -1;
	ev.exception.injected = 1;
	ev.exception.pending = 0;
	ev.exception.nr = f->vector;
	ev.exception.has_error_code = f->has_error;
	ev.exception.error_code = f->error;
	/* Keep the interrupt shadow and SMM state as read; NMI and SIPI fields are not
	 * marked valid, so KVM leaves them alone; no exception payload. */
	ev.flags &= KVM_VCPUEVENT_VALID_SHADOW | KVM_VCPUEVENT_VALID_SMM;
	return KVM_IOCTL(v->fd, KVM_SET_VCPU_EVENTS, &ev, e, "injecting the emulated fault") < 0
		   ? -1
		   : 0;
}

static struct x86_kvm_ctx *ctx_of(void *opaque)
{
	return opaque;
}

static int fail(struct x86_kvm_ctx *c)
{
	c->failed = true;
	return -1;
}

/* RAM through the checked door; anything else is a device (and writes to ROM go to the bus). */
static int kvm_read(void *opaque, uint64_t gpa, void *buf, unsigned len)
{
	struct x86_kvm_ctx *c = ctx_of(opaque);
	struct machine *m = &c->v->vm->m;
	const void *p = gmem_ptr(&m->mem, gpa, len, false);

	if (p) {
		memcpy(buf, p, len);
		return 0;
	}
	if (!machine_mmio(m, gpa, buf, len, false)) {
		err_set(&c->e, "MMIO read of %u bytes at 0x%llx stopped the machine", len,
			(unsigned long long)gpa);
		return fail(c);
	}
	return 0;
}

static int kvm_write(void *opaque, uint64_t gpa, const void *buf, unsigned len)
{
	struct x86_kvm_ctx *c = ctx_of(opaque);
	struct machine *m = &c->v->vm->m;
	void *p = gmem_ptr(&m->mem, gpa, len, true);
	uint8_t tmp[64];

	if (p) {
		memcpy(p, buf, len);
		return 0;
	}
	if (len > sizeof(tmp))
		return fail(c);
	memcpy(tmp, buf, len);
	if (!machine_mmio(m, gpa, tmp, len, true)) {
		err_set(&c->e, "MMIO write of %u bytes at 0x%llx stopped the machine", len,
			(unsigned long long)gpa);
		return fail(c);
	}
	return 0;
}

/* Page-table accessed/dirty updates race with other vCPUs: compare-and-swap in RAM. */
static int kvm_cmpxchg(void *opaque, uint64_t gpa, uint64_t *old, uint64_t new_val)
{
	struct x86_kvm_ctx *c = ctx_of(opaque);
	uint64_t *p = (gpa & 7) ? NULL : gmem_ptr(&c->v->vm->m.mem, gpa, 8, true);

	if (!p)
		return -1;
	return __atomic_compare_exchange_n(p, old, new_val, false, __ATOMIC_SEQ_CST,
					   __ATOMIC_SEQ_CST)
		   ? 1
		   : 0;
}

static int xsave_io(struct x86_kvm_ctx *c, bool set)
{
	/* KVM_SET_XSAVE takes the KVM_CAP_XSAVE2 size when the capability exists. */
	unsigned long req = set ? KVM_SET_XSAVE : c->xsave_size ? KVM_GET_XSAVE2 : KVM_GET_XSAVE;

	if (ioctl(c->v->fd, req, c->xsave) < 0) {
		err_errno(&c->e, "%s failed while %s the vector registers",
			  set ? "KVM_SET_XSAVE"
			      : (c->xsave_size ? "KVM_GET_XSAVE2" : "KVM_GET_XSAVE"),
			  set ? "writing" : "reading");
		return fail(c);
	}
	return 0;
}

static int kvm_get_fpu(void *opaque, struct x86_fpu *f)
{
	struct x86_kvm_ctx *c = ctx_of(opaque);

	if (!c->xsave_loaded) {
		if (xsave_io(c, false))
			return -1;
		c->xsave_loaded = true;
	}
	x86_xsave_unpack(c->layout, c->xsave, f);
	return 0;
}

static int kvm_set_fpu(void *opaque, const struct x86_fpu *f)
{
	struct x86_kvm_ctx *c = ctx_of(opaque);

	if (!c->xsave_loaded && kvm_get_fpu(opaque, &(struct x86_fpu){0}))
		return -1;
	x86_xsave_pack(c->layout, f, c->xsave);
	return xsave_io(c, true);
}

const struct x86_emu_ops x86_kvm_ops = {
    .read = kvm_read,
    .write = kvm_write,
    .cmpxchg = kvm_cmpxchg,
    .get_fpu = kvm_get_fpu,
    .set_fpu = kvm_set_fpu,
};

unsigned x86_host_maxphyaddr(void)
{
	unsigned a, b, c, d;

	if (__get_cpuid(0x80000008, &a, &b, &c, &d))
		return a & 0xff;
	return 36;
}

unsigned x86_host_decode_flags(void)
{
	unsigned a, b, c, d;

	/* "AuthenticAMD" / "HygonGenuine": AMD's near-branch operand size rules. */
	if (__get_cpuid(0, &a, &b, &c, &d) && (b == 0x68747541 || b == 0x6f677948))
		return X86_DECODE_AMD;
	return 0;
}
