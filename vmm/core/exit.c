/* The default exit handlers and the dispatch through a VM's exit table. */
#include <linux/kvm.h>
#include <stdio.h>
#include <sys/ioctl.h>

#include "kvmlab/exit.h"
#include "kvmlab/vm.h"

static const char *const exit_names[EXIT_TABLE_SIZE] = {
	[KVM_EXIT_UNKNOWN] = "UNKNOWN",
	[KVM_EXIT_EXCEPTION] = "EXCEPTION",
	[KVM_EXIT_IO] = "IO",
	[KVM_EXIT_HYPERCALL] = "HYPERCALL",
	[KVM_EXIT_DEBUG] = "DEBUG",
	[KVM_EXIT_HLT] = "HLT",
	[KVM_EXIT_MMIO] = "MMIO",
	[KVM_EXIT_IRQ_WINDOW_OPEN] = "IRQ_WINDOW_OPEN",
	[KVM_EXIT_SHUTDOWN] = "SHUTDOWN",
	[KVM_EXIT_FAIL_ENTRY] = "FAIL_ENTRY",
	[KVM_EXIT_INTR] = "INTR",
	[KVM_EXIT_SET_TPR] = "SET_TPR",
	[KVM_EXIT_TPR_ACCESS] = "TPR_ACCESS",
	[KVM_EXIT_NMI] = "NMI",
	[KVM_EXIT_INTERNAL_ERROR] = "INTERNAL_ERROR",
	[KVM_EXIT_OSI] = "OSI",
	[KVM_EXIT_PAPR_HCALL] = "PAPR_HCALL",
	[KVM_EXIT_WATCHDOG] = "WATCHDOG",
	[KVM_EXIT_EPR] = "EPR",
	[KVM_EXIT_SYSTEM_EVENT] = "SYSTEM_EVENT",
	[KVM_EXIT_IOAPIC_EOI] = "IOAPIC_EOI",
	[KVM_EXIT_HYPERV] = "HYPERV",
	[KVM_EXIT_X86_RDMSR] = "X86_RDMSR",
	[KVM_EXIT_X86_WRMSR] = "X86_WRMSR",
	[KVM_EXIT_DIRTY_RING_FULL] = "DIRTY_RING_FULL",
	[KVM_EXIT_AP_RESET_HOLD] = "AP_RESET_HOLD",
	[KVM_EXIT_X86_BUS_LOCK] = "X86_BUS_LOCK",
	[KVM_EXIT_XEN] = "XEN",
};

const char *exit_reason_name(unsigned reason)
{
	if (reason < EXIT_TABLE_SIZE && exit_names[reason])
		return exit_names[reason];
	return "UNKNOWN";
}

static unsigned long long vcpu_rip(struct vcpu *v)
{
	struct kvm_regs regs;

	if (ioctl(v->fd, KVM_GET_REGS, &regs) < 0)
		return ~0ull;
	return regs.rip;
}

/* Port I/O the index does not answer: string I/O (REP INS/OUTS arrives as count
 * back-to-back items), unclaimed ports, a bus without its index. */
static __attribute__((noinline)) enum exit_action exit_io_slow(struct vcpu *v)
{
	struct kvm_run *run = v->run;
	uint8_t *data = (uint8_t *)run + run->io.data_offset;
	bool is_write = run->io.direction == KVM_EXIT_IO_OUT;

	for (uint32_t i = 0; i < run->io.count; i++, data += run->io.size)
		if (!machine_pio(&v->vm->m, run->io.port, data, run->io.size, is_write))
			return EXIT_STOP;
	return machine_stopping(&v->vm->m) ? EXIT_STOP : EXIT_RESUME;
}

/*
 * The hottest exit: a single access to a claimed port is one index lookup and
 * the device callback (machine_pio's fast path, written out so that nothing but
 * m lives across the call). bench/instructions_per_exit counts this path.
 */
static enum exit_action exit_io(struct vcpu *v, void *opaque)
{
	struct kvm_run *run = v->run;
	struct machine *m = &v->vm->m;
	const struct bus_range *r;

	(void)opaque;
	/* What KVM's ABI promises, told to the compiler so it drops checks that cannot
	 * fail: size is 1, 2 or 4 (never 0), and direction is KVM_EXIT_IO_IN (0) or
	 * KVM_EXIT_IO_OUT (1), which makes it is_write as it stands. */
	_Static_assert(KVM_EXIT_IO_OUT == 1 && KVM_EXIT_IO_IN == 0, "direction is is_write");
	if (run->io.size == 0 || run->io.direction > KVM_EXIT_IO_OUT)
		__builtin_unreachable();
	r = bus_find_port(&m->pio, run->io.port, run->io.size); /* machine_init enabled its index */
	if (__builtin_expect(!r || run->io.count != 1, 0))
		return exit_io_slow(v);
	r->fn(r->opaque, run->io.port - r->base, (uint8_t *)run + run->io.data_offset, run->io.size,
	      run->io.direction);
	return machine_stopping(m) ? EXIT_STOP : EXIT_RESUME;
}

static enum exit_action exit_mmio(struct vcpu *v, void *opaque)
{
	struct kvm_run *run = v->run;

	(void)opaque;
	if (!machine_mmio(&v->vm->m, run->mmio.phys_addr, run->mmio.data, run->mmio.len,
			  run->mmio.is_write))
		return EXIT_STOP;
	return machine_stopping(&v->vm->m) ? EXIT_STOP : EXIT_RESUME;
}

static enum exit_action exit_hlt(struct vcpu *v, void *opaque)
{
	(void)opaque;
	machine_stop(&v->vm->m, STOP_HALT, 0,
		     "vCPU %u halted at RIP 0x%llx (no in-kernel irqchip to wake it)", v->id,
		     vcpu_rip(v));
	return EXIT_STOP;
}

static enum exit_action exit_shutdown(struct vcpu *v, void *opaque)
{
	(void)opaque;
	/* On AMD, KVM resets the vCPU before reporting: its registers show reset state. */
	machine_stop(&v->vm->m, STOP_SHUTDOWN, 0,
		     "vCPU %u: guest shutdown (triple fault); registers after the event: "
		     "RIP 0x%llx",
		     v->id, vcpu_rip(v));
	return EXIT_STOP;
}

static enum exit_action exit_fail_entry(struct vcpu *v, void *opaque)
{
	(void)opaque;
	machine_stop(&v->vm->m, STOP_GUEST_ERROR, 0,
		     "vCPU %u: KVM could not enter the guest: hardware entry failure reason "
		     "0x%llx on CPU %u",
		     v->id, (unsigned long long)v->run->fail_entry.hardware_entry_failure_reason,
		     v->run->fail_entry.cpu);
	return EXIT_STOP;
}

static enum exit_action exit_internal_error(struct vcpu *v, void *opaque)
{
	struct kvm_run *run = v->run;
	char data[128] = "";
	size_t used = 0;

	(void)opaque;
	for (uint32_t i = 0; i < run->internal.ndata && i < 4 && used < sizeof(data); i++)
		used += (size_t)snprintf(data + used, sizeof(data) - used, " 0x%llx",
					 (unsigned long long)run->internal.data[i]);
	machine_stop(&v->vm->m, STOP_GUEST_ERROR, 0,
		     "vCPU %u: KVM internal error, suberror %u at RIP 0x%llx, data:%s", v->id,
		     run->internal.suberror, vcpu_rip(v), data);
	return EXIT_STOP;
}

static enum exit_action exit_system_event(struct vcpu *v, void *opaque)
{
	struct machine *m = &v->vm->m;

	(void)opaque;
	switch (v->run->system_event.type) {
	case KVM_SYSTEM_EVENT_SHUTDOWN:
		machine_stop(m, STOP_POWEROFF, 0, "vCPU %u: guest powered off", v->id);
		break;
	case KVM_SYSTEM_EVENT_RESET:
		machine_stop(m, STOP_RESET, 0, "vCPU %u: guest asked for a reset", v->id);
		break;
	default:
		machine_stop(m, STOP_GUEST_ERROR, 0, "vCPU %u: system event %u (crash)", v->id,
			     v->run->system_event.type);
		break;
	}
	return EXIT_STOP;
}

static enum exit_action exit_msr(struct vcpu *v, void *opaque)
{
	(void)opaque;
	/* MSRs that KVM sends to userspace are ones kvmlab does not model: #GP, as on hardware. */
	v->run->msr.error = 1;
	return EXIT_RESUME;
}

/* Out of line and cold: its register buffer would otherwise grow exit_dispatch's frame. */
static __attribute__((noinline, cold)) enum exit_action exit_unknown(struct vcpu *v,
								     void *opaque)
{
	unsigned reason = v->run->exit_reason;

	(void)opaque;
	machine_stop(&v->vm->m, STOP_GUEST_ERROR, 0,
		     "vCPU %u: unhandled KVM exit reason %u (%s) at RIP 0x%llx", v->id, reason,
		     exit_reason_name(reason), vcpu_rip(v));
	return EXIT_STOP;
}

static const struct exit_handler default_io = {exit_io, NULL, "io"};
static const struct exit_handler default_mmio = {exit_mmio, NULL, "mmio"};
static const struct exit_handler default_hlt = {exit_hlt, NULL, "hlt"};
static const struct exit_handler default_shutdown = {exit_shutdown, NULL, "shutdown"};
static const struct exit_handler default_fail_entry = {exit_fail_entry, NULL, "fail-entry"};
static const struct exit_handler default_internal = {exit_internal_error, NULL, "internal"};
static const struct exit_handler default_system_event = {exit_system_event, NULL, "system"};
static const struct exit_handler default_msr = {exit_msr, NULL, "msr"};
static const struct exit_handler default_unknown = {exit_unknown, NULL, "unknown"};

void exit_table_init(struct exit_table *t)
{
	for (unsigned i = 0; i < EXIT_TABLE_SIZE; i++)
		atomic_init(&t->slot[i], &default_unknown);
	atomic_init(&t->slot[KVM_EXIT_IO], &default_io);
	atomic_init(&t->slot[KVM_EXIT_MMIO], &default_mmio);
	atomic_init(&t->slot[KVM_EXIT_HLT], &default_hlt);
	atomic_init(&t->slot[KVM_EXIT_SHUTDOWN], &default_shutdown);
	atomic_init(&t->slot[KVM_EXIT_FAIL_ENTRY], &default_fail_entry);
	atomic_init(&t->slot[KVM_EXIT_INTERNAL_ERROR], &default_internal);
	atomic_init(&t->slot[KVM_EXIT_SYSTEM_EVENT], &default_system_event);
	atomic_init(&t->slot[KVM_EXIT_X86_RDMSR], &default_msr);
	atomic_init(&t->slot[KVM_EXIT_X86_WRMSR], &default_msr);
}

const struct exit_handler *exit_table_set(struct exit_table *t, unsigned reason,
					  const struct exit_handler *h)
{
	if (reason >= EXIT_TABLE_SIZE || !h)
		return NULL;
	return atomic_exchange_explicit(&t->slot[reason], h, memory_order_acq_rel);
}

enum exit_action exit_dispatch(struct exit_table *t, struct vcpu *vcpu)
{
	unsigned reason = vcpu->run->exit_reason;
	const struct exit_handler *h;

	if (reason >= EXIT_TABLE_SIZE)
		return exit_unknown(vcpu, NULL);
	h = exit_table_slot(t, reason);
	return h->fn(vcpu, h->opaque);
}
