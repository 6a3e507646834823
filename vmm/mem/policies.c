/* The memory-policy table: one line per policy; NAME is mem_policy_NAME in vmm/mem/NAME.c. */
#include "kvmlab/mem.h"

#define MEM_POLICIES(X)                                                                            \
	X(anon)                                                                                    \
	X(prefault)                                                                                \
	X(thp)                                                                                     \
	X(hugetlb)                                                                                 \
	X(memfd)                                                                                   \
	X(uffd)                                                                                    \
	X(ksm)

#define MEM_POLICY_DECLARE(name) extern const struct mem_policy_ops mem_policy_##name;
#define MEM_POLICY_ENTRY(name)	 &mem_policy_##name,

MEM_POLICIES(MEM_POLICY_DECLARE)

/* The first entry is the default (cfg.mem_policy NULL). */
const struct mem_policy_ops *const mem_policies[] = {MEM_POLICIES(MEM_POLICY_ENTRY) NULL};
