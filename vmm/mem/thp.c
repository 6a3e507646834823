/* Memory policy "thp": transparent huge pages, 2 MiB-aligned mappings with MADV_HUGEPAGE. */
#include <stdio.h>
#include <string.h>
#include <sys/mman.h>

#include "mem_internal.h"

#define THP_SIZE	 (2ull << 20)
#define THP_ENABLED_PATH "/sys/kernel/mm/transparent_hugepage/enabled"

static int thp_init(struct mem_policy *p, struct mem_opts *o, struct errbuf *e)
{
	char line[128] = "";
	FILE *f = fopen(THP_ENABLED_PATH, "r");

	(void)o;
	(void)p;
	if (!f)
		return err_set(e, "thp: this kernel has no transparent huge pages (no %s)",
			       THP_ENABLED_PATH);
	if (!fgets(line, sizeof(line), f))
		line[0] = '\0';
	fclose(f);
	if (strstr(line, "[never]"))
		return err_set(e,
			       "thp: transparent huge pages are off on this host (%s is "
			       "'never'; write 'madvise' to it)",
			       THP_ENABLED_PATH);
	return 0;
}

static int thp_alloc(struct mem_policy *p, struct mem_backing *b, struct errbuf *e)
{
	if (mem_map_anon(b, p->page_size, 0, e))
		return -1;
	if (mem_madvise(b, 0, b->size, MADV_HUGEPAGE, "asking for huge pages", e)) {
		mem_unmap(b);
		return -1;
	}
	return 0;
}

/* Whole huge pages go back as such; a 4 KiB discard splits one (the balloon does that only
 * for what is left once it reached its target: see balloon_blocks in balloon.h). */
const struct mem_policy_ops mem_policy_thp = {
    .name = "thp",
    .help = "anon memory in transparent huge pages (2 MiB aligned, MADV_HUGEPAGE)",
    .page_size = THP_SIZE,
    .discard_min = 4096,
    .init = thp_init,
    .alloc = thp_alloc,
    .discard = mem_anon_discard,
    .free = mem_anon_free,
};
