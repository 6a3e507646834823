/* `kvmlab run --jail DIR`: namespaces, a root holding only the VM's files, no capabilities. */
#ifndef KVMLAB_CLI_JAIL_H
#define KVMLAB_CLI_JAIL_H

#include "kvmlab/config.h"
#include "kvmlab/err.h"

/*
 * Moves the rest of the run into a jail at rc->jail (an existing directory,
 * left untouched: the jail's root is a tmpfs mounted over it in a private
 * mount namespace):
 *  - new mount, PID and network namespaces, and a user namespace when not
 *    root (root keeps its uid; the network namespace is skipped when a tap
 *    device is configured, since a tap lives in the namespace that opens it);
 *  - the root holds only the files the run names (guest or kernel, initrd,
 *    disks, the KVM device, /dev/urandom, /dev/net/tun for taps, the control
 *    socket's and sock= backends' directories), each bind-mounted at its own
 *    absolute path, read-only except disks not marked ro and socket
 *    directories; the root itself is read-only;
 *  - every capability dropped (bounding, ambient, effective, permitted,
 *    inheritable), no_new_privs set, RLIMIT_CORE 0, RLIMIT_NOFILE and
 *    RLIMIT_NPROC sized for the VM, RLIMIT_FSIZE 0 when nothing needs to
 *    grow a file (no writable disk, stdout and stderr not regular files).
 * Relative paths in rc are made absolute first. Returns 0 in the jailed
 * process (PID 1 of its namespace); the calling process stays outside, passes
 * SIGINT/SIGTERM/SIGHUP on, and exits with the jailed run's status, so it
 * never returns. -1 with e filled if the jail could not be set up.
 *
 */
int jail_enter(struct run_config *rc, struct errbuf *e);

/* Test-only: with KVMLAB_TEST_OPEN=PATH, tries to open PATH and reports "kvmlab: jail test:
 * open PATH: opened" or the error. `kvmlab run` calls it right after the (optional) jail. */
void jail_test_open(void);

#endif
