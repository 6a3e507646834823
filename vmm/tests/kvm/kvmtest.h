/* Helpers for KVM-level C tests: build a VM around a test guest, record its ucalls, run it. */
#ifndef KVMLAB_KVMTEST_H
#define KVMLAB_KVMTEST_H

#include <pthread.h>

#include "kvmlab/ucall.h"
#include "kvmlab/vm.h"
#include "unit.h"

#define KVMTEST_MAX_UCALLS 256

/* Every ucall the guest made, in arrival order (from any vCPU). */
struct ucall_log {
	pthread_mutex_t lock;
	struct ucall_abi calls[KVMTEST_MAX_UCALLS];
	unsigned n;
};

/* Path of build/.../guests/NAME.bin, from $KVMLAB_GUESTS. */
const char *kvmtest_guest_path(const char *name, char *buf, size_t len);

/* A VM with cfg (NULL: defaults), the guest loaded at its entry point, every
 * vCPU in long mode, console on stderr. Fails the test on any error. */
struct vm *kvmtest_vm(const char *guest, const struct vm_config *cfg);

/* Records every ucall into log, then lets the default action run. */
void kvmtest_log_ucalls(struct vm *vm, struct ucall_log *log);

/* Starts the VM, waits (timeout in seconds) and returns how it stopped. */
enum stop_kind kvmtest_run(struct vm *vm, double timeout_s);

#define CHECK_STOP(vm, kind)                                                                \
	do {                                                                                \
		if ((vm)->m.stop_kind != (kind)) {                                          \
			fprintf(stderr, "%s:%d: VM stopped as %s, expected %s: %s\n",        \
				__FILE__, __LINE__, stop_kind_name((vm)->m.stop_kind),       \
				stop_kind_name(kind), (vm)->m.stop_msg);                    \
			exit(1);                                                            \
		}                                                                           \
	} while (0)

#endif
