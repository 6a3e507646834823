/* Unit tests of gmem's region removal, ROM loading and lock-free lookups during hot-add. */
#include <pthread.h>
#include <stdatomic.h>
#include <stdint.h>
#include <unistd.h>

#include "kvmlab/gmem.h"
#include "unit.h"

TEST(gmem_remove_takes_out_exactly_that_region)
{
	static uint8_t a[0x1000], b[0x1000], c[0x1000];
	struct gmem m = {0};
	struct errbuf e;

	CHECK(gmem_add(&m, 0x0000, sizeof(a), a, 0, &e) == 0);
	CHECK(gmem_add(&m, 0x1000, sizeof(b), b, 0, &e) == 0);
	CHECK(gmem_add(&m, 0x4000, sizeof(c), c, 0, &e) == 0);
	CHECK(gmem_remove(&m, 0x1000, &e) == 0);
	CHECK_EQ(m.nregions, 2);
	CHECK(gmem_ptr(&m, 0x1000, 1, false) == NULL);
	CHECK(gmem_ptr(&m, 0x0fff, 1, false) == a + 0xfff);
	CHECK(gmem_ptr(&m, 0x4000, 1, false) == c);
	CHECK(gmem_remove(&m, 0x1000, &e) == -1);
	CHECK_CONTAINS(e.msg, "no memory region starts at 0x1000");
	CHECK(gmem_remove(&m, 0x4800, &e) == -1); /* inside a region is not its start */
	/* The freed place is reusable. */
	CHECK(gmem_add(&m, 0x1000, sizeof(b), b, 0, &e) == 0);
	CHECK(gmem_ptr(&m, 0x1800, 1, true) == b + 0x800);
}

TEST(gmem_load_fills_a_rom_that_gmem_write_may_not)
{
	static uint8_t rom[0x1000];
	const uint32_t v = 0xfeedf00d;
	struct gmem m = {0};
	struct errbuf e;
	uint32_t got = 0;

	CHECK(gmem_add(&m, 0xfffff000, sizeof(rom), rom, GMEM_READONLY, &e) == 0);
	CHECK(gmem_write(&m, 0xfffff000, &v, sizeof(v)) == -1);
	CHECK(gmem_load(&m, 0xfffff000, &v, sizeof(v)) == 0);
	CHECK(gmem_read(&m, 0xfffff000, &got, sizeof(got)) == 0);
	CHECK_EQ(got, v);
	CHECK(gmem_load(&m, 0xffffffff, &v, sizeof(v)) == -1); /* still bounds-checked */
	CHECK(gmem_load(&m, 0x1000, &v, sizeof(v)) == -1);
}

#define HOTADD_REGIONS 31

struct hotadd {
	struct gmem m;
	uint8_t mem[HOTADD_REGIONS][256];
	atomic_bool done;
	atomic_uint bad;
};

/* Reads every region's first byte; once a region is visible it must read as its own id. */
static void *hotadd_reader(void *arg)
{
	struct hotadd *h = arg;
	bool seen[HOTADD_REGIONS] = {false};

	while (!atomic_load(&h->done)) {
		for (unsigned i = 0; i < HOTADD_REGIONS; i++) {
			uint8_t v;

			if (gmem_read(&h->m, 0x10000ull * i, &v, 1) == 0) {
				seen[i] = true;
				if (v != i + 1)
					atomic_fetch_add(&h->bad, 1);
			} else if (seen[i]) {
				atomic_fetch_add(&h->bad, 1); /* published regions never vanish */
			}
		}
	}
	return NULL;
}

TEST(gmem_hot_add_is_seen_whole_by_lock_free_readers)
{
	static struct hotadd h;
	pthread_t readers[2];
	struct errbuf e;

	for (unsigned i = 0; i < HOTADD_REGIONS; i++)
		memset(h.mem[i], (int)(i + 1), sizeof(h.mem[i]));
	for (unsigned t = 0; t < 2; t++)
		CHECK(pthread_create(&readers[t], NULL, hotadd_reader, &h) == 0);
	for (unsigned i = 0; i < HOTADD_REGIONS; i++) {
		CHECK(gmem_add(&h.m, 0x10000ull * i, sizeof(h.mem[i]), h.mem[i], 0, &e) == 0);
		usleep(200);
	}
	atomic_store(&h.done, true);
	for (unsigned t = 0; t < 2; t++)
		pthread_join(readers[t], NULL);
	CHECK_EQ(atomic_load(&h.bad), 0);
	CHECK_EQ(h.m.nregions, HOTADD_REGIONS);
}
