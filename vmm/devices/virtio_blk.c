/* virtio-blk on a raw image file: read, write, flush, get-id, discard, read-only, resize. */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>

#include "kvmlab/config.h"
#include "kvmlab/faults.h" /* test-only disk faults; plain calls without a plan */
#include "kvmlab/virtio.h"

#define BLK_F_SEG_MAX  2
#define BLK_F_RO       5
#define BLK_F_BLK_SIZE 6
#define BLK_F_FLUSH    9
#define BLK_F_DISCARD  13

#define BLK_T_IN      0
#define BLK_T_OUT     1
#define BLK_T_FLUSH   4
#define BLK_T_GET_ID  8
#define BLK_T_DISCARD 11

#define BLK_S_OK     0
#define BLK_S_IOERR  1
#define BLK_S_UNSUPP 2

#define SECTOR		  512ull
#define BLK_ID_BYTES	  20
#define BLK_QUEUE_SIZE	  256
#define BLK_SEG_MAX	  (VIRTQ_MAX_SEGS - 2)	/* a header and a status byte around the data */
#define BLK_DISCARD_MAX	  (UINT32_MAX / SECTOR) /* sectors per discard segment */
#define BLK_DISCARD_SEGS  32
#define BLK_DISCARD_UNMAP 1

/* struct virtio_blk_config up to write_zeroes_may_unmap (section 5.2.4). */
struct blk_config {
	uint64_t capacity;
	uint32_t size_max;
	uint32_t seg_max;
	uint16_t cylinders;
	uint8_t heads, sectors;
	uint32_t blk_size;
	uint8_t physical_block_exp, alignment_offset;
	uint16_t min_io_size;
	uint32_t opt_io_size;
	uint8_t writeback, unused0;
	uint16_t num_queues;
	uint32_t max_discard_sectors;
	uint32_t max_discard_seg;
	uint32_t discard_sector_alignment;
	uint32_t max_write_zeroes_sectors;
	uint32_t max_write_zeroes_seg;
	uint8_t write_zeroes_may_unmap, unused1[3];
} __attribute__((packed));

struct blk_req_header {
	uint32_t type;
	uint32_t reserved;
	uint64_t sector;
};

struct blk_discard {
	uint64_t sector;
	uint32_t num_sectors;
	uint32_t flags;
};

struct virtio_blk {
	struct virtio_dev *vd;
	int fd;
	bool ro;
	uint64_t capacity; /* sectors */
	char id[BLK_ID_BYTES];
	char path[CONFIG_DISK_SPEC_MAX];
	struct virtq_elem el;
	struct iovec data[VIRTQ_MAX_SEGS];
};

static uint64_t blk_features(void *dev)
{
	struct virtio_blk *b = dev;
	uint64_t f =
	    VIRTIO_BIT(BLK_F_SEG_MAX) | VIRTIO_BIT(BLK_F_BLK_SIZE) | VIRTIO_BIT(BLK_F_FLUSH);

	return b->ro ? f | VIRTIO_BIT(BLK_F_RO) : f | VIRTIO_BIT(BLK_F_DISCARD);
}

static void blk_config_read(void *dev, uint32_t off, void *buf, uint32_t len)
{
	struct virtio_blk *b = dev;
	struct blk_config c = {
	    .capacity = b->capacity,
	    .seg_max = BLK_SEG_MAX,
	    .blk_size = SECTOR,
	    .num_queues = 1,
	    .max_discard_sectors = b->ro ? 0 : BLK_DISCARD_MAX,
	    .max_discard_seg = b->ro ? 0 : BLK_DISCARD_SEGS,
	    .discard_sector_alignment = 1,
	};

	memcpy(buf, (const uint8_t *)&c + off, len);
}

/* Whole transfers only: short ones continue, EINTR retries, EOF on a read is an error. */
static int blk_rw(int fd, struct iovec *iov, int n, uint64_t off, bool write)
{
	while (n > 0) {
		ssize_t r = write ? faults_pwritev(fd, iov, n > IOV_MAX ? IOV_MAX : n, (off_t)off)
				  : faults_preadv(fd, iov, n > IOV_MAX ? IOV_MAX : n, (off_t)off);

		if (r < 0 && errno == EINTR)
			continue;
		if (r <= 0)
			return -1;
		off += (uint64_t)r;
		while (n > 0 && (size_t)r >= iov->iov_len) {
			r -= (ssize_t)iov->iov_len;
			iov++;
			n--;
		}
		if (n > 0) {
			iov->iov_base = (uint8_t *)iov->iov_base + r;
			iov->iov_len -= (size_t)r;
		}
	}
	return 0;
}

/* The data buffers of el: readable bytes after the header (write) or writable bytes
 * before the status byte (read), into b->data; returns how many iovs. */
static int blk_data_iov(struct virtio_blk *b, bool write)
{
	const struct virtq_elem *el = &b->el;
	uint64_t skip = write ? sizeof(struct blk_req_header) : 0;
	uint64_t left = write ? el->out_len - skip : el->in_len - 1;
	unsigned first = write ? 0 : el->nout, end = write ? el->nout : el->nout + el->nin;
	int n = 0;

	for (unsigned i = first; i < end && left; i++) {
		struct iovec v = el->iov[i];

		if (skip >= v.iov_len) {
			skip -= v.iov_len;
			continue;
		}
		v.iov_base = (uint8_t *)v.iov_base + skip;
		v.iov_len -= skip;
		skip = 0;
		if (v.iov_len > left)
			v.iov_len = left;
		left -= v.iov_len;
		b->data[n++] = v;
	}
	return n;
}

static bool blk_range_ok(const struct virtio_blk *b, uint64_t sector, uint64_t bytes)
{
	return bytes % SECTOR == 0 && sector <= b->capacity &&
	       bytes / SECTOR <= b->capacity - sector;
}

static uint8_t blk_discard(struct virtio_blk *b)
{
	uint64_t bytes = b->el.out_len - sizeof(struct blk_req_header);
	struct blk_discard d;

	if (b->ro)
		return BLK_S_IOERR;
	if (bytes == 0 || bytes % sizeof(d) || bytes / sizeof(d) > BLK_DISCARD_SEGS)
		return BLK_S_UNSUPP;
	/* All segments are checked before any is applied: nothing half-done on refusal. */
	for (uint64_t off = 0; off < bytes; off += sizeof(d)) {
		virtq_elem_read(&b->el, sizeof(struct blk_req_header) + off, &d, sizeof(d));
		if (d.flags) /* UNMAP belongs to write-zeroes; anything else is reserved */
			return BLK_S_UNSUPP;
		if (d.num_sectors > BLK_DISCARD_MAX ||
		    !blk_range_ok(b, d.sector, d.num_sectors * SECTOR))
			return BLK_S_IOERR;
	}
	for (uint64_t off = 0; off < bytes; off += sizeof(d)) {
		virtq_elem_read(&b->el, sizeof(struct blk_req_header) + off, &d, sizeof(d));
		if (d.num_sectors &&
		    fallocate(b->fd, FALLOC_FL_PUNCH_HOLE | FALLOC_FL_KEEP_SIZE,
			      (off_t)(d.sector * SECTOR), (off_t)(d.num_sectors * SECTOR)))
			return errno == EOPNOTSUPP ? BLK_S_UNSUPP : BLK_S_IOERR;
	}
	return BLK_S_OK;
}

/* Serves one request; returns its status and sets *written (data bytes put in the chain). */
static uint8_t blk_request(struct virtio_blk *b, uint32_t *written)
{
	struct blk_req_header h;
	int n;

	*written = 0;
	if (virtq_elem_read(&b->el, 0, &h, sizeof(h)) != sizeof(h))
		return BLK_S_IOERR;
	switch (h.type) {
	case BLK_T_IN:
	case BLK_T_OUT: {
		bool write = h.type == BLK_T_OUT;
		uint64_t bytes = write ? b->el.out_len - sizeof(h) : b->el.in_len - 1;

		if (write && b->ro)
			return BLK_S_IOERR;
		if (!blk_range_ok(b, h.sector, bytes))
			return BLK_S_IOERR;
		n = blk_data_iov(b, write);
		if (n && blk_rw(b->fd, b->data, n, h.sector * SECTOR, write))
			return BLK_S_IOERR;
		*written = write ? 0 : (uint32_t)bytes;
		return BLK_S_OK;
	}
	case BLK_T_FLUSH:
		/* Durable before the guest hears so: the used element is pushed after this. */
		return faults_fdatasync(b->fd) ? BLK_S_IOERR : BLK_S_OK;
	case BLK_T_GET_ID:
		*written = (uint32_t)virtq_elem_write(
		    &b->el, 0, b->id,
		    b->el.in_len - 1 < BLK_ID_BYTES ? b->el.in_len - 1 : BLK_ID_BYTES);
		return BLK_S_OK;
	case BLK_T_DISCARD:
		return blk_discard(b);
	default:
		return BLK_S_UNSUPP;
	}
}

static void blk_queue_notify(void *dev, unsigned qidx)
{
	struct virtio_blk *b = dev;
	struct virtq *vq = virtio_queue(b->vd, qidx);
	struct errbuf e;
	uint32_t written;
	uint8_t status;
	int got;

	do {
		virtq_disable_notify(vq);
		while ((got = virtq_pop(vq, &b->el, &e)) == 1) {
			if (b->el.in_len == 0) { /* no status byte: nothing can be reported */
				err_set(&e, "request %u has no device-writable status byte",
					b->el.head);
				got = -1;
				break;
			}
			status = blk_request(b, &written);
			virtq_elem_write(&b->el, b->el.in_len - 1, &status, 1);
			if (virtq_push(vq, &b->el, written + 1, &e)) {
				got = -1;
				break;
			}
		}
		if (got < 0) {
			virtio_queue_error(b->vd, qidx, e.msg);
			return;
		}
		virtio_queue_signal(b->vd, qidx);
	} while (virtq_enable_notify(vq));
}

static void blk_destroy(void *dev)
{
	struct virtio_blk *b = dev;

	/* However the VM ended (poweroff, SIGTERM, a guest error), what the guest wrote reaches
	 * stable storage before kvmlab exits, flushed or not: a clean stop loses nothing. */
	if (!b->ro && fdatasync(b->fd))
		fprintf(stderr, "kvmlab: virtio-blk: flushing %s at exit: %s\n", b->path,
			strerror(errno));
	close(b->fd);
	free(b);
}

static const struct virtio_device_ops blk_ops = {
    .name = "virtio-blk",
    .device_id = VIRTIO_ID_BLOCK,
    .num_queues = 1,
    .queue_max_size = BLK_QUEUE_SIZE,
    .config_size = sizeof(struct blk_config),
    .features = blk_features,
    .config_read = blk_config_read,
    .queue_notify = blk_queue_notify,
    .destroy = blk_destroy,
};

/* The image's size in bytes (regular files and block devices alike). */
static int blk_size(int fd, uint64_t *bytes)
{
	off_t end = lseek(fd, 0, SEEK_END);

	if (end < 0)
		return -1;
	*bytes = (uint64_t)end;
	return 0;
}

/* "FILE[,ro]": splits off the option; -1 for an unknown one. */
static int blk_parse_spec(const char *spec, char *path, size_t size, bool *ro, struct errbuf *e)
{
	const char *comma = strrchr(spec, ',');
	size_t len = strlen(spec);

	*ro = false;
	if (comma && !strcmp(comma + 1, "ro")) {
		*ro = true;
		len = (size_t)(comma - spec);
	} else if (comma && access(spec, F_OK) != 0) {
		return err_set(e, "--disk %s: unknown option '%s' (FILE[,ro])", spec, comma + 1);
	}
	if (len == 0 || len >= size)
		return err_set(e, "--disk '%s': no file name, or one too long", spec);
	memcpy(path, spec, len);
	path[len] = '\0';
	return 0;
}

static int blk_open(struct virtio_blk *b, const char *spec, struct errbuf *e)
{
	const char *base;
	uint64_t bytes;
	struct stat st;

	if (blk_parse_spec(spec, b->path, sizeof(b->path), &b->ro, e))
		return -1;
	b->fd = open(b->path, (b->ro ? O_RDONLY : O_RDWR) | O_CLOEXEC);
	if (b->fd < 0)
		return err_errno(e, "cannot open disk image %s", b->path);
	if (fstat(b->fd, &st) || !(S_ISREG(st.st_mode) || S_ISBLK(st.st_mode)))
		return err_set(e, "disk image %s is not a regular file or block device", b->path);
	/* Two writers on one image corrupt it: refuse, as QEMU does. */
	if (flock(b->fd, (b->ro ? LOCK_SH : LOCK_EX) | LOCK_NB))
		return err_errno(e, "disk image %s is in use (locked)", b->path);
	if (blk_size(b->fd, &bytes))
		return err_errno(e, "cannot size disk image %s", b->path);
	b->capacity = bytes / SECTOR;
	base = strrchr(b->path, '/');
	base = base ? base + 1 : b->path;
	memcpy(b->id, base, strnlen(base, sizeof(b->id))); /* NUL-padded, not terminated */
	return 0;
}

struct virtio_blk *virtio_blk_attach(struct machine *m, const char *spec, struct errbuf *e)
{
	struct virtio_blk *b = calloc(1, sizeof(*b));

	if (!b) {
		err_set(e, "out of memory creating virtio-blk");
		return NULL;
	}
	b->fd = -1;
	if (blk_open(b, spec, e) || !(b->vd = virtio_mmio_attach(m, &blk_ops, b, e))) {
		if (b->fd >= 0)
			close(b->fd);
		free(b);
		return NULL;
	}
	return b;
}

int virtio_blk_resize(struct machine *m, unsigned nth, uint64_t new_size, uint64_t *capacity,
		      struct errbuf *e)
{
	struct virtio_dev *vd;
	struct virtio_blk *b = virtio_mmio_find(m, VIRTIO_ID_BLOCK, nth, &vd);
	uint64_t bytes = 0;
	int r = 0;

	if (!b)
		return err_set(e, "no disk %u", nth);
	virtio_lock(vd);
	if (new_size && b->ro)
		r = err_set(e, "disk %u (%s) is read-only", nth, b->path);
	else if (new_size && new_size > INT64_MAX)
		r = err_set(e, "disk %u: size %llu is too large", nth,
			    (unsigned long long)new_size);
	else if (new_size && ftruncate(b->fd, (off_t)new_size))
		r = err_errno(e, "cannot resize disk %u (%s)", nth, b->path);
	else if (blk_size(b->fd, &bytes))
		r = err_errno(e, "cannot size disk %u (%s)", nth, b->path);
	if (r == 0) {
		b->capacity = bytes / SECTOR;
		*capacity = b->capacity;
		virtio_config_changed(vd);
	}
	virtio_unlock(vd);
	return r;
}

static int blk_attach_configured(struct machine *m, const struct run_config *rc, struct errbuf *e)
{
	for (unsigned i = 0; i < CONFIG_DISKS_MAX && rc->disks[i][0]; i++)
		if (!virtio_blk_attach(m, rc->disks[i], e))
			return -1;
	return 0;
}

const struct virtio_device_type virtio_blk_type = {
    .name = "virtio-blk",
    .attach = blk_attach_configured,
};
