/* Fuzz target: virtio-blk over the MMIO transport on a memfd disk, checked against a shadow disk.
 */
#include <fcntl.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include "fuzz.h"
#include "virtio_driver.h"

#define RAM_SIZE   0x100000u
#define RINGS	   0x0
#define HDR	   0x10000u
#define DATA	   0x20000u
#define STATUS	   0x60000u
#define DISK_MAX   (128u << 10) /* the shadow's size: the disk never grows past it */
#define DISK_START (64u << 10)
#define SECTOR	   512u
#define RARE(x)	   ((x) == 7)

enum { T_IN = 0, T_OUT = 1, T_FLUSH = 4, T_GET_ID = 8, T_DISCARD = 11 };
enum { S_OK = 0, S_IOERR = 1, S_UNSUPP = 2 };

struct state {
	struct machine m;
	struct vdrv d;
	uint8_t *ram;
	int fd;
	bool ro;
	uint64_t size;		  /* the disk's bytes, as the device was told */
	uint8_t shadow[DISK_MAX]; /* what the disk must hold */
	uint8_t file[DISK_MAX];
};

static void check_disk(struct state *s)
{
	FUZZ_CHECK(pread(s->fd, s->file, s->size, 0) == (ssize_t)s->size, "disk read");
	FUZZ_CHECK(!memcmp(s->file, s->shadow, s->size), "disk differs from the shadow");
}

static bool start(struct state *s)
{
	memset(s->ram + RINGS, 0, VDRV_RING_AREA);
	return (vdrv_init(&s->d, &s->m, VIRTIO_MMIO_BASE, VIRTIO_ID_BLOCK, ~0ull, 1, 16, RINGS) &
		VIRTIO_STATUS_DRIVER_OK) != 0;
}

/* One request: header, data in nseg pieces at DATA (device-writable when in), status.
 * Returns the status byte, or -1 when the device used no entry (it needs a reset). */
static int request(struct state *s, uint32_t type, uint64_t sector, uint32_t len, unsigned nseg,
		   bool in)
{
	uint32_t hdr[4] = {type, 0, (uint32_t)sector, (uint32_t)(sector >> 32)};
	struct vdrv_seg seg[5];
	unsigned n = 0;
	uint32_t id, used_len, off = 0;

	memcpy(s->ram + HDR, hdr, sizeof(hdr));
	s->ram[STATUS] = 0xee;
	seg[n++] = (struct vdrv_seg){HDR, 16, false};
	for (unsigned i = 0; i < nseg && off < len; i++) {
		uint32_t piece = i + 1 == nseg ? len - off : (len - off + 1) / 2;

		seg[n++] = (struct vdrv_seg){DATA + off, piece, in};
		off += piece;
	}
	seg[n++] = (struct vdrv_seg){STATUS, 1, true};
	vdrv_add(&s->d, 0, seg, n, true);
	if (!vdrv_used(&s->d, 0, &id, &used_len))
		return -1;
	FUZZ_CHECK(used_len >= 1 && used_len <= (in ? len : 0) + 1 + (type == T_GET_ID ? 20 : 0),
		   "used length %u for type %u", used_len, type);
	return s->ram[STATUS];
}

static bool in_disk(const struct state *s, uint64_t sector, uint64_t bytes)
{
	return bytes % SECTOR == 0 && sector <= s->size / SECTOR &&
	       bytes / SECTOR <= s->size / SECTOR - sector;
}

static void op_rw(struct state *s, struct fuzz_in *in, bool write)
{
	uint8_t sel = fuzz_u8(in);
	uint64_t sector = fuzz_below(in, DISK_MAX / SECTOR);
	uint32_t len = (1 + fuzz_u8(in) % 16) * SECTOR;
	uint8_t fill = fuzz_u8(in);
	int st, want;

	if (RARE(sel & 7)) { /* partial sectors, huge sectors */
		len = fuzz_u16(in) % (16 * SECTOR);
		if (fuzz_u8(in) & 1)
			sector = fuzz_u64(in);
	}
	for (uint32_t i = 0; i < len; i++)
		s->ram[DATA + i] = write ? (uint8_t)(fill + i * 13) : 0x99;
	want = (write && s->ro) || !in_disk(s, sector, len) ? S_IOERR : S_OK;
	st = request(s, write ? T_OUT : T_IN, sector, len, 1 + (sel >> 3) % 3, !write);
	FUZZ_CHECK(st == want, "%s of %u bytes at sector %llu: status %d, want %d",
		   write ? "write" : "read", len, (unsigned long long)sector, st, want);
	if (st == S_OK && write)
		memcpy(s->shadow + sector * SECTOR, s->ram + DATA, len);
	if (st == S_OK && !write)
		FUZZ_CHECK(!memcmp(s->ram + DATA, s->shadow + sector * SECTOR, len),
			   "read returned other bytes than the disk holds");
	check_disk(s);
}

static void op_discard(struct state *s, struct fuzz_in *in)
{
	unsigned n = 1 + fuzz_u8(in) % 3;
	uint32_t seg[3][4];
	int want = s->ro ? S_IOERR : S_OK, st;

	/* The device checks segments in order; the first bad one decides the status. */
	for (unsigned i = 0; i < n; i++) {
		uint8_t sel = fuzz_u8(in);
		uint64_t sector = fuzz_below(in, DISK_MAX / SECTOR);
		uint32_t num = fuzz_u8(in) % 32;

		if (RARE(sel & 7))
			sector = fuzz_u64(in);
		seg[i][0] = (uint32_t)sector;
		seg[i][1] = (uint32_t)(sector >> 32);
		seg[i][2] = num;
		seg[i][3] = sel >> 7; /* UNMAP: not for discard */
		if (want == S_OK && seg[i][3])
			want = S_UNSUPP;
		else if (want == S_OK && !in_disk(s, sector, (uint64_t)num * SECTOR))
			want = S_IOERR;
	}
	memcpy(s->ram + DATA, seg, 16 * n);
	st = request(s, T_DISCARD, 0, 16 * n, 1, false);
	FUZZ_CHECK(st == want, "discard status %d, want %d", st, want);
	for (unsigned i = 0; st == S_OK && i < n; i++)
		memset(s->shadow + (uint64_t)seg[i][0] * SECTOR, 0, (uint64_t)seg[i][2] * SECTOR);
	check_disk(s);
}

static void op_resize(struct state *s, struct fuzz_in *in)
{
	uint64_t size = (1 + fuzz_below(in, DISK_MAX / SECTOR)) * SECTOR, sectors;
	struct errbuf e;
	int r = virtio_blk_resize(&s->m, 0, size, &sectors, &e);

	FUZZ_CHECK((r == 0) == !s->ro, "resize of a %s disk: %d", s->ro ? "read-only" : "", r);
	if (r == 0) {
		if (size > s->size)
			memset(s->shadow + s->size, 0, size - s->size);
		s->size = size;
		FUZZ_CHECK(sectors == size / SECTOR, "capacity %llu", (unsigned long long)sectors);
		FUZZ_CHECK(vdrv_r32(&s->d, VDRV_INT_STATUS) & VIRTIO_INT_CONFIG, "no config irq");
	}
	FUZZ_CHECK(vdrv_r32(&s->d, VDRV_CONFIG) == s->size / SECTOR, "capacity in config");
	check_disk(s);
}

static void op(struct state *s, struct fuzz_in *in, uint8_t ctl)
{
	struct fuzz_io io;
	int st;

	switch (ctl & 7) {
	case 0:
	case 1:
		op_rw(s, in, ctl & 1);
		break;
	case 2:
		FUZZ_CHECK(request(s, T_FLUSH, 0, 0, 0, false) == S_OK, "flush failed");
		break;
	case 3:
		op_discard(s, in);
		break;
	case 4: { /* the serial is the image's file name: here the memfd's number */
		char id[16];

		snprintf(id, sizeof(id), "%d", s->fd);
		st = request(s, T_GET_ID, 0, 20, 1, true);
		FUZZ_CHECK(st == S_OK && !memcmp(s->ram + DATA, id, strlen(id) + 1), "get-id %d",
			   st);
		break;
	}
	case 5:
		op_resize(s, in);
		break;
	case 6: /* the transport's registers, then a fresh driver start */
		fuzz_io_window(in, fuzz_u8(in), VIRTIO_MMIO_BASE, VIRTIO_MMIO_SIZE, true, &io);
		fuzz_io_run(&s->m, &io);
		start(s);
		check_disk(s);
		break;
	default: { /* unknown request types */
		uint32_t type = fuzz_u32(in);

		if (type == T_IN || type == T_OUT || type == T_FLUSH || type == T_GET_ID ||
		    type == T_DISCARD)
			type = 3;
		st = request(s, type, fuzz_u64(in), 0, 0, false);
		FUZZ_CHECK(st == S_UNSUPP, "request type %u: status %d", type, st);
		check_disk(s);
		break;
	}
	}
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct state *s = calloc(1, sizeof(*s));
	char spec[64];
	struct fuzz_in in;
	struct errbuf e;

	FUZZ_CHECK(s, "out of memory");
	fuzz_in_init(&in, data, size);
	machine_init(&s->m);
	s->ram = calloc(1, RAM_SIZE);
	FUZZ_CHECK(s->ram, "out of memory");
	FUZZ_CHECK(gmem_add(&s->m.mem, 0, RAM_SIZE, s->ram, 0, &e) == 0, "%s", e.msg);
	s->fd = memfd_create("kvmlab-fuzz-disk", MFD_CLOEXEC);
	FUZZ_CHECK(s->fd >= 0, "memfd_create");
	s->size = DISK_START;
	for (uint32_t i = 0; i < s->size; i++)
		s->shadow[i] = (uint8_t)(i / SECTOR);
	FUZZ_CHECK(pwrite(s->fd, s->shadow, s->size, 0) == (ssize_t)s->size, "disk write");
	s->ro = fuzz_u8(&in) & 1;
	snprintf(spec, sizeof(spec), "/proc/self/fd/%d%s", s->fd, s->ro ? ",ro" : "");
	FUZZ_CHECK(virtio_blk_attach(&s->m, spec, &e), "%s", e.msg);
	if (start(s))
		while (fuzz_more(&in)) {
			op(s, &in, fuzz_u8(&in));
			if (vdrv_r32(&s->d, VDRV_STATUS_REG) & VIRTIO_STATUS_NEEDS_RESET)
				start(s);
		}
	machine_destroy(&s->m);
	close(s->fd);
	free(s->ram);
	free(s);
	return 0;
}
