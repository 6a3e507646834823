/* Host-only benchmarks (no /dev/kvm): bus lookup against the number of devices, virtqueue
 * processing. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "bench.h"
#include "kvmlab/machine.h"
#include "kvmlab/virtio.h"

/* ---- bus lookup ---- */

static void count_access(void *opaque, uint64_t offset, uint8_t *data, uint32_t len, bool is_write)
{
	(void)offset;
	if (!is_write)
		memset(data, 0, len);
	(*(uint64_t *)opaque)++;
}

#define BUS_ADDRS 1024 /* accesses cycle over this many addresses, spread over every range */

/*
 * ARG devices of 4 ports (or 4 KiB) each on a machine's bus; each iteration is
 * one 4-byte write through machine_pio (the exit path: the direct index while
 * there are at most 255 port ranges, binary search beyond) or machine_mmio
 * (binary search), to addresses that cycle over all the devices.
 */
static void bus_lookup(struct bench_state *st, bool pio)
{
	uint64_t n = (uint64_t)bench_arg(st), hits = 0, i = 0, *addrs;
	uint64_t stride = pio ? 8 : 0x2000, base = pio ? 0x1000 : 0x100000000ull;
	uint8_t data[4] = {0};
	struct machine m;
	struct errbuf e;

	machine_init(&m);
	addrs = malloc(BUS_ADDRS * sizeof(*addrs));
	if (!addrs) {
		bench_skip_with_error(st, "out of memory");
		machine_destroy(&m);
		return;
	}
	for (uint64_t d = 0; d < n; d++) {
		if (bus_register(pio ? &m.pio : &m.mmio, base + d * stride, pio ? 4 : 0x1000, "dev",
				 count_access, &hits, &e)) {
			bench_skip_with_error(st, e.msg);
			goto out;
		}
	}
	for (uint64_t a = 0; a < BUS_ADDRS;
	     a++) /* a multiplicative walk: no cache-friendly order */
		addrs[a] = base + (a * 7919 % n) * stride;
	while (bench_keep_running(st)) {
		uint64_t addr = addrs[i++ % BUS_ADDRS];

		if (pio)
			machine_pio(&m, (uint16_t)addr, data, 4, true);
		else
			machine_mmio(&m, addr, data, 4, true);
	}
	if ((int64_t)hits != bench_iterations(st))
		bench_skip_with_error(st, "an access missed its device");
	bench_set_label(st, pio && m.pio.direct_len ? "direct index" : "binary search");
out:
	free(addrs);
	machine_destroy(&m);
}

static void bus_lookup_pio(struct bench_state *st)
{
	bus_lookup(st, true);
}
BENCH(bus_lookup_pio, .name = "bus/pio_lookup", .run = bus_lookup_pio,
      .doc = "one machine_pio write among ARG claimed port ranges", .host_only = true,
      .args = BENCH_ARGS(1, 16, 255, 1024));

static void bus_lookup_mmio(struct bench_state *st)
{
	bus_lookup(st, false);
}
BENCH(bus_lookup_mmio, .name = "bus/mmio_lookup", .run = bus_lookup_mmio,
      .doc = "one machine_mmio write among ARG claimed MMIO ranges", .host_only = true,
      .args = BENCH_ARGS(1, 16, 256, 4096));

/* ---- virtqueue: the device side of a split ring (virtq_pop, virtq_push) ---- */

#define VQ_SIZE	 256
#define VQ_DESC	 0x0000
#define VQ_AVAIL 0x1000
#define VQ_USED	 0x2000
#define VQ_BUFS	 0x10000
#define VQ_MEM	 (VQ_BUFS + VQ_SIZE * 2 * 4096)

struct vq_desc {
	uint64_t addr;
	uint32_t len;
	uint16_t flags, next;
};

/*
 * The driver side, written straight into the plain memory a gmem describes:
 * ARG-descriptor chains (a device-readable header, then device-writable
 * buffers, as a block request looks) fill the queue; each iteration makes one
 * batch available and the device pops and pushes every chain of it.
 * items_per_second counts descriptors.
 */
static void virtq_process(struct bench_state *st)
{
	unsigned segs = (unsigned)bench_arg(st), chains = VQ_SIZE / segs;
	uint64_t descs = 0;
	uint16_t avail_idx = 0;
	struct virtq_elem *el = malloc(sizeof(*el));
	uint8_t *mem = calloc(1, VQ_MEM);
	struct vq_desc *desc = (struct vq_desc *)(mem + VQ_DESC);
	uint16_t *avail = (uint16_t *)(mem + VQ_AVAIL); /* flags, idx, ring[] */
	struct gmem g = {0};
	struct virtq vq;
	struct errbuf e;

	if (!el || !mem) {
		bench_skip_with_error(st, "out of memory");
		goto out;
	}
	for (unsigned c = 0; c < chains; c++) {
		for (unsigned s = 0; s < segs; s++) {
			unsigned i = c * segs + s;

			desc[i] = (struct vq_desc){
			    .addr = VQ_BUFS + (uint64_t)i * 4096,
			    .len = s == 0 ? 16 : 4096,
			    .flags = (uint16_t)((s + 1 < segs ? 1 : 0) | (s > 0 ? 2 : 0)),
			    .next = (uint16_t)(i + 1)};
		}
		avail[2 + c] = (uint16_t)(c * segs);
	}
	if (gmem_add(&g, 0, VQ_MEM, mem, 0, &e) ||
	    virtq_init(&vq, &g, VQ_SIZE, VQ_DESC, VQ_AVAIL, VQ_USED, 0, &e)) {
		bench_skip_with_error(st, e.msg);
		goto out;
	}
	while (bench_keep_running(st)) {
		int r;

		avail_idx = (uint16_t)(avail_idx + chains);
		__atomic_store_n(&avail[1], avail_idx, __ATOMIC_RELEASE);
		while ((r = virtq_pop(&vq, el, &e)) == 1) {
			descs += el->nout + el->nin;
			if (virtq_push(&vq, el, (uint32_t)el->in_len, &e)) {
				r = -1;
				break;
			}
		}
		if (r < 0) {
			bench_skip_with_error(st, e.msg);
			goto out;
		}
	}
	if (descs != (uint64_t)bench_iterations(st) * chains * segs) {
		bench_skip_with_error(st, "the device did not see every descriptor");
		goto out;
	}
	bench_set_items_processed(st, (int64_t)descs);
	bench_set_counter(st, "chains", chains, BENCH_COUNTER_PLAIN);
out:
	free(el);
	free(mem);
}
BENCH(virtq_process, .name = "virtq/pop_push", .run = virtq_process,
      .doc = "a full 256-entry queue of ARG-descriptor chains popped and pushed", .host_only = true,
      .args = BENCH_ARGS(1, 3, 16));
