/* The exit benchmark VM: its devices (configuration, op targets, the report), ioeventfd and irqfd.
 */
#include <errno.h>
#include <linux/kvm.h>
#include <stdio.h>
#include <string.h>
#include <sys/eventfd.h>
#include <sys/ioctl.h>
#include <time.h>
#include <unistd.h>

#include "bench_vm.h"
#include "exit_vm.h"

#define EXIT_VM_MEM (16ull << 20)

uint64_t exit_vm_now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

/* Port EXIT_VM_CFG_PORT: the guest reads its kind, then its batch size. */
static void cfg_access(void *opaque, uint64_t offset, uint8_t *data, uint32_t len, bool is_write)
{
	struct exit_vm *x = opaque;
	const uint32_t regs[] = {(uint32_t)x->kind, x->batch, x->touch_gpa, x->touch_pages,
				 x->touch_stride ? x->touch_stride : 1};
	uint32_t v = offset / 4 < sizeof(regs) / sizeof(regs[0]) ? regs[offset / 4] : 0;

	if (!is_write)
		memcpy(data, &v, len < 4 ? len : 4);
}

static void op_port(void *opaque, uint64_t offset, uint8_t *data, uint32_t len, bool is_write)
{
	struct exit_vm *x = opaque;

	(void)offset;
	if (!is_write)
		memset(data, 0, len);
	else if (x->kind == EXIT_KIND_IRQFD)
		x->acks++;
	else
		x->op_exits++;
}

/* EXIT_VM_MMIO: +0 the MMIO op, +8 the report, +0x10 what the emulator stores. */
static void op_mmio(void *opaque, uint64_t offset, uint8_t *data, uint32_t len, bool is_write)
{
	struct exit_vm *x = opaque;
	uint64_t v = 0;

	if (!is_write) {
		memset(data, 0, len);
		return;
	}
	if (offset == 8 && len == 8) {
		memcpy(&v, data, 8);
		x->last_cycles = v;
		x->reported = true;
	} else {
		x->op_exits++;
	}
}

static int exit_vm_eventfds(struct exit_vm *x, struct errbuf *e)
{
	struct machine *m = &x->vm->m;

	if (x->kind != EXIT_KIND_IOEVENTFD && x->kind != EXIT_KIND_IRQFD)
		return 0;
	x->efd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
	if (x->efd < 0)
		return err_errno(e, "creating an eventfd");
	if (x->kind == EXIT_KIND_IOEVENTFD)
		return m->ioeventfd
			   ? m->ioeventfd(m->kvm_opaque, x->efd, EXIT_VM_IOEVENTFD, 4, 1, true, e)
			   : err_set(e, "this VM has no ioeventfd hook");
	return m->irqfd ? m->irqfd(m->kvm_opaque, x->efd, EXIT_VM_IRQ_GSI, true, e)
			: err_set(e, "this VM has no irqfd hook (no in-kernel irqchip)");
}

int exit_vm_create(struct exit_vm *x, enum exit_kind kind, uint32_t batch,
		   const struct bench_options *o, struct errbuf *e)
{
	int khz;

	*x = (struct exit_vm){.kind = kind, .batch = batch, .efd = -1};
	x->vm = bench_vm_create(o, "bench-exits", EXIT_VM_GUEST, EXIT_VM_MEM, e);
	if (!x->vm)
		return -1;
	x->vcpu = &x->vm->vcpus[0];
	if (bus_register(&x->vm->m.pio, EXIT_VM_CFG_PORT, 0x20, "bench-cfg", cfg_access, x, e) ||
	    bus_register(&x->vm->m.pio, EXIT_VM_OP_PORT, 1, "bench-op", op_port, x, e) ||
	    bus_register(&x->vm->m.mmio, EXIT_VM_MMIO, 0x20, "bench-op", op_mmio, x, e) ||
	    exit_vm_eventfds(x, e))
		goto fail;
	khz = ioctl(x->vcpu->fd, KVM_GET_TSC_KHZ, 0);
	if (khz <= 0) {
		err_errno(e, "KVM_GET_TSC_KHZ failed while reading the guest's TSC rate");
		goto fail;
	}
	x->tsc_khz = (uint64_t)khz;
	return 0;
fail:
	exit_vm_destroy(x);
	return -1;
}

void exit_vm_destroy(struct exit_vm *x)
{
	vm_destroy(x->vm); /* before the eventfd: KVM drops its registrations with the VM */
	if (x->efd >= 0)
		close(x->efd);
	x->vm = NULL;
	x->vcpu = NULL;
	x->efd = -1;
}

void exit_vm_explain(const struct exit_vm *x, const char *what, struct errbuf *e)
{
	const struct machine *m = &x->vm->m;
	unsigned reason = x->vcpu->run->exit_reason;

	if (machine_stopping(m))
		err_set(e, "%s: the VM stopped (%s): %s", what, stop_kind_name(m->stop_kind),
			m->stop_msg);
	else
		err_set(e, "%s: unexpected exit %u (%s)", what, reason, exit_reason_name(reason));
}

/* A step ended in a guest exit the benchmark did not ask for (an unclaimed access). */
static bool exit_vm_unexpected(const struct exit_vm *x)
{
	const struct machine *m = &x->vm->m;

	return atomic_load(&m->pio.unclaimed_reads) + atomic_load(&m->pio.unclaimed_writes) +
		   atomic_load(&m->mmio.unclaimed_reads) + atomic_load(&m->mmio.unclaimed_writes) >
	       0;
}

int exit_vm_run_batch(struct exit_vm *x, uint64_t *host_ns, struct errbuf *e)
{
	uint64_t ns = 0;

	x->reported = false;
	while (!x->reported) {
		uint64_t before = x->op_exits, t0 = exit_vm_now_ns(), t1;

		if (vcpu_step(x->vcpu) != EXIT_RESUME) {
			exit_vm_explain(x, "running a batch", e);
			return -1;
		}
		t1 = exit_vm_now_ns();
		if (x->op_exits != before)
			ns += t1 - t0;
		if (exit_vm_unexpected(x))
			return err_set(e, "the guest made an access no benchmark device claims");
	}
	if (host_ns)
		*host_ns += ns;
	return 0;
}

int exit_vm_irq_round_trip(struct exit_vm *x, uint64_t *ns, struct errbuf *e)
{
	uint64_t acks = x->acks, one = 1, t0;

	t0 = exit_vm_now_ns();
	if (write(x->efd, &one, sizeof(one)) != sizeof(one))
		return err_errno(e, "writing the irqfd's eventfd");
	while (x->acks == acks) {
		if (vcpu_step(x->vcpu) != EXIT_RESUME) {
			exit_vm_explain(x, "waiting for the interrupt", e);
			return -1;
		}
		if (exit_vm_unexpected(x))
			return err_set(e, "the guest made an access no benchmark device claims");
	}
	*ns += exit_vm_now_ns() - t0;
	return 0;
}
