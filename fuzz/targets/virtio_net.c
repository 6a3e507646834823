/* Fuzz target: virtio-net over the MMIO transport, with an in-memory backend as the wire. */
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <unistd.h>

#include "fuzz.h"
#include "kvmlab/netback.h"
#include "virtio_driver.h"

#define RAM_SIZE  0x100000u /* 1 MiB at guest-physical 0 */
#define RINGS	  0x0
#define RX_AREA	  0x10000u /* rx buffer of descriptor i at RX_AREA + i * RX_SLOT */
#define RX_SLOT	  0x800u
#define TX_AREA	  0x90000u /* up to the end of RAM: one tx chain at a time */
#define HDR	  12
#define Q_RX	  0
#define Q_TX	  1
#define PENDING	  16 /* frames the wire holds for the guest */
#define RARE(sel) ((sel) == 7)

/* The wire: frames for the guest wait in pending; frames the guest sends are kept last. */
struct wire {
	struct netback nb;
	uint8_t *pending[PENDING];
	size_t pending_len[PENDING];
	unsigned head, n;
	uint8_t *delivered[PENDING]; /* taken by the device, not yet seen in a used entry */
	size_t delivered_len[PENDING];
	unsigned dhead, dn;
	uint8_t *sent;
	size_t sent_len;
	uint64_t nsent;
};

static int wire_send(struct netback *nb, const void *frame, size_t len, struct errbuf *e)
{
	struct wire *w = (struct wire *)nb;

	free(w->sent);
	w->sent = malloc(len);
	FUZZ_CHECK(w->sent, "out of memory");
	memcpy(w->sent, frame, len);
	w->sent_len = len;
	w->nsent++;
	return 0;
}

static ssize_t wire_recv(struct netback *nb, void *buf, size_t cap, struct errbuf *e)
{
	struct wire *w = (struct wire *)nb;
	size_t len;

	if (!w->n)
		return 0;
	len = w->pending_len[w->head];
	FUZZ_CHECK(cap >= NET_FRAME_MAX && len <= cap, "recv buffer of %zu bytes", cap);
	memcpy(buf, w->pending[w->head], len);
	FUZZ_CHECK(w->dn < PENDING, "more frames in flight than the wire held");
	w->delivered[(w->dhead + w->dn) % PENDING] = w->pending[w->head];
	w->delivered_len[(w->dhead + w->dn++) % PENDING] = len;
	w->head = (w->head + 1) % PENDING;
	w->n--;
	return (ssize_t)len;
}

static void wire_close(struct netback *nb)
{
	(void)nb; /* the target frees the wire itself, after the machine */
}

static const struct netback_ops wire_ops = {"wire", wire_send, wire_recv, wire_close};

struct state {
	struct machine m;
	struct vdrv d;
	struct virtio_net *net;
	struct wire w;
	uint8_t *ram;
	bool tainted;			 /* a rare variant ran: only the safety checks still hold */
	uint32_t rx_len[VIRTQ_MAX_SIZE]; /* buffer length by head descriptor */
	unsigned rx_out;		 /* rx buffers the device has not used yet */
};

static bool needs_reset(struct state *s)
{
	return vdrv_r32(&s->d, VDRV_STATUS_REG) & VIRTIO_STATUS_NEEDS_RESET;
}

/* The guest sends one frame: header and frame in 1-3 readable segments, rarely malformed. */
static void op_tx(struct state *s, struct fuzz_in *in, uint8_t ctl)
{
	struct vdrv_seg seg[3];
	unsigned nseg = 1 + (ctl >> 3) % 3, sel = fuzz_u8(in) >> 5;
	size_t len = NET_FRAME_MIN + fuzz_u16(in) % 1501, total;
	uint64_t before = s->w.nsent;
	struct virtio_net_stats st0, st1;
	uint32_t id, used_len;
	uint8_t fill = fuzz_u8(in);

	if (RARE(sel))
		len = fuzz_u32(in) % (NET_FRAME_MAX + 64); /* runts and giants too */
	if (nseg > s->d.q[Q_TX].size)
		nseg = s->d.q[Q_TX].size; /* a chain never outgrows its queue */
	total = HDR + len;
	for (size_t i = 0; i < total; i++) /* the header first, then the frame */
		s->ram[TX_AREA + i] = i < HDR ? 0 : (uint8_t)(fill + i * 7);
	if (nseg == 1 || total < 2) {
		nseg = 1;
		seg[0] = (struct vdrv_seg){TX_AREA, (uint32_t)total, false};
	} else {
		uint32_t cut = (uint32_t)(1 + fuzz_u16(in) % (total - 1));

		seg[0] = (struct vdrv_seg){TX_AREA, cut, false};
		seg[1] = (struct vdrv_seg){TX_AREA + cut, (uint32_t)(total - cut), false};
		if (nseg == 3 && seg[1].len > 1) {
			seg[2] = (struct vdrv_seg){seg[1].gpa + seg[1].len / 2,
						   seg[1].len - seg[1].len / 2, false};
			seg[1].len /= 2;
		} else {
			nseg = 2;
		}
	}
	if (RARE(sel) && (fuzz_u8(in) & 1)) { /* a writable segment, or one outside RAM */
		unsigned which = fuzz_u8(in) % nseg;

		if (fuzz_u8(in) & 1)
			seg[which].write = true;
		else
			seg[which].gpa = fuzz_u64(in);
		s->tainted = true;
	}
	virtio_net_stats(s->net, &st0);
	vdrv_add(&s->d, Q_TX, seg, nseg, true);
	virtio_net_stats(s->net, &st1);
	if (s->tainted || needs_reset(s))
		return;
	FUZZ_CHECK(vdrv_used(&s->d, Q_TX, &id, &used_len), "tx chain not returned");
	FUZZ_CHECK(used_len == 0, "tx used length %u", used_len);
	if (len < NET_FRAME_MIN || len > NET_FRAME_MAX) {
		FUZZ_CHECK(s->w.nsent == before && st1.tx_malformed == st0.tx_malformed + 1,
			   "a %zu-byte frame was sent", len);
		return;
	}
	FUZZ_CHECK(s->w.nsent == before + 1, "frame of %zu bytes not sent", len);
	FUZZ_CHECK(s->w.sent_len == len && !memcmp(s->w.sent, s->ram + TX_AREA + HDR, len),
		   "sent %zu bytes, not the guest's %zu", s->w.sent_len, len);
}

/* The guest adds 1-4 rx buffers of one writable segment each, rarely of any length. */
static void op_rx_buffers(struct state *s, struct fuzz_in *in, uint8_t ctl)
{
	unsigned n = 1 + (ctl >> 3) % 4, added = 0;

	for (unsigned i = 0; i < n; i++) {
		unsigned sel = fuzz_u8(in) >> 5;
		uint32_t len = HDR + fuzz_u16(in) % (RX_SLOT - HDR + 1);
		uint16_t idx = s->d.q[Q_RX].next_desc;
		struct vdrv_seg seg = {RX_AREA + idx * RX_SLOT, len, true};

		if (s->rx_out >= s->d.q[Q_RX].size)
			break; /* a full ring: the driver waits */
		if (RARE(sel)) {
			seg.len = fuzz_u32(in);
			s->tainted = true;
		}
		s->rx_len[idx] = seg.len;
		s->rx_out++;
		vdrv_add(&s->d, Q_RX, &seg, 1, false);
		added++;
	}
	if (added)
		vdrv_w32(&s->d, VDRV_NOTIFY_REG, Q_RX);
}

/* Used rx entries: in order, each the next delivered frame, or empty for a short buffer. */
static void check_rx(struct state *s)
{
	uint32_t id, len;

	while (vdrv_used(&s->d, Q_RX, &id, &len)) {
		uint8_t *frame;
		size_t flen;

		FUZZ_CHECK(s->rx_out > 0, "used rx entry %u with no buffer out", id);
		s->rx_out--;
		if (s->tainted)
			continue;
		FUZZ_CHECK(id < s->d.q[Q_RX].size, "used id %u", id);
		FUZZ_CHECK(s->w.dn > 0, "used rx entry without a frame");
		frame = s->w.delivered[s->w.dhead];
		flen = s->w.delivered_len[s->w.dhead];
		s->w.dhead = (s->w.dhead + 1) % PENDING;
		s->w.dn--;
		if (len == 0) {
			FUZZ_CHECK(s->rx_len[id] < HDR + flen, "frame of %zu dropped into %u bytes",
				   flen, s->rx_len[id]);
		} else {
			const uint8_t *buf = s->ram + RX_AREA + id * RX_SLOT;

			FUZZ_CHECK(len == HDR + flen && len <= s->rx_len[id],
				   "used length %u for a %zu-byte frame in %u bytes", len, flen,
				   s->rx_len[id]);
			FUZZ_CHECK(buf[10] == 1 && buf[11] == 0, "num_buffers is not 1");
			FUZZ_CHECK(!memcmp(buf + HDR, frame, flen), "frame corrupted");
		}
		free(frame);
	}
	/* No frame waits on the wire while the guest still has buffers out. */
	if (!s->tainted && !needs_reset(s))
		FUZZ_CHECK(!s->w.n || !s->rx_out, "%u frames wait with %u buffers out", s->w.n,
			   s->rx_out);
}

/* A frame arrives on the wire, then the I/O thread's turn. */
static void op_frame(struct state *s, struct fuzz_in *in)
{
	unsigned sel = fuzz_u8(in) >> 5;
	size_t len = NET_FRAME_MIN + fuzz_u16(in) % 1600;
	uint8_t fill = fuzz_u8(in), *f;

	if (RARE(sel))
		len = NET_FRAME_MIN + fuzz_u32(in) % (NET_FRAME_MAX - NET_FRAME_MIN + 1);
	if (s->w.n + s->w.dn >= PENDING)
		return; /* the wire is full */
	f = malloc(len);
	FUZZ_CHECK(f, "out of memory");
	for (size_t i = 0; i < len; i++)
		f[i] = (uint8_t)(fill ^ (i * 13));
	s->w.pending[(s->w.head + s->w.n) % PENDING] = f;
	s->w.pending_len[(s->w.head + s->w.n++) % PENDING] = len;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct state *s = calloc(1, sizeof(*s));
	uint8_t mac[NET_MAC_LEN] = {2, 0, 0, 0, 0, 1};
	struct fuzz_in in;
	struct errbuf e;
	uint8_t setup;
	uint64_t want;

	FUZZ_CHECK(s, "out of memory");
	fuzz_in_init(&in, data, size);
	setup = fuzz_u8(&in);
	s->ram = calloc(1, RAM_SIZE);
	FUZZ_CHECK(s->ram, "out of memory");
	machine_init(&s->m);
	FUZZ_CHECK(gmem_add(&s->m.mem, 0, RAM_SIZE, s->ram, 0, &e) == 0, "%s", e.msg);
	s->w.nb.ops = &wire_ops;
	s->w.nb.fd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
	FUZZ_CHECK(s->w.nb.fd >= 0, "eventfd");
	s->net = virtio_net_attach(&s->m, &s->w.nb, mac, &e);
	FUZZ_CHECK(s->net, "%s", e.msg);
	want = VIRTIO_BIT(VIRTIO_F_VERSION_1) | VIRTIO_BIT(5) | VIRTIO_BIT(16) |
	       (setup & 1 ? VIRTIO_BIT(VIRTIO_F_EVENT_IDX) : 0);
	FUZZ_CHECK(vdrv_init(&s->d, &s->m, VIRTIO_MMIO_BASE, VIRTIO_ID_NET, want, 2,
			     (uint16_t)(2u << ((setup >> 1) % 8)), RINGS) &
		       VIRTIO_STATUS_DRIVER_OK,
		   "driver set-up refused");
	while (fuzz_more(&in)) {
		uint8_t ctl = fuzz_u8(&in);

		switch (ctl & 7) {
		case 0:
		case 1:
			op_tx(s, &in, ctl);
			break;
		case 2:
		case 3:
			op_rx_buffers(s, &in, ctl);
			break;
		case 4:
		case 5:
			op_frame(s, &in);
			break;
		case 6: /* the config space: the MAC and link up, byte by byte */
			for (unsigned i = 0; i < 8; i++) {
				uint8_t v = 0;

				machine_mmio(&s->m, VIRTIO_MMIO_BASE + VDRV_CONFIG + i, &v, 1,
					     false);
				FUZZ_CHECK(v == (i < 6 ? mac[i] : i == 6),
					   "config byte %u is 0x%02x", i, v);
			}
			break;
		default: { /* a raw register access: resets, queue changes */
			struct fuzz_io io;

			fuzz_io_window(&in, fuzz_u8(&in), VIRTIO_MMIO_BASE, 0x100, true, &io);
			fuzz_io_run(&s->m, &io);
			s->tainted |= io.write;
			break;
		}
		}
		if (s->w.n) /* the wire has frames: its fd is readable, the I/O thread runs */
			virtio_net_poll(s->net);
		check_rx(s);
	}
	machine_destroy(&s->m);
	close(s->w.nb.fd);
	for (unsigned i = 0; i < s->w.n; i++)
		free(s->w.pending[(s->w.head + i) % PENDING]);
	for (unsigned i = 0; i < s->w.dn; i++)
		free(s->w.delivered[(s->w.dhead + i) % PENDING]);
	free(s->w.sent);
	free(s->ram);
	free(s);
	return 0;
}
