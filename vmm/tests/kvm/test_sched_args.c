/* Choosing a scheduler: names, parameters and their reports, before any vCPU runs. */
#include "kvmtest.h"

static void check_refused(const char *spec, unsigned ncpus, const char *msg)
{
	struct vm_config cfg;
	struct errbuf e;

	vm_config_default(&cfg);
	cfg.ncpus = ncpus;
	cfg.sched = spec;
	CHECK(vm_create(&cfg, &e) == NULL);
	fprintf(stderr, "%s: %s\n", spec, e.msg);
	CHECK_CONTAINS(e.msg, msg);
}

TEST(sched_every_policy_is_found_by_name)
{
	static const char *const names[] = {"os", "pinned", "rr", "credit", "example_fifo"};
	const char *args;
	struct errbuf e;

	for (unsigned i = 0; i < sizeof(names) / sizeof(names[0]); i++) {
		const struct sched_ops *ops = sched_find(names[i], &args, &e);

		CHECK(ops != NULL);
		CHECK(!strcmp(ops->name, names[i]));
		CHECK(ops->help && ops->create);
	}
	CHECK(sched_find("rr:slots=2,slice=5", &args, &e) != NULL);
	CHECK(!strcmp(args, "slots=2,slice=5"));
	CHECK(!strcmp(sched_find(NULL, &args, &e)->name, "os"));
}

TEST(sched_bad_specs_are_refused_with_a_reason)
{
	check_refused("lottery", 1, "unknown scheduler 'lottery' (known: os, pinned, rr, credit");
	check_refused("os:x=1", 1, "scheduler os takes no parameters");
	check_refused("rr:slots=0", 2, "scheduler rr: slots");
	check_refused("rr:slice", 2, "expected KEY=VALUE, got 'slice'");
	check_refused("rr:quantum=3", 2, "unknown parameter 'quantum'");
	check_refused("pinned:cpus=100000", 2, "bad CPU list");
	check_refused("pinned:cpus=1-0", 2, "bad CPU list");
	check_refused("credit:weight.2=5", 2, "weight.2");
	check_refused("credit:weight=0", 2, "scheduler credit: weight");
	check_refused("credit:cap=101", 2, "scheduler credit: cap");
	check_refused("example_fifo:slice=x", 2, "expected slice=MS");
}

TEST(sched_good_specs_create_vms)
{
	static const char *const specs[] = {
	    "os",
	    "pinned",
	    "pinned:cpus=0",
	    "rr:slots=1,slice=5",
	    "credit",
	    "credit:slots=1,period=20,slice=5,weight=100,weight.1=300,cap.0=50,cap=0",
	    "example_fifo:slice=3"};

	for (unsigned i = 0; i < sizeof(specs) / sizeof(specs[0]); i++) {
		struct vm_config cfg;
		struct errbuf e;
		struct vm *vm;

		vm_config_default(&cfg);
		cfg.ncpus = 2;
		cfg.sched = specs[i];
		vm = vm_create(&cfg, &e);
		if (!vm)
			fprintf(stderr, "%s: %s\n", specs[i], e.msg);
		CHECK(vm != NULL);
		vm_destroy(vm);
	}
}

TEST(sched_set_checks_keys_and_vcpus)
{
	struct vm_config cfg;
	struct errbuf e;
	struct vm *vm;

	vm_config_default(&cfg);
	cfg.ncpus = 2;
	cfg.sched = "credit";
	vm = vm_create(&cfg, &e);
	CHECK(vm != NULL);
	CHECK(vm->sched->set(vm->sched_state, 1, "weight", "512", &e) == 0);
	CHECK(vm->sched->set(vm->sched_state, -1, "cap", "50", &e) == 0);
	CHECK(vm->sched->set(vm->sched_state, 2, "weight", "512", &e) == -1);
	CHECK_CONTAINS(e.msg, "no vCPU 2");
	CHECK(vm->sched->set(vm->sched_state, 0, "slice", "5", &e) == -1);
	CHECK_CONTAINS(e.msg, "'slice' cannot be set");
	CHECK(vm->sched->set(vm->sched_state, 0, "weight", "lots", &e) == -1);
	vm_destroy(vm);

	cfg.sched = "rr";
	vm = vm_create(&cfg, &e);
	CHECK(vm != NULL);
	CHECK(vm->sched->set(vm->sched_state, -1, "slice", "5", &e) == 0);
	CHECK(vm->sched->set(vm->sched_state, 0, "slice", "5", &e) == -1);
	vm_destroy(vm);
}
