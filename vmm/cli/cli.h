/* The kvmlab command's subcommands and its documented exit statuses. */
#ifndef KVMLAB_CLI_H
#define KVMLAB_CLI_H

#include <stdio.h>

/*
 * Exit statuses of `kvmlab run`. Odd statuses belong to the guest: a write of
 * v to the debug-exit port gives (v << 1) | 1, as QEMU's isa-debug-exit does,
 * so kvmlab's own statuses are all even.
 */
enum cli_status {
	CLI_OK = 0,	      /* the guest halted or powered off */
	CLI_USAGE = 2,	      /* bad option, config or guest image */
	CLI_HOST_ERROR = 4,   /* no usable KVM, a missing capability, an ioctl failure */
	CLI_GUEST_SHUTDOWN = 6, /* the guest triple-faulted */
	CLI_GUEST_ERROR = 8,  /* entry failure, internal error, unknown exit, strict-mode access */
	CLI_GUEST_ASSERT = 10, /* the guest's test failed an assertion or took an exception */
	CLI_SANDBOX = 12,      /* a VMM thread made a system call its seccomp filter forbids
				  (SANDBOX_EXIT_STATUS, sandbox.h), or could not be confined */
	CLI_TIMEOUT = 124,    /* --timeout passed */
	CLI_SIGNALLED = 128,  /* plus the signal number, when stopped by SIGINT/SIGTERM/SIGHUP */
};

struct cli_command {
	const char *name;
	const char *summary;
	int (*main)(int argc, char **argv);
};

int cmd_run(int argc, char **argv);
int cmd_info(int argc, char **argv);
int cmd_ctl(int argc, char **argv);
int cmd_ls(int argc, char **argv);
int cmd_switch(int argc, char **argv);
int cmd_bench(int argc, char **argv);

struct vm;
/* With --stats: one line on out with the run's time, KVM's exit count and kvmlab's exits by
 * reason. Call after vm_wait, before vm_destroy. */
void run_report_stats(struct vm *vm, double seconds, FILE *out);

#endif
