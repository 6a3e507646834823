/* A KVM virtual machine: its vCPUs, their threads, and its lifecycle. */
#ifndef KVMLAB_VM_H
#define KVMLAB_VM_H

#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>

#include "err.h"
#include "exit.h"
#include "machine.h"
#include "sched.h"

#define VM_MAX_VCPUS 256

struct kvm_run;
struct sandbox;
struct vm;

struct vm_config {
	const char *name;     /* shown by `kvmlab ls` and in reports; may be NULL */
	const char *kvm_path; /* default "/dev/kvm" */
	const char *mem_policy; /* memory policy spec "NAME[:k=v,...]"; NULL means "anon" */
	const char *sched;	/* vCPU scheduler spec "NAME[:k=v,...]"; NULL means "os" */
	uint64_t mem_size;    /* bytes of RAM at guest-physical 0 */
	unsigned ncpus;	      /* 1 .. VM_MAX_VCPUS and the KVM limit */
	bool irqchip;	      /* in-kernel LAPIC/IOAPIC/PIC and PIT */
	bool strict;	      /* unclaimed port/MMIO accesses stop the VM */
	bool keep_virt;	      /* leave SVM/VMX visible in the guest's CPUID */
	bool aps_wait_sipi;   /* APs wait for the guest's INIT/SIPI instead of entering at
				 the entry point (needs irqchip) */
	int console_fd;	      /* where COM1 output goes */
	const struct sandbox *sandbox; /* per-thread seccomp filters (sandbox.h); NULL: none */
};

/* Fills in the defaults: 64 MiB, 1 vCPU, irqchip on, console on stdout. */
void vm_config_default(struct vm_config *c);

struct vcpu {
	struct vm *vm;
	unsigned id;
	int fd;
	struct kvm_run *run;
	size_t run_size;
	pthread_t thread;
	bool thread_started;	  /* created by vm_start, not yet joined (owner thread only) */
	_Atomic bool thread_live; /* set by the vCPU thread itself: kicks may signal self */
	pthread_t self;
	_Atomic uint64_t exits; /* KVM_RUN returns that reached a handler */
};

/*
 * The lifecycle. Transitions:
 *   CREATED --vm_start--> RUNNING --vm_pause--> PAUSED --vm_resume--> RUNNING
 *   RUNNING or PAUSED --(a stop request, then vm_wait)--> STOPPED
 * Anything else is refused with a report naming both states.
 */
enum vm_state {
	VM_CREATED,
	VM_RUNNING,
	VM_PAUSED,
	VM_STOPPED,
};

const char *vm_state_name(enum vm_state s);

struct vm {
	struct machine m;
	struct vm_config cfg;
	int kvm_fd;
	int vm_fd;
	unsigned api_version;
	void *ram;
	struct exit_table exits;
	_Atomic enum vm_state state;
	unsigned nvcpus;
	struct vcpu vcpus[VM_MAX_VCPUS];
	/* wait_lock guards the lifecycle: wait_cond is signalled when the machine
	 * is asked to stop and when a vCPU parks; park_cond releases parked vCPUs. */
	pthread_mutex_t wait_lock;
	pthread_cond_t wait_cond;
	pthread_cond_t park_cond;
	bool pause_requested;
	unsigned parked;
	/* Memory-policy state, owned by the memory subsystem (memory.c). */
	void *mem_state;
	/* The vCPU scheduling policy (sched.h) and its tick thread. */
	const struct sched_ops *sched;
	bool sched_hooks; /* sched has enter or leave, or KVM_RUN faults are planned (faults.h):
			     vcpu_step takes vcpu_step_sched */
	void *sched_state;
	pthread_t sched_thread;
	bool sched_thread_started;
	/* Exit statistics (stats.c), allocated on first stats_enable. */
	struct vm_stats *stats;
};

/*
 * Opens KVM, checks its API version and the capabilities kvmlab needs,
 * creates the VM with its RAM, in-kernel devices and vCPUs, and attaches the
 * default devices. Returns NULL with e filled on any failure.
 */
struct vm *vm_create(const struct vm_config *cfg, struct errbuf *e);

/* Puts every vCPU in 64-bit long mode at entry (identity-mapped low 4 GiB),
 * with RDI = vCPU id and RSI = vCPU count. */
int vm_setup_long_mode(struct vm *vm, uint64_t entry, struct errbuf *e);

/* Starts one thread per vCPU. CREATED -> RUNNING; refused in other states. */
int vm_start(struct vm *vm, struct errbuf *e);

/* Waits until the machine stops or timeout_s passes (<= 0: no limit); on
 * timeout records STOP_TIMEOUT. Then stops and joins every vCPU thread.
 * RUNNING -> STOPPED. */
int vm_wait(struct vm *vm, double timeout_s, struct errbuf *e);

/* Asks a running or paused VM to stop; vm_wait then finishes the job.
 * Call from a thread, not a signal handler. */
void vm_request_stop(struct vm *vm, const char *why);

/*
 * One trip through the exit path on the calling thread: KVM_RUN, then the
 * handler for the exit it returned. The vCPU threads loop on this; benchmarks
 * and single-threaded tests may call it directly on a CREATED VM's vCPU.
 */
enum exit_action vcpu_step(struct vcpu *v);

/* RUNNING -> PAUSED: returns once every vCPU is out of KVM_RUN and parked. */
int vm_pause(struct vm *vm, struct errbuf *e);

/* PAUSED -> RUNNING. */
int vm_resume(struct vm *vm, struct errbuf *e);

static inline enum vm_state vm_get_state(struct vm *vm)
{
	return atomic_load(&vm->state);
}

/* Frees everything; stops and joins vCPUs first if they still run. */
void vm_destroy(struct vm *vm);

#endif
