/* Running a VM: vCPU threads, their loop around KVM_RUN, start, stop and wait. */
#include <errno.h>
#include <linux/kvm.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/syscall.h>
#include <time.h>

#include "kvmlab/faults.h"
#include "kvmlab/kvm.h"
#include "kvmlab/sandbox.h"
#include "kvmlab/x86.h"
#include "vm_internal.h"

void vm_wait_cond_init(struct vm *vm)
{
	pthread_condattr_t attr;

	pthread_condattr_init(&attr);
	pthread_condattr_setclock(&attr, CLOCK_MONOTONIC);
	pthread_cond_init(&vm->wait_cond, &attr);
	pthread_condattr_destroy(&attr);
}

int vm_setup_long_mode(struct vm *vm, uint64_t entry, struct errbuf *e)
{
	if (x86_write_boot_tables(&vm->m.mem, e))
		return -1;
	for (unsigned i = 0; i < vm->nvcpus; i++) {
		struct vcpu *v = &vm->vcpus[i];
		struct kvm_mp_state runnable = {.mp_state = KVM_MP_STATE_RUNNABLE};
		struct kvm_sregs sregs;
		struct kvm_regs regs = {
			.rip = entry, .rflags = 0x2, .rdi = i, .rsi = vm->nvcpus};

		if (KVM_IOCTL(v->fd, KVM_GET_SREGS, &sregs, e, "reading segment registers"))
			return -1;
		x86_sregs_long_mode(&sregs);
		if (KVM_IOCTL(v->fd, KVM_SET_SREGS, &sregs, e, "entering long mode") ||
		    KVM_IOCTL(v->fd, KVM_SET_REGS, &regs, e, "setting the entry point"))
			return -1;
		/* With an in-kernel LAPIC, APs would otherwise wait for INIT/SIPI. */
		if (vm->cfg.irqchip && i > 0 && !vm->cfg.aps_wait_sipi &&
		    KVM_IOCTL(v->fd, KVM_SET_MP_STATE, &runnable, e, "making an AP runnable"))
			return -1;
	}
	return 0;
}

static const char *const vm_state_names[] = {
	[VM_CREATED] = "created",
	[VM_RUNNING] = "running",
	[VM_PAUSED] = "paused",
	[VM_STOPPED] = "stopped",
};

const char *vm_state_name(enum vm_state s)
{
	return (unsigned)s <= VM_STOPPED ? vm_state_names[s] : "invalid";
}

/* Parks the calling vCPU until the VM resumes or stops. */
static void vcpu_park(struct vm *vm)
{
	pthread_mutex_lock(&vm->wait_lock);
	vm->parked++;
	pthread_cond_broadcast(&vm->wait_cond);
	while (vm->pause_requested && !machine_stopping(&vm->m))
		pthread_cond_wait(&vm->park_cond, &vm->wait_lock);
	vm->parked--;
	pthread_mutex_unlock(&vm->wait_lock);
}

static bool vcpu_should_park(struct vm *vm)
{
	bool pause;

	pthread_mutex_lock(&vm->wait_lock);
	pause = vm->pause_requested;
	pthread_mutex_unlock(&vm->wait_lock);
	return pause;
}

uint64_t sched_now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;
}

/* After a kick: reset immediate_exit first, then look at why (pause, stop or preemption). */
static enum exit_action vcpu_after_kick(struct vcpu *v)
{
	v->run->immediate_exit = 0;
	if (vcpu_should_park(v->vm))
		vcpu_park(v->vm);
	return machine_stopping(&v->vm->m) ? EXIT_STOP : EXIT_RESUME;
}

/* KVM_RUN as a bare syscall: glibc's variadic ioctl() spends 20 instructions per
 * call on va_list set-up and a stack-protector check. Returns 0 or -errno (errno
 * is left alone: setting it on the hot path would need a frame to keep v). */
static inline long kvm_run_ioctl(int fd)
{
	long r;

	__asm__ volatile("syscall"
			 : "=a"(r)
			 : "0"((long)__NR_ioctl), "D"((long)fd), "S"((long)KVM_RUN), "d"(0L)
			 : "rcx", "r11", "memory");
	return r;
}

/* KVM_RUN returned an error: a kick (pause, stop, preemption) or a host failure. */
static __attribute__((noinline, cold)) enum exit_action vcpu_run_failed(struct vcpu *v, int err)
{
	errno = err;
	if (err == EINTR || err == EAGAIN)
		return vcpu_after_kick(v);
	machine_stop(&v->vm->m, STOP_HOST_ERROR, 0, "KVM_RUN failed on vCPU %u: %s", v->id,
		     strerror(err));
	return EXIT_STOP;
}

/* vcpu_step for policies with enter/leave hooks, and for planned KVM_RUN faults (faults.h). */
static __attribute__((noinline)) enum exit_action vcpu_step_sched(struct vcpu *v)
{
	struct vm *vm = v->vm;
	const struct sched_ops *s = vm->sched;
	uint64_t entered = 0;
	int r;

	if (s->enter && !s->enter(vm->sched_state, v))
		return vcpu_after_kick(v);
	if (s->leave)
		entered = sched_now_ns();
	r = (errno = faults_kvm_ioctl("KVM_RUN")) ? -1 : ioctl(v->fd, KVM_RUN, 0);
	if (s->leave)
		s->leave(vm->sched_state, v, sched_now_ns() - entered);
	if (r < 0)
		return vcpu_run_failed(v, errno);
	/* Only this thread writes exits; others may read it while the VM runs. */
	atomic_store_explicit(&v->exits, atomic_load_explicit(&v->exits, memory_order_relaxed) + 1,
			      memory_order_relaxed);
	return exit_dispatch(&vm->exits, v);
}

/*
 * Counts an exit. Only this thread writes exits; others read it with atomic
 * loads while the VM runs. On x86 an aligned 8-byte add to memory is one store
 * that readers see whole: one instruction where an atomic load, add and store
 * take three on the exit path.
 */
static inline void vcpu_count_exit(struct vcpu *v)
{
	__asm__("addq $1, %0" : "+m"(*(uint64_t *)&v->exits) : : "cc");
}

/* The exit path (about 20 instructions here; bench/instructions_per_exit counts
 * them): every slow case is a tail call, so v stays in a register the syscall
 * preserves and no stack frame is built. */
enum exit_action vcpu_step(struct vcpu *v)
{
	struct vm *vm = v->vm;
	const struct exit_handler *h;
	unsigned reason;
	long r;

	if (vm->sched_hooks)
		return vcpu_step_sched(v);
	r = kvm_run_ioctl(v->fd);
	if (__builtin_expect(r < 0, 0))
		return vcpu_run_failed(v, (int)-r);
	vcpu_count_exit(v);
	reason = v->run->exit_reason;
	if (__builtin_expect(reason >= EXIT_TABLE_SIZE, 0))
		return exit_dispatch(&vm->exits, v); /* reports the unknown reason */
	h = exit_table_slot(&vm->exits, reason);
	return h->fn(v, h->opaque);
}

static void *vcpu_thread(void *arg)
{
	struct vcpu *v = arg;
	struct vm *vm = v->vm;
	struct errbuf e;
	sigset_t kick;

	sigemptyset(&kick);
	sigaddset(&kick, VCPU_KICK_SIGNAL);
	pthread_sigmask(SIG_UNBLOCK, &kick, NULL);
	/* Publish before looking at the VM's flags: a stop or pause that this
	 * thread does not see will see thread_live and signal it (both seq_cst). */
	v->self = pthread_self();
	atomic_store(&v->thread_live, true);
	if (vm->sched->vcpu_start && vm->sched->vcpu_start(vm->sched_state, v, &e)) {
		machine_stop(&vm->m, STOP_HOST_ERROR, 0, "scheduler %s, vCPU %u: %s",
			     vm->sched->name, v->id, e.msg);
		return NULL;
	}
	sandbox_enter_thread(SANDBOX_VCPU, vm->m.sandbox); /* set-up done: KVM_RUN from here */
	while (!machine_stopping(&vm->m) && vcpu_step(v) == EXIT_RESUME)
		;
	atomic_store(&v->thread_live, false);
	return NULL;
}

/* Calls the policy's tick every tick_ns until the machine stops. */
static void *sched_thread(void *arg)
{
	struct vm *vm = arg;
	uint64_t period = vm->sched->tick_ns;
	struct timespec next;

	sandbox_enter_thread(SANDBOX_VCPU, vm->m.sandbox);
	clock_gettime(CLOCK_MONOTONIC, &next);
	while (!machine_stopping(&vm->m)) {
		next.tv_nsec += (long)(period % 1000000000ull);
		next.tv_sec += (time_t)(period / 1000000000ull);
		if (next.tv_nsec >= 1000000000L) {
			next.tv_sec++;
			next.tv_nsec -= 1000000000L;
		}
		clock_nanosleep(CLOCK_MONOTONIC, TIMER_ABSTIME, &next, NULL);
		vm->sched->tick(vm->sched_state, sched_now_ns());
	}
	return NULL;
}

void vcpu_kick(struct vcpu *v)
{
	/* immediate_exit closes the race with a vCPU about to enter KVM_RUN. A
	 * thread that is not live yet will see the VM's flags before its first
	 * KVM_RUN: it publishes thread_live before it looks (see vcpu_thread). */
	v->run->immediate_exit = 1;
	atomic_thread_fence(memory_order_seq_cst); /* the store above before the load below */
	if (atomic_load(&v->thread_live))
		pthread_kill(v->self, VCPU_KICK_SIGNAL);
}

/* Makes every vCPU leave KVM_RUN soon and look at the VM's flags. */
static void vm_kick_all(struct vm *vm)
{
	for (unsigned i = 0; i < vm->nvcpus; i++)
		vcpu_kick(&vm->vcpus[i]);
	if (vm->sched && vm->sched->kick)
		vm->sched->kick(vm->sched_state);
}

void vm_on_stop(void *opaque)
{
	struct vm *vm = opaque;

	pthread_mutex_lock(&vm->wait_lock);
	pthread_cond_broadcast(&vm->wait_cond);
	pthread_cond_broadcast(&vm->park_cond);
	pthread_mutex_unlock(&vm->wait_lock);
	vm_kick_all(vm);
}

/* Moves from one state to another only if nobody moved it meanwhile. */
static int vm_transition(struct vm *vm, enum vm_state from, enum vm_state to, const char *verb,
			 struct errbuf *e)
{
	enum vm_state seen = from;

	if (!atomic_compare_exchange_strong(&vm->state, &seen, to))
		return err_set(e, "cannot %s a VM that is %s", verb, vm_state_name(seen));
	return 0;
}

int vm_pause(struct vm *vm, struct errbuf *e)
{
	enum vm_state s = vm_get_state(vm);

	if (s != VM_RUNNING)
		return err_set(e, "cannot pause a VM that is %s", vm_state_name(s));
	pthread_mutex_lock(&vm->wait_lock);
	vm->pause_requested = true;
	pthread_mutex_unlock(&vm->wait_lock);
	vm_kick_all(vm);
	pthread_mutex_lock(&vm->wait_lock);
	while (vm->parked < vm->nvcpus && !machine_stopping(&vm->m))
		pthread_cond_wait(&vm->wait_cond, &vm->wait_lock);
	pthread_mutex_unlock(&vm->wait_lock);
	if (machine_stopping(&vm->m))
		return err_set(e, "the VM stopped while being paused");
	return vm_transition(vm, VM_RUNNING, VM_PAUSED, "pause", e);
}

int vm_resume(struct vm *vm, struct errbuf *e)
{
	int r;

	pthread_mutex_lock(&vm->wait_lock);
	r = vm_transition(vm, VM_PAUSED, VM_RUNNING, "resume", e);
	if (r == 0) {
		vm->pause_requested = false;
		pthread_cond_broadcast(&vm->park_cond);
	}
	pthread_mutex_unlock(&vm->wait_lock);
	return r;
}

int vm_start(struct vm *vm, struct errbuf *e)
{
	sigset_t kick, old;
	int r = 0;

	if (vm_transition(vm, VM_CREATED, VM_RUNNING, "start", e))
		return -1;
	/* vCPU threads unblock the kick signal themselves; no one else should take it. */
	sigemptyset(&kick);
	sigaddset(&kick, VCPU_KICK_SIGNAL);
	pthread_sigmask(SIG_BLOCK, &kick, &old);
	for (unsigned i = 0; i < vm->nvcpus; i++) {
		struct vcpu *v = &vm->vcpus[i];

		r = pthread_create(&v->thread, NULL, vcpu_thread, v);
		if (r) {
			errno = r;
			err_errno(e, "cannot start the thread of vCPU %u", i);
			machine_stop(&vm->m, STOP_HOST_ERROR, 0, "%s", e->msg);
			break;
		}
		v->thread_started = true;
	}
	if (r == 0 && vm->sched->tick && vm->sched->tick_ns) {
		r = pthread_create(&vm->sched_thread, NULL, sched_thread, vm);
		if (r) {
			errno = r;
			err_errno(e, "cannot start the %s scheduler thread", vm->sched->name);
			machine_stop(&vm->m, STOP_HOST_ERROR, 0, "%s", e->msg);
		}
		vm->sched_thread_started = r == 0;
	}
	pthread_sigmask(SIG_SETMASK, &old, NULL);
	return r ? -1 : 0;
}

static void timespec_after(struct timespec *ts, double seconds)
{
	clock_gettime(CLOCK_MONOTONIC, ts);
	ts->tv_sec += (time_t)seconds;
	ts->tv_nsec += (long)((seconds - (double)(time_t)seconds) * 1e9);
	if (ts->tv_nsec >= 1000000000L) {
		ts->tv_sec++;
		ts->tv_nsec -= 1000000000L;
	}
}

int vm_wait(struct vm *vm, double timeout_s, struct errbuf *e)
{
	enum vm_state s = vm_get_state(vm);
	struct timespec deadline;
	bool timed_out = false;

	if (s != VM_RUNNING && s != VM_PAUSED)
		return err_set(e, "cannot wait for a VM that is %s", vm_state_name(s));
	timespec_after(&deadline, timeout_s);
	pthread_mutex_lock(&vm->wait_lock);
	while (!machine_stopping(&vm->m) && !timed_out) {
		if (timeout_s > 0)
			timed_out = pthread_cond_timedwait(&vm->wait_cond, &vm->wait_lock,
							   &deadline) == ETIMEDOUT;
		else
			pthread_cond_wait(&vm->wait_cond, &vm->wait_lock);
	}
	pthread_mutex_unlock(&vm->wait_lock);
	if (timed_out)
		machine_stop(&vm->m, STOP_TIMEOUT, 0, "guest still running after %g s; stopped",
			     timeout_s);
	for (unsigned i = 0; i < vm->nvcpus; i++) {
		struct vcpu *v = &vm->vcpus[i];

		if (v->thread_started)
			pthread_join(v->thread, NULL);
		v->thread_started = false;
	}
	if (vm->sched_thread_started)
		pthread_join(vm->sched_thread, NULL);
	vm->sched_thread_started = false;
	atomic_store(&vm->state, VM_STOPPED);
	return 0;
}

void vm_request_stop(struct vm *vm, const char *why)
{
	enum vm_state created = VM_CREATED;

	/* A VM that never started has no threads to stop: it goes straight to STOPPED. */
	atomic_compare_exchange_strong(&vm->state, &created, VM_STOPPED);
	machine_stop(&vm->m, STOP_REQUESTED, 0, "%s", why);
}
