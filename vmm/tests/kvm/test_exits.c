/* Exit handling: a wrapping handler sees every exit; statistics read while the VM runs; CPUID. */
#include <linux/kvm.h>
#include <fcntl.h>
#include <sys/ioctl.h>
#include <unistd.h>

#include "kvmlab/cpuid.h"
#include "kvmlab/stats.h"
#include "tick.h"

struct exit_counter {
	struct exit_handler handler;
	const struct exit_handler *inner;
	_Atomic uint64_t seen;
};

static enum exit_action counting_handler(struct vcpu *v, void *opaque)
{
	struct exit_counter *c = opaque;

	atomic_fetch_add(&c->seen, 1);
	return c->inner->fn(v, c->inner->opaque);
}

TEST(wrapped_exit_handler_sees_every_exit)
{
	static struct exit_counter counters[EXIT_TABLE_SIZE];
	struct tick_counter t;
	struct vm *vm = kvmtest_vm("count_exits", NULL);
	uint64_t total = 0;

	tick_attach(vm, &t);
	for (unsigned r = 0; r < EXIT_TABLE_SIZE; r++) {
		counters[r].handler = (struct exit_handler){counting_handler, &counters[r], "count"};
		atomic_init(&counters[r].seen, 0);
		counters[r].inner = exit_table_set(&vm->exits, r, &counters[r].handler);
		CHECK(counters[r].inner != NULL);
	}
	kvmtest_run(vm, 60);
	CHECK_STOP(vm, STOP_GUEST_DONE);
	CHECK_EQ(atomic_load(&t.ticks), 1000);
	/* 1000 ticks and the DONE ucall; and nothing escaped the wrapper. */
	CHECK(atomic_load(&counters[KVM_EXIT_IO].seen) >= 1001);
	for (unsigned r = 0; r < EXIT_TABLE_SIZE; r++)
		total += atomic_load(&counters[r].seen);
	CHECK_EQ(total, vm->vcpus[0].exits);
	CHECK(exit_table_set(&vm->exits, EXIT_TABLE_SIZE, &counters[0].handler) == NULL);
	vm_destroy(vm);
}

TEST(stats_read_while_running_and_switched_off)
{
	struct stats_snapshot a, b;
	struct tick_counter t;
	struct errbuf e;
	struct vm *vm = kvmtest_vm("ticker", NULL);
	const struct exit_handler *bare_io = atomic_load(&vm->exits.slot[KVM_EXIT_IO]);

	tick_attach(vm, &t);
	CHECK(stats_read(vm, &a, &e) == -1);
	CHECK_CONTAINS(e.msg, "never enabled");
	CHECK(stats_enable(vm, &e) == 0);
	CHECK(atomic_load(&vm->exits.slot[KVM_EXIT_IO]) != bare_io);
	CHECK(vm_start(vm, &e) == 0);
	tick_wait_past(&t, 200);
	CHECK(stats_read(vm, &a, &e) == 0);
	tick_wait_past(&t, atomic_load(&t.ticks) + 200);
	CHECK(stats_read(vm, &b, &e) == 0);
	CHECK(a.reason[KVM_EXIT_IO].count > 0);
	CHECK(b.reason[KVM_EXIT_IO].count > a.reason[KVM_EXIT_IO].count);
	CHECK_EQ(b.npio, 1);
	CHECK_EQ(b.pio[0].addr, TICK_PORT);
	CHECK(strcmp(b.pio[0].name, "tick") == 0);
	{
		uint64_t in_hist = 0;

		for (unsigned i = 0; i < STATS_HIST_BUCKETS; i++)
			in_hist += b.reason[KVM_EXIT_IO].hist[i];
		CHECK_EQ(in_hist, b.reason[KVM_EXIT_IO].count);
	}

	/* Switched off, the bare handler is back and counts stop growing. */
	stats_disable(vm);
	CHECK(atomic_load(&vm->exits.slot[KVM_EXIT_IO]) == bare_io);
	CHECK(stats_read(vm, &a, &e) == 0);
	tick_wait_past(&t, atomic_load(&t.ticks) + 200);
	CHECK(stats_read(vm, &b, &e) == 0);
	CHECK_EQ(b.reason[KVM_EXIT_IO].count, a.reason[KVM_EXIT_IO].count);
	vm_destroy(vm);
}

static uint64_t guest_svm_bit(bool keep_virt)
{
	struct vm_config cfg;
	struct ucall_log log;
	struct vm *vm;
	uint64_t svm = ~0ull;

	vm_config_default(&cfg);
	cfg.keep_virt = keep_virt;
	vm = kvmtest_vm("cpuid_virt", &cfg);
	kvmtest_log_ucalls(vm, &log);
	kvmtest_run(vm, 60);
	CHECK_STOP(vm, STOP_GUEST_DONE);
	for (unsigned i = 0; i < log.n; i++)
		if (log.calls[i].cmd == UCALL_SYNC && log.calls[i].args[0] == 3)
			svm = log.calls[i].args[1];
	vm_destroy(vm);
	CHECK(svm <= 1);
	return svm;
}

TEST(cpuid_hides_svm_unless_asked)
{
	struct errbuf e;
	struct kvm_cpuid2 *c;
	int kvm = open("/dev/kvm", O_RDWR);
	uint64_t host_offers = 0;

	CHECK(kvm >= 0);
	c = cpuid_supported(kvm, &e);
	CHECK(c != NULL);
	for (unsigned i = 0; i < c->nent; i++)
		if (c->entries[i].function == 0x80000001)
			host_offers = (c->entries[i].ecx >> 2) & 1;
	free(c);
	close(kvm);
	fprintf(stderr, "KVM offers SVM to guests: %llu\n", (unsigned long long)host_offers);
	CHECK_EQ(guest_svm_bit(false), 0);
	/* kept: the guest sees exactly what KVM supports (SVM where nested is on) */
	CHECK_EQ(guest_svm_bit(true), host_offers);
}
