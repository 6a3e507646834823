/* Unit tests of memory-policy specs, the policy table, the RAM layout and region placement. */
#include <stdint.h>

#include "kvmlab/mem.h"
#include "unit.h"

TEST(mem_spec_parse_splits_name_and_options)
{
	struct mem_opts o;
	struct errbuf e;

	CHECK(mem_spec_parse("anon", &o, &e) == 0);
	CHECK(!strcmp(o.name, "anon"));
	CHECK_EQ(o.n, 0);
	CHECK(mem_spec_parse("hugetlb:size=1G,dirty_ring=4096", &o, &e) == 0);
	CHECK(!strcmp(o.name, "hugetlb"));
	CHECK_EQ(o.n, 2);
	CHECK(!strcmp(mem_opt_take(&o, "dirty_ring"), "4096"));
	CHECK(o.opt[1].taken && !o.opt[0].taken);
	CHECK(!strcmp(mem_opt_take(&o, "size"), "1G"));
	CHECK(mem_opt_take(&o, "nope") == NULL);
	CHECK(mem_spec_parse("memfd:name=", &o, &e) == 0); /* an empty value is the policy's call */
	CHECK(!strcmp(mem_opt_take(&o, "name"), ""));
}

TEST(mem_spec_parse_refuses_malformed_specs)
{
	char long_spec[MEM_SPEC_MAX + 8];
	struct mem_opts o;
	struct errbuf e;

	CHECK(mem_spec_parse(":size=2M", &o, &e) == -1);
	CHECK_CONTAINS(e.msg, "no policy name");
	CHECK(mem_spec_parse("anon:size", &o, &e) == -1);
	CHECK_CONTAINS(e.msg, "'size' is not KEY=VALUE");
	CHECK(mem_spec_parse("anon:=2M", &o, &e) == -1);
	CHECK_CONTAINS(e.msg, "is not KEY=VALUE");
	CHECK(mem_spec_parse("anon:", &o, &e) == -1);
	CHECK(mem_spec_parse("anon:a=1,,b=2", &o, &e) == -1);
	CHECK(mem_spec_parse("anon:a=1,a=2", &o, &e) == -1);
	CHECK_CONTAINS(e.msg, "sets 'a' twice");
	CHECK(mem_spec_parse("anon:a=1,b=1,c=1,d=1,e=1,f=1,g=1,h=1,i=1", &o, &e) == -1);
	CHECK_CONTAINS(e.msg, "more than 8 options");
	memset(long_spec, 'x', sizeof(long_spec) - 1);
	long_spec[sizeof(long_spec) - 1] = '\0';
	CHECK(mem_spec_parse(long_spec, &o, &e) == -1);
	CHECK_CONTAINS(e.msg, "longer than 127 characters");
}

TEST(mem_policy_find_lists_the_valid_names)
{
	struct errbuf e;

	CHECK(mem_policy_find("anon", &e) == mem_policies[0]);
	CHECK(mem_policy_find("ksm", &e) != NULL);
	CHECK(mem_policy_find("Anon", &e) == NULL);
	CHECK(mem_policy_find("hugepages", &e) == NULL);
	CHECK_CONTAINS(e.msg, "unknown memory policy 'hugepages' (valid: anon, prefault, thp, "
			      "hugetlb, memfd, uffd, ksm)");
}

TEST(mem_policy_table_entries_are_complete_and_unique)
{
	unsigned n = 0;

	for (const struct mem_policy_ops *const *p = mem_policies; *p; p++, n++) {
		const struct mem_policy_ops *ops = *p;

		CHECK(ops->name && ops->help && ops->alloc && ops->free);
		CHECK(ops->page_size >= MEM_PAGE_SIZE && !(ops->page_size & (ops->page_size - 1)));
		CHECK(ops->discard != NULL); /* every built-in policy can back a balloon */
		for (const struct mem_policy_ops *const *q = mem_policies; q != p; q++)
			CHECK(strcmp((*q)->name, ops->name) != 0);
	}
	CHECK_EQ(n, 7);
}

TEST(mem_policy_open_refuses_options_it_does_not_take)
{
	struct mem_policy p;
	struct errbuf e;

	CHECK(mem_policy_open(&p, "anon:size=2M", &e) == -1);
	CHECK_CONTAINS(e.msg, "memory policy 'anon' has no option 'size' (it takes: no options)");
	CHECK(mem_policy_open(&p, "bogus", &e) == -1);
	CHECK_CONTAINS(e.msg, "unknown memory policy 'bogus'");
	CHECK(mem_policy_open(&p, "hugetlb:size=3M", &e) == -1);
	CHECK_CONTAINS(e.msg, "size=3M is not a huge page size (2M or 1G)");
	CHECK(mem_policy_open(&p, "hugetlb:size=lots", &e) == -1);
	CHECK_CONTAINS(e.msg, "hugetlb size");
	CHECK(mem_policy_open(&p, NULL, &e) == 0); /* NULL is the default, anon */
	CHECK(!strcmp(p.ops->name, "anon"));
	CHECK_EQ(p.page_size, MEM_PAGE_SIZE);
	mem_policy_close(&p);
}

TEST(mem_ram_ranges_leave_the_mmio_hole_free)
{
	struct mem_range r[2];

	CHECK_EQ(mem_ram_ranges(64ull << 20, r), 1);
	CHECK(r[0].gpa == 0 && r[0].size == 64ull << 20);
	CHECK_EQ(mem_ram_ranges(3ull << 30, r), 1);
	CHECK(r[0].gpa == 0 && r[0].size == 3ull << 30);
	CHECK_EQ(mem_ram_ranges((3ull << 30) + 4096, r), 2);
	CHECK(r[0].size == 3ull << 30);
	CHECK(r[1].gpa == 4ull << 30 && r[1].size == 4096);
	CHECK_EQ(mem_ram_ranges(8ull << 30, r), 2);
	CHECK(r[1].gpa == MEM_HIGH_RAM_START && r[1].size == 5ull << 30);
}

static void noop_access(void *opaque, uint64_t off, uint8_t *data, uint32_t len, bool is_write)
{
	(void)opaque, (void)off, (void)data, (void)len, (void)is_write;
}

TEST(mem_region_check_refuses_overlap_misalignment_and_claimed_ranges)
{
	const struct mem_range ram[] = {{0, 64ull << 20}, {4ull << 30, 1ull << 30}};
	struct errbuf e;
	struct bus mmio;

	bus_init(&mmio, "mmio");
	CHECK(bus_register(&mmio, 0xd0000000, 0x1000, "virtio", noop_access, NULL, &e) == 0);
	/* Fits: after RAM, in the hole, and right against a neighbour. */
	CHECK(mem_region_check(ram, 2, &mmio, 1ull << 30, 2ull << 20, 0, 4096, &e) == 0);
	CHECK(mem_region_check(ram, 2, &mmio, 64ull << 20, 4096, 0, 4096, &e) == 0);
	CHECK(mem_region_check(ram, 2, &mmio, 5ull << 30, 4096, 0, 4096, &e) == 0);
	/* Overlaps RAM, at either end. */
	CHECK(mem_region_check(ram, 2, &mmio, (64ull << 20) - 4096, 8192, 0, 4096, &e) == -1);
	CHECK_CONTAINS(e.msg, "overlaps region 0x0-0x3ffffff");
	CHECK(mem_region_check(ram, 2, &mmio, (4ull << 30) - 4096, 8192, 0, 4096, &e) == -1);
	CHECK_CONTAINS(e.msg, "overlaps region 0x100000000-");
	/* Alignment to the policy's page. */
	CHECK(mem_region_check(ram, 2, &mmio, 0x40001000, 2ull << 20, 0, 2ull << 20, &e) == -1);
	CHECK_CONTAINS(e.msg, "not aligned to 2048 KiB");
	CHECK(mem_region_check(ram, 2, &mmio, 0x40000000, 0x1800, 0, 4096, &e) == -1);
	CHECK_CONTAINS(e.msg, "not aligned to 4 KiB");
	/* Empty and wrapping. */
	CHECK(mem_region_check(ram, 2, &mmio, 0x40000000, 0, 0, 4096, &e) == -1);
	CHECK_CONTAINS(e.msg, "empty or wraps");
	CHECK(mem_region_check(ram, 2, &mmio, UINT64_MAX - 0xfff, 0x2000, 0, 4096, &e) == -1);
	CHECK_CONTAINS(e.msg, "empty or wraps");
	/* A claimed MMIO range refuses RAM but takes a ROM's writes. */
	CHECK(mem_region_check(ram, 2, &mmio, 0xcfff0000, 0x20000, 0, 4096, &e) == -1);
	CHECK_CONTAINS(e.msg, "overlaps MMIO range 'virtio' at 0xd0000000-0xd0000fff");
	CHECK(mem_region_check(ram, 2, &mmio, 0xd0000000, 0x1000, MEM_REGION_READONLY, 4096, &e) ==
	      0);
	/* The in-kernel APICs and KVM's TSS and identity map, even for a ROM. */
	CHECK(mem_region_check(ram, 2, &mmio, 0xfee00000, 0x1000, 0, 4096, &e) == -1);
	CHECK_CONTAINS(e.msg, "overlaps the local APIC at 0xfee00000-0xfee00fff");
	CHECK(mem_region_check(ram, 2, &mmio, 0xfec00000, 0x1000, 0, 4096, &e) == -1);
	CHECK_CONTAINS(e.msg, "overlaps the IOAPIC");
	CHECK(mem_region_check(ram, 2, &mmio, 0xfffbd000, 0x1000, MEM_REGION_READONLY, 4096, &e) ==
	      -1);
	CHECK_CONTAINS(e.msg, "overlaps KVM's TSS and identity map");
	CHECK(mem_region_check(ram, 2, &mmio, 0xfffc0000, 0x40000, MEM_REGION_READONLY, 4096, &e) ==
	      0);
	bus_free(&mmio);
}

TEST(mem_spec_check_judges_a_spec_as_vm_create_would)
{
	struct mem_opts o;
	struct errbuf e;

	CHECK(mem_spec_check(NULL, &e) == 0);
	CHECK(mem_spec_check("", &e) == 0);
	CHECK(mem_spec_parse("", &o, &e) == 0 && !strcmp(o.name, "anon"));
	CHECK(mem_spec_check("memfd:dirty_ring=4096", &e) == 0);
	CHECK(mem_spec_check("anon:dirty_ring=0", &e) == -1);
	CHECK_CONTAINS(e.msg, "dirty_ring");
	CHECK(mem_spec_check("nope", &e) == -1);
	CHECK_CONTAINS(e.msg, "unknown memory policy 'nope' (valid: anon,");
	CHECK(mem_spec_check("prefault:x=1", &e) == -1);
	CHECK_CONTAINS(e.msg, "memory policy 'prefault' has no option 'x' (it takes: no options; "
			      "every VM also takes dirty_ring=ENTRIES)");
}
