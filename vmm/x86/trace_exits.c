/* `kvmlab run --trace-exits`: prints every exit, and the instruction behind MMIO exits. */
#include <linux/kvm.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "kvm_glue.h"
#include "kvmlab/vm.h"
#include "kvmlab/x86_exits.h"

struct trace;

struct trace_slot {
	struct exit_handler handler;
	const struct exit_handler *inner;
	struct trace *t;
	unsigned reason;
};

struct trace {
	int fd;
	struct trace_slot slot[EXIT_TABLE_SIZE];
	unsigned nctx;
	struct x86_kvm_ctx *ctx; /* one per vCPU, for reading guest memory */
};

/* A trace line; a closed or full trace stream does not stop the guest. */
static void emit(int fd, const char *line, int n, size_t cap)
{
	if (n > 0)
		(void)!write(fd, line, (size_t)n < cap ? (size_t)n : cap - 1);
}

/* Decodes the instruction at rip (guest code read through its page tables). */
static bool decode_at(struct x86_emu *emu, uint64_t rip, size_t len, struct x86_insn *in)
{
	uint8_t bytes[X86_MAX_INSN_LEN];
	size_t n = x86_fetch(emu, rip, bytes, len);

	return n && x86_decode(bytes, n, x86_cpu_mode(emu->cpu), x86_host_decode_flags(), in) ==
			X86_DECODE_OK;
}

/*
 * The instruction behind an exit. For reads KVM reports RIP at the
 * instruction; for MMIO writes it has already moved past it, so the
 * instruction is found as the one ending at RIP whose memory operand, with
 * the current registers, reaches the MMIO address. gpa ~0 means no check.
 */
/* Whether the instruction's memory operand could make an MMIO access of len bytes (KVM splits
 * wider accesses into 8-byte pieces, and page crossings into two). */
static bool size_fits(const struct x86_insn *in, unsigned len)
{
	for (unsigned i = 0; i < in->nops; i++)
		if (in->ops[i].kind == X86_OPK_MEM)
			return in->ops[i].size == len || (in->ops[i].size > len && len <= 8);
	return true; /* string instructions */
}

static void describe_insn(struct trace *t, struct vcpu *v, uint64_t gpa, unsigned alen, char *buf,
			  size_t len)
{
	struct x86_kvm_ctx *ctx = &t->ctx[v->id < t->nctx ? v->id : 0];
	struct x86_cpu cpu;
	struct x86_emu emu;
	struct x86_insn in;
	struct errbuf e;
	char txt[128];

	if (x86_vcpu_state(v, &cpu, &e)) {
		snprintf(buf, len, "(registers unreadable)");
		return;
	}
	ctx->v = v;
	ctx->failed = false;
	x86_emu_init(&emu, &x86_kvm_ops, ctx, &cpu);
	if (decode_at(&emu, cpu.rip, X86_MAX_INSN_LEN, &in) &&
	    (gpa == ~0ull || x86_insn_touches(&emu, &in, cpu.rip, gpa))) {
		x86_format(&in, txt, sizeof(txt));
		snprintf(buf, len, "at 0x%llx: %s", (unsigned long long)cpu.rip, txt);
		return;
	}
	/* Longest first: a shorter match is often the same instruction without its prefixes. */
	for (unsigned back = X86_MAX_INSN_LEN; gpa != ~0ull && back >= 1; back--)
		if (back <= cpu.rip && decode_at(&emu, cpu.rip - back, back, &in) &&
		    in.len == back && size_fits(&in, alen) &&
		    x86_insn_touches(&emu, &in, cpu.rip - back, gpa)) {
			x86_format(&in, txt, sizeof(txt));
			snprintf(buf, len, "at 0x%llx: %s", (unsigned long long)(cpu.rip - back),
				 txt);
			return;
		}
	snprintf(buf, len, "before 0x%llx: (instruction not found)", (unsigned long long)cpu.rip);
}

static enum exit_action trace_exit(struct vcpu *v, void *opaque)
{
	struct trace_slot *s = opaque;
	struct kvm_run *run = v->run;
	char line[384], insn[200] = "";
	int n;

	switch (s->reason) {
	case KVM_EXIT_MMIO: {
		uint64_t data = 0;

		memcpy(&data, run->mmio.data, run->mmio.len <= 8 ? run->mmio.len : 8);
		describe_insn(s->t, v, run->mmio.phys_addr, run->mmio.len, insn, sizeof(insn));
		n = snprintf(line, sizeof(line),
			     "exit vcpu %u MMIO %s 0x%llx len %u data 0x%llx %s\n", v->id,
			     run->mmio.is_write ? "write" : "read",
			     (unsigned long long)run->mmio.phys_addr, run->mmio.len,
			     run->mmio.is_write ? (unsigned long long)data : 0ull, insn);
		break;
	}
	case KVM_EXIT_IO:
		n = snprintf(line, sizeof(line), "exit vcpu %u IO %s port 0x%x size %u count %u\n",
			     v->id, run->io.direction == KVM_EXIT_IO_OUT ? "out" : "in",
			     run->io.port, run->io.size, run->io.count);
		break;
	case KVM_EXIT_INTERNAL_ERROR:
		if (run->internal.suberror == KVM_INTERNAL_ERROR_EMULATION)
			describe_insn(s->t, v, ~0ull, 0, insn, sizeof(insn));
		n = snprintf(line, sizeof(line), "exit vcpu %u INTERNAL_ERROR suberror %u %s\n",
			     v->id, run->internal.suberror, insn);
		break;
	default:
		n = snprintf(line, sizeof(line), "exit vcpu %u %s\n", v->id,
			     exit_reason_name(s->reason));
		break;
	}
	emit(s->t->fd, line, n, sizeof(line));
	/* The MMIO read's data is known only after the device answered. */
	{
		enum exit_action a = s->inner->fn(v, s->inner->opaque);

		if (s->reason == KVM_EXIT_MMIO && !run->mmio.is_write) {
			uint64_t data = 0;

			memcpy(&data, run->mmio.data, run->mmio.len <= 8 ? run->mmio.len : 8);
			n = snprintf(line, sizeof(line), "exit vcpu %u MMIO read data 0x%llx\n",
				     v->id, (unsigned long long)data);
			emit(s->t->fd, line, n, sizeof(line));
		}
		return a;
	}
}

static void trace_free(void *opaque)
{
	struct trace *t = opaque;

	free(t->ctx);
	free(t);
}

int x86_trace_exits_enable(struct vm *vm, int fd, struct errbuf *e)
{
	struct trace *t = calloc(1, sizeof(*t));

	if (t) {
		t->nctx = vm->nvcpus ? vm->nvcpus : 1;
		t->ctx = aligned_alloc(64, t->nctx * sizeof(*t->ctx));
	}
	if (!t || !t->ctx) {
		free(t);
		return err_set(e, "out of memory enabling exit tracing");
	}
	if (machine_on_destroy(&vm->m, trace_free, t, e)) {
		trace_free(t);
		return -1;
	}
	t->fd = fd;
	for (unsigned r = 0; r < EXIT_TABLE_SIZE; r++) {
		struct trace_slot *s = &t->slot[r];

		s->t = t;
		s->reason = r;
		s->handler = (struct exit_handler){trace_exit, s, "trace"};
		s->inner = exit_table_set(&vm->exits, r, &s->handler);
	}
	return 0;
}
