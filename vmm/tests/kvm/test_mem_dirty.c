/* KVM tests of dirty-page tracking: the bitmap and the dirty ring hold exactly the pages written.
 */
#include <linux/kvm.h>
#include <unistd.h>

#include "kvmlab/kvm.h"
#include "test_mem_lib.h"

#define DIRTY_GPA   (1ull << 30) /* a slot with no code, stack or page tables */
#define DIRTY_PAGES 256

static const unsigned set_a[] = {0, 1, 5, 63, 64, 100, 255};
static const unsigned set_b[] = {1, 2, 64, 200};
static const unsigned set_c[] = {7, 8}; /* written while logging is off */
static const unsigned set_d[] = {9};

static void write_cmd(struct mem_cmd *next, const unsigned *pages, unsigned n)
{
	*next = (struct mem_cmd){.op = MEM_OP_WRITE, .gpa = DIRTY_GPA, .value = 0xd1d1};
	mask_set(next->mask, pages, n);
}

/* The log holds exactly pages[0..n), and reading it cleared it. */
static void check_log(struct vm *vm, const unsigned *pages, unsigned n)
{
	uint64_t want[MEM_DIRTY_BITMAP_WORDS(DIRTY_PAGES * 4096ull)] = {0};
	uint64_t got[MEM_DIRTY_BITMAP_WORDS(DIRTY_PAGES * 4096ull)];
	struct errbuf e;

	mask_set(want, pages, n);
	memset(got, 0x5a, sizeof(got));
	CHECK(vm_dirty_log_get(vm, DIRTY_GPA, got, 4, &e) == 0);
	for (unsigned w = 0; w < 4; w++)
		CHECK_EQ(got[w], want[w]);
	CHECK(vm_dirty_log_get(vm, DIRTY_GPA, got, 4, &e) == 0);
	for (unsigned w = 0; w < 4; w++)
		CHECK_EQ(got[w], 0);
}

static void dirty_steps(struct memtest *t, uint64_t stage, uint64_t result, struct mem_cmd *next)
{
	bool ring = vm_dirty_log_mode(t->vm) == MEM_DIRTY_RING;
	struct errbuf e;

	(void)result;
	switch (stage) {
	case 0:
		check_log(t->vm, NULL, 0);
		write_cmd(next, set_a, 7);
		break;
	case 1:
		/* In ring mode the entries really come from the rings: one per page. */
		if (ring)
			CHECK_EQ(vm_dirty_ring_harvest(t->vm, &e), 7);
		check_log(t->vm, set_a, 7);
		write_cmd(next, set_b, 4);
		break;
	case 2:
		check_log(t->vm, set_b, 4);
		CHECK(vm_dirty_log_enable(t->vm, DIRTY_GPA, false, &e) == 0);
		write_cmd(next, set_c, 2);
		break;
	case 3:
		if (ring)
			CHECK_EQ(vm_dirty_ring_harvest(t->vm, &e), 0);
		CHECK(vm_dirty_log_enable(t->vm, DIRTY_GPA, true, &e) == 0);
		check_log(t->vm, NULL, 0); /* what happened while off is not logged */
		write_cmd(next, set_d, 1);
		break;
	case 4:
		check_log(t->vm, set_d, 1);
		break;
	}
}

static void run_dirty_test(const char *policy, enum mem_dirty_mode mode)
{
	struct vm_config cfg;
	struct memtest t;
	struct errbuf e;
	uint64_t small[3];

	vm_config_default(&cfg);
	cfg.mem_policy = policy;
	memtest_vm(&t, &cfg, dirty_steps, NULL);
	CHECK(vm_dirty_log_mode(t.vm) == mode);
	CHECK(vm_mem_region_add(t.vm, DIRTY_GPA, DIRTY_PAGES * 4096, MEM_REGION_DIRTY_LOG, &e) ==
	      0);
	CHECK(vm_dirty_log_get(t.vm, DIRTY_GPA, small, 3, &e) == -1);
	CHECK_CONTAINS(e.msg, "too small");
	CHECK(vm_dirty_log_get(t.vm, 0, small, 3, &e) == -1);
	CHECK_CONTAINS(e.msg, "dirty logging is off for the region at 0x0");
	memtest_run(&t, 60);
	CHECK_EQ(t.stages, 5);
	vm_destroy(t.vm);
}

TEST(mem_dirty_bitmap_holds_exactly_the_pages_the_guest_wrote)
{
	struct errbuf e;

	run_dirty_test("anon", MEM_DIRTY_BITMAP);
	/* The ring API refuses a bitmap VM rather than returning nothing. */
	{
		struct vm_config cfg;
		struct vm *vm;

		vm_config_default(&cfg);
		vm = vm_create(&cfg, &e);
		CHECK(vm != NULL);
		CHECK(vm_dirty_ring_harvest(vm, &e) == -1);
		CHECK_CONTAINS(e.msg, "not rings");
		vm_destroy(vm);
	}
}

static int dirty_ring_cap(void)
{
	struct errbuf e;
	unsigned api;
	int fd = kvm_open(NULL, &api, &e), n;

	CHECK(fd >= 0);
	n = kvm_cap(fd, KVM_CAP_DIRTY_LOG_RING_ACQ_REL, &e);
	if (n <= 0)
		n = kvm_cap(fd, KVM_CAP_DIRTY_LOG_RING, &e);
	close(fd);
	return n;
}

TEST(mem_dirty_ring_holds_exactly_the_pages_the_guest_wrote)
{
	struct vm_config cfg;
	struct errbuf e;

	if (dirty_ring_cap() > 0) {
		fprintf(stderr, "this KVM has dirty rings: testing them\n");
		run_dirty_test("anon:dirty_ring=4096", MEM_DIRTY_RING);
	} else {
		/* Without rings, asking for one is a clear error, not a silent bitmap. */
		vm_config_default(&cfg);
		cfg.mem_policy = "anon:dirty_ring=4096";
		CHECK(vm_create(&cfg, &e) == NULL);
		CHECK_CONTAINS(e.msg, "this KVM has no dirty ring");
	}
	vm_config_default(&cfg);
	cfg.mem_policy = "anon:dirty_ring=3000";
	CHECK(vm_create(&cfg, &e) == NULL);
	CHECK_CONTAINS(e.msg, "dirty_ring=3000 is not a power of two");
}
