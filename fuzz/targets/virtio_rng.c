/* Fuzz target: virtio-rng over the MMIO transport: writable buffers filled from getrandom. */
#include <string.h>

#include "fuzz.h"
#include "virtio_driver.h"

#define RAM_SIZE 0x100000u
#define RINGS	 0x0
#define BUFS	 0x10000u
#define RNG_MAX	 (64u << 10)

/* The guest asks for up to 3 buffers of random bytes (rarely: a readable segment or one
 * outside RAM); the device fills exactly the writable bytes (at most 64 KiB) it reports. */
static void op_request(struct vdrv *d, uint8_t *ram, struct fuzz_in *in, uint8_t ctl)
{
	struct vdrv_seg seg[3];
	unsigned n = 1 + (ctl >> 1) % 3;
	uint64_t off = 0, total = 0;
	bool rare = (ctl >> 3) == 31;
	uint32_t id, len;

	if (n > d->q[0].size)
		n = d->q[0].size; /* a chain never outgrows its queue */
	for (unsigned i = 0; i < n; i++) {
		uint32_t l = rare ? fuzz_u32(in) % (RAM_SIZE - BUFS) : 1u + fuzz_u16(in) % 4096u;

		if (BUFS + off + l > RAM_SIZE)
			l = (uint32_t)(RAM_SIZE - BUFS - off);
		seg[i] = (struct vdrv_seg){BUFS + off, l, true};
		off += l;
		total += l;
	}
	if (rare && (fuzz_u8(in) & 1))
		seg[fuzz_u8(in) % n] =
		    (struct vdrv_seg){fuzz_u64(in), fuzz_u16(in), fuzz_u8(in) & 1};
	memset(ram + BUFS, 0, off);
	vdrv_add(d, 0, seg, n, true);
	if (vdrv_r32(d, VDRV_STATUS_REG) & VIRTIO_STATUS_NEEDS_RESET) {
		FUZZ_CHECK(rare, "a well-formed request broke the device");
		return;
	}
	FUZZ_CHECK(vdrv_used(d, 0, &id, &len), "request not completed");
	if (!rare)
		FUZZ_CHECK(len == (total < RNG_MAX ? total : RNG_MAX), "%u bytes for %llu", len,
			   (unsigned long long)total);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct machine m;
	struct vdrv d;
	struct fuzz_in in;
	struct fuzz_io io;
	struct errbuf e;
	uint8_t *ram = calloc(1, RAM_SIZE);
	uint16_t qsize;

	FUZZ_CHECK(ram, "out of memory");
	fuzz_in_init(&in, data, size);
	machine_init(&m);
	FUZZ_CHECK(gmem_add(&m.mem, 0, RAM_SIZE, ram, 0, &e) == 0, "%s", e.msg);
	FUZZ_CHECK(virtio_rng_attach(&m, &e), "%s", e.msg);
	qsize = (uint16_t)(1u << fuzz_below(&in, 7));
	FUZZ_CHECK(vdrv_init(&d, &m, VIRTIO_MMIO_BASE, VIRTIO_ID_RNG, ~0ull, 1, qsize, RINGS) &
		       VIRTIO_STATUS_DRIVER_OK,
		   "driver start");
	while (fuzz_more(&in)) {
		uint8_t ctl = fuzz_u8(&in);

		if (ctl & 1) {
			op_request(&d, ram, &in, ctl);
		} else { /* a register access, then the driver starts afresh */
			fuzz_io_window(&in, fuzz_u8(&in), VIRTIO_MMIO_BASE, VIRTIO_MMIO_SIZE, true,
				       &io);
			fuzz_io_run(&m, &io);
			memset(ram + RINGS, 0, VDRV_RING_AREA);
			vdrv_init(&d, &m, VIRTIO_MMIO_BASE, VIRTIO_ID_RNG, ~0ull, 1, qsize, RINGS);
		}
		if (vdrv_r32(&d, VDRV_STATUS_REG) & VIRTIO_STATUS_NEEDS_RESET) {
			memset(ram + RINGS, 0, VDRV_RING_AREA);
			vdrv_init(&d, &m, VIRTIO_MMIO_BASE, VIRTIO_ID_RNG, ~0ull, 1, qsize, RINGS);
		}
	}
	machine_destroy(&m);
	free(ram);
	return 0;
}
