/* Exit latency by kind: userspace exits timed around KVM_RUN and by the guest, in-kernel ones by
 * the guest. */
#include <stdio.h>
#include <unistd.h>

#include "bench.h"
#include "exit_vm.h"
#include "kvmlab/x86_exits.h"

#define WARMUP_BATCHES 4 /* the guest's set-up exits, first-touch faults, timer calibration */
#define IRQ_WARMUP     16

/* Exits per batch: enough that the report exit is a small share, few enough for the box. */
static const uint32_t batch_size[] = {
    [EXIT_KIND_PIO] = 64,    [EXIT_KIND_MMIO] = 64,	  [EXIT_KIND_EMULATE] = 64,
    [EXIT_KIND_CPUID] = 256, [EXIT_KIND_IOEVENTFD] = 256, [EXIT_KIND_HLT_TIMER] = 16,
    [EXIT_KIND_IRQFD] = 1,
};

static void fail(struct bench_state *st, const char *msg)
{
	bench_skip_with_error(st, msg);
}

static bool setup(struct bench_state *st, struct exit_vm *x, enum exit_kind kind)
{
	struct errbuf e;

	if (exit_vm_create(x, kind, batch_size[kind], bench_options(), &e)) {
		fail(st, e.msg);
		return false;
	}
	for (int i = 0; i < WARMUP_BATCHES; i++) {
		if (exit_vm_run_batch(x, NULL, &e)) {
			fail(st, e.msg);
			exit_vm_destroy(x);
			return false;
		}
	}
	x->op_exits = 0;
	return true;
}

/* The proof that the path ran: the userspace device, the emulator, or KVM's eventfd saw it. */
static bool check_path(struct bench_state *st, struct exit_vm *x, uint64_t ops, uint64_t emulated0)
{
	struct x86_emulate_exit_stats es;
	uint64_t signals = 0;
	char msg[160];

	switch (x->kind) {
	case EXIT_KIND_PIO:
	case EXIT_KIND_MMIO:
		if (x->op_exits == ops)
			return true;
		snprintf(msg, sizeof(msg), "the device saw %llu exits for %llu guest operations",
			 (unsigned long long)x->op_exits, (unsigned long long)ops);
		break;
	case EXIT_KIND_EMULATE:
		if (x86_emulate_exit_stats(x->vm, &es) == 0 && es.emulated - emulated0 == ops &&
		    x->op_exits == ops)
			return true;
		snprintf(msg, sizeof(msg),
			 "kvmlab's emulator finished %llu x87 stores (device saw %llu) for %llu",
			 (unsigned long long)(es.emulated - emulated0),
			 (unsigned long long)x->op_exits, (unsigned long long)ops);
		break;
	case EXIT_KIND_IOEVENTFD:
		if (read(x->efd, &signals, sizeof(signals)) == sizeof(signals) && signals >= ops &&
		    x->op_exits == 0)
			return true;
		snprintf(
		    msg, sizeof(msg),
		    "the ioeventfd counted %llu signals for %llu stores (%llu reached userspace)",
		    (unsigned long long)signals, (unsigned long long)ops,
		    (unsigned long long)x->op_exits);
		break;
	default:
		if (x->op_exits == 0)
			return true;
		snprintf(msg, sizeof(msg), "%llu in-kernel exits reached userspace",
			 (unsigned long long)x->op_exits);
		break;
	}
	fail(st, msg);
	return false;
}

static void exit_latency(struct bench_state *st, enum exit_kind kind)
{
	uint64_t host_ns = 0, cycles = 0, batches = 0, emulated0 = 0, wall0, wall;
	struct x86_emulate_exit_stats es;
	struct exit_vm x;
	struct errbuf e;
	bool userspace = kind <= EXIT_KIND_EMULATE;
	char label[128];

	if (!setup(st, &x, kind))
		return;
	if (kind == EXIT_KIND_IOEVENTFD) {
		uint64_t drain;

		if (read(x.efd, &drain, sizeof(drain)) < 0) /* the warm-up's signals */
			drain = 0;
	}
	if (x86_emulate_exit_stats(x.vm, &es) == 0)
		emulated0 = es.emulated;
	wall0 = exit_vm_now_ns();
	while (bench_keep_running(st)) {
		if (exit_vm_run_batch(&x, &host_ns, &e)) {
			fail(st, e.msg);
			exit_vm_destroy(&x);
			return;
		}
		cycles += x.last_cycles;
		batches++;
	}
	wall = exit_vm_now_ns() - wall0;
	if (batches && check_path(st, &x, batches * x.batch, emulated0)) {
		double ops = (double)(batches * x.batch);

		/* Userspace exits: the host's time around each KVM_RUN that ended in one. In-kernel
		 * ones never reach the host: the whole batch, report exit included, over its size.
		 */
		bench_set_counter(st, "host_ns", (double)(userspace ? host_ns : wall) / ops,
				  BENCH_COUNTER_PLAIN);
		bench_set_counter(st, "guest_ns", (double)cycles * 1e6 / (double)x.tsc_khz / ops,
				  BENCH_COUNTER_PLAIN);
		bench_set_counter(st, "batch", (double)x.batch, BENCH_COUNTER_PLAIN);
		bench_set_items_processed(st, (int64_t)(batches * x.batch));
		snprintf(label, sizeof(label), "%u exits per iteration%s", x.batch,
			 kind == EXIT_KIND_HLT_TIMER
			     ? "; guest_ns: wake-up after the timer's due time"
			     : "");
		bench_set_label(st, label);
	}
	exit_vm_destroy(&x);
}

#define EXIT_BENCH(kind_name, kind, what)                                                          \
	static void exit_latency_##kind_name(struct bench_state *st)                               \
	{                                                                                          \
		exit_latency(st, kind);                                                            \
	}                                                                                          \
	BENCH(exit_latency_##kind_name, .name = "exit_latency/" #kind_name,                        \
	      .run = exit_latency_##kind_name, .doc = what)

EXIT_BENCH(pio, EXIT_KIND_PIO,
	   "64 OUTs to a userspace device; counters host_ns, guest_ns per exit");
EXIT_BENCH(mmio, EXIT_KIND_MMIO,
	   "64 stores to a userspace MMIO device; host_ns, guest_ns per exit");
EXIT_BENCH(emulate, EXIT_KIND_EMULATE,
	   "64 x87 stores to MMIO, finished by kvmlab's emulator; host_ns, guest_ns per exit");
EXIT_BENCH(cpuid, EXIT_KIND_CPUID, "256 CPUIDs (in the kernel); guest_ns per exit");
EXIT_BENCH(ioeventfd, EXIT_KIND_IOEVENTFD,
	   "256 MMIO stores KVM signals on an ioeventfd (in the kernel); guest_ns per exit");
EXIT_BENCH(hlt_timer, EXIT_KIND_HLT_TIMER,
	   "16 HLTs woken by a 10 us LAPIC timer; guest_ns: how late the wake-up is");

/* An interrupt from the host: eventfd write -> KVM irqfd -> IOAPIC -> the halted guest's handler,
 * which acknowledges with one OUT; the host times from its write to that exit. */
static void irq_latency_irqfd(struct bench_state *st)
{
	uint64_t ns = 0, n = 0;
	struct exit_vm x;
	struct errbuf e;

	if (exit_vm_create(&x, EXIT_KIND_IRQFD, 1, bench_options(), &e) ||
	    exit_vm_run_batch(&x, NULL, &e)) { /* until the guest says its IOAPIC pin is routed */
		fail(st, e.msg);
		if (x.vm)
			exit_vm_destroy(&x);
		return;
	}
	for (int i = 0; i < IRQ_WARMUP; i++) {
		if (exit_vm_irq_round_trip(&x, &ns, &e)) {
			fail(st, e.msg);
			exit_vm_destroy(&x);
			return;
		}
	}
	ns = 0;
	x.acks = 0;
	while (bench_keep_running(st)) {
		if (exit_vm_irq_round_trip(&x, &ns, &e)) {
			fail(st, e.msg);
			exit_vm_destroy(&x);
			return;
		}
		n++;
	}
	if (n && x.acks != n) {
		char msg[96];

		snprintf(msg, sizeof(msg), "the guest acknowledged %llu interrupts for %llu writes",
			 (unsigned long long)x.acks, (unsigned long long)n);
		fail(st, msg);
	} else if (n) {
		bench_set_counter(st, "round_trip_ns", (double)ns / (double)n, BENCH_COUNTER_PLAIN);
	}
	exit_vm_destroy(&x);
}
BENCH(irq_latency_irqfd, .name = "irq_latency/irqfd", .run = irq_latency_irqfd,
      .doc = "irqfd write to the halted guest's handler and its acknowledging OUT exit");
