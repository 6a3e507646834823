/* Fault injection: plan parsing, and disk faults seen by a guest driver of virtio-blk on plain
 * memory. */
#include <errno.h>
#include <fcntl.h>
#include <stdint.h>
#include <stdlib.h>
#include <unistd.h>

#include "kvmlab/faults.h"
#include "kvmlab/machine.h"
#include "kvmlab/virtio.h"
#include "unit.h"

#define RAM_SIZE   (1u << 20)
#define DISK_SIZE  (64u << 10)
#define QSIZE	   8
#define DESC_GPA   0x10000
#define AVAIL_GPA  0x11000
#define USED_GPA   0x12000
#define HDR_GPA	   0x20000
#define DATA_GPA   0x21000
#define STATUS_GPA 0x22000
#define SECTOR	   512

#define BLK_T_IN     0
#define BLK_T_OUT    1
#define BLK_T_FLUSH  4
#define BLK_S_OK     0
#define BLK_S_IOERR  1
#define STATUS_UNSET 0xee

TEST(faults_plan_parses_and_counts)
{
	struct errbuf e;

	CHECK(faults_configure("kvm_run:eintr:every=3;KVM_CREATE_VM:enomem:nth=2", &e) == 0);
	CHECK(faults_armed("KVM_RUN") && faults_armed("KVM_CREATE_VM") &&
	      !faults_armed("KVM_IRQFD"));
	for (int call = 1; call <= 9; call++)
		CHECK_EQ(faults_kvm_ioctl("KVM_RUN"), call % 3 ? 0 : EINTR);
	CHECK_EQ(faults_kvm_ioctl("KVM_CREATE_VM"), 0);
	CHECK_EQ(faults_kvm_ioctl("KVM_CREATE_VM"), ENOMEM);
	CHECK_EQ(faults_kvm_ioctl("KVM_CREATE_VM"), 0);
	CHECK(faults_configure("disk_read:enomem:nth=1", &e) == -1);
	CHECK_CONTAINS(e.msg, "enomem is not an error of disk_read");
	CHECK(faults_configure("kvm_run:eintr:nth=0", &e) == -1);
	CHECK(faults_configure("", &e) == 0);
	CHECK(!faults_armed("KVM_RUN"));
	CHECK_EQ(faults_kvm_ioctl("KVM_RUN"), 0);
}

struct blkrig {
	struct machine m;
	uint8_t *ram;
	char path[64];
	int fd;
	uint16_t avail_idx;
	uint16_t used_seen;
};

static uint32_t mmio_read(struct blkrig *r, uint64_t reg)
{
	uint32_t v = 0;

	CHECK(machine_mmio(&r->m, VIRTIO_MMIO_BASE + reg, (uint8_t *)&v, 4, false));
	return v;
}

static void mmio_write(struct blkrig *r, uint64_t reg, uint32_t v)
{
	CHECK(machine_mmio(&r->m, VIRTIO_MMIO_BASE + reg, (uint8_t *)&v, 4, true));
}

/* A driver bringing up queue 0 of a virtio-blk on a disk file filled with 0x5a. */
static void blkrig_init(struct blkrig *r)
{
	uint8_t fill[DISK_SIZE];
	uint32_t features;
	struct errbuf e;

	memset(r, 0, sizeof(*r));
	machine_init(&r->m);
	r->ram = calloc(1, RAM_SIZE);
	CHECK(r->ram && gmem_add(&r->m.mem, 0, RAM_SIZE, r->ram, 0, &e) == 0);
	snprintf(r->path, sizeof(r->path), "/tmp/kvmlab-faults-XXXXXX");
	r->fd = mkstemp(r->path);
	memset(fill, 0x5a, sizeof(fill));
	CHECK(r->fd >= 0 && pwrite(r->fd, fill, sizeof(fill), 0) == (ssize_t)sizeof(fill));
	CHECK(virtio_blk_attach(&r->m, r->path, &e) != NULL);
	CHECK_EQ(mmio_read(r, 0x008), VIRTIO_ID_BLOCK);
	mmio_write(r, 0x070, 0);
	mmio_write(r, 0x070, VIRTIO_STATUS_ACKNOWLEDGE | VIRTIO_STATUS_DRIVER);
	mmio_write(r, 0x024, 1); /* features 32-63: VERSION_1 only */
	mmio_write(r, 0x020, 1);
	mmio_write(r, 0x014, 0);
	features = mmio_read(r, 0x010) & ~(1u << VIRTIO_F_EVENT_IDX); /* FLUSH and the rest */
	mmio_write(r, 0x024, 0);
	mmio_write(r, 0x020, features);
	mmio_write(r, 0x070,
		   VIRTIO_STATUS_ACKNOWLEDGE | VIRTIO_STATUS_DRIVER | VIRTIO_STATUS_FEATURES_OK);
	CHECK(mmio_read(r, 0x070) & VIRTIO_STATUS_FEATURES_OK);
	mmio_write(r, 0x030, 0);
	mmio_write(r, 0x038, QSIZE);
	mmio_write(r, 0x080, DESC_GPA);
	mmio_write(r, 0x090, AVAIL_GPA);
	mmio_write(r, 0x0a0, USED_GPA);
	mmio_write(r, 0x044, 1);
	mmio_write(r, 0x070,
		   VIRTIO_STATUS_ACKNOWLEDGE | VIRTIO_STATUS_DRIVER | VIRTIO_STATUS_FEATURES_OK |
		       VIRTIO_STATUS_DRIVER_OK);
}

static void blkrig_fini(struct blkrig *r)
{
	machine_destroy(&r->m);
	close(r->fd);
	unlink(r->path);
	free(r->ram);
	CHECK(faults_configure(NULL, &(struct errbuf){{0}}) == 0);
}

struct desc {
	uint64_t addr;
	uint32_t len;
	uint16_t flags, next;
};

/* Submits one request (header, optional 512-byte data buffer, status byte); returns the used
 * length the device reported, with *status the status byte it wrote. */
static uint32_t blkrig_request(struct blkrig *r, uint32_t type, uint64_t sector, uint8_t *status)
{
	struct desc d[3];
	uint32_t hdr[4] = {type, 0, (uint32_t)sector, (uint32_t)(sector >> 32)};
	uint16_t head = 0, used_idx, n = 0;
	uint32_t used[2];

	CHECK(gmem_write(&r->m.mem, HDR_GPA, hdr, sizeof(hdr)) == 0);
	CHECK(gmem_write(&r->m.mem, STATUS_GPA, &(uint8_t){STATUS_UNSET}, 1) == 0);
	d[n++] = (struct desc){HDR_GPA, sizeof(hdr), VIRTQ_DESC_F_NEXT, 1};
	if (type != BLK_T_FLUSH)
		d[n++] = (struct desc){
		    DATA_GPA, SECTOR,
		    VIRTQ_DESC_F_NEXT | (type == BLK_T_IN ? VIRTQ_DESC_F_WRITE : 0), 2};
	d[n++] = (struct desc){STATUS_GPA, 1, VIRTQ_DESC_F_WRITE, 0};
	if (n == 2)
		d[0].next = 1;
	CHECK(gmem_write(&r->m.mem, DESC_GPA, d, n * sizeof(d[0])) == 0);
	CHECK(gmem_write(&r->m.mem, AVAIL_GPA + 4 + 2 * (r->avail_idx % QSIZE), &head, 2) == 0);
	r->avail_idx++;
	CHECK(gmem_write(&r->m.mem, AVAIL_GPA + 2, &r->avail_idx, 2) == 0);
	mmio_write(r, 0x050, 0); /* no VM: the transport serves the queue synchronously */
	CHECK(gmem_read(&r->m.mem, USED_GPA + 2, &used_idx, 2) == 0);
	CHECK_EQ(used_idx, (uint16_t)(r->used_seen + 1)); /* every request gets an answer */
	CHECK(gmem_read(&r->m.mem, USED_GPA + 4 + 8 * (r->used_seen % QSIZE), used, 8) == 0);
	r->used_seen++;
	CHECK_EQ(used[0], head);
	CHECK(gmem_read(&r->m.mem, STATUS_GPA, status, 1) == 0);
	CHECK_EQ(mmio_read(r, 0x070) & VIRTIO_STATUS_NEEDS_RESET, 0); /* a host error is not the
									 driver's fault */
	return used[1];
}

static void disk_sector(struct blkrig *r, uint64_t sector, uint8_t *buf)
{
	CHECK(pread(r->fd, buf, SECTOR, (off_t)(sector * SECTOR)) == SECTOR);
}

static void guest_data(struct blkrig *r, uint8_t byte)
{
	uint8_t buf[SECTOR];

	memset(buf, byte, sizeof(buf));
	CHECK(gmem_write(&r->m.mem, DATA_GPA, buf, sizeof(buf)) == 0);
}

TEST(faults_disk_write_errors_reach_the_guest_as_ioerr_and_write_nothing)
{
	static const char *const plans[] = {"disk_write:eio:nth=1", "disk_write:enospc:nth=1"};
	uint8_t status, buf[SECTOR];
	struct blkrig r;
	struct errbuf e;

	for (unsigned p = 0; p < 2; p++) {
		blkrig_init(&r);
		CHECK(faults_configure(plans[p], &e) == 0);
		guest_data(&r, 0xa1);
		CHECK_EQ(blkrig_request(&r, BLK_T_OUT, 3, &status), 1); /* the status byte only */
		CHECK_EQ(status, BLK_S_IOERR);
		disk_sector(&r, 3, buf);
		CHECK_EQ(buf[0], 0x5a); /* not done, and not reported done */
		CHECK_EQ(buf[SECTOR - 1], 0x5a);
		/* The device goes on: the next write works. */
		CHECK_EQ(blkrig_request(&r, BLK_T_OUT, 3, &status), 1);
		CHECK_EQ(status, BLK_S_OK);
		disk_sector(&r, 3, buf);
		CHECK_EQ(buf[0], 0xa1);
		CHECK_EQ(buf[SECTOR - 1], 0xa1);
		blkrig_fini(&r);
	}
}

TEST(faults_disk_read_error_reports_no_data)
{
	uint8_t status, buf[SECTOR];
	struct blkrig r;
	struct errbuf e;

	blkrig_init(&r);
	CHECK(faults_configure("disk_read:eio:nth=1", &e) == 0);
	guest_data(&r, 0x00);
	CHECK_EQ(blkrig_request(&r, BLK_T_IN, 5, &status), 1); /* no data bytes claimed */
	CHECK_EQ(status, BLK_S_IOERR);
	CHECK_EQ(blkrig_request(&r, BLK_T_IN, 5, &status), 1 + SECTOR);
	CHECK_EQ(status, BLK_S_OK);
	CHECK(gmem_read(&r.m.mem, DATA_GPA, buf, SECTOR) == 0);
	CHECK_EQ(buf[0], 0x5a);
	CHECK_EQ(buf[SECTOR - 1], 0x5a);
	blkrig_fini(&r);
}

TEST(faults_short_disk_transfers_are_finished)
{
	uint8_t status, buf[SECTOR];
	struct blkrig r;
	struct errbuf e;

	blkrig_init(&r);
	CHECK(faults_configure("disk_write:short:every=1;disk_read:short:every=1", &e) == 0);
	guest_data(&r, 0xc3);
	CHECK_EQ(blkrig_request(&r, BLK_T_OUT, 7, &status), 1);
	CHECK_EQ(status, BLK_S_OK);
	disk_sector(&r, 7, buf);
	CHECK_EQ(buf[0], 0xc3);
	CHECK_EQ(buf[SECTOR - 1], 0xc3); /* the second half was written too */
	guest_data(&r, 0x00);
	CHECK_EQ(blkrig_request(&r, BLK_T_IN, 7, &status), 1 + SECTOR);
	CHECK_EQ(status, BLK_S_OK);
	CHECK(gmem_read(&r.m.mem, DATA_GPA, buf, SECTOR) == 0);
	CHECK_EQ(buf[0], 0xc3);
	CHECK_EQ(buf[SECTOR - 1], 0xc3);
	blkrig_fini(&r);
}

TEST(faults_failed_flush_is_reported_as_ioerr)
{
	uint8_t status;
	struct blkrig r;
	struct errbuf e;

	blkrig_init(&r);
	CHECK(faults_configure("disk_flush:eio:nth=1", &e) == 0);
	CHECK_EQ(blkrig_request(&r, BLK_T_FLUSH, 0, &status), 1);
	CHECK_EQ(status, BLK_S_IOERR);
	CHECK_EQ(blkrig_request(&r, BLK_T_FLUSH, 0, &status), 1);
	CHECK_EQ(status, BLK_S_OK);
	blkrig_fini(&r);
}
