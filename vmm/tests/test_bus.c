/* Unit tests of the PIO/MMIO bus: registration, overlap refusal, lookup, unclaimed accesses. */
#include <stdint.h>

#include "kvmlab/bus.h"
#include "unit.h"

struct probe {
	uint64_t offset;
	uint32_t len;
	int calls;
	bool write;
};

static void probe_fn(void *opaque, uint64_t offset, uint8_t *data, uint32_t len, bool is_write)
{
	struct probe *p = opaque;

	p->offset = offset;
	p->len = len;
	p->write = is_write;
	p->calls++;
	if (!is_write)
		memset(data, 0xab, len);
}

TEST(bus_routes_to_the_claiming_range_with_offset)
{
	struct bus b;
	struct probe p = {0};
	struct errbuf e;
	uint8_t data[4] = {1, 2, 3, 4};

	bus_init(&b, "pio");
	CHECK(bus_register(&b, 0x3f8, 8, "com1", probe_fn, &p, &e) == 0);
	CHECK(bus_access(&b, 0x3fd, data, 1, false));
	CHECK_EQ(p.offset, 5);
	CHECK_EQ(data[0], 0xab);
	CHECK(bus_access(&b, 0x3f8, data, 4, true));
	CHECK(p.write);
	CHECK_EQ(p.calls, 2);
	bus_free(&b);
}

TEST(bus_refuses_overlaps_and_names_the_owner)
{
	struct bus b;
	struct probe p = {0};
	struct errbuf e;

	bus_init(&b, "mmio");
	CHECK(bus_register(&b, 0x1000, 0x100, "a", probe_fn, &p, &e) == 0);
	CHECK(bus_register(&b, 0x10ff, 1, "b", probe_fn, &p, &e) == -1);
	CHECK_CONTAINS(e.msg, "overlaps a");
	CHECK(bus_register(&b, 0xf00, 0x101, "c", probe_fn, &p, &e) == -1);
	CHECK(bus_register(&b, 0xf00, 0x100, "d", probe_fn, &p, &e) == 0);
	CHECK(bus_register(&b, 0x1100, 0x100, "e", probe_fn, &p, &e) == 0);
	CHECK(bus_register(&b, 0, 0, "empty", probe_fn, &p, &e) == -1);
	CHECK(bus_register(&b, UINT64_MAX, 2, "wrap", probe_fn, &p, &e) == -1);
	CHECK(bus_register(&b, UINT64_MAX, 1, "last", probe_fn, &p, &e) == 0);
	bus_free(&b);
}

TEST(bus_unclaimed_reads_all_ones_and_counts)
{
	struct bus b;
	struct probe p = {0};
	struct errbuf e;
	uint8_t data[4] = {0};

	bus_init(&b, "pio");
	CHECK(bus_register(&b, 0x60, 1, "kbd", probe_fn, &p, &e) == 0);
	CHECK(!bus_access(&b, 0x61, data, 4, false));
	CHECK_EQ(data[0] & data[1] & data[2] & data[3], 0xff);
	CHECK(!bus_access(&b, 0x70, data, 1, true));
	/* an access straddling the end of a range is not the device's */
	CHECK(!bus_access(&b, 0x60, data, 2, false));
	CHECK_EQ(b.unclaimed_reads, 2);
	CHECK_EQ(b.unclaimed_writes, 1);
	CHECK_EQ(p.calls, 0);
	bus_free(&b);
}

TEST(bus_lookup_with_many_ranges)
{
	static struct probe probes[1000];
	struct bus b;
	struct errbuf e;
	uint8_t v;

	bus_init(&b, "mmio");
	/* registered out of order, every other page */
	for (int i = 999; i >= 0; i--)
		CHECK(bus_register(&b, 0x10000000ull + (uint64_t)i * 0x2000, 0x1000, "dev",
				   probe_fn, &probes[i], &e) == 0);
	for (int i = 0; i < 1000; i++) {
		CHECK(bus_find(&b, 0x10000000ull + (uint64_t)i * 0x2000 + 0xffc, 4)->opaque ==
		      &probes[i]);
		CHECK(bus_find(&b, 0x10000000ull + (uint64_t)i * 0x2000 + 0x1000, 1) == NULL);
	}
	CHECK(bus_access(&b, 0x10000000ull + 500 * 0x2000 + 8, &v, 1, true));
	CHECK_EQ(probes[500].offset, 8);
	CHECK(bus_unregister(&b, 0x10000000ull + 500 * 0x2000) == 0);
	CHECK(bus_unregister(&b, 0x10000000ull + 500 * 0x2000) == -1);
	CHECK(!bus_access(&b, 0x10000000ull + 500 * 0x2000 + 8, &v, 1, true));
	bus_free(&b);
}

TEST(bus_direct_index_follows_register_and_unregister)
{
	static struct probe probes[3];
	struct bus b;
	struct errbuf e;

	bus_init(&b, "pio");
	bus_enable_direct(&b, 0x10000);
	CHECK(bus_register(&b, 0x3f8, 8, "com1", probe_fn, &probes[0], &e) == 0);
	CHECK(bus_register(&b, 0x60, 1, "kbd", probe_fn, &probes[1], &e) == 0); /* shifts com1 */
	CHECK(bus_register(&b, 0x70, 2, "rtc", probe_fn, &probes[2], &e) == 0);
	CHECK(bus_find(&b, 0x3ff, 1)->opaque == &probes[0]);
	CHECK(bus_find(&b, 0x60, 1)->opaque == &probes[1]);
	CHECK(bus_find(&b, 0x71, 1)->opaque == &probes[2]);
	CHECK(bus_find(&b, 0x70, 4) == NULL); /* straddles the end */
	CHECK(bus_unregister(&b, 0x60) == 0); /* shifts the others back */
	CHECK(bus_find(&b, 0x60, 1) == NULL);
	CHECK(bus_find(&b, 0x3f8, 1)->opaque == &probes[0]);
	CHECK(bus_find(&b, 0x70, 2)->opaque == &probes[2]);
	bus_free(&b);
}

TEST(bus_find_port_survives_a_dropped_index)
{
	static struct probe probes[300];
	struct bus b;
	struct errbuf e;

	bus_init(&b, "pio");
	bus_enable_direct(&b, 0x10000);
	CHECK(bus_register(&b, 0x60, 2, "kbd", probe_fn, &probes[0], &e) == 0);
	CHECK(bus_find_port(&b, 0x61, 1)->opaque == &probes[0]);
	CHECK(bus_find_port(&b, 0x61, 2) == NULL); /* straddles the end */
	CHECK(bus_find_port(&b, 0x62, 1) == NULL);
	/* Past 255 ranges the byte index is dropped: the exit path's lookup misses
	 * (all-zero table, no bound check needed) and bus_find answers by search. */
	for (int i = 1; i < 300; i++)
		CHECK(bus_register(&b, 0x1000 + (uint64_t)i * 4, 2, "dev", probe_fn, &probes[i],
				   &e) == 0);
	CHECK_EQ(b.direct_len, 0);
	CHECK(bus_find_port(&b, 0x61, 1) == NULL);
	CHECK(bus_find_port(&b, 0x1000 + 299 * 4, 1) == NULL);
	CHECK(bus_find(&b, 0x61, 1)->opaque == &probes[0]);
	CHECK(bus_find(&b, 0x1000 + 299 * 4 + 1, 1)->opaque == &probes[299]);
	bus_free(&b);
}
