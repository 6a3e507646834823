/* KVM tests of the memory policies: THP on or off, prefault, memfd sharing, hugetlb, uffd, KSM. */
#include <sys/mman.h>
#include <unistd.h>

#include "test_mem_lib.h"

#define THP_ENABLED "/sys/kernel/mm/transparent_hugepage/enabled"
#define TOUCH_GPA   (8ull << 20)
#define TOUCH_HUGE  8 /* one 4 KiB touch in each 2 MiB of RAM from 8 MiB to 24 MiB */
#define REGION_GPA  (1ull << 30)

static struct vm_config config(const char *policy, uint64_t mem)
{
	struct vm_config cfg;

	vm_config_default(&cfg);
	cfg.mem_policy = policy;
	cfg.mem_size = mem;
	return cfg;
}

static void touch_ram(struct memtest *t, uint64_t stage, uint64_t result, struct mem_cmd *next)
{
	(void)t, (void)result;
	if (stage == 0)
		*next = (struct mem_cmd){.op = MEM_OP_WRITE,
					 .gpa = TOUCH_GPA,
					 .stride = 2u << 20,
					 .count = TOUCH_HUGE,
					 .value = 1};
}

/*
 * A VM under policy whose guest wrote one page in each 2 MiB of 16 MiB of its
 * RAM: with THP, each such first touch faults in a whole huge page. The VM has
 * stopped; its memory stays until vm_destroy.
 */
static struct vm *vm_after_touching_ram(struct memtest *t, const char *policy)
{
	struct vm_config cfg = config(policy, 32ull << 20);

	memtest_vm(t, &cfg, touch_ram, NULL);
	memtest_run(t, 60);
	return t->vm;
}

TEST(mem_anon_guest_ram_stays_in_small_pages_even_with_thp_always)
{
	struct smaps_vma vma;
	struct memtest t;
	struct vm *vm;

	/* Debian's default: THP for all memory. anon must opt out with MADV_NOHUGEPAGE. */
	knob_set(THP_ENABLED, "always");
	vm = vm_after_touching_ram(&t, "anon");
	smaps_find(guest_host(vm, TOUCH_GPA, 1), &vma);
	CHECK(vma.rss_kb >= TOUCH_HUGE * 4); /* the guest's touches landed here */
	CHECK_EQ(vma.anon_huge_kb, 0);
	CHECK_CONTAINS(vma.vmflags, " nh");
	vm_destroy(vm);
}

static bool thp_is_off(void)
{
	char line[128] = "";
	FILE *f = fopen(THP_ENABLED, "r");

	CHECK(f != NULL);
	CHECK(fgets(line, sizeof(line), f) != NULL);
	fclose(f);
	return strstr(line, "[never]") != NULL;
}

TEST(mem_thp_guest_ram_gets_transparent_huge_pages)
{
	struct smaps_vma vma;
	struct memtest t;
	struct errbuf e;
	struct vm *vm;

	if (thp_is_off())
		knob_set(THP_ENABLED, "madvise");
	vm = vm_after_touching_ram(&t, "thp");
	CHECK_EQ((uintptr_t)guest_host(vm, 0, 1) % (2u << 20), 0);
	smaps_find(guest_host(vm, TOUCH_GPA, 1), &vma);
	CHECK_CONTAINS(vma.vmflags, " hg");
	CHECK(vma.anon_huge_kb >= 2048);
	/* Memory goes back in whole huge pages, or in 4 KiB pieces that split one (the
	 * balloon's leftovers), never in less. */
	CHECK(vm_mem_discard(vm, TOUCH_GPA, 512, &e) == -1);
	CHECK_CONTAINS(e.msg, "given back in whole 4 KiB pages");
	CHECK(vm_mem_discard(vm, TOUCH_GPA + 4096, 4096, &e) == 0);
	CHECK(vm_mem_discard(vm, TOUCH_GPA, 2u << 20, &e) == 0);
	vm_destroy(vm);
}

static unsigned resident_pages(const void *host, size_t len)
{
	size_t n = len / 4096;
	unsigned char *vec = calloc(n, 1);
	unsigned r = 0;

	CHECK(vec && mincore((void *)host, len, vec) == 0);
	for (size_t i = 0; i < n; i++)
		r += vec[i] & 1;
	free(vec);
	return r;
}

TEST(mem_prefault_ram_is_resident_before_the_guest_runs)
{
	struct vm_config eager = config("prefault", 32ull << 20),
			 lazy = config("anon", 32ull << 20);
	struct vm *a = kvmtest_vm("mem_touch", &eager), *b = kvmtest_vm("mem_touch", &lazy);
	struct smaps_vma vma;

	CHECK_EQ(vm_get_state(a), VM_CREATED);
	smaps_find(guest_host(a, 0, 1), &vma);
	CHECK(vma.rss_kb >= 32 * 1024);
	CHECK_EQ(resident_pages(guest_host(a, 0, 32u << 20), 32u << 20), 8192);
	/* The same VM under anon has only what the loader and boot tables touched. */
	CHECK(resident_pages(guest_host(b, 0, 32u << 20), 32u << 20) < 64);
	vm_destroy(a);
	vm_destroy(b);
}

struct shared {
	uint8_t *other; /* a second mapping of the memfd behind TOUCH_GPA */
};

static void memfd_steps(struct memtest *t, uint64_t stage, uint64_t result, struct mem_cmd *next)
{
	struct shared *s = t->opaque;
	static const unsigned pages[] = {0, 3, 200};

	switch (stage) {
	case 0:
		*next = (struct mem_cmd){.op = MEM_OP_WRITE, .gpa = TOUCH_GPA, .value = 0xabc0};
		mask_set(next->mask, pages, 3);
		break;
	case 1:
		for (unsigned i = 0; i < 256; i++) {
			uint64_t v;

			memcpy(&v, s->other + i * 4096, sizeof(v));
			CHECK_EQ(v, (i == 0 || i == 3 || i == 200) ? 0xabc0 + i : 0);
		}
		/* And the other way: the guest reads what the second mapping wrote. */
		memcpy(s->other + 7 * 4096, &(uint64_t){0x5ca1ab1e}, 8);
		*next = (struct mem_cmd){.op = MEM_OP_READ, .gpa = TOUCH_GPA, .mask = {1u << 7}};
		break;
	case 2:
		CHECK_EQ(result, 0x5ca1ab1e);
		break;
	}
}

TEST(mem_memfd_guest_writes_show_through_a_second_mapping_of_its_fd)
{
	struct vm_config cfg = config("memfd", 32ull << 20);
	struct mem_region_info info[4];
	struct shared s;
	struct memtest t;
	struct errbuf e;
	uint64_t off;
	int fd;

	memtest_vm(&t, &cfg, memfd_steps, &s);
	fd = vm_mem_fd(t.vm, TOUCH_GPA, &off, &e);
	CHECK(fd >= 0);
	CHECK_EQ(off, TOUCH_GPA);
	CHECK_EQ(vm_mem_regions(t.vm, info, 4), 1);
	CHECK_EQ(info[0].fd, fd);
	s.other = mmap(NULL, 1u << 20, PROT_READ | PROT_WRITE, MAP_SHARED, fd, (off_t)off);
	CHECK(s.other != MAP_FAILED);
	CHECK(s.other != guest_host(t.vm, TOUCH_GPA, 1));
	memtest_run(&t, 60);
	CHECK(vm_mem_fd(t.vm, 64ull << 20, &off, &e) == -1);
	CHECK_CONTAINS(e.msg, "no memory region holds 0x4000000");
	munmap(s.other, 1u << 20);
	vm_destroy(t.vm);
}

TEST(mem_anon_has_no_fd_to_share)
{
	struct vm_config cfg = config("anon", 16ull << 20);
	struct vm *vm = kvmtest_vm("mem_touch", &cfg);
	struct errbuf e;
	uint64_t off;

	CHECK(vm_mem_fd(vm, 0, &off, &e) == -1);
	CHECK_CONTAINS(e.msg, "no file descriptor under the anon policy (use memfd)");
	vm_destroy(vm);
}

/* ---- hugetlb ---- */

#define HUGE_NEED 16 /* 8 for 16 MiB of RAM, 4 for the region, and slack */

static void ensure_free_huge_pages(long need)
{
	long avail = meminfo("HugePages_Free") - meminfo("HugePages_Rsvd");
	char value[32];

	if (avail >= need)
		return;
	snprintf(value, sizeof(value), "%ld", meminfo("HugePages_Total") + need - avail);
	knob_set("/proc/sys/vm/nr_hugepages", value);
	avail = meminfo("HugePages_Free") - meminfo("HugePages_Rsvd");
	if (avail < need) {
		fprintf(stderr, "could reserve only %ld of %ld 2 MiB huge pages\n", avail, need);
		exit(1);
	}
}

static void hugetlb_steps(struct memtest *t, uint64_t stage, uint64_t result, struct mem_cmd *next)
{
	long *free_before = t->opaque;

	(void)result;
	if (stage == 0) {
		*free_before = meminfo("HugePages_Free");
		/* Huge pages 0, 1 and 3 of the 8 MiB region. */
		*next = (struct mem_cmd){.op = MEM_OP_WRITE,
					 .gpa = REGION_GPA,
					 .stride = 2u << 20,
					 .mask = {0xb},
					 .value = 7};
	} else if (stage == 1) {
		CHECK_EQ(*free_before - meminfo("HugePages_Free"), 3);
	}
}

TEST(mem_hugetlb_guest_touches_take_pages_from_the_huge_page_pool)
{
	struct vm_config cfg = config("hugetlb", 16ull << 20);
	struct memtest t;
	struct errbuf e;
	long free_before = -1, rsvd;

	ensure_free_huge_pages(HUGE_NEED);
	rsvd = meminfo("HugePages_Rsvd");
	memtest_vm(&t, &cfg, hugetlb_steps, &free_before);
	CHECK(vm_mem_region_add(t.vm, REGION_GPA, 8u << 20, 0, &e) == 0);
	CHECK(vm_mem_region_add(t.vm, REGION_GPA + (8u << 20), 4096, 0, &e) == -1);
	CHECK_CONTAINS(e.msg, "not aligned to 2048 KiB");
	CHECK(meminfo("HugePages_Rsvd") > rsvd); /* reserved at mmap: no SIGBUS later */
	memtest_run(&t, 60);
	CHECK(free_before >= 0);
	vm_destroy(t.vm);
}

TEST(mem_hugetlb_without_enough_free_pages_fails_with_the_fix)
{
	long avail = meminfo("HugePages_Free") - meminfo("HugePages_Rsvd");
	struct vm_config cfg = config("hugetlb", (uint64_t)(avail + 1) * (2u << 20));
	struct errbuf e;

	CHECK(vm_create(&cfg, &e) == NULL);
	CHECK_CONTAINS(e.msg, "hugetlb: need ");
	CHECK_CONTAINS(e.msg, "free 2048 KiB huge pages");
	CHECK_CONTAINS(e.msg, "/sys/kernel/mm/hugepages/hugepages-2048kB/nr_hugepages");
}

/* ---- uffd ---- */

#define UFFD_PAGES   64
#define PATTERN(gpa) (0x7e57000000000000ull ^ (gpa))

struct faults {
	unsigned seen[UFFD_PAGES];
	bool write[UFFD_PAGES];
	unsigned ram;
};

static int record_fault(void *opaque, uint64_t gpa, bool write, void *page, uint64_t size,
			struct errbuf *e)
{
	struct faults *f = opaque;
	uint64_t *q = page;

	(void)e;
	if (gpa < REGION_GPA || gpa >= REGION_GPA + UFFD_PAGES * 4096) {
		f->ram++;
		return MEM_FAULT_ZERO;
	}
	CHECK_EQ(size, 4096);
	f->seen[(gpa - REGION_GPA) / 4096]++;
	f->write[(gpa - REGION_GPA) / 4096] = write;
	for (unsigned i = 0; i < 512; i++)
		q[i] = PATTERN(gpa);
	return MEM_FAULT_FILLED;
}

static const unsigned uffd_writes[] = {1, 5, 9, 33, 63};
static const unsigned uffd_reads[] = {2, 7, 40};

static void uffd_steps(struct memtest *t, uint64_t stage, uint64_t result, struct mem_cmd *next)
{
	uint64_t sum = 0;

	(void)t;
	if (stage == 0) {
		*next = (struct mem_cmd){.op = MEM_OP_WRITE, .gpa = REGION_GPA, .value = 0x1000};
		mask_set(next->mask, uffd_writes, 5);
	} else if (stage == 1) {
		*next = (struct mem_cmd){.op = MEM_OP_READ, .gpa = REGION_GPA};
		mask_set(next->mask, uffd_reads, 3);
	} else if (stage == 2) {
		for (unsigned i = 0; i < 3; i++)
			sum += PATTERN(REGION_GPA + uffd_reads[i] * 4096ull);
		CHECK_EQ(result, sum); /* the guest read what the handler supplied */
	}
}

TEST(mem_uffd_handler_sees_exactly_the_pages_the_guest_touches)
{
	struct vm_config cfg = config("uffd", 16ull << 20);
	struct faults f;
	struct mem_fault_ops ops = {record_fault, &f};
	struct memtest t;
	struct errbuf e;

	memset(&f, 0, sizeof(f));
	memtest_vm(&t, &cfg, uffd_steps, NULL);
	CHECK(vm_mem_region_add(t.vm, REGION_GPA, UFFD_PAGES * 4096, 0, &e) == 0);
	CHECK(vm_mem_set_fault_handler(t.vm, &ops, &e) == 0);
	memtest_run(&t, 60);
	for (unsigned p = 0; p < UFFD_PAGES; p++) {
		bool written = false, read = false;

		for (unsigned i = 0; i < 5; i++)
			written |= uffd_writes[i] == p;
		for (unsigned i = 0; i < 3; i++)
			read |= uffd_reads[i] == p;
		if (!written && !read) {
			CHECK_EQ(f.seen[p], 0);
			continue;
		}
		CHECK(f.seen[p] >= 1);
		CHECK_EQ(f.write[p], written);
	}
	CHECK(f.ram > 0); /* the guest's stack pages came through the handler too */
	/* The guest's write lands on the page the handler filled. */
	CHECK_EQ(*(uint64_t *)guest_host(t.vm, REGION_GPA + 5 * 4096, 8), 0x1005);
	CHECK_EQ(*(uint64_t *)guest_host(t.vm, REGION_GPA + 5 * 4096 + 8, 8),
		 PATTERN(REGION_GPA + 5 * 4096));
	vm_destroy(t.vm);
}

TEST(mem_fault_handler_needs_a_demand_paging_policy)
{
	struct vm_config cfg = config("anon", 16ull << 20);
	struct vm *vm = kvmtest_vm("mem_touch", &cfg);
	struct mem_fault_ops ops = {record_fault, NULL};
	struct errbuf e;

	CHECK(vm_mem_set_fault_handler(vm, &ops, &e) == -1);
	CHECK_CONTAINS(e.msg, "memory policy 'anon' does no demand paging");
	vm_destroy(vm);
}

/* ---- ksm ---- */

#define KSM	   "/sys/kernel/mm/ksm/"
#define KSM_PAGES  64
#define KSM_WAIT_S 120

static void ksm_fill(struct memtest *t, uint64_t stage, uint64_t result, struct mem_cmd *next)
{
	(void)t, (void)result;
	/* Page p starts with value + p, zeroes after: the same in both VMs, different between
	 * pages, so any sharing is across VMs. */
	if (stage == 0)
		*next = (struct mem_cmd){
		    .op = MEM_OP_WRITE, .gpa = REGION_GPA, .count = KSM_PAGES, .value = 0x6b736d00};
}

static bool ksm_merged(struct vm *a, struct vm *b)
{
	for (unsigned i = 0; i < KSM_PAGES; i++) {
		uint64_t pa = pagemap_pfn(guest_host(a, REGION_GPA + i * 4096ull, 1));
		uint64_t pb = pagemap_pfn(guest_host(b, REGION_GPA + i * 4096ull, 1));

		if (pa == 0 || pa != pb)
			return false;
	}
	return true;
}

TEST(mem_ksm_merges_identical_pages_of_two_vms)
{
	struct vm_config cfg = config("ksm", 16ull << 20);
	struct memtest ta, tb;
	struct errbuf e;
	struct vm *vm[2] = {memtest_vm(&ta, &cfg, ksm_fill, NULL),
			    memtest_vm(&tb, &cfg, ksm_fill, NULL)};
	bool merged = false;

	for (unsigned i = 0; i < 2; i++)
		CHECK(vm_mem_region_add(vm[i], REGION_GPA, KSM_PAGES * 4096, 0, &e) == 0);
	memtest_run(&ta, 60);
	memtest_run(&tb, 60);
	/* Written, not yet merged: each VM has its own frames (pagemap needs root). */
	CHECK(pagemap_pfn(guest_host(vm[0], REGION_GPA, 1)) != 0);
	if (knob_read_long(KSM "run") == 0)
		CHECK(!ksm_merged(vm[0], vm[1]));
	knob_set(KSM "pages_to_scan", "20000");
	knob_set(KSM "sleep_millisecs", "10");
	knob_set(KSM "run", "1");
	for (unsigned ms = 0; ms < KSM_WAIT_S * 1000 && !merged; ms += 20) {
		usleep(20000);
		merged = ksm_merged(vm[0], vm[1]);
	}
	CHECK(merged);
	CHECK(knob_read_long(KSM "pages_sharing") >= KSM_PAGES);
	/* Merged across VMs only: different pages keep different frames. */
	CHECK(pagemap_pfn(guest_host(vm[0], REGION_GPA, 1)) !=
	      pagemap_pfn(guest_host(vm[0], REGION_GPA + 4096, 1)));
	vm_destroy(vm[0]);
	vm_destroy(vm[1]);
}
