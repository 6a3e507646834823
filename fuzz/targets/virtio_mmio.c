/* Fuzz target: the virtio-mmio transport's register file and status state machine. */
#include <string.h>

#include "fuzz.h"
#include "kvmlab/virtio.h"

#define RAM_SIZE 0x10000u
#define OFFERED                                                                                    \
	(VIRTIO_BIT(VIRTIO_F_VERSION_1) | VIRTIO_BIT(VIRTIO_F_EVENT_IDX) |                         \
	 VIRTIO_BIT(VIRTIO_F_INDIRECT_DESC))

/* A test device: two queues, 16 bytes of config that read back what was written. */
struct tdev {
	uint8_t config[16];
	unsigned notified, resets;
};

static uint64_t t_features(void *dev)
{
	(void)dev;
	return 0;
}

static void t_config_read(void *dev, uint32_t off, void *buf, uint32_t len)
{
	FUZZ_CHECK(off + len <= 16, "config read at %u+%u", off, len);
	memcpy(buf, ((struct tdev *)dev)->config + off, len);
}

static void t_config_write(void *dev, uint32_t off, const void *buf, uint32_t len)
{
	FUZZ_CHECK(off + len <= 16, "config write at %u+%u", off, len);
	memcpy(((struct tdev *)dev)->config + off, buf, len);
}

static void t_notify(void *dev, unsigned qidx)
{
	FUZZ_CHECK(qidx < 2, "notify for queue %u", qidx);
	((struct tdev *)dev)->notified++;
}

static void t_reset(void *dev)
{
	((struct tdev *)dev)->resets++;
}

static const struct virtio_device_ops t_ops = {
    .name = "virtio-test",
    .device_id = 42,
    .num_queues = 2,
    .queue_max_size = 64,
    .config_size = 16,
    .features = t_features,
    .config_read = t_config_read,
    .config_write = t_config_write,
    .queue_notify = t_notify,
    .reset = t_reset,
};

static uint32_t reg(struct machine *m, uint64_t off)
{
	uint32_t v = 0;

	machine_mmio(m, VIRTIO_MMIO_BASE + off, (uint8_t *)&v, 4, false);
	return v;
}

/* What any register sequence keeps: identity, and status bits only in protocol order. */
static void check(struct machine *m)
{
	uint32_t status = reg(m, 0x70);

	FUZZ_CHECK(reg(m, 0) == 0x74726976 && reg(m, 4) == 2 && reg(m, 8) == 42, "identity");
	FUZZ_CHECK(reg(m, 0xc) == VIRTIO_MMIO_VENDOR, "vendor");
	if (status & VIRTIO_STATUS_DRIVER_OK)
		FUZZ_CHECK(status & VIRTIO_STATUS_FEATURES_OK, "DRIVER_OK without FEATURES_OK");
	if (status & VIRTIO_STATUS_FEATURES_OK)
		FUZZ_CHECK((status & 3) == 3, "FEATURES_OK without ACKNOWLEDGE|DRIVER: 0x%x",
			   status);
	FUZZ_CHECK(status <= 0xff, "status 0x%x", status);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct tdev t = {{0}, 0, 0};
	struct machine m;
	struct fuzz_in in;
	struct fuzz_io io;
	struct errbuf e;
	struct virtio_dev *vd;
	uint8_t *ram = calloc(1, RAM_SIZE);

	FUZZ_CHECK(ram, "out of memory");
	fuzz_in_init(&in, data, size);
	machine_init(&m);
	FUZZ_CHECK(gmem_add(&m.mem, 0, RAM_SIZE, ram, 0, &e) == 0, "%s", e.msg);
	vd = virtio_mmio_attach(&m, &t_ops, &t, &e);
	FUZZ_CHECK(vd, "%s", e.msg);
	while (fuzz_more(&in)) {
		uint8_t ctl = fuzz_u8(&in);
		unsigned before = t.notified;
		uint32_t status = reg(&m, 0x70);

		if ((ctl >> 3) == 30) { /* the host announces a config change */
			uint32_t gen = reg(&m, 0xfc);

			virtio_lock(vd);
			virtio_config_changed(vd);
			virtio_unlock(vd);
			FUZZ_CHECK(reg(&m, 0xfc) == gen + 1, "generation");
			continue;
		}
		/* Bit 0 clear: an aligned dword register (so the state machine moves); set: the
		 * config space, any width, past its end too; selector 31: anywhere near. */
		if ((ctl >> 3) == 31) {
			fuzz_io_window(&in, ctl, VIRTIO_MMIO_BASE, 0x200, true, &io);
		} else {
			uint64_t v = fuzz_u8(&in) & 0x80 ? fuzz_u8(&in) & 0xf : fuzz_u32(&in);

			io = (struct fuzz_io){.mmio = true, .write = ctl & 4};
			if (ctl & 1) {
				io.len = 1u << ((ctl >> 1) & 3);
				io.addr = VIRTIO_MMIO_BASE + 0x100 + fuzz_u8(&in) / io.len * io.len;
			} else {
				io.len = 4;
				io.addr = VIRTIO_MMIO_BASE + 4u * (fuzz_u8(&in) % 64);
			}
			memcpy(io.data, &v, sizeof(v));
		}
		fuzz_io_run(&m, &io);
		if (t.notified != before) { /* a kick, or DRIVER_OK itself: the device is live */
			uint32_t now = reg(&m, 0x70);

			FUZZ_CHECK((now & VIRTIO_STATUS_DRIVER_OK) &&
				       !(now & (VIRTIO_STATUS_NEEDS_RESET | VIRTIO_STATUS_FAILED)),
				   "queue_notify while status 0x%x", now);
		}
		if ((reg(&m, 0x70) & VIRTIO_STATUS_FEATURES_OK) &&
		    !(status & VIRTIO_STATUS_FEATURES_OK))
			FUZZ_CHECK((virtio_features(vd) & ~OFFERED) == 0 &&
				       (virtio_features(vd) & VIRTIO_BIT(VIRTIO_F_VERSION_1)),
				   "FEATURES_OK with features 0x%llx",
				   (unsigned long long)virtio_features(vd));
		check(&m);
	}
	machine_destroy(&m);
	free(ram);
	return 0;
}
