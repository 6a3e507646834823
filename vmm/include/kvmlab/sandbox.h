/* Seccomp-bpf allow-lists per thread kind, each installed by its thread after its own set-up. */
#ifndef KVMLAB_SANDBOX_H
#define KVMLAB_SANDBOX_H

#include "err.h"

/*
 * Every thread of a sandboxed VMM belongs to one kind and runs under that
 * kind's allow-list (docs/security.md lists each). A filter is per thread, as
 * in Firecracker: each thread installs its own when its set-up is done, so
 * what set-up needs (open, socket, KVM_CREATE_*) is never in any list.
 *   SANDBOX_MAIN  the main thread once the VM runs, the control server and the
 *                 signal watcher: waiting, control clients, teardown
 *   SANDBOX_VCPU  vCPU threads and the scheduler's tick thread: KVM_RUN and the
 *                 few vCPU ioctls exit handlers use, device callbacks
 *   SANDBOX_IO    device I/O threads (disk, network, console input, uffd):
 *                 file and socket I/O on descriptors opened at set-up
 */
enum sandbox_kind {
	SANDBOX_MAIN,
	SANDBOX_VCPU,
	SANDBOX_IO,
	SANDBOX_NKINDS,
};

/* The exit status of a VMM that made a forbidden call (the kvmlab command's list: cli.h). */
#define SANDBOX_EXIT_STATUS 12

struct sandbox;

/*
 * Builds the filters of every kind for this process (its pid is in them: run
 * it after any fork) and installs the SIGSYS reporter. A forbidden call then
 * writes one line, "kvmlab: seccomp: <kind> thread made forbidden system call
 * <name> (<nr>)", to stderr and ends the process with SANDBOX_EXIT_STATUS.
 * Reads KVMLAB_TEST_FORBIDDEN_SYSCALL=main|vcpu|io, a test-only hook that makes
 * each thread of that kind call socket() right after its filter is in.
 */
struct sandbox *sandbox_create(struct errbuf *e);

/*
 * Confines the calling thread to kind's allow-list (and sets no_new_privs).
 * A NULL sandbox means "not sandboxed": nothing happens. Never fails back to
 * its caller: a thread the user asked to confine must not run unconfined, so
 * a failure (which sandbox_create's checks make unexpected) reports and ends
 * the process with SANDBOX_EXIT_STATUS. Async-signal-safe and allocation-free.
 */
void sandbox_enter_thread(enum sandbox_kind kind, const struct sandbox *sb);

/* "main", "vcpu" or "io". */
const char *sandbox_kind_name(enum sandbox_kind kind);

/* Frees the filters; threads already confined stay confined. NULL is fine. */
void sandbox_destroy(struct sandbox *sb);

#endif
