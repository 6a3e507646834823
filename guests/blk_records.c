/* Power-cut guest: writes numbered records to the first virtio disk, flushing each, and says which are safe. */
#include "lib/guest.h"
#include "lib/virtio_blk.h"

#define RECORDS_MAX 100000u

/* One sector per record: record n at sector n, its number and a pattern derived from it. */
struct record {
	char magic[8];
	uint64_t seq;
	uint64_t fill[62];
};

static struct record rec __attribute__((aligned(512)));

static uint64_t record_word(uint64_t seq, unsigned i)
{
	return (seq + 1) * 0x9e3779b97f4a7c15ull ^ (uint64_t)i * 0x100000001b3ull;
}

int guest_main(unsigned ncpus)
{
	uint64_t sectors;
	int r;

	(void)ncpus;
	r = vblk_init(GUEST_VIRTIO_MMIO_BASE);
	if (r) {
		guest_printf("blk_records: no usable virtio-blk disk (step %d)\n", -r);
		return 3;
	}
	sectors = vblk_capacity();
	guest_printf("blk_records: disk of %llu sectors\n", (unsigned long long)sectors);
	for (uint64_t n = 0; n < sectors && n < RECORDS_MAX; n++) {
		__builtin_memcpy(rec.magic, "KVMLREC", 8);
		rec.seq = n;
		for (unsigned i = 0; i < 62; i++)
			rec.fill[i] = record_word(n, i);
		if ((r = vblk_write(n, &rec, sizeof(rec))) != 0) {
			guest_printf("blk_records: write %llu failed with status %d\n",
				     (unsigned long long)n, r);
			return 4;
		}
		if ((r = vblk_flush()) != 0) {
			guest_printf("blk_records: flush %llu failed with status %d\n",
				     (unsigned long long)n, r);
			return 5;
		}
		/* The record is on stable storage once the flush is acknowledged. */
		guest_printf("ACK %llu\n", (unsigned long long)n);
	}
	guest_printf("blk_records: done\n");
	return 0;
}
