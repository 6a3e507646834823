/* Isolation: between VMs, between vCPUs, between a guest and the VMM, and memory given back at the
 * end. */
#include <linux/kvm.h>
#include <sched.h>
#include <sys/ioctl.h>
#include <sys/prctl.h>
#include <sys/random.h>
#include <unistd.h>

#include "kvmlab/mem.h"
#include "results.h"

#define ISO_MEM	  (8ull << 20)
#define TAG_A	  0xa1a2a3a4a5a6a7a8ull /* no byte of one tag appears in the other */
#define TAG_B	  0x1b2b3b4b5b6b7b8bull
#define MIB	  (1ull << 20)
#define TIMEOUT_S 300 /* nested, emulated hosts scan guest RAM slowly */

static struct vm *iso_vm(const char *guest, uint64_t mem, unsigned ncpus, const char *sched)
{
	struct vm_config cfg;

	vm_config_default(&cfg);
	cfg.mem_size = mem;
	cfg.ncpus = ncpus;
	cfg.sched = sched;
	return kvmtest_vm(guest, &cfg);
}

static void run_to_done(struct vm *vm)
{
	struct errbuf e;

	CHECK(vm_wait(vm, TIMEOUT_S, &e) == 0);
	CHECK_STOP(vm, STOP_GUEST_DONE);
}

/* A random canary, never 0 or all-ones (values RAM holds anyway). */
static uint64_t make_canary(void)
{
	uint64_t c = 0;

	while (c == 0 || c == ~0ull)
		CHECK(getrandom(&c, sizeof(c), 0) == sizeof(c));
	return c;
}

/* Every free page of vm's RAM, read through gmem, holds exactly the guest's pattern. */
static void check_pattern_from_host(struct vm *vm, uint64_t tag, uint64_t other)
{
	uint64_t start = 0, pages = results_of(vm)->value[4];
	const uint8_t *ram;

	CHECK(pages > 0);
	start = ISO_MEM - pages * 4096;
	ram = gmem_ptr(&vm->m.mem, 0, ISO_MEM, false);
	CHECK(ram != NULL);
	for (uint64_t p = start; p < ISO_MEM; p += 4096) {
		const uint64_t *q = (const uint64_t *)(ram + p);

		CHECK_EQ(q[0], tag ^ p);
		for (unsigned i = 1; i < 512; i++)
			if (q[i] != tag) {
				fprintf(stderr, "0x%llx: 0x%llx%s\n",
					(unsigned long long)(p + i * 8), (unsigned long long)q[i],
					q[i] == other ? " (the other VM's tag)" : "");
				CHECK_EQ(q[i], tag);
			}
	}
	for (uint64_t off = 0; off < ISO_MEM; off += 8)
		CHECK(*(const uint64_t *)(ram + off) != other);
}

TEST(iso_two_vms_never_see_each_others_memory)
{
	struct vm *a = iso_vm("iso_pattern", ISO_MEM, 1, NULL),
		  *b = iso_vm("iso_pattern", ISO_MEM, 1, NULL);
	struct results_abi *ra = results_of(a), *rb = results_of(b);
	struct errbuf e;

	/* Each gets its own tag, and the other's hidden as tag ^ key: it must not be in RAM. */
	ra->param[0] = TAG_A;
	rb->param[0] = TAG_B;
	ra->param[3] = rb->param[3] = make_canary();
	ra->param[1] = TAG_B ^ ra->param[3];
	rb->param[1] = TAG_A ^ rb->param[3];
	ra->param[2] = rb->param[2] = ISO_MEM;
	CHECK(vm_start(a, &e) == 0);
	CHECK(vm_start(b, &e) == 0);
	/* Both RAMs full at the same time, then each VM scans its own. */
	results_wait(a, &ra->value[0], 1, "VM A to fill its RAM");
	results_wait(b, &rb->value[0], 1, "VM B to fill its RAM");
	check_pattern_from_host(a, TAG_A, TAG_B);
	check_pattern_from_host(b, TAG_B, TAG_A);
	__atomic_store_n(&ra->go, 1, __ATOMIC_RELEASE);
	__atomic_store_n(&rb->go, 1, __ATOMIC_RELEASE);
	run_to_done(a);
	run_to_done(b);
	fprintf(stderr,
		"A: %llu pages, %llu bad, %llu of B's tag; B: %llu pages, %llu bad, %llu of A's\n",
		(unsigned long long)ra->value[4], (unsigned long long)ra->value[1],
		(unsigned long long)ra->value[3], (unsigned long long)rb->value[4],
		(unsigned long long)rb->value[1], (unsigned long long)rb->value[3]);
	CHECK(ra->value[4] * 4096 > ISO_MEM / 2); /* most of RAM was checked */
	CHECK_EQ(ra->value[1] + ra->value[3] + rb->value[1] + rb->value[3], 0);
	vm_destroy(a);
	vm_destroy(b);
}

/* Runs iso_canary with the VMM holding canary in 4 MiB of its heap; returns the hits. */
static uint64_t canary_scan(uint64_t canary, const uint64_t *plant, unsigned nplant,
			    uint64_t *first)
{
	size_t n = 4 * MIB / 8;
	uint64_t *heap = malloc(n * 8), key = make_canary(), hits;
	struct vm *vm = iso_vm("iso_canary", ISO_MEM, 1, NULL);
	struct results_abi *r = results_of(vm);
	struct errbuf e;

	CHECK(heap != NULL);
	for (size_t i = 0; i < n; i++)
		heap[i] = canary;
	r->param[0] = canary ^ key;
	r->param[1] = key;
	r->param[2] = ISO_MEM;
	for (unsigned i = 0; i < nplant; i++)
		CHECK(gmem_write(&vm->m.mem, plant[i], &canary, 8) == 0);
	CHECK(vm_start(vm, &e) == 0);
	run_to_done(vm);
	hits = r->value[0];
	*first = r->value[1];
	/* The heap copy was live the whole time. */
	CHECK_EQ(__atomic_load_n(&heap[n / 2], __ATOMIC_RELAXED), canary);
	free(heap);
	vm_destroy(vm);
	return hits;
}

TEST(iso_guest_never_finds_the_vmms_canary)
{
	uint64_t first, hits = canary_scan(make_canary(), NULL, 0, &first);

	fprintf(stderr, "canary hits in guest RAM: %llu\n", (unsigned long long)hits);
	CHECK_EQ(hits, 0);
}

/* The control: the same scan finds the canary when the host does put it in guest RAM. */
TEST(iso_canary_scan_finds_a_planted_canary)
{
	uint64_t plant[2] = {5 * MIB + 64, ISO_MEM - 8}, first;
	uint64_t hits = canary_scan(make_canary(), plant, 2, &first);

	fprintf(stderr, "planted 2, found %llu, first at 0x%llx\n", (unsigned long long)hits,
		(unsigned long long)first);
	CHECK_EQ(hits, 2);
	CHECK_EQ(first, plant[0]);
}

/* A test device just past RAM: records writes, answers reads with 0xd0 + offset per byte. */
struct probe_dev {
	pthread_mutex_t lock;
	unsigned nwrites;
	struct {
		uint64_t offset, value;
		uint32_t len;
	} writes[8];
};

static void probe_access(void *opaque, uint64_t offset, uint8_t *data, uint32_t len, bool is_write)
{
	struct probe_dev *d = opaque;

	if (!is_write) {
		for (uint32_t i = 0; i < len; i++)
			data[i] = (uint8_t)(0xd0 + offset + i);
		return;
	}
	pthread_mutex_lock(&d->lock);
	if (d->nwrites < 8) {
		d->writes[d->nwrites].offset = offset;
		d->writes[d->nwrites].len = len;
		d->writes[d->nwrites].value = 0;
		memcpy(&d->writes[d->nwrites].value, data, len < 8 ? len : 8);
		d->nwrites++;
	}
	pthread_mutex_unlock(&d->lock);
}

static uint64_t probe_expect(uint64_t offset, unsigned len)
{
	uint64_t v = 0;

	for (unsigned i = 0; i < len; i++)
		v |= (uint64_t)(uint8_t)(0xd0 + offset + i) << (8 * i);
	return v;
}

/* Ports KVM emulates in the kernel (PIC, PIT, speaker, ELCR): they never reach the bus. */
static bool port_in_kernel(unsigned p)
{
	return (p >= 0x20 && p <= 0x21) || (p >= 0x40 && p <= 0x43) || p == 0x61 ||
	       (p >= 0xa0 && p <= 0xa1) || (p >= 0x4d0 && p <= 0x4d1);
}

/* Ports no device claims, [0x100, 0x400) in full and a spread over the rest. */
static unsigned unclaimed_ports(struct vm *vm, uint32_t *out, unsigned max)
{
	unsigned n = 0;

	for (unsigned p = 0x100; p < 0xfffc && n < max; p += p < 0x400 ? 1 : 97) {
		bool free = true;

		for (unsigned b = p; b < p + 4; b++) /* a 4-byte read covers p .. p + 3 */
			free &= !bus_find(&vm->m.pio, b, 1) && !port_in_kernel(b);
		if (free)
			out[n++] = p;
	}
	return n;
}

TEST(iso_beyond_ram_is_mmio_rom_is_read_only_unclaimed_reads_all_ones)
{
	const uint64_t dev = ISO_MEM, unclaimed = 512 * MIB, rom = 16 * MIB;
	const uint64_t rom_fill = 0x0123456789abcdefull;
	struct vm *vm = iso_vm("iso_mmio", ISO_MEM, 1, NULL);
	struct results_abi *r = results_of(vm);
	struct probe_dev d = {.nwrites = 0};
	uint64_t pio_reads, mmio_reads, mmio_writes, rom_now;
	unsigned nports;
	struct errbuf e;

	pthread_mutex_init(&d.lock, NULL);
	CHECK(bus_register(&vm->m.mmio, dev, 4096, "probe", probe_access, &d, &e) == 0);
	if (vm_mem_region_add(vm, rom, 64 * 1024, MEM_REGION_READONLY, &e)) {
		fprintf(stderr, "adding a ROM: %s\n", e.msg);
		CHECK(!"ROM region");
	}
	CHECK(gmem_load(&vm->m.mem, rom, &rom_fill, 8) == 0);
	nports = unclaimed_ports(vm, r->input, RESULTS_NINPUT);
	r->param[0] = dev;
	r->param[1] = unclaimed;
	r->param[2] = rom;
	r->param[3] = nports;
	pio_reads = atomic_load(&vm->m.pio.unclaimed_reads);
	mmio_reads = atomic_load(&vm->m.mmio.unclaimed_reads);
	mmio_writes = atomic_load(&vm->m.mmio.unclaimed_writes);
	CHECK(vm_start(vm, &e) == 0);
	run_to_done(vm);

	/* Past RAM: the writes reached the device with their offsets and values... */
	CHECK_EQ(d.nwrites, 2);
	CHECK_EQ(d.writes[0].offset, 0x8);
	CHECK_EQ(d.writes[0].len, 4);
	CHECK_EQ(d.writes[0].value, 0x11223344);
	CHECK_EQ(d.writes[1].offset, 0x18);
	CHECK_EQ(d.writes[1].len, 8);
	CHECK_EQ(d.writes[1].value, 0x5566778899aabbccull);
	/* ...and the reads came from it, not from memory. */
	CHECK_EQ(r->value[0], probe_expect(0x10, 4));
	CHECK_EQ(r->value[1], probe_expect(0x20, 8));
	/* Nothing there: writes dropped, reads all-ones, both counted. */
	CHECK_EQ(r->value[2], 0xffffffffull);
	CHECK_EQ(r->value[8], ~0ull);
	CHECK_EQ(atomic_load(&vm->m.mmio.unclaimed_reads) - mmio_reads, 2);
	/* The ROM: the guest's write exits (to no device) and changes nothing. */
	CHECK_EQ(r->value[3], rom_fill);
	CHECK_EQ(r->value[4], rom_fill);
	CHECK(gmem_read(&vm->m.mem, rom, &rom_now, 8) == 0);
	CHECK_EQ(rom_now, rom_fill);
	CHECK_EQ(atomic_load(&vm->m.mmio.unclaimed_writes) - mmio_writes, 2);
	/* Unclaimed ports: every 1-, 2- and 4-byte read all-ones, and counted. */
	fprintf(stderr, "%u unclaimed ports read 3 ways: %llu not all-ones (first 0x%llx)\n",
		nports, (unsigned long long)r->value[5], (unsigned long long)r->value[6]);
	CHECK(nports > 500);
	CHECK_EQ(r->value[7], 3 * nports);
	CHECK_EQ(r->value[5], 0);
	CHECK_EQ(atomic_load(&vm->m.pio.unclaimed_reads) - pio_reads, 3 * nports);
	vm_destroy(vm);
	pthread_mutex_destroy(&d.lock);
}

/* iso_regs modes */
#define MODE_DIRTY 1
#define MODE_CHECK 2

static void check_clean(struct results_abi *r, unsigned cpu, const char *who)
{
	fprintf(stderr,
		"%s (vCPU %u): entry GPRs dirty %llu, vector lanes dirty %llu, pattern hits %llu "
		"(%s)\n",
		who, cpu, (unsigned long long)r->value[cpu * 4],
		(unsigned long long)r->value[cpu * 4 + 1],
		(unsigned long long)r->value[cpu * 4 + 2], r->value[60] ? "XMM+YMM" : "XMM only");
	CHECK_EQ(r->value[cpu * 4 + 0], 0);
	CHECK_EQ(r->value[cpu * 4 + 1], 0);
	CHECK_EQ(r->value[cpu * 4 + 2], 0);
}

static char *one_cpu_spec(char *buf, size_t len)
{
	cpu_set_t set;
	unsigned c = 0;

	CHECK(sched_getaffinity(0, sizeof(set), &set) == 0);
	while (!CPU_ISSET(c, &set))
		c++;
	snprintf(buf, len, "pinned:cpus=%u", c);
	return buf;
}

/*
 * Whether AVX instructions run in guests here. A KVM that emulates guest
 * instructions in software (as on some nested hosts) may not know VEX
 * encodings and stops the VM with an emulation failure; nested setups under
 * QEMU's TCG may raise #UD in the guest although CPUID offers AVX. Either way
 * the register tests then check the XMM registers alone, and say so.
 */
static bool kvm_runs_avx(void)
{
	struct vm *vm = iso_vm("iso_regs", 16 * MIB, 1, NULL);
	struct errbuf e;
	bool ok;

	results_of(vm)->param[0] = MODE_CHECK;
	CHECK(vm_start(vm, &e) == 0);
	CHECK(vm_wait(vm, TIMEOUT_S, &e) == 0);
	ok = vm->m.stop_kind == STOP_GUEST_DONE;
	if ((vm->m.stop_kind == STOP_GUEST_ERROR && strstr(vm->m.stop_msg, "internal error")) ||
	    (vm->m.stop_kind == STOP_GUEST_ASSERT && strstr(vm->m.stop_msg, "#UD")))
		fprintf(stderr,
			"AVX instructions do not run in guests here (%s): checking XMM only\n",
			vm->m.stop_msg);
	else
		CHECK_STOP(vm, STOP_GUEST_DONE);
	vm_destroy(vm);
	return ok;
}

static struct vm *regs_vm(unsigned ncpus, const char *sched, uint64_t tag, bool sse_only)
{
	struct vm *vm = iso_vm("iso_regs", 16 * MIB, ncpus, sched);

	results_of(vm)->param[8] = tag;
	results_of(vm)->param[9] = sse_only;
	return vm;
}

/* The control: state planted in a vCPU through KVM (as a leak would leave it) is seen. */
TEST(iso_register_check_sees_planted_values)
{
	const uint64_t tag = 0x77;
	struct vm *vm = regs_vm(1, NULL, tag, true);
	struct results_abi *r = results_of(vm);
	struct kvm_xsave xs;
	struct kvm_regs regs;
	struct errbuf e;
	uint8_t *xmm5;

	r->param[0] = MODE_CHECK;
	CHECK(ioctl(vm->vcpus[0].fd, KVM_GET_REGS, &regs) == 0);
	regs.r12 = 0x15a0000000000000ull | (tag & 0xffff) << 32 | 0 << 8 | 3; /* iso_regs.c */
	CHECK(ioctl(vm->vcpus[0].fd, KVM_SET_REGS, &regs) == 0);
	/* XSAVE layout: XMM registers from byte 160, XSTATE_BV at 512 (bit 1: SSE state
	 * present, else XRSTOR would load the init state and drop the plant). */
	CHECK(ioctl(vm->vcpus[0].fd, KVM_GET_XSAVE, &xs) == 0);
	xmm5 = (uint8_t *)xs.region + 160 + 5 * 16;
	for (unsigned b = 0; b < 16; b++) /* vec_pattern(tag, cpu 0, reg 5, byte b) */
		xmm5[b] = (uint8_t)((0x80 | (tag & 0xf) << 3 | ((0 + 5 + b) & 7)) ^ (b << 4));
	xs.region[512 / 4] |= 2;
	CHECK(ioctl(vm->vcpus[0].fd, KVM_SET_XSAVE, &xs) == 0);
	CHECK(vm_start(vm, &e) == 0);
	run_to_done(vm);
	fprintf(stderr,
		"planted r12 and xmm5: entry GPRs dirty %llu, vector lanes dirty %llu, "
		"pattern hits %llu\n",
		(unsigned long long)r->value[0], (unsigned long long)r->value[1],
		(unsigned long long)r->value[2]);
	CHECK_EQ(r->value[0], 1);
	CHECK_EQ(r->value[1], 1);
	CHECK_EQ(r->value[2], 2);
	vm_destroy(vm);
}

/* vCPU 0 holds distinctive GPR/XMM/YMM values while vCPU 1, on the same host CPU, checks
 * that its own state is clean; then vCPU 0 checks its values survived the switches. */
TEST(iso_registers_do_not_leak_between_vcpus)
{
	char spec[64];
	struct vm *vm = regs_vm(2, one_cpu_spec(spec, sizeof(spec)), 0x3c, !kvm_runs_avx());
	struct results_abi *r = results_of(vm);
	struct errbuf e;

	r->param[0] = MODE_DIRTY;
	r->param[1] = MODE_CHECK;
	CHECK(vm_start(vm, &e) == 0);
	results_wait(vm, &r->vcpu[1].state, 2, "vCPU 1 to check its registers");
	__atomic_store_n(&r->go, 1, __ATOMIC_RELEASE);
	run_to_done(vm);
	check_clean(r, 1, "checker");
	fprintf(stderr, "holder (vCPU 0): %llu of its own values lost\n",
		(unsigned long long)r->value[3]);
	CHECK_EQ(r->value[3], 0);
	vm_destroy(vm);
}

/* VM A holds distinctive values on a host CPU; VM B, started there meanwhile, and VM C,
 * started after A is gone, must both start clean (B and C look for A's values). */
TEST(iso_registers_do_not_leak_between_vms)
{
	bool sse_only = !kvm_runs_avx();
	char spec[64];
	struct vm *a = regs_vm(1, one_cpu_spec(spec, sizeof(spec)), 0x5a, sse_only), *b, *c;
	struct results_abi *ra = results_of(a), *rb, *rc;
	struct errbuf e;

	ra->param[0] = MODE_DIRTY;
	CHECK(vm_start(a, &e) == 0);
	results_wait(a, &ra->vcpu[0].state, 1, "VM A to hold its values");

	b = regs_vm(1, spec, 0x5a, sse_only);
	rb = results_of(b);
	rb->param[0] = MODE_CHECK;
	CHECK(vm_start(b, &e) == 0);
	run_to_done(b);
	check_clean(rb, 0, "VM B beside A");
	vm_destroy(b);

	CHECK(!machine_stopping(&a->m)); /* A held its values all along */
	__atomic_store_n(&ra->go, 1, __ATOMIC_RELEASE);
	run_to_done(a);
	fprintf(stderr, "VM A: %llu of its own values lost\n", (unsigned long long)ra->value[3]);
	CHECK_EQ(ra->value[3], 0);
	vm_destroy(a);

	c = regs_vm(1, spec, 0x5a, sse_only);
	rc = results_of(c);
	rc->param[0] = MODE_CHECK;
	CHECK(vm_start(c, &e) == 0);
	run_to_done(c);
	check_clean(rc, 0, "VM C after A");
	vm_destroy(c);
}

static uint64_t rss_bytes(void)
{
	unsigned long size, resident;
	FILE *f = fopen("/proc/self/statm", "r");

	CHECK(f != NULL);
	CHECK(fscanf(f, "%lu %lu", &size, &resident) == 2);
	fclose(f);
	return (uint64_t)resident * (uint64_t)sysconf(_SC_PAGESIZE);
}

/* The mappings of this process with their resident KiB, from /proc/self/smaps. */
struct smaps {
	unsigned n;
	struct {
		unsigned long start, end, rss_kb;
		char name[64];
	} map[4096];
};

static void smaps_read(struct smaps *m)
{
	FILE *f = fopen("/proc/self/smaps", "r");
	char line[512];

	CHECK(f != NULL);
	m->n = 0;
	while (fgets(line, sizeof(line), f)) {
		unsigned long a, b, kb;
		char name[64] = "";

		if (sscanf(line, "%lx-%lx %*s %*s %*s %*s %63s", &a, &b, name) >= 2 &&
		    m->n < sizeof(m->map) / sizeof(m->map[0])) {
			m->map[m->n].start = a;
			m->map[m->n].end = b;
			m->map[m->n].rss_kb = 0;
			snprintf(m->map[m->n].name, sizeof(m->map[0].name), "%s", name);
			m->n++;
		} else if (m->n && sscanf(line, "Rss: %lu kB", &kb) == 1) {
			m->map[m->n - 1].rss_kb = kb;
		}
	}
	fclose(f);
}

/* Prints the mappings that hold more resident memory in b than in a: where a leak sits. */
static void smaps_diff(const struct smaps *a, const struct smaps *b)
{
	for (unsigned i = 0; i < b->n; i++) {
		unsigned long was = 0;

		for (unsigned j = 0; j < a->n; j++)
			if (a->map[j].start == b->map[i].start && a->map[j].end == b->map[i].end)
				was = a->map[j].rss_kb;
		if (b->map[i].rss_kb > was)
			fprintf(stderr, "  grew: %lx-%lx %s: %lu -> %lu KiB\n", b->map[i].start,
				b->map[i].end, b->map[i].name, was, b->map[i].rss_kb);
	}
}

static void touch_run(const char *policy, uint64_t mem, uint64_t *before, uint64_t *during,
		      uint64_t *after, struct smaps *sm)
{
	struct vm_config cfg;
	struct vm *vm;
	struct errbuf e;

	vm_config_default(&cfg);
	cfg.mem_size = mem;
	cfg.mem_policy = policy;
	smaps_read(&sm[0]);
	*before = rss_bytes();
	vm = kvmtest_vm("iso_touch", &cfg);
	results_of(vm)->param[0] = mem;
	CHECK(vm_start(vm, &e) == 0);
	run_to_done(vm);
	*during = rss_bytes();
	vm_destroy(vm);
	*after = rss_bytes();
	smaps_read(&sm[1]);
}

TEST(iso_memory_goes_back_to_the_host_after_destroy)
{
	static const char *const policies[] = {"anon", "prefault", "thp", "memfd"};
	static struct smaps sm[2];
	const uint64_t mem = 128 * MIB;
	uint64_t before, during, after;

#ifdef __SANITIZE_ADDRESS__
	/* ASan's own books (the allocation-stack depot and its allocator regions) grow
	 * with every new code path, and where THP is "always" each growth costs a
	 * 2 MiB page that has nothing to do with the VM. Under ASan this process goes
	 * without THP (the thp policy then maps 4 KiB pages; release builds keep it). */
	CHECK(prctl(PR_SET_THP_DISABLE, 1, 0, 0, 0) == 0);
#endif
	/* Warm up with every policy first: the first VM's one-off costs, and the thread
	 * stacks glibc caches for the next VM, whose resident part only grows to the
	 * deepest path once (in 2 MiB steps where THP is "always"). */
	for (unsigned i = 0; i < sizeof(policies) / sizeof(policies[0]); i++)
		touch_run(policies[i], 8 * MIB, &before, &during, &after, sm);
	for (unsigned i = 0; i < sizeof(policies) / sizeof(policies[0]); i++) {
		touch_run(policies[i], mem, &before, &during, &after, sm);
		fprintf(stderr,
			"%-9s RSS before %7.1f MiB, with the guest's RAM touched %7.1f MiB, "
			"after destroy %7.1f MiB\n",
			policies[i], (double)before / MIB, (double)during / MIB,
			(double)after / MIB);
		CHECK(during >= before + mem * 3 / 4); /* the guest's RAM really was in memory */
		if (after > before + MIB)
			smaps_diff(&sm[0], &sm[1]);
		CHECK(after <= before + MIB);
	}
}
