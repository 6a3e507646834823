/* Host side of the guests' results window (kvmlab/results_abi.h): parameters in, counters out. */
#ifndef KVMLAB_TEST_RESULTS_H
#define KVMLAB_TEST_RESULTS_H

#include <time.h>

#include "kvmlab/results_abi.h"
#include "kvmtest.h"

/* The window inside vm's RAM, through the checked guest-memory door. */
static inline struct results_abi *results_of(struct vm *vm)
{
	struct results_abi *r = gmem_ptr(&vm->m.mem, RESULTS_GPA, sizeof(*r), true);

	CHECK(r != NULL);
	return r;
}

/* A counter the guest is updating: one relaxed atomic load, never torn. */
static inline uint64_t results_load(const uint64_t *p)
{
	return __atomic_load_n(p, __ATOMIC_ACQUIRE);
}

static inline double mono_seconds(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

/* Waits (up to 60 s, for slow nested hosts) until *p >= want; fails the test otherwise. */
static inline void results_wait(struct vm *vm, const uint64_t *p, uint64_t want, const char *what)
{
	double deadline = mono_seconds() + 60;
	struct timespec ts = {0, 5000000};

	while (results_load(p) < want) {
		if (machine_stopping(&vm->m)) {
			fprintf(stderr, "VM stopped while waiting for %s: %s: %s\n", what,
				stop_kind_name(vm->m.stop_kind), vm->m.stop_msg);
			exit(1);
		}
		if (mono_seconds() > deadline) {
			fprintf(stderr, "timed out waiting for %s\n", what);
			exit(1);
		}
		nanosleep(&ts, NULL);
	}
}

#endif
