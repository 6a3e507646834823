/* The allow-lists (sandbox_lists.c) shared with the code that builds filters from them (sandbox.c).
 */
#ifndef KVMLAB_SANDBOX_INTERNAL_H
#define KVMLAB_SANDBOX_INTERNAL_H

#include "kvmlab/sandbox.h"

/* What one kind allows besides the common list; system calls are libseccomp's numbers. */
struct sandbox_lists {
	const int *calls;
	unsigned ncalls;
	const unsigned long *ioctls; /* ioctl is allowed with these requests only */
	unsigned nioctls;
};

/* Every kind: memory (never executable), time, futexes, signals, thread exit, stdio. */
extern const int sandbox_base_calls[];
extern const unsigned sandbox_nbase_calls;

extern const struct sandbox_lists sandbox_lists[SANDBOX_NKINDS];

#endif
