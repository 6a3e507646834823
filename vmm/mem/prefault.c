/* Memory policy "prefault": anon memory populated before the guest runs, so it never faults. */
#include <errno.h>
#include <sys/mman.h>

#include "mem_internal.h"

static int prefault_prepare(struct mem_policy *p, struct mem_backing *b, struct errbuf *e)
{
	(void)p;
	if (madvise(b->host, b->size, MADV_POPULATE_WRITE) == 0)
		return 0;
	if (errno != EINVAL)
		return err_errno(e, "cannot populate %llu KiB of guest memory at 0x%llx",
				 (unsigned long long)(b->size >> 10), (unsigned long long)b->gpa);
	/* Kernels before 5.14 have no MADV_POPULATE_WRITE: touch every page instead. */
	for (uint64_t off = 0; off < b->size; off += MEM_PAGE_SIZE)
		((volatile uint8_t *)b->host)[off] = 0;
	return 0;
}

const struct mem_policy_ops mem_policy_prefault = {
    .name = "prefault",
    .help = "anon memory populated before the guest can touch it (MADV_POPULATE_WRITE)",
    .page_size = MEM_PAGE_SIZE,
    .alloc = mem_anon_alloc,
    .prepare = prefault_prepare,
    .discard = mem_anon_discard,
    .free = mem_anon_free,
};
