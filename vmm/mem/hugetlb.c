/* Memory policy "hugetlb": guest memory in reserved hugetlbfs pages (MAP_HUGETLB), 2 MiB or 1 GiB.
 */
#include <errno.h>
#include <stdio.h>
#include <sys/mman.h>

#include "kvmlab/parse.h"
#include "mem_internal.h"

#define HUGETLB_SYSFS "/sys/kernel/mm/hugepages/hugepages-%llukB/%s"

static int hugetlb_init(struct mem_policy *p, struct mem_opts *o, struct errbuf *e)
{
	const char *size = mem_opt_take(o, "size");
	char path[128];
	FILE *f;

	if (size && parse_size(size, &p->page_size, "hugetlb size", e))
		return -1;
	if (p->page_size != (2ull << 20) && p->page_size != (1ull << 30))
		return err_set(e, "hugetlb: size=%s is not a huge page size (2M or 1G)", size);
	snprintf(path, sizeof(path), HUGETLB_SYSFS, (unsigned long long)(p->page_size >> 10),
		 "free_hugepages");
	f = fopen(path, "r");
	if (!f)
		return err_set(e, "hugetlb: this host has no %llu KiB huge pages (no %s)",
			       (unsigned long long)(p->page_size >> 10), path);
	fclose(f);
	return 0;
}

static long hugetlb_count(uint64_t page_size, const char *what)
{
	char path[128];
	long n = -1;
	FILE *f;

	snprintf(path, sizeof(path), HUGETLB_SYSFS, (unsigned long long)(page_size >> 10), what);
	f = fopen(path, "r");
	if (f) {
		if (fscanf(f, "%ld", &n) != 1)
			n = -1;
		fclose(f);
	}
	return n;
}

/* Names the shortfall and the knob that fixes it. */
static int hugetlb_shortage(uint64_t page_size, uint64_t need, struct errbuf *e)
{
	unsigned long long kib = page_size >> 10;
	long free_pages = hugetlb_count(page_size, "free_hugepages");
	long resv = hugetlb_count(page_size, "resv_hugepages");
	long total = hugetlb_count(page_size, "nr_hugepages");
	long avail = free_pages - resv;
	long more = (long)need > avail ? (long)need - avail : (long)need;

	return err_set(e,
		       "hugetlb: need %llu free %llu KiB huge pages, %ld available (total %ld, "
		       "free %ld, reserved %ld); reserve them: echo %lld > "
		       "/sys/kernel/mm/hugepages/hugepages-%llukB/nr_hugepages",
		       (unsigned long long)need, kib, avail, total, free_pages, resv,
		       (long long)(total + more), kib);
}

static int hugetlb_alloc(struct mem_policy *p, struct mem_backing *b, struct errbuf *e)
{
	uint64_t need = b->size / p->page_size;
	long free_pages = hugetlb_count(p->page_size, "free_hugepages");
	long resv = hugetlb_count(p->page_size, "resv_hugepages");
	int shift = __builtin_ctzll(p->page_size);

	if (free_pages >= 0 && resv >= 0 && (uint64_t)(free_pages - resv) < need)
		return hugetlb_shortage(p->page_size, need, e);
	/* No MAP_NORESERVE: the pages are reserved now, so a later fault cannot SIGBUS. */
	b->host =
	    mmap(NULL, b->size, PROT_READ | PROT_WRITE,
		 MAP_PRIVATE | MAP_ANONYMOUS | MAP_HUGETLB | (shift << MAP_HUGE_SHIFT), -1, 0);
	if (b->host == MAP_FAILED) {
		b->host = NULL;
		if (errno == ENOMEM)
			return hugetlb_shortage(p->page_size, need, e);
		return err_errno(e, "hugetlb: cannot map %llu KiB of huge pages",
				 (unsigned long long)(b->size >> 10));
	}
	return 0;
}

static int hugetlb_discard(struct mem_policy *p, struct mem_backing *b, uint64_t off, uint64_t len,
			   struct errbuf *e)
{
	(void)p;
	/* MADV_DONTNEED frees hugetlb pages since Linux 5.18; older kernels refuse it. */
	return mem_madvise(b, off, len, MADV_DONTNEED, "giving huge pages back", e);
}

const struct mem_policy_ops mem_policy_hugetlb = {
    .name = "hugetlb",
    .help = "reserved hugetlbfs pages (MAP_HUGETLB); needs vm.nr_hugepages or the sysfs "
	    "knob for 1G",
    .options = "size=2M|1G (default 2M)",
    .page_size = 2ull << 20,
    .init = hugetlb_init,
    .alloc = hugetlb_alloc,
    .discard = hugetlb_discard,
    .free = mem_anon_free,
};
