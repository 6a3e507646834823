/* The per-VM table of KVM exit handlers, indexed by exit reason and replaceable at run time. */
#ifndef KVMLAB_EXIT_H
#define KVMLAB_EXIT_H

#include <stdatomic.h>
#include <stdint.h>

struct vcpu;

/* What a handler tells the vCPU loop. */
enum exit_action {
	EXIT_RESUME = 0, /* re-enter the guest */
	EXIT_STOP = 1,	 /* the machine was asked to stop (machine_stop called) */
};

typedef enum exit_action (*exit_fn)(struct vcpu *vcpu, void *opaque);

/*
 * A handler and its state. The table stores pointers to these, so the caller
 * keeps the struct alive for as long as it is installed. To wrap a handler
 * (tracing, counting, fault injection), install a new one whose opaque keeps
 * the pointer exit_table_set returned, and call through it.
 */
struct exit_handler {
	exit_fn fn;
	void *opaque;
	const char *name;
};

#define EXIT_TABLE_SIZE 64 /* larger than any KVM_EXIT_* the kernel defines */

struct exit_table {
	_Atomic(const struct exit_handler *) slot[EXIT_TABLE_SIZE];
};

/* Fills the table with kvmlab's defaults: IO, MMIO, HLT, SHUTDOWN,
 * FAIL_ENTRY, INTERNAL_ERROR, SYSTEM_EVENT, X86_RDMSR/WRMSR. Every other
 * reason stops the VM with a report naming it. */
void exit_table_init(struct exit_table *t);

/* Installs h for reason and returns the handler it replaces (never NULL for
 * reasons below EXIT_TABLE_SIZE); safe while vCPUs run. NULL reason out of range. */
const struct exit_handler *exit_table_set(struct exit_table *t, unsigned reason,
					  const struct exit_handler *h);

/* Calls the handler for the vCPU's current exit (vcpu->run->exit_reason). */
enum exit_action exit_dispatch(struct exit_table *t, struct vcpu *vcpu);

/*
 * The handler installed for reason, which must be below EXIT_TABLE_SIZE. For
 * the vCPU loop (run.c), which checks the reason and dispatches inline so the
 * exit path makes no call of its own (bench/instructions_per_exit counts it);
 * everything else calls exit_dispatch.
 */
static inline const struct exit_handler *exit_table_slot(struct exit_table *t, unsigned reason)
{
	return atomic_load_explicit(&t->slot[reason], memory_order_acquire);
}

/* "IO", "MMIO", ... or "UNKNOWN" for reasons kvmlab has no name for. */
const char *exit_reason_name(unsigned reason);

#endif
