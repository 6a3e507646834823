/* Scheduling policies under contention: fairness, weights, caps and pinning, measured from the
 * host. */
#include <pthread.h>
#include <sched.h>
#include <time.h>

#include <stdatomic.h>

#include "results.h"

/*
 * Each test runs the sched_spin guest (every vCPU spins and counts) with more
 * vCPUs than the policy lets run at once: slots=1 for the slot policies, all
 * threads on one host CPU for os and pinned. Shares are the vCPU threads' own
 * CPU time (pthread_getcpuclockid) over a window of wall time, so they say
 * what the host gave each thread whatever the policy believes, and other load
 * on the host scales every share alike. The guest's progress counters are
 * printed beside them. Windows are wall time: a slow (nested, emulated) host
 * does less work per window but still shows the shares.
 *
 * harness/tests/test_sched.py also runs these tests against a build with a
 * planted fault in every policy (-DKVMLAB_SCHED_PLANTED_FAULT) and requires
 * the checks that cover each policy to fail there.
 */

#define WARMUP_S  0.3
#define WINDOW_S  1.5
#define MAX_VCPUS 8

/*
 * A meter between the vCPU loop and the policy: it forwards every hook and
 * adds up, per vCPU, the wall time spent inside KVM_RUN (from a successful
 * enter to the matching leave). That is the time the policy let the vCPU run,
 * measured by the loop rather than by the policy's own books; unlike CPU time
 * it does not shrink when other load on the host takes the CPU away.
 */
struct meter {
	const struct sched_ops *ops;
	void *state;
	struct sched_ops wrapped;
	_Atomic uint64_t since[VM_MAX_VCPUS]; /* entered KVM_RUN at; 0 when outside */
	_Atomic uint64_t total[VM_MAX_VCPUS];
};

static int meter_vcpu_start(void *m, struct vcpu *v, struct errbuf *e)
{
	struct meter *mt = m;

	return mt->ops->vcpu_start ? mt->ops->vcpu_start(mt->state, v, e) : 0;
}

static bool meter_enter(void *m, struct vcpu *v)
{
	struct meter *mt = m;

	if (mt->ops->enter && !mt->ops->enter(mt->state, v))
		return false;
	atomic_store(&mt->since[v->id], sched_now_ns());
	return true;
}

static void meter_leave(void *m, struct vcpu *v, uint64_t ran_ns)
{
	struct meter *mt = m;
	uint64_t since = atomic_exchange(&mt->since[v->id], 0);

	if (since)
		atomic_fetch_add(&mt->total[v->id], sched_now_ns() - since);
	if (mt->ops->leave)
		mt->ops->leave(mt->state, v, ran_ns);
}

static void meter_tick(void *m, uint64_t now)
{
	struct meter *mt = m;

	mt->ops->tick(mt->state, now);
}

static void meter_kick(void *m)
{
	struct meter *mt = m;

	if (mt->ops->kick)
		mt->ops->kick(mt->state);
}

static int meter_set(void *m, int vcpu, const char *key, const char *value, struct errbuf *e)
{
	struct meter *mt = m;

	return mt->ops->set ? mt->ops->set(mt->state, vcpu, key, value, e)
			    : err_set(e, "no set hook");
}

static void meter_destroy(void *m)
{
	struct meter *mt = m;

	if (mt->ops->destroy)
		mt->ops->destroy(mt->state);
	free(mt);
}

/* Puts a meter around vm's policy; call before vm_start. vm_destroy frees it. */
static struct meter *meter_install(struct vm *vm)
{
	struct meter *mt = calloc(1, sizeof(*mt));

	CHECK(mt != NULL);
	mt->ops = vm->sched;
	mt->state = vm->sched_state;
	mt->wrapped = (struct sched_ops){
	    .name = vm->sched->name,
	    .help = vm->sched->help,
	    .create = vm->sched->create,
	    .destroy = meter_destroy,
	    .vcpu_start = meter_vcpu_start,
	    .enter = meter_enter,
	    .leave = meter_leave,
	    .tick = vm->sched->tick ? meter_tick : NULL,
	    .tick_ns = vm->sched->tick_ns,
	    .kick = meter_kick,
	    .set = meter_set,
	};
	vm->sched = &mt->wrapped;
	vm->sched_state = mt;
	return mt;
}

/* Seconds vCPU i has spent in KVM_RUN so far, counting a stretch still in progress. */
static double meter_in_run_s(struct meter *mt, unsigned i)
{
	uint64_t since = atomic_load(&mt->since[i]), total = atomic_load(&mt->total[i]);

	if (since)
		total += sched_now_ns() - since;
	return (double)total / 1e9;
}

struct shares {
	unsigned n;
	double cpu[MAX_VCPUS];	      /* seconds of CPU each vCPU thread got in the window */
	double share[MAX_VCPUS];      /* of the total */
	double in_run[MAX_VCPUS];     /* seconds each spent in KVM_RUN (wall time, by the meter) */
	uint64_t progress[MAX_VCPUS]; /* guest loop iterations in the window */
	double wall;
};

static void sleep_s(double s)
{
	struct timespec ts = {(time_t)s, (long)((s - (double)(time_t)s) * 1e9)};

	nanosleep(&ts, NULL);
}

static double thread_cpu_s(struct vcpu *v)
{
	struct timespec ts;
	clockid_t clk;

	CHECK(pthread_getcpuclockid(v->thread, &clk) == 0);
	CHECK(clock_gettime(clk, &ts) == 0);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

/* A sched_spin VM with n vCPUs under policy spec (metered), spinning until stopped. */
static struct vm *spin_vm(const char *spec, unsigned n)
{
	struct vm_config cfg;
	struct vm *vm;

	vm_config_default(&cfg);
	cfg.ncpus = n;
	cfg.mem_size = 16 << 20;
	cfg.sched = spec;
	vm = kvmtest_vm("sched_spin", &cfg);
	results_of(vm)->param[0] = 24 * 3600 * 1000ull; /* run_ms: until the test stops it */
	meter_install(vm);
	return vm;
}

static bool any_progress(struct results_abi *r, unsigned n)
{
	for (unsigned i = 0; i < n; i++)
		if (results_load(&r->vcpu[i].progress))
			return true;
	return false;
}

/* Starts vm and waits until its guest spins on some vCPU, then up to 2 s more
 * for every vCPU: a policy that starves some vCPU is caught by the
 * measurement, not by a timeout here. Waiting ends early when vCPUs have sat
 * in KVM_RUN for 5 s in all with no progress anywhere (a broken policy can
 * leave a vCPU that waits for another, unscheduled one, holding the CPU). */
static void start_and_wait_spinning(struct vm *vm)
{
	struct results_abi *r = results_of(vm);
	struct meter *mt = vm->sched_state;
	double deadline, in_run;
	struct errbuf e;

	CHECK(vm_start(vm, &e) == 0);
	deadline = mono_seconds() + 60; /* nested TCG hosts boot guests slowly */
	while (!any_progress(r, vm->nvcpus)) {
		in_run = 0;
		for (unsigned i = 0; i < vm->nvcpus; i++)
			in_run += meter_in_run_s(mt, i);
		if (in_run > 5) {
			fprintf(stderr, "no vCPU made progress in %.1f s of guest time\n", in_run);
			return;
		}
		if (machine_stopping(&vm->m) || mono_seconds() > deadline) {
			fprintf(stderr, "the guest never spun: %s\n", vm->m.stop_msg);
			exit(1);
		}
		sleep_s(0.005);
	}
	deadline = mono_seconds() + 2;
	for (unsigned i = 0; i < vm->nvcpus; i++)
		while (!results_load(&r->vcpu[i].progress) && mono_seconds() < deadline)
			sleep_s(0.005);
}

static struct shares measure(struct vm *vm, double window)
{
	struct results_abi *r = results_of(vm);
	struct meter *mt = vm->sched_state;
	struct shares s = {.n = vm->nvcpus};
	uint64_t p0[MAX_VCPUS];
	double total = 0, t0;

	CHECK(vm->nvcpus <= MAX_VCPUS);
	for (unsigned i = 0; i < s.n; i++) {
		s.cpu[i] = -thread_cpu_s(&vm->vcpus[i]);
		s.in_run[i] = -meter_in_run_s(mt, i);
		p0[i] = results_load(&r->vcpu[i].progress);
	}
	t0 = mono_seconds();
	sleep_s(window);
	for (unsigned i = 0; i < s.n; i++) {
		s.cpu[i] += thread_cpu_s(&vm->vcpus[i]);
		s.in_run[i] += meter_in_run_s(mt, i);
		s.progress[i] = results_load(&r->vcpu[i].progress) - p0[i];
		total += s.cpu[i];
	}
	s.wall = mono_seconds() - t0;
	for (unsigned i = 0; i < s.n; i++)
		s.share[i] = total > 0 ? s.cpu[i] / total : 0;
	return s;
}

static void print_shares(const char *what, const struct shares *s)
{
	fprintf(stderr, "%s: over %.2f s wall:", what, s->wall);
	for (unsigned i = 0; i < s->n; i++)
		fprintf(stderr,
			"\n  vCPU%u: %.3f s CPU (%.1f%%), %.3f s in KVM_RUN, %llu iterations", i,
			s->cpu[i], 100 * s->share[i], s->in_run[i],
			(unsigned long long)s->progress[i]);
	fprintf(stderr, "\n");
}

/* Jain's fairness index: 1 when all shares are equal, 1/n when one takes all. */
static double jain(const double *x, unsigned n)
{
	double sum = 0, sq = 0;

	for (unsigned i = 0; i < n; i++) {
		sum += x[i];
		sq += x[i] * x[i];
	}
	return sq > 0 ? sum * sum / (n * sq) : 0;
}

static void stop_vm(struct vm *vm)
{
	struct errbuf e;

	vm_request_stop(vm, "measurement done");
	CHECK(vm_wait(vm, 60, &e) == 0);
	CHECK_STOP(vm, STOP_REQUESTED); /* not a guest failure in the middle */
	vm_destroy(vm);
}

/* The first host CPU this process may use: where the contention tests crowd their threads. */
static unsigned first_cpu(void)
{
	cpu_set_t set;

	CHECK(sched_getaffinity(0, sizeof(set), &set) == 0);
	for (unsigned c = 0; c < CPU_SETSIZE; c++)
		if (CPU_ISSET(c, &set))
			return c;
	CHECK(!"no usable CPU");
	return 0;
}

/* Runs n spinners under spec and checks Jain's index over their CPU time. */
static void check_fair(const char *spec, unsigned n, bool one_cpu)
{
	cpu_set_t old, one;
	struct shares s;
	struct vm *vm;
	double j, total = 0;
	bool gated;

	if (one_cpu) { /* the vCPU threads inherit the starting thread's affinity */
		CHECK(pthread_getaffinity_np(pthread_self(), sizeof(old), &old) == 0);
		CPU_ZERO(&one);
		CPU_SET(first_cpu(), &one);
		CHECK(pthread_setaffinity_np(pthread_self(), sizeof(one), &one) == 0);
	}
	vm = spin_vm(spec, n);
	start_and_wait_spinning(vm);
	if (one_cpu)
		CHECK(pthread_setaffinity_np(pthread_self(), sizeof(old), &old) == 0);
	sleep_s(WARMUP_S);
	s = measure(vm, WINDOW_S);
	/* A slot policy decides who is in KVM_RUN: its shares are times in KVM_RUN.
	 * Under os and pinned every vCPU is always in KVM_RUN and the host kernel
	 * shares the CPU: their shares are CPU times. */
	gated = ((struct meter *)vm->sched_state)->ops->enter != NULL;
	j = jain(gated ? s.in_run : s.cpu, s.n);
	print_shares(spec, &s);
	fprintf(stderr, "%s: Jain's fairness index over %s %.3f (need >= 0.95); over %s %.3f\n",
		spec, gated ? "time in KVM_RUN" : "CPU time", j,
		gated ? "CPU time" : "time in KVM_RUN", jain(gated ? s.cpu : s.in_run, s.n));
	for (unsigned i = 0; i < s.n; i++)
		total += s.cpu[i];
	CHECK(total > 0.01 * s.wall); /* the vCPUs ran at all */
	CHECK(j >= 0.95);
	stop_vm(vm);
}

TEST(sched_os_fair_on_one_cpu)
{
	check_fair("os", 3, true);
}

TEST(sched_pinned_fair_on_one_cpu)
{
	char spec[64];

	snprintf(spec, sizeof(spec), "pinned:cpus=%u", first_cpu());
	check_fair(spec, 3, false);
}

TEST(sched_rr_fair)
{
	check_fair("rr:slots=1,slice=10", 3, false);
}

TEST(sched_credit_fair)
{
	check_fair("credit:slots=1", 3, false);
}

TEST(sched_example_fifo_fair)
{
	check_fair("example_fifo", 3, false);
}

/* Each vCPU thread is bound to exactly the CPU the list gives it, wrapping around. */
TEST(sched_pinned_binds_each_vcpu)
{
	unsigned cpus[2], n = 0;
	char spec[64];
	cpu_set_t set;
	struct vm *vm;

	CHECK(sched_getaffinity(0, sizeof(set), &set) == 0);
	for (unsigned c = 0; c < CPU_SETSIZE && n < 2; c++)
		if (CPU_ISSET(c, &set))
			cpus[n++] = c;
	if (n < 2) {
		fprintf(stderr, "pinning cannot be told from no pinning on one usable CPU\n");
		CHECK(n >= 2);
	}
	snprintf(spec, sizeof(spec), "pinned:cpus=%u,%u", cpus[1], cpus[0]);
	vm = spin_vm(spec, 3);
	start_and_wait_spinning(vm);
	for (unsigned i = 0; i < 3; i++) {
		unsigned want = i % 2 ? cpus[0] : cpus[1];

		CHECK(pthread_getaffinity_np(vm->vcpus[i].thread, sizeof(set), &set) == 0);
		fprintf(stderr, "vCPU %u: %d host CPUs allowed, want only CPU %u\n", i,
			CPU_COUNT(&set), want);
		CHECK_EQ(CPU_COUNT(&set), 1);
		CHECK(CPU_ISSET(want, &set));
	}
	stop_vm(vm);
}

/* Weights 2:1 give CPU 2:1 within 10%, set at creation and changed while running. */
TEST(sched_credit_weights_two_to_one)
{
	struct vm *vm = spin_vm("credit:slots=1,weight.0=512,weight.1=256", 2);
	struct errbuf e;
	struct shares s;
	double ratio;

	start_and_wait_spinning(vm);
	sleep_s(WARMUP_S);
	s = measure(vm, WINDOW_S);
	ratio = s.in_run[0] / (s.in_run[1] > 0 ? s.in_run[1] : 1e-9);
	print_shares("credit weights 512:256", &s);
	fprintf(stderr, "in KVM_RUN vCPU0/vCPU1 = %.3f (need 1.8 .. 2.2); CPU time %.3f\n", ratio,
		s.cpu[0] / (s.cpu[1] > 0 ? s.cpu[1] : 1e-9));
	CHECK(ratio >= 1.8 && ratio <= 2.2);

	/* Turn it around while the VM runs: vCPU 1 now weighs twice vCPU 0. */
	CHECK(vm->sched->set(vm->sched_state, 1, "weight", "1024", &e) == 0);
	sleep_s(WARMUP_S);
	s = measure(vm, WINDOW_S);
	ratio = s.in_run[1] / (s.in_run[0] > 0 ? s.in_run[0] : 1e-9);
	print_shares("credit weights 512:1024 (set while running)", &s);
	fprintf(stderr, "in KVM_RUN vCPU1/vCPU0 = %.3f (need 1.8 .. 2.2); CPU time %.3f\n", ratio,
		s.cpu[1] / (s.cpu[0] > 0 ? s.cpu[0] : 1e-9));
	CHECK(ratio >= 1.8 && ratio <= 2.2);
	stop_vm(vm);
}

/* A cap of 25% of a host CPU holds within 5 points, set while the VM runs. */
TEST(sched_credit_cap_25_percent)
{
	struct vm *vm = spin_vm("credit", 1);
	struct errbuf e;
	struct shares s;
	double pct;

	start_and_wait_spinning(vm);
	CHECK(vm->sched->set(vm->sched_state, -1, "cap", "25", &e) == 0);
	sleep_s(WARMUP_S);
	s = measure(vm, WINDOW_S);
	pct = 100 * s.in_run[0] / s.wall;
	print_shares("credit cap=25", &s);
	fprintf(stderr,
		"capped vCPU ran %.1f%% of the time (need 20 .. 30); the host gave it %.1f%% of a "
		"CPU\n",
		pct, 100 * s.cpu[0] / s.wall);
	CHECK(pct >= 20 && pct <= 30);
	stop_vm(vm);
}

/* Pause, resume and stop work under every policy, including vCPUs waiting for a slot. */
TEST(sched_policies_pause_resume_stop)
{
	static const char *const specs[] = {"os", "pinned", "rr:slots=1", "credit:slots=1",
					    "example_fifo"};
	struct errbuf e;

	for (unsigned p = 0; p < sizeof(specs) / sizeof(specs[0]); p++) {
		struct vm *vm = spin_vm(specs[p], 3);
		struct results_abi *r = results_of(vm);

		start_and_wait_spinning(vm);
		for (int i = 0; i < 3; i++) {
			uint64_t before[3];

			CHECK(vm_pause(vm, &e) == 0);
			for (unsigned c = 0; c < 3; c++)
				before[c] = results_load(&r->vcpu[c].progress);
			sleep_s(0.05);
			for (unsigned c = 0; c < 3; c++) /* paused means paused */
				CHECK_EQ(results_load(&r->vcpu[c].progress), before[c]);
			CHECK(vm_resume(vm, &e) == 0);
			for (unsigned c = 0; c < 3; c++)
				results_wait(vm, &r->vcpu[c].progress, before[c] + 1,
					     "progress after resume");
		}
		fprintf(stderr, "%s: pause/resume x3 and stop: ok\n", specs[p]);
		stop_vm(vm);
	}
}
