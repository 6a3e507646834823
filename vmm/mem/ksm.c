/* Memory policy "ksm": anon memory marked mergeable, so identical pages are shared across VMs. */
#include <errno.h>
#include <sys/mman.h>

#include "mem_internal.h"

static int ksm_prepare(struct mem_policy *p, struct mem_backing *b, struct errbuf *e)
{
	(void)p;
	if (madvise(b->host, b->size, MADV_MERGEABLE) == 0)
		return 0;
	if (errno == EINVAL)
		return err_set(e, "ksm: this kernel has no KSM (CONFIG_KSM)");
	return err_errno(e, "ksm: cannot mark guest memory at 0x%llx mergeable",
			 (unsigned long long)b->gpa);
}

/* Merging needs ksmd running: /sys/kernel/mm/ksm/run = 1 (see docs/memory.md). */
const struct mem_policy_ops mem_policy_ksm = {
    .name = "ksm",
    .help = "anon memory that KSM may merge with identical pages of other VMs (MADV_MERGEABLE)",
    .page_size = MEM_PAGE_SIZE,
    .alloc = mem_anon_alloc,
    .prepare = ksm_prepare,
    .discard = mem_anon_discard,
    .free = mem_anon_free,
};
