/* KVM tests of guest memory regions: the MMIO hole, ROM, hot-add and hot-remove, discard. */
#include <linux/kvm.h>
#include <unistd.h>

#include "test_mem_lib.h"

#define REGION_GPA (1ull << 30)
#define ALL_ONES   0xffffffffffffffffull

static struct vm_config config(const char *policy, uint64_t mem)
{
	struct vm_config cfg;

	vm_config_default(&cfg);
	cfg.mem_policy = policy;
	cfg.mem_size = mem;
	return cfg;
}

/* ---- layout ---- */

#define HIGH_MEM ((3ull << 30) + (4ull << 20)) /* 3 GiB below the hole, 4 MiB above 4 GiB */

static void layout_steps(struct memtest *t, uint64_t stage, uint64_t result, struct mem_cmd *next)
{
	uint64_t v;

	switch (stage) {
	case 0:
		*next = (struct mem_cmd){.op = MEM_OP_MAP_HIGH};
		break;
	case 1: /* the first and the last page above 4 GiB */
		*next = (struct mem_cmd){.op = MEM_OP_WRITE,
					 .gpa = 4ull << 30,
					 .stride = 4095ull << 10,
					 .count = 2,
					 .value = 0x419};
		break;
	case 2:
		CHECK(gmem_read(&t->vm->m.mem, 4ull << 30, &v, 8) == 0);
		CHECK_EQ(v, 0x419);
		CHECK(gmem_read(&t->vm->m.mem, (4ull << 30) + (4095ull << 10), &v, 8) == 0);
		CHECK_EQ(v, 0x41a);
		*next = (struct mem_cmd){
		    .op = MEM_OP_WRITE_READ, .gpa = (3ull << 30) - 8, .value = 0x10e};
		break;
	case 3:
		CHECK_EQ(result, 0x10e);
		CHECK(gmem_read(&t->vm->m.mem, (3ull << 30) - 8, &v, 8) == 0);
		CHECK_EQ(v, 0x10e);
		/* The hole holds no RAM: reads there are unclaimed MMIO, all ones. */
		*next = (struct mem_cmd){
		    .op = MEM_OP_READ, .gpa = (3ull << 30) + (16u << 20), .count = 1};
		break;
	case 4:
		CHECK_EQ(result, ALL_ONES);
		break;
	}
}

TEST(mem_ram_past_3g_continues_above_the_mmio_hole)
{
	struct vm_config cfg = config("anon", HIGH_MEM);
	struct mem_region_info r[4];
	struct memtest t;

	memtest_vm(&t, &cfg, layout_steps, NULL);
	CHECK_EQ(vm_mem_regions(t.vm, r, 4), 2);
	CHECK(r[0].gpa == 0 && r[0].size == 3ull << 30 && r[0].ram);
	CHECK(r[1].gpa == MEM_HIGH_RAM_START && r[1].size == 4ull << 20 && r[1].ram);
	CHECK(gmem_region_at(&t.vm->m.mem, (3ull << 30) + 4096) == NULL);
	memtest_run(&t, 60);
	vm_destroy(t.vm);
}

/* ---- ROM ---- */

#define ROM_GPA	  0xfffc0000ull /* in the hole, where firmware lives */
#define ROM_VALUE 0x524f4d524f4d0001ull

struct rom_watch {
	const struct exit_handler *next;
	unsigned writes;
	uint64_t data;
	uint32_t len;
};

/* Wraps the MMIO exit handler: records writes to the ROM, then routes them as usual. */
static enum exit_action rom_watch_exit(struct vcpu *v, void *opaque)
{
	struct rom_watch *w = opaque;

	if (v->run->mmio.is_write && v->run->mmio.phys_addr == ROM_GPA) {
		w->writes++;
		w->len = v->run->mmio.len;
		memcpy(&w->data, v->run->mmio.data, sizeof(w->data));
	}
	return w->next->fn(v, w->next->opaque);
}

static void rom_steps(struct memtest *t, uint64_t stage, uint64_t result, struct mem_cmd *next)
{
	struct rom_watch *w = t->opaque;
	uint64_t v;

	if (stage == 0) {
		*next = (struct mem_cmd){
		    .op = MEM_OP_WRITE_READ, .gpa = ROM_GPA, .value = 0x1122334455667788};
	} else if (stage == 1) {
		CHECK_EQ(result, ROM_VALUE); /* the guest reads the ROM back unchanged */
		CHECK_EQ(w->writes, 1);	     /* its write went to the MMIO handler */
		CHECK_EQ(w->len, 8);
		CHECK_EQ(w->data, 0x1122334455667788);
		CHECK(gmem_read(&t->vm->m.mem, ROM_GPA, &v, 8) == 0);
		CHECK_EQ(v, ROM_VALUE);
	}
}

TEST(mem_rom_write_leaves_memory_unchanged_and_reaches_the_mmio_handler)
{
	struct vm_config cfg = config("anon", 16ull << 20);
	struct rom_watch w = {.writes = 0};
	struct exit_handler h = {rom_watch_exit, &w, "rom-watch"};
	const uint64_t rom = ROM_VALUE, junk = 0;
	uint64_t unclaimed;
	struct memtest t;
	struct errbuf e;

	memtest_vm(&t, &cfg, rom_steps, &w);
	CHECK(vm_mem_region_add(t.vm, ROM_GPA, 0x40000, MEM_REGION_READONLY, &e) == 0);
	CHECK(gmem_write(&t.vm->m.mem, ROM_GPA, &junk, 8) == -1); /* devices cannot DMA into it */
	CHECK(gmem_load(&t.vm->m.mem, ROM_GPA, &rom, 8) == 0);	  /* loaders can fill it */
	w.next = exit_table_set(&t.vm->exits, KVM_EXIT_MMIO, &h);
	unclaimed = atomic_load(&t.vm->m.mmio.unclaimed_writes);
	memtest_run(&t, 60);
	CHECK_EQ(atomic_load(&t.vm->m.mmio.unclaimed_writes), unclaimed + 1);
	CHECK(vm_mem_discard(t.vm, ROM_GPA, 4096, &e) == -1);
	CHECK_CONTAINS(e.msg, "read-only");
	vm_destroy(t.vm);
}

/* ---- hot-add and hot-remove while the guest runs ---- */

#define HOT_VALUE 0x407ad0ull

static void hot_steps(struct memtest *t, uint64_t stage, uint64_t result, struct mem_cmd *next)
{
	struct errbuf e;
	uint64_t v;

	switch (stage) {
	case 0: /* the guest polls the address until memory appears there */
		*next = (struct mem_cmd){.op = MEM_OP_WAIT_NE, .gpa = REGION_GPA, .value = ~0u};
		break;
	case 1:
		CHECK_EQ(result, 0); /* new memory reads as zeroes */
		*next = (struct mem_cmd){
		    .op = MEM_OP_WRITE, .gpa = REGION_GPA, .count = 2, .value = HOT_VALUE};
		break;
	case 2:
		CHECK(gmem_read(&t->vm->m.mem, REGION_GPA + 4096, &v, 8) == 0);
		CHECK_EQ(v, HOT_VALUE + 1);
		/* A vCPU thread must not remove memory: that would pause its own VM. */
		CHECK(vm_mem_region_remove(t->vm, REGION_GPA, &e) == -1);
		CHECK_CONTAINS(e.msg, "from a vCPU thread of a running VM");
		/* Now it polls until the memory is gone again. */
		*next = (struct mem_cmd){
		    .op = MEM_OP_WAIT_NE, .gpa = REGION_GPA, .value = (uint32_t)HOT_VALUE};
		break;
	case 3:
		CHECK_EQ(result, 0xffffffff); /* unbacked again: an unclaimed MMIO read */
		break;
	}
}

TEST(mem_region_hot_added_and_removed_while_the_guest_polls_for_it)
{
	struct vm_config cfg = config("anon", 16ull << 20);
	struct mem_region_info r[4];
	struct memtest t;
	struct errbuf e;

	memtest_vm(&t, &cfg, hot_steps, NULL);
	CHECK(vm_start(t.vm, &e) == 0);
	memtest_wait_syncs(&t, 1); /* the guest has its orders and is polling */
	usleep(20000);
	CHECK(vm_mem_region_add(t.vm, REGION_GPA, 2 * 4096, 0, &e) == 0);
	CHECK_EQ(vm_mem_regions(t.vm, r, 4), 2);
	memtest_wait_syncs(&t, 3); /* it wrote there and polls for the removal */
	CHECK_EQ(vm_get_state(t.vm), VM_RUNNING);
	CHECK(vm_mem_region_remove(t.vm, REGION_GPA, &e) == 0);
	CHECK_EQ(vm_get_state(t.vm), VM_RUNNING); /* paused and resumed inside */
	CHECK(gmem_region_at(&t.vm->m.mem, REGION_GPA) == NULL);
	CHECK(vm_wait(t.vm, 60, &e) == 0);
	CHECK_STOP(t.vm, STOP_GUEST_DONE);
	CHECK_EQ(t.stages, 4);
	CHECK_EQ(vm_mem_regions(t.vm, r, 4), 1);
	vm_destroy(t.vm);
}

TEST(mem_region_add_and_remove_refuse_what_does_not_fit)
{
	struct vm_config cfg = config("anon", 16ull << 20);
	struct vm *vm = kvmtest_vm("mem_touch", &cfg);
	struct errbuf e;

	CHECK(vm_mem_region_add(vm, 8ull << 20, 4096, 0, &e) == -1);
	CHECK_CONTAINS(e.msg, "overlaps region 0x0-0xffffff");
	CHECK(vm_mem_region_add(vm, REGION_GPA + 1, 4096, 0, &e) == -1);
	CHECK_CONTAINS(e.msg, "not aligned");
	CHECK(vm_mem_region_add(vm, 0xfee00000, 4096, 0, &e) == -1);
	CHECK_CONTAINS(e.msg, "overlaps the local APIC");
	CHECK(vm_mem_region_add(vm, REGION_GPA, 4096, 1u << 7, &e) == -1);
	CHECK_CONTAINS(e.msg, "unknown memory region flags 0x80");
	CHECK(vm_mem_region_remove(vm, 0, &e) == -1);
	CHECK_CONTAINS(e.msg, "cannot be removed");
	CHECK(vm_mem_region_remove(vm, REGION_GPA, &e) == -1);
	CHECK_CONTAINS(e.msg, "no memory region starts at 0x40000000");
	for (unsigned i = 1; i < MEM_MAX_REGIONS; i++)
		CHECK(vm_mem_region_add(vm, REGION_GPA + i * 0x10000ull, 4096, 0, &e) == 0);
	CHECK(vm_mem_region_add(vm, REGION_GPA, 4096, 0, &e) == -1);
	CHECK_CONTAINS(e.msg, "too many memory regions (at most 32)");
	CHECK(vm_mem_region_remove(vm, REGION_GPA + 0x50000, &e) == 0); /* a slot frees up */
	CHECK(vm_mem_region_add(vm, REGION_GPA, 4096, 0, &e) == 0);
	vm_destroy(vm);
}

/* KVM refuses a slot of 2^31 pages; the region is already in gmem, where a device may have
 * found it, so it stays reserved until removed with the VM paused. */
TEST(mem_region_kvm_refuses_stays_reserved_until_removed)
{
	const uint64_t gpa = 16ull << 40, size = 8ull << 40;
	struct vm_config cfg = config("anon", 16ull << 20);
	struct vm *vm = kvmtest_vm("mem_touch", &cfg);
	struct mem_region_info r[4];
	struct errbuf e;

	CHECK(vm_mem_region_add(vm, gpa, size, 0, &e) == -1);
	CHECK_CONTAINS(e.msg, "KVM_SET_USER_MEMORY_REGION failed while setting the memory slot");
	CHECK_CONTAINS(e.msg, "0x100000000000 stays reserved until vm_mem_region_remove");
	CHECK(gmem_region_at(&vm->m.mem, gpa) != NULL);
	CHECK_EQ(vm_mem_regions(vm, r, 4), 2);
	CHECK(vm_mem_region_add(vm, gpa, 4096, 0, &e) == -1);
	CHECK_CONTAINS(e.msg, "overlaps");
	CHECK(vm_dirty_log_enable(vm, gpa, true, &e) == -1);
	CHECK_CONTAINS(e.msg, "not in the guest's memory");
	CHECK(vm_mem_region_remove(vm, gpa, &e) == 0);
	CHECK(gmem_region_at(&vm->m.mem, gpa) == NULL);
	CHECK_EQ(vm_mem_regions(vm, r, 4), 1);
	vm_destroy(vm);
}

TEST(mem_unknown_policy_or_option_fails_vm_create_with_the_choices)
{
	struct vm_config cfg = config("hugepage", 16ull << 20);
	struct errbuf e;
	struct vm *vm;

	CHECK(vm_create(&cfg, &e) == NULL);
	CHECK_CONTAINS(e.msg, "unknown memory policy 'hugepage' (valid: anon, prefault, thp, "
			      "hugetlb, memfd, uffd, ksm)");
	cfg.mem_policy = "memfd:seal=1";
	CHECK(vm_create(&cfg, &e) == NULL);
	CHECK_CONTAINS(e.msg, "memory policy 'memfd' has no option 'seal' (it takes: no options; "
			      "every VM also takes dirty_ring=ENTRIES)");
	cfg.mem_policy = ""; /* empty means the default, as NULL does */
	vm = vm_create(&cfg, &e);
	CHECK(vm != NULL);
	vm_destroy(vm);
	cfg.mem_policy = "thp";
	cfg.mem_size = (16ull << 20) + 4096;
	CHECK(vm_create(&cfg, &e) == NULL);
	CHECK_CONTAINS(e.msg, "not a multiple of the thp policy's 2048 KiB page");
}

/* ---- discard: how a balloon gives guest pages back ---- */

static void discard_steps(struct memtest *t, uint64_t stage, uint64_t result, struct mem_cmd *next)
{
	struct errbuf e;

	switch (stage) {
	case 0:
		*next = (struct mem_cmd){
		    .op = MEM_OP_WRITE, .gpa = REGION_GPA, .count = 4, .value = 0xba110};
		break;
	case 1:
		CHECK(vm_mem_discard(t->vm, REGION_GPA + 4096, 2 * 4096, &e) == 0);
		CHECK(vm_mem_discard(t->vm, REGION_GPA + 100, 4096, &e) == -1);
		CHECK_CONTAINS(e.msg, "whole 4 KiB pages");
		CHECK(vm_mem_discard(t->vm, REGION_GPA + 3 * 4096, 2 * 4096, &e) == -1);
		CHECK_CONTAINS(e.msg, "outside");
		*next = (struct mem_cmd){.op = MEM_OP_READ, .gpa = REGION_GPA, .count = 4};
		break;
	case 2: /* pages 1 and 2 read as zeroes, 0 and 3 kept their values */
		CHECK_EQ(result, 0xba110 + 0xba113);
		break;
	}
}

static void run_discard(const char *policy)
{
	struct vm_config cfg = config(policy, 16ull << 20);
	struct memtest t;
	struct errbuf e;

	memtest_vm(&t, &cfg, discard_steps, NULL);
	CHECK(vm_mem_region_add(t.vm, REGION_GPA, 4 * 4096, 0, &e) == 0);
	memtest_run(&t, 60);
	CHECK_EQ(t.stages, 3);
	vm_destroy(t.vm);
}

TEST(mem_discard_gives_guest_pages_back_as_zeroes_anon)
{
	run_discard("anon");
}

TEST(mem_discard_gives_guest_pages_back_as_zeroes_memfd)
{
	run_discard("memfd");
}
