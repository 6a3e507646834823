/* The VM lifecycle: every allowed transition, every refused one, and two VMs at once. */
#include "tick.h"

static void check_refused(int ret, const struct errbuf *e, const char *msg)
{
	CHECK_EQ(ret, -1);
	CHECK_CONTAINS(e->msg, msg);
}

TEST(lifecycle_transitions_and_refusals)
{
	struct tick_counter t;
	struct errbuf e;
	struct vm *vm = kvmtest_vm("ticker", NULL);
	uint64_t frozen;

	tick_attach(vm, &t);
	CHECK_EQ(vm_get_state(vm), VM_CREATED);
	check_refused(vm_pause(vm, &e), &e, "cannot pause a VM that is created");
	check_refused(vm_resume(vm, &e), &e, "cannot resume a VM that is created");
	check_refused(vm_wait(vm, 1, &e), &e, "cannot wait for a VM that is created");

	CHECK(vm_start(vm, &e) == 0);
	CHECK_EQ(vm_get_state(vm), VM_RUNNING);
	check_refused(vm_start(vm, &e), &e, "cannot start a VM that is running");
	check_refused(vm_resume(vm, &e), &e, "cannot resume a VM that is running");
	tick_wait_past(&t, 100);

	CHECK(vm_pause(vm, &e) == 0);
	CHECK_EQ(vm_get_state(vm), VM_PAUSED);
	check_refused(vm_pause(vm, &e), &e, "cannot pause a VM that is paused");
	check_refused(vm_start(vm, &e), &e, "cannot start a VM that is paused");
	frozen = atomic_load(&t.ticks);
	sleep_ms(200);
	CHECK_EQ(atomic_load(&t.ticks), frozen); /* a paused guest makes no progress */

	CHECK(vm_resume(vm, &e) == 0);
	CHECK_EQ(vm_get_state(vm), VM_RUNNING);
	tick_wait_past(&t, frozen + 100);

	vm_request_stop(vm, "test done");
	CHECK(vm_wait(vm, 30, &e) == 0);
	CHECK_EQ(vm_get_state(vm), VM_STOPPED);
	CHECK_STOP(vm, STOP_REQUESTED);
	check_refused(vm_start(vm, &e), &e, "cannot start a VM that is stopped");
	check_refused(vm_pause(vm, &e), &e, "cannot pause a VM that is stopped");
	check_refused(vm_resume(vm, &e), &e, "cannot resume a VM that is stopped");
	check_refused(vm_wait(vm, 1, &e), &e, "cannot wait for a VM that is stopped");
	vm_destroy(vm);
}

TEST(lifecycle_stop_while_paused)
{
	struct tick_counter t;
	struct errbuf e;
	struct vm *vm = kvmtest_vm("ticker", NULL);

	tick_attach(vm, &t);
	CHECK(vm_start(vm, &e) == 0);
	tick_wait_past(&t, 10);
	CHECK(vm_pause(vm, &e) == 0);
	vm_request_stop(vm, "stopped while paused");
	CHECK(vm_wait(vm, 30, &e) == 0);
	CHECK_EQ(vm_get_state(vm), VM_STOPPED);
	CHECK_STOP(vm, STOP_REQUESTED);
	CHECK_CONTAINS(vm->m.stop_msg, "stopped while paused");
	vm_destroy(vm);
}

TEST(lifecycle_pause_and_resume_four_vcpus)
{
	struct vm_config cfg;
	struct tick_counter t;
	struct errbuf e;
	struct vm *vm;

	vm_config_default(&cfg);
	cfg.ncpus = 4; /* APs halt with interrupts off: pause must still park them */
	vm = kvmtest_vm("ticker", &cfg);
	tick_attach(vm, &t);
	CHECK(vm_start(vm, &e) == 0);
	tick_wait_past(&t, 10);
	for (int i = 0; i < 5; i++) {
		CHECK(vm_pause(vm, &e) == 0);
		CHECK(vm_resume(vm, &e) == 0);
	}
	tick_wait_past(&t, atomic_load(&t.ticks) + 10);
	vm_destroy(vm); /* destroying a running VM stops it first */
}

TEST(lifecycle_destroy_never_started)
{
	struct vm *vm = kvmtest_vm("hello", NULL);

	vm_request_stop(vm, "never ran");
	CHECK_EQ(vm_get_state(vm), VM_STOPPED);
	vm_destroy(vm);
}

TEST(two_vms_run_at_once_independently)
{
	struct tick_counter ta, tb;
	struct errbuf e;
	struct vm *a = kvmtest_vm("ticker", NULL);
	struct vm *b = kvmtest_vm("ticker", NULL);
	uint64_t b_then;

	tick_attach(a, &ta);
	tick_attach(b, &tb);
	CHECK(vm_start(a, &e) == 0);
	CHECK(vm_start(b, &e) == 0);
	tick_wait_past(&ta, 100);
	tick_wait_past(&tb, 100);

	/* Stopping one leaves the other running. */
	vm_request_stop(a, "stop a");
	CHECK(vm_wait(a, 30, &e) == 0);
	CHECK_STOP(a, STOP_REQUESTED);
	CHECK_EQ(vm_get_state(b), VM_RUNNING);
	b_then = atomic_load(&tb.ticks);
	tick_wait_past(&tb, b_then + 100);
	CHECK(!machine_stopping(&b->m));

	vm_request_stop(b, "stop b");
	CHECK(vm_wait(b, 30, &e) == 0);
	CHECK_STOP(b, STOP_REQUESTED);
	vm_destroy(a);
	vm_destroy(b);
}
