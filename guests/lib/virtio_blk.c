/* A polled virtio-blk driver over virtio-mmio for freestanding test guests (one disk, one queue). */
#include "virtio_blk.h"

#include <stddef.h>

#define REG_MAGIC	    0x000
#define REG_VERSION	    0x004
#define REG_DEVICE_ID	    0x008
#define REG_DEV_FEATURES    0x010
#define REG_DEV_FEATURES_SEL 0x014
#define REG_DRV_FEATURES    0x020
#define REG_DRV_FEATURES_SEL 0x024
#define REG_QUEUE_SEL	    0x030
#define REG_QUEUE_NUM_MAX   0x034
#define REG_QUEUE_NUM	    0x038
#define REG_QUEUE_READY	    0x044
#define REG_QUEUE_NOTIFY    0x050
#define REG_INT_STATUS	    0x060
#define REG_INT_ACK	    0x064
#define REG_STATUS	    0x070
#define REG_QUEUE_DESC	    0x080
#define REG_QUEUE_DRIVER    0x090
#define REG_QUEUE_DEVICE    0x0a0
#define REG_CONFIG	    0x100

#define ST_ACK	       1
#define ST_DRIVER      2
#define ST_DRIVER_OK   4
#define ST_FEATURES_OK 8

#define F_BLK_FLUSH 9
#define F_VERSION_1 32

#define T_IN	0
#define T_OUT	1
#define T_FLUSH 4

#define QSIZE 8

struct desc {
	uint64_t addr;
	uint32_t len;
	uint16_t flags;
	uint16_t next;
};

struct blk_req {
	uint32_t type;
	uint32_t reserved;
	uint64_t sector;
};

/* The driver's state: one disk per guest, so plain statics in the guest image. */
static struct {
	struct desc desc[QSIZE] __attribute__((aligned(16)));
	struct {
		uint16_t flags, idx, ring[QSIZE], used_event;
	} avail __attribute__((aligned(2)));
	struct {
		uint16_t flags, idx;
		struct {
			uint32_t id, len;
		} ring[QSIZE];
		uint16_t avail_event;
	} used __attribute__((aligned(4)));
	struct blk_req req;
	volatile uint8_t status;
	uint64_t base;
	uint16_t last_used;
} vq __attribute__((aligned(4096)));

static uint32_t rd(uint32_t off)
{
	return *(volatile uint32_t *)(vq.base + off);
}

static void wr(uint32_t off, uint32_t v)
{
	*(volatile uint32_t *)(vq.base + off) = v;
}

int vblk_init(uint64_t base)
{
	vq.base = base;
	if (rd(REG_MAGIC) != 0x74726976 || rd(REG_VERSION) != 2)
		return -1;
	if (rd(REG_DEVICE_ID) != 2)
		return -2;
	wr(REG_STATUS, 0);
	wr(REG_STATUS, ST_ACK);
	wr(REG_STATUS, ST_ACK | ST_DRIVER);
	wr(REG_DEV_FEATURES_SEL, 1);
	if (!(rd(REG_DEV_FEATURES) & (1u << (F_VERSION_1 - 32))))
		return -3;
	wr(REG_DEV_FEATURES_SEL, 0);
	wr(REG_DRV_FEATURES_SEL, 0);
	wr(REG_DRV_FEATURES, rd(REG_DEV_FEATURES) & (1u << F_BLK_FLUSH));
	wr(REG_DRV_FEATURES_SEL, 1);
	wr(REG_DRV_FEATURES, 1u << (F_VERSION_1 - 32));
	wr(REG_STATUS, ST_ACK | ST_DRIVER | ST_FEATURES_OK);
	if (!(rd(REG_STATUS) & ST_FEATURES_OK))
		return -4;
	wr(REG_QUEUE_SEL, 0);
	if (rd(REG_QUEUE_READY) || rd(REG_QUEUE_NUM_MAX) < QSIZE)
		return -5;
	wr(REG_QUEUE_NUM, QSIZE);
	wr(REG_QUEUE_DESC, (uint32_t)(uintptr_t)vq.desc);
	wr(REG_QUEUE_DESC + 4, (uint32_t)((uintptr_t)vq.desc >> 32));
	wr(REG_QUEUE_DRIVER, (uint32_t)(uintptr_t)&vq.avail);
	wr(REG_QUEUE_DRIVER + 4, (uint32_t)((uintptr_t)&vq.avail >> 32));
	wr(REG_QUEUE_DEVICE, (uint32_t)(uintptr_t)&vq.used);
	wr(REG_QUEUE_DEVICE + 4, (uint32_t)((uintptr_t)&vq.used >> 32));
	wr(REG_QUEUE_READY, 1);
	wr(REG_STATUS, ST_ACK | ST_DRIVER | ST_FEATURES_OK | ST_DRIVER_OK);
	return 0;
}

uint64_t vblk_capacity(void)
{
	return rd(REG_CONFIG) | (uint64_t)rd(REG_CONFIG + 4) << 32;
}

/* One request as a chain: header, optional data, status; waits for the used ring. */
static int vblk_submit(uint32_t type, uint64_t sector, void *buf, uint32_t len)
{
	unsigned n = 0;

	vq.req = (struct blk_req){.type = type, .sector = sector};
	vq.status = 0xff;
	vq.desc[n++] = (struct desc){(uintptr_t)&vq.req, sizeof(vq.req), 1, 1};
	if (len) {
		vq.desc[n] = (struct desc){(uintptr_t)buf, len, type == T_IN ? 3 : 1, 2};
		n++;
	}
	vq.desc[n] = (struct desc){(uintptr_t)&vq.status, 1, 2, 0};
	vq.avail.ring[vq.avail.idx % QSIZE] = 0;
	__atomic_store_n(&vq.avail.idx, vq.avail.idx + 1, __ATOMIC_RELEASE);
	__atomic_thread_fence(__ATOMIC_SEQ_CST);
	wr(REG_QUEUE_NOTIFY, 0);
	for (unsigned long spins = 0; __atomic_load_n(&vq.used.idx, __ATOMIC_ACQUIRE) == vq.last_used;
	     spins++) {
		if (spins > (1ul << 34))
			return -1;
		__asm__ volatile("pause" ::: "memory");
	}
	vq.last_used++;
	wr(REG_INT_ACK, rd(REG_INT_STATUS));
	return vq.status;
}

int vblk_read(uint64_t sector, void *buf, uint32_t len)
{
	return vblk_submit(T_IN, sector, buf, len);
}

int vblk_write(uint64_t sector, const void *buf, uint32_t len)
{
	return vblk_submit(T_OUT, sector, (void *)buf, len);
}

int vblk_flush(void)
{
	return vblk_submit(T_FLUSH, 0, NULL, 0);
}
