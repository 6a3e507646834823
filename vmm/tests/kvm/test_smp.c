/* SMP bring-up: every vCPU reports its APIC ID, entered by kvmlab or started by the guest. */
#include "kvmtest.h"

/* Each vCPU 0..n-1 made exactly one SYNC(stage) naming itself, with APIC ID == vCPU id. */
static void check_every_cpu_checked_in(struct ucall_log *log, unsigned n, uint64_t stage)
{
	unsigned seen[64] = {0};

	for (unsigned i = 0; i < log->n; i++) {
		const struct ucall_abi *uc = &log->calls[i];

		if (uc->cmd != UCALL_SYNC)
			continue;
		CHECK_EQ(uc->args[0], stage);
		CHECK(uc->args[1] < n);
		CHECK_EQ(uc->args[2], uc->args[1]); /* APIC ID == vCPU number */
		CHECK_EQ(uc->cpu, uc->args[1]);
		seen[uc->args[1]]++;
	}
	for (unsigned c = 0; c < n; c++)
		CHECK_EQ(seen[c], 1);
}

TEST(smp_four_vcpus_report_apic_ids_at_entry)
{
	struct vm_config cfg;
	struct ucall_log log;
	struct vm *vm;

	vm_config_default(&cfg);
	cfg.ncpus = 4;
	vm = kvmtest_vm("smp_entry", &cfg);
	kvmtest_log_ucalls(vm, &log);
	kvmtest_run(vm, 60);
	CHECK_STOP(vm, STOP_GUEST_DONE);
	check_every_cpu_checked_in(&log, 4, 1);
	vm_destroy(vm);
}

TEST(smp_guest_starts_aps_with_init_sipi)
{
	struct vm_config cfg;
	struct ucall_log log;
	struct vm *vm;

	vm_config_default(&cfg);
	cfg.ncpus = 4;
	cfg.aps_wait_sipi = true;
	vm = kvmtest_vm("smp_sipi", &cfg);
	kvmtest_log_ucalls(vm, &log);
	kvmtest_run(vm, 60);
	CHECK_STOP(vm, STOP_GUEST_DONE);
	check_every_cpu_checked_in(&log, 4, 2);
	vm_destroy(vm);
}

TEST(smp_aps_wait_for_sipi_needs_irqchip)
{
	struct vm_config cfg;
	struct errbuf e;

	vm_config_default(&cfg);
	cfg.ncpus = 2;
	cfg.aps_wait_sipi = true;
	cfg.irqchip = false;
	CHECK(vm_create(&cfg, &e) == NULL);
	CHECK_CONTAINS(e.msg, "INIT/SIPI only with the in-kernel irqchip");
}
