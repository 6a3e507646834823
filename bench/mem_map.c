/* Guest memory: memslot add/delete/move, first-touch faults per memory policy, dirty-log fetch. */
#include <linux/kvm.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/mman.h>

#include "bench.h"
#include "exit_vm.h"
#include "kvmlab/kvm.h"
#include "kvmlab/mem.h"

#define REGION_GPA (1ull << 30) /* inside the guest's identity map, far above its 16 MiB */
#define RAW_GPA	   (16ull << 30)
#define RAW_SLOT0  64 /* above kvmlab's own slots (one per region, MEM_MAX_REGIONS) */

static void fail(struct bench_state *st, const char *msg)
{
	bench_skip_with_error(st, msg);
}

static struct bench_options with_policy(const char *policy)
{
	struct bench_options o = *bench_options();

	if (policy)
		o.mem_policy = policy;
	return o;
}

/* ---- kvmlab's region add and remove (vm_mem_region_add/_remove) against size ---- */

static void memslot_region(struct bench_state *st)
{
	uint64_t size = (uint64_t)bench_arg(st) << 20, add_ns = 0, del_ns = 0, n = 0;
	struct bench_options o = *bench_options();
	struct exit_vm x;
	struct errbuf e;

	if (exit_vm_create(&x, EXIT_KIND_TOUCH, 1, &o, &e)) {
		fail(st, e.msg);
		return;
	}
	while (bench_keep_running(st)) {
		uint64_t t0 = exit_vm_now_ns(), t1, t2;

		if (vm_mem_region_add(x.vm, REGION_GPA, size, 0, &e)) {
			fail(st, e.msg);
			n = 0;
			break;
		}
		t1 = exit_vm_now_ns();
		if (vm_mem_region_remove(x.vm, REGION_GPA, &e)) {
			fail(st, e.msg);
			n = 0;
			break;
		}
		t2 = exit_vm_now_ns();
		add_ns += t1 - t0;
		del_ns += t2 - t1;
		n++;
	}
	if (n) {
		bench_set_counter(st, "add_ns", (double)add_ns / (double)n, BENCH_COUNTER_PLAIN);
		bench_set_counter(st, "delete_ns", (double)del_ns / (double)n, BENCH_COUNTER_PLAIN);
	}
	exit_vm_destroy(&x);
}
BENCH(memslot_region, .name = "memslot/region_add_delete", .run = memslot_region,
      .doc = "vm_mem_region_add + _remove of a region of ARG MiB (backing, gmem, KVM slot)",
      .args = BENCH_ARGS(2, 64, 1024));

/* ---- KVM_SET_USER_MEMORY_REGION itself against the number of slots ---- */

static int raw_slot(struct vm *vm, uint32_t slot, uint64_t gpa, uint64_t size, void *host,
		    struct errbuf *e)
{
	struct kvm_userspace_memory_region r = {.slot = slot,
						.guest_phys_addr = gpa,
						.memory_size = size,
						.userspace_addr = (uint64_t)(uintptr_t)host};

	return KVM_IOCTL(vm->vm_fd, KVM_SET_USER_MEMORY_REGION, &r, e,
			 size ? "adding or moving a benchmark slot" : "deleting a benchmark slot");
}

/*
 * With nslots 4 KiB slots already there, one more is added, moved to another
 * guest-physical address and deleted: KVM's memslot update cost as the slot
 * array grows (these are raw ioctls on a kvmlab VM, not a kvmlab API: kvmlab
 * holds at most MEM_MAX_REGIONS regions of its own).
 */
static void memslot_ioctl(struct bench_state *st)
{
	uint32_t nslots = (uint32_t)bench_arg(st);
	uint64_t add_ns = 0, move_ns = 0, del_ns = 0, n = 0;
	struct bench_options o = *bench_options();
	bool ok = true;
	size_t len = ((size_t)nslots + 1) * 4096;
	struct exit_vm x;
	struct errbuf e;
	uint8_t *host;
	int max;

	if (exit_vm_create(&x, EXIT_KIND_TOUCH, 1, &o, &e)) {
		fail(st, e.msg);
		return;
	}
	max = kvm_cap(x.vm->vm_fd, KVM_CAP_NR_MEMSLOTS, &e);
	if (max < 0 || (uint32_t)max < RAW_SLOT0 + nslots + 1) {
		fail(st, max < 0 ? e.msg : "KVM has too few memory slots for this instance");
		exit_vm_destroy(&x);
		return;
	}
	host = mmap(NULL, len, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	if (host == MAP_FAILED) {
		fail(st, "cannot map the benchmark slots' memory");
		exit_vm_destroy(&x);
		return;
	}
	for (uint32_t i = 0; i < nslots; i++)
		if (raw_slot(x.vm, RAW_SLOT0 + i, RAW_GPA + i * (2ull << 20), 4096, host + i * 4096,
			     &e)) {
			fail(st, e.msg);
			goto out;
		}
	while (bench_keep_running(st)) {
		uint32_t slot = RAW_SLOT0 + nslots;
		uint64_t gpa = RAW_GPA + nslots * (2ull << 20), t0, t1, t2, t3;
		void *page = host + (size_t)nslots * 4096;

		t0 = exit_vm_now_ns();
		ok = raw_slot(x.vm, slot, gpa, 4096, page, &e) == 0;
		t1 = exit_vm_now_ns();
		ok = ok && raw_slot(x.vm, slot, gpa + (1ull << 20), 4096, page, &e) == 0;
		t2 = exit_vm_now_ns();
		ok = ok && raw_slot(x.vm, slot, gpa + (1ull << 20), 0, page, &e) == 0;
		t3 = exit_vm_now_ns();
		if (!ok)
			break;
		add_ns += t1 - t0, move_ns += t2 - t1, del_ns += t3 - t2;
		n++;
	}
	if (!ok) {
		fail(st, e.msg);
	} else if (n) {
		bench_set_counter(st, "add_ns", (double)add_ns / (double)n, BENCH_COUNTER_PLAIN);
		bench_set_counter(st, "move_ns", (double)move_ns / (double)n, BENCH_COUNTER_PLAIN);
		bench_set_counter(st, "delete_ns", (double)del_ns / (double)n, BENCH_COUNTER_PLAIN);
	}
out:
	exit_vm_destroy(&x); /* the VM's slots go with it, before their memory */
	munmap(host, len);
}
BENCH(memslot_ioctl, .name = "memslot/ioctl_add_move_delete", .run = memslot_ioctl,
      .doc = "KVM_SET_USER_MEMORY_REGION add, move, delete of one 4 KiB slot next to ARG others",
      .args = BENCH_ARGS(1, 32, 512));

/* ---- first touch: the guest writes each page of fresh memory once ---- */

#define TOUCH_MIB 32

static const char *const touch_policies[] = {"anon", "prefault", "thp", "hugetlb"};

#define HUGE_FREE "/sys/kernel/mm/hugepages/hugepages-2048kB/free_hugepages"

static bool touch_available(int64_t arg, char *why, size_t len)
{
	/* The VM's RAM and the region, in 2 MiB pages: hugetlb backs both. */
	unsigned long need = (16 + TOUCH_MIB) / 2, free_pages = 0;
	struct errbuf e;
	FILE *f;

	if (mem_spec_check(touch_policies[arg], &e)) {
		snprintf(why, len, "%s", e.msg);
		return false;
	}
	if (strcmp(touch_policies[arg], "hugetlb"))
		return true;
	f = fopen(HUGE_FREE, "r");
	if (f) {
		if (fscanf(f, "%lu", &free_pages) != 1)
			free_pages = 0;
		fclose(f);
	}
	if (free_pages >= need)
		return true;
	snprintf(why, len, "hugetlb needs %lu free 2 MiB huge pages, %lu free (%s)", need,
		 free_pages, HUGE_FREE);
	return false;
}

/*
 * Each iteration adds a fresh 32 MiB region under the policy, lets the guest
 * write one byte in each of its 4 KiB pages (timed by the guest with RDTSC)
 * and removes the region; only the guest's pass is timed. The policy decides
 * what a first touch costs: a host page fault and KVM's mapping (anon), only
 * KVM's mapping (prefault), one fault per 2 MiB (thp, hugetlb).
 */
static void mem_first_touch(struct bench_state *st)
{
	const char *policy = touch_policies[bench_arg(st)];
	struct bench_options o = with_policy(policy);
	uint64_t cycles = 0, n = 0;
	struct exit_vm x;
	struct errbuf e;
	char label[64];
	bool ok = false;

	if (exit_vm_create(&x, EXIT_KIND_TOUCH, 1, &o, &e)) {
		fail(st, e.msg);
		return;
	}
	x.touch_gpa = (uint32_t)REGION_GPA;
	x.touch_pages = (TOUCH_MIB << 20) / 4096;
	while (bench_keep_running(st)) {
		bench_pause_timing(st);
		ok = vm_mem_region_add(x.vm, REGION_GPA, TOUCH_MIB << 20, 0, &e) == 0;
		bench_resume_timing(st);
		ok = ok && exit_vm_run_batch(&x, NULL, &e) == 0;
		bench_pause_timing(st);
		cycles += x.last_cycles;
		n++;
		ok = ok && vm_mem_region_remove(x.vm, REGION_GPA, &e) == 0;
		bench_resume_timing(st);
		if (!ok)
			break;
	}
	if (!ok) {
		fail(st, e.msg);
	} else if (n) {
		double pages = (double)n * x.touch_pages;

		bench_set_counter(st, "guest_ns_per_page",
				  (double)cycles * 1e6 / (double)x.tsc_khz / pages,
				  BENCH_COUNTER_PLAIN);
		bench_set_items_processed(st, (int64_t)pages);
		snprintf(label, sizeof(label), "%s, %d MiB per iteration", policy, TOUCH_MIB);
		bench_set_label(st, label);
	}
	exit_vm_destroy(&x);
}
BENCH(mem_first_touch, .name = "mem/first_touch", .run = mem_first_touch,
      .doc = "guest writes each 4 KiB page of a fresh 32 MiB region once; ARG: 0 anon, "
	     "1 prefault, 2 thp, 3 hugetlb",
      .args = BENCH_ARGS(0, 1, 2, 3), .available = touch_available);

/* ---- dirty log: fetch and clear against the region's size ---- */

#define DIRTY_PAGES 1024 /* pages the guest dirties between fetches, spread over the region */

/*
 * The guest dirties DIRTY_PAGES pages spread evenly over a logged region of
 * ARG MiB; each iteration times one vm_dirty_log_get (KVM_GET_DIRTY_LOG and
 * KVM_CLEAR_DIRTY_LOG, or a dirty-ring harvest under dirty_ring=) and checks
 * that every page the guest wrote was reported.
 */
static void dirty_log_fetch(struct bench_state *st)
{
	uint64_t size = (uint64_t)bench_arg(st) << 20, pages = size / 4096, found = 0, n = 0;
	size_t words = MEM_DIRTY_BITMAP_WORDS(size);
	struct bench_options o = *bench_options();
	uint64_t *bitmap = calloc(words, sizeof(uint64_t));
	struct exit_vm x;
	struct errbuf e;
	bool ok = false;

	if (!bitmap) {
		fail(st, "out of memory for the dirty bitmap");
		return;
	}
	if (exit_vm_create(&x, EXIT_KIND_TOUCH, 1, &o, &e)) {
		fail(st, e.msg);
		free(bitmap);
		return;
	}
	x.touch_gpa = (uint32_t)REGION_GPA;
	x.touch_pages = (uint32_t)pages;
	x.touch_stride = (uint32_t)(pages / DIRTY_PAGES ? pages / DIRTY_PAGES : 1);
	if (vm_mem_region_add(x.vm, REGION_GPA, size, MEM_REGION_DIRTY_LOG, &e) ||
	    vm_dirty_log_enable(x.vm, REGION_GPA, true, &e) || exit_vm_run_batch(&x, NULL, &e) ||
	    vm_dirty_log_get(x.vm, REGION_GPA, bitmap, words, &e)) { /* warm: first faults */
		fail(st, e.msg);
		goto out;
	}
	ok = true;
	while (bench_keep_running(st)) {
		bench_pause_timing(st);
		if (exit_vm_run_batch(&x, NULL, &e)) {
			ok = false;
			break;
		}
		bench_resume_timing(st);
		if (vm_dirty_log_get(x.vm, REGION_GPA, bitmap, words, &e)) {
			ok = false;
			break;
		}
		bench_pause_timing(st);
		for (size_t w = 0; w < words; w++)
			found += (uint64_t)__builtin_popcountll(bitmap[w]);
		n++;
		bench_resume_timing(st);
	}
	if (!ok) {
		fail(st, e.msg);
	} else if (n) {
		uint64_t per = (pages + x.touch_stride - 1) / x.touch_stride;

		if (found < n * per) {
			char msg[128];

			snprintf(msg, sizeof(msg),
				 "the log reported %llu dirty pages of %llu written",
				 (unsigned long long)found, (unsigned long long)(n * per));
			fail(st, msg);
		} else {
			bench_set_counter(st, "dirty_pages", (double)per, BENCH_COUNTER_PLAIN);
		}
	}
out:
	exit_vm_destroy(&x);
	free(bitmap);
}
BENCH(dirty_log_fetch, .name = "mem/dirty_log_get", .run = dirty_log_fetch,
      .doc = "vm_dirty_log_get (fetch + clear) of a logged region of ARG MiB, 1024 pages dirty",
      .args = BENCH_ARGS(16, 256, 2048),
      .iterations = 200); /* the guest's untimed pass dwarfs the fetch: no min_time loop */
