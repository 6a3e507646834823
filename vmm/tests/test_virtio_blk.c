/* Unit tests of the virtio-mmio transport and virtio-blk on plain memory, driven like a guest. */
#include <fcntl.h>
#include <stdint.h>
#include <unistd.h>

#include "kvmlab/virtio.h"
#include "unit.h"

#define RAM	 (1u << 20)
#define BASE	 VIRTIO_MMIO_BASE
#define DESC	 0x1000
#define AVAIL	 0x2000
#define USED	 0x3000
#define QSIZE	 16
#define HDR	 0x10000 /* request header */
#define DATA	 0x20000
#define STATUS	 0x30000
#define DISK_MIB 1

struct tb {
	struct machine m;
	uint8_t *ram;
	char path[64];
	unsigned irqs;
	uint16_t avail_idx;
};

static void count_irq(void *opaque, uint32_t gsi, bool level)
{
	struct tb *t = opaque;

	if (gsi == virtio_mmio_gsi(0) && level)
		t->irqs++;
}

static uint32_t rd(struct tb *t, uint64_t off)
{
	uint32_t v = 0;

	CHECK(machine_mmio(&t->m, BASE + off, (uint8_t *)&v, 4, false));
	return v;
}

static void wr(struct tb *t, uint64_t off, uint32_t v)
{
	CHECK(machine_mmio(&t->m, BASE + off, (uint8_t *)&v, 4, true));
}

/* A machine with RAM at 0 and one disk of DISK_MIB MiB (spec_suffix: "" or ",ro"). */
static void tb_init(struct tb *t, const char *suffix)
{
	char spec[80];
	struct errbuf e;
	int fd;

	memset(t, 0, sizeof(*t));
	machine_init(&t->m);
	t->m.set_irq = count_irq;
	t->m.set_irq_opaque = t;
	t->ram = calloc(1, RAM);
	CHECK(t->ram);
	CHECK(gmem_add(&t->m.mem, 0, RAM, t->ram, 0, &e) == 0);
	snprintf(t->path, sizeof(t->path), "/tmp/kvmlab-test-blk-XXXXXX");
	fd = mkstemp(t->path);
	CHECK(fd >= 0);
	CHECK(ftruncate(fd, DISK_MIB << 20) == 0);
	close(fd);
	snprintf(spec, sizeof(spec), "%s%s", t->path, suffix);
	CHECK(virtio_blk_attach(&t->m, spec, &e));
}

static void tb_free(struct tb *t)
{
	machine_destroy(&t->m);
	unlink(t->path);
	free(t->ram);
}

static uint64_t device_features(struct tb *t)
{
	wr(t, 0x14, 0);
	uint64_t lo = rd(t, 0x10);
	wr(t, 0x14, 1);
	return lo | (uint64_t)rd(t, 0x10) << 32;
}

/* The driver's side of section 3.1; returns the status after FEATURES_OK. */
static uint32_t negotiate(struct tb *t, uint64_t features)
{
	wr(t, 0x70, 0);
	wr(t, 0x70, VIRTIO_STATUS_ACKNOWLEDGE);
	wr(t, 0x70, VIRTIO_STATUS_ACKNOWLEDGE | VIRTIO_STATUS_DRIVER);
	wr(t, 0x24, 0);
	wr(t, 0x20, (uint32_t)features);
	wr(t, 0x24, 1);
	wr(t, 0x20, (uint32_t)(features >> 32));
	wr(t, 0x70, VIRTIO_STATUS_ACKNOWLEDGE | VIRTIO_STATUS_DRIVER | VIRTIO_STATUS_FEATURES_OK);
	return rd(t, 0x70);
}

static void start(struct tb *t, uint64_t features)
{
	CHECK(negotiate(t, features) & VIRTIO_STATUS_FEATURES_OK);
	memset(t->ram + AVAIL, 0, 0x2000); /* fresh rings, as a driver allocates them */
	wr(t, 0x30, 0);
	CHECK_EQ(rd(t, 0x34), 256);
	wr(t, 0x38, QSIZE);
	wr(t, 0x80, DESC);
	wr(t, 0x90, AVAIL);
	wr(t, 0xa0, USED);
	wr(t, 0x44, 1);
	CHECK_EQ(rd(t, 0x44), 1);
	wr(t, 0x70, 0xf & ~VIRTIO_STATUS_FAILED);
	CHECK_EQ(rd(t, 0x70), 0xf);
	t->avail_idx = 0;
}

static void desc(struct tb *t, unsigned i, uint64_t addr, uint32_t len, uint16_t flags,
		 uint16_t next)
{
	uint8_t *d = t->ram + DESC + 16 * i;

	memcpy(d, &addr, 8);
	memcpy(d + 8, &len, 4);
	memcpy(d + 12, &flags, 2);
	memcpy(d + 14, &next, 2);
}

/* Submits header, data (len bytes at DATA, device-writable for reads), status; kicks;
 * returns the status byte (0xff: not completed). */
static uint8_t request(struct tb *t, uint32_t type, uint64_t sector, uint32_t len,
		       bool data_writable)
{
	uint32_t hdr[4] = {type, 0, (uint32_t)sector, (uint32_t)(sector >> 32)};
	uint16_t used;

	memcpy(t->ram + HDR, hdr, 16);
	t->ram[STATUS] = 0xff;
	desc(t, 0, HDR, 16, VIRTQ_DESC_F_NEXT, len ? 1 : 2);
	desc(t, 1, DATA, len, VIRTQ_DESC_F_NEXT | (data_writable ? VIRTQ_DESC_F_WRITE : 0), 2);
	desc(t, 2, STATUS, 1, VIRTQ_DESC_F_WRITE, 0);
	memset(t->ram + AVAIL + 4 + 2 * (t->avail_idx % QSIZE), 0, 2);
	t->avail_idx++;
	memcpy(t->ram + AVAIL + 2, &t->avail_idx, 2);
	wr(t, 0x50, 0);
	memcpy(&used, t->ram + USED + 2, 2);
	CHECK_EQ(used, t->avail_idx);
	return t->ram[STATUS];
}

static void file_bytes(struct tb *t, uint64_t off, void *buf, size_t len)
{
	int fd = open(t->path, O_RDONLY);

	CHECK(fd >= 0);
	CHECK(pread(fd, buf, len, (off_t)off) == (ssize_t)len);
	close(fd);
}

TEST(virtio_mmio_identifies_itself_and_negotiates_features)
{
	struct tb t;
	uint64_t f;

	tb_init(&t, "");
	CHECK_EQ(rd(&t, 0x00), 0x74726976);
	CHECK_EQ(rd(&t, 0x04), 2);
	CHECK_EQ(rd(&t, 0x08), VIRTIO_ID_BLOCK);
	f = device_features(&t);
	CHECK(f & VIRTIO_BIT(VIRTIO_F_VERSION_1));
	CHECK(f & VIRTIO_BIT(VIRTIO_F_EVENT_IDX));
	CHECK(f & VIRTIO_BIT(9));  /* FLUSH */
	CHECK(f & VIRTIO_BIT(13)); /* DISCARD */
	CHECK(!(f & VIRTIO_BIT(5)));
	/* Unoffered features, or no VERSION_1: FEATURES_OK does not stick. */
	CHECK(!(negotiate(&t, f | VIRTIO_BIT(3)) & VIRTIO_STATUS_FEATURES_OK));
	CHECK(!(negotiate(&t, VIRTIO_BIT(9)) & VIRTIO_STATUS_FEATURES_OK));
	CHECK(negotiate(&t, f) & VIRTIO_STATUS_FEATURES_OK);
	/* DRIVER_OK without FEATURES_OK, and clearing bits, are ignored. */
	wr(&t, 0x70, 0);
	wr(&t, 0x70, VIRTIO_STATUS_ACKNOWLEDGE | VIRTIO_STATUS_DRIVER | VIRTIO_STATUS_DRIVER_OK);
	CHECK_EQ(rd(&t, 0x70), 0);
	wr(&t, 0x70, VIRTIO_STATUS_ACKNOWLEDGE);
	wr(&t, 0x70, VIRTIO_STATUS_DRIVER);
	CHECK_EQ(rd(&t, 0x70), VIRTIO_STATUS_ACKNOWLEDGE);
	/* Config space: capacity in sectors, bytes beyond the config read as zero. */
	CHECK_EQ(rd(&t, 0x100), DISK_MIB << 11);
	CHECK_EQ(rd(&t, 0x1f0), 0);
	tb_free(&t);
}

TEST(virtio_blk_writes_reads_flushes_and_interrupts)
{
	struct tb t;
	uint8_t back[1024];

	tb_init(&t, "");
	start(&t, device_features(&t));
	for (unsigned i = 0; i < 1024; i++)
		t.ram[DATA + i] = (uint8_t)(i * 7);
	CHECK_EQ(request(&t, 1, 3, 1024, false), 0);
	file_bytes(&t, 3 * 512, back, sizeof(back));
	CHECK(!memcmp(back, t.ram + DATA, 1024));
	memset(t.ram + DATA, 0, 1024);
	CHECK_EQ(request(&t, 0, 3, 1024, true), 0);
	CHECK(!memcmp(back, t.ram + DATA, 1024));
	CHECK_EQ(request(&t, 4, 0, 0, false), 0); /* flush */
	CHECK(t.irqs >= 1);
	CHECK(rd(&t, 0x60) & VIRTIO_INT_VRING);
	wr(&t, 0x64, VIRTIO_INT_VRING);
	CHECK_EQ(rd(&t, 0x60), 0);
	/* Outside the disk, partial sectors, unknown types: error statuses, no reset. */
	CHECK_EQ(request(&t, 0, (DISK_MIB << 11) - 1, 1024, true), 1);
	CHECK_EQ(request(&t, 1, UINT64_MAX, 512, false), 1);
	CHECK_EQ(request(&t, 1, 0, 100, false), 1);
	CHECK_EQ(request(&t, 77, 0, 0, false), 2);
	CHECK_EQ(rd(&t, 0x70), 0xf);
	tb_free(&t);
}

TEST(virtio_blk_get_id_and_discard)
{
	struct tb t;
	uint8_t zero[4096] = {0}, back[4096];
	uint32_t seg[4] = {2, 0, 8, 0}; /* sector 2, 8 sectors, flags 0 */
	const char *base;

	tb_init(&t, "");
	start(&t, device_features(&t));
	CHECK_EQ(request(&t, 8, 0, 20, true), 0);
	base = strrchr(t.path, '/') + 1;
	CHECK(!memcmp(t.ram + DATA, base, strlen(base) < 20 ? strlen(base) : 20));
	memset(t.ram + DATA, 0xee, 8192);
	CHECK_EQ(request(&t, 1, 0, 8192, false), 0);
	memcpy(t.ram + DATA, seg, 16);
	CHECK_EQ(request(&t, 11, 0, 16, false), 0);
	file_bytes(&t, 1024, back, sizeof(back));
	CHECK(!memcmp(back, zero, sizeof(back)));
	file_bytes(&t, 0, back, 1024);
	CHECK_EQ(back[1023], 0xee); /* before the range: untouched */
	seg[0] = DISK_MIB << 11;    /* past the end */
	memcpy(t.ram + DATA, seg, 16);
	CHECK_EQ(request(&t, 11, 0, 16, false), 1);
	seg[0] = 0;
	seg[3] = 1; /* UNMAP is for write-zeroes */
	memcpy(t.ram + DATA, seg, 16);
	CHECK_EQ(request(&t, 11, 0, 16, false), 2);
	tb_free(&t);
}

TEST(virtio_blk_read_only_disk_refuses_writes)
{
	struct tb t;
	uint64_t f;

	tb_init(&t, ",ro");
	f = device_features(&t);
	CHECK(f & VIRTIO_BIT(5));
	CHECK(!(f & VIRTIO_BIT(13)));
	start(&t, f);
	memset(t.ram + DATA, 0xab, 512);
	CHECK_EQ(request(&t, 1, 0, 512, false), 1);
	CHECK_EQ(request(&t, 0, 0, 512, true), 0);
	CHECK_EQ(t.ram[DATA], 0);
	tb_free(&t);
}

TEST(virtio_blk_resize_raises_a_config_change)
{
	struct tb t;
	struct errbuf e;
	uint64_t sectors;
	uint32_t gen;

	tb_init(&t, "");
	start(&t, device_features(&t));
	gen = rd(&t, 0xfc);
	CHECK(virtio_blk_resize(&t.m, 0, 2 << 20, &sectors, &e) == 0);
	CHECK_EQ(sectors, 4096);
	CHECK_EQ(rd(&t, 0x100), 4096);
	CHECK_EQ(rd(&t, 0xfc), gen + 1);
	CHECK(rd(&t, 0x60) & VIRTIO_INT_CONFIG);
	CHECK(virtio_blk_resize(&t.m, 1, 0, &sectors, &e) == -1);
	CHECK_CONTAINS(e.msg, "no disk 1");
	tb_free(&t);
}

TEST(virtio_blk_malformed_chain_sets_needs_reset_until_reset)
{
	struct tb t;
	struct virtio_mmio_info info;
	uint16_t head = 0, idx = 1;

	tb_init(&t, "");
	start(&t, device_features(&t));
	desc(&t, 0, HDR, 16, VIRTQ_DESC_F_NEXT, 0); /* loops onto itself */
	memcpy(t.ram + AVAIL + 4, &head, 2);
	memcpy(t.ram + AVAIL + 2, &idx, 2);
	wr(&t, 0x50, 0);
	CHECK(rd(&t, 0x70) & VIRTIO_STATUS_NEEDS_RESET);
	CHECK(rd(&t, 0x60) & VIRTIO_INT_CONFIG);
	CHECK(virtio_mmio_info(&t.m, 0, &info) == 0);
	CHECK_CONTAINS(info.error, "loops");
	wr(&t, 0x50, 0); /* no more processing */
	CHECK_EQ(rd(&t, 0x70) & VIRTIO_STATUS_DRIVER_OK, VIRTIO_STATUS_DRIVER_OK);
	start(&t, device_features(&t)); /* reset and start again: works */
	CHECK_EQ(request(&t, 4, 0, 0, false), 0);
	tb_free(&t);
}
