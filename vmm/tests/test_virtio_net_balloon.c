/* Unit tests of virtio-net and virtio-balloon on a machine without KVM, driven like a guest. */
#include <stdlib.h>
#include <sys/socket.h>
#include <unistd.h>

#include "../../fuzz/virtio_driver.h"
#include "kvmlab/balloon.h"
#include "kvmlab/netback.h"
#include "unit.h"

#define RAM_SIZE 0x100000u
#define RX_AREA	 0x10000u
#define TX_AREA	 0x80000u
#define HDR	 12
#define NET_FEATURES                                                                               \
	(VIRTIO_BIT(VIRTIO_F_VERSION_1) | VIRTIO_BIT(VIRTIO_F_EVENT_IDX) | VIRTIO_BIT(5) |         \
	 VIRTIO_BIT(16))

struct net_rig {
	struct machine m;
	uint8_t *ram;
	struct vdrv d;
	struct virtio_net *net;
	int peer; /* the other end of the backend's socketpair: the wire */
};

static void net_rig_open(struct net_rig *r, uint16_t qsize)
{
	const uint8_t mac[NET_MAC_LEN] = {2, 0, 0, 0, 0, 7};
	struct netback *nb;
	struct errbuf e;
	int sv[2];

	r->ram = calloc(1, RAM_SIZE);
	CHECK(r->ram);
	machine_init(&r->m);
	CHECK(gmem_add(&r->m.mem, 0, RAM_SIZE, r->ram, 0, &e) == 0);
	CHECK(socketpair(AF_UNIX, SOCK_SEQPACKET, 0, sv) == 0);
	nb = netback_sock_from_fd(sv[0], &e);
	CHECK(nb);
	r->peer = sv[1];
	r->net = virtio_net_attach(&r->m, nb, mac, &e);
	CHECK(r->net);
	CHECK(vdrv_init(&r->d, &r->m, VIRTIO_MMIO_BASE, VIRTIO_ID_NET, NET_FEATURES, 2, qsize, 0) &
	      VIRTIO_STATUS_DRIVER_OK);
	CHECK(r->d.features & VIRTIO_BIT(5)); /* MAC */
}

static void net_rig_close(struct net_rig *r)
{
	machine_destroy(&r->m);
	close(r->peer);
	free(r->ram);
}

static void rx_buffer(struct net_rig *r, unsigned slot, uint32_t len, bool kick)
{
	struct vdrv_seg seg = {RX_AREA + slot * 0x800u, len, true};

	vdrv_add(&r->d, 0, &seg, 1, kick);
}

static void wire_send(struct net_rig *r, uint8_t tag, size_t len)
{
	uint8_t f[2048];

	memset(f, tag, len);
	CHECK(send(r->peer, f, len, 0) == (ssize_t)len);
}

TEST(virtio_net_config_has_the_mac_and_link_up)
{
	struct net_rig r;

	net_rig_open(&r, 8);
	CHECK_EQ(vdrv_r32(&r.d, VDRV_CONFIG) & 0xffffffff, 0x00000002);
	CHECK_EQ(vdrv_r32(&r.d, VDRV_CONFIG + 4), 0x00010700); /* mac[4..5], status = LINK_UP */
	net_rig_close(&r);
}

TEST(virtio_net_sends_the_guests_frame_without_its_header)
{
	struct vdrv_seg seg[2] = {{TX_AREA, HDR, false}, {TX_AREA + 0x100, 60, false}};
	struct virtio_net_stats st;
	uint8_t got[128];
	uint32_t id, len;
	struct net_rig r;

	net_rig_open(&r, 8);
	memset(r.ram + TX_AREA + 0x100, 0xab, 60);
	vdrv_add(&r.d, 1, seg, 2, true);
	CHECK(vdrv_used(&r.d, 1, &id, &len) && len == 0);
	CHECK_EQ(recv(r.peer, got, sizeof(got), MSG_DONTWAIT), 60);
	CHECK(got[0] == 0xab && got[59] == 0xab);
	/* A runt, a chain with a writable part: dropped, counted, returned. */
	seg[1].len = 4;
	vdrv_add(&r.d, 1, seg, 2, true);
	seg[1].len = 60;
	seg[1].write = true;
	vdrv_add(&r.d, 1, seg, 2, true);
	CHECK(vdrv_used(&r.d, 1, &id, &len) && vdrv_used(&r.d, 1, &id, &len));
	CHECK(recv(r.peer, got, sizeof(got), MSG_DONTWAIT) < 0);
	virtio_net_stats(r.net, &st);
	CHECK_EQ(st.tx_frames, 1);
	CHECK_EQ(st.tx_malformed, 2);
	net_rig_close(&r);
}

TEST(virtio_net_receives_only_into_buffers_and_waits_without_them)
{
	struct virtio_net_stats st;
	uint32_t id, len;
	struct net_rig r;

	net_rig_open(&r, 8);
	/* Frames before any buffer: none is read, none lost. */
	wire_send(&r, 1, 60);
	wire_send(&r, 2, 1514);
	virtio_net_poll(r.net);
	CHECK(!vdrv_used(&r.d, 0, &id, &len));
	/* One buffer: exactly one frame moves, with its header; the other waits. */
	rx_buffer(&r, 0, HDR + 1514, true);
	CHECK(vdrv_used(&r.d, 0, &id, &len));
	CHECK_EQ(len, HDR + 60);
	CHECK(r.ram[RX_AREA + 10] == 1 && r.ram[RX_AREA + HDR] == 1);
	virtio_net_poll(r.net);
	CHECK(!vdrv_used(&r.d, 0, &id, &len));
	/* A buffer too short for the second frame: it is dropped and counted, never overflowed. */
	r.ram[RX_AREA + 0x800 + HDR + 100] = 0xee;
	rx_buffer(&r, 1, HDR + 100, true);
	CHECK(vdrv_used(&r.d, 0, &id, &len));
	CHECK_EQ(len, 0);
	CHECK(r.ram[RX_AREA + 0x800 + HDR + 100] == 0xee);
	/* The next frame finds the next buffer. */
	rx_buffer(&r, 2, HDR + 1514, true);
	wire_send(&r, 3, 100);
	virtio_net_poll(r.net);
	CHECK(vdrv_used(&r.d, 0, &id, &len));
	CHECK_EQ(len, HDR + 100);
	CHECK(r.ram[RX_AREA + 2 * 0x800 + HDR] == 3);
	virtio_net_stats(r.net, &st);
	CHECK_EQ(st.rx_frames, 2);
	CHECK_EQ(st.rx_short_buffer, 1);
	net_rig_close(&r);
}

TEST(virtio_net_malformed_tx_chain_needs_reset_not_a_crash)
{
	struct vdrv_seg seg = {0xfffffffffffff000ull, 100, false};
	struct net_rig r;

	net_rig_open(&r, 8);
	vdrv_add(&r.d, 1, &seg, 1, true);
	CHECK(vdrv_r32(&r.d, VDRV_STATUS_REG) & VIRTIO_STATUS_NEEDS_RESET);
	net_rig_close(&r);
}

/* The balloon's discard hook, recorded. */
struct discards {
	unsigned n;
	uint64_t gpa[16], len[16];
};

static int record_discard(void *opaque, uint64_t gpa, uint64_t len, struct errbuf *e)
{
	struct discards *d = opaque;

	CHECK(d->n < 16);
	d->gpa[d->n] = gpa;
	d->len[d->n++] = len;
	return 0;
}

TEST(virtio_balloon_inflate_discards_valid_runs_and_reports_target)
{
	uint32_t pfns[] = {0x40, 0x42, 0x41, 0x41, 0x80, 0xffffff, 0x43};
	struct vdrv_seg seg = {0x20000, sizeof(pfns), false};
	struct discards rec = {0};
	struct balloon_info info;
	struct machine m;
	struct vdrv d;
	struct errbuf e;
	uint32_t id, len;
	uint8_t *ram = calloc(1, RAM_SIZE);

	CHECK(ram);
	machine_init(&m);
	CHECK(gmem_add(&m.mem, 0, RAM_SIZE, ram, 0, &e) == 0);
	m.discard = record_discard;
	m.discard_opaque = &rec;
	m.discard_align = 4096;
	CHECK(virtio_balloon_set_target(&m, 1, &e) == -1); /* no balloon yet */
	CHECK(virtio_balloon_attach(&m, &e));
	CHECK(vdrv_init(&d, &m, VIRTIO_MMIO_BASE, VIRTIO_ID_BALLOON,
			VIRTIO_BIT(VIRTIO_F_VERSION_1) | VIRTIO_BIT(VIRTIO_F_EVENT_IDX), 2, 16, 0) &
	      VIRTIO_STATUS_DRIVER_OK);

	CHECK(virtio_balloon_set_target(&m, 300, &e) == -1); /* more than 1 MiB of RAM */
	CHECK_CONTAINS(e.msg, "more than the guest's");
	CHECK(virtio_balloon_set_target(&m, 128, &e) == 0);
	CHECK_EQ(vdrv_r32(&d, VDRV_CONFIG), 128);
	CHECK(vdrv_r32(&d, VDRV_INT_STATUS) & VIRTIO_INT_CONFIG);

	memcpy(ram + 0x20000, pfns, sizeof(pfns));
	vdrv_add(&d, 0, &seg, 1, true);
	CHECK(vdrv_used(&d, 0, &id, &len) && len == 0);
	CHECK_EQ(rec.n, 2);
	CHECK_EQ(rec.gpa[0], 0x40000);
	CHECK_EQ(rec.len[0], 0x4000); /* 0x40-0x43, once each */
	CHECK_EQ(rec.gpa[1], 0x80000);
	CHECK_EQ(rec.len[1], 0x1000);
	/* A second round: kicks keep coming (EVENT_IDX's avail_event moves on). */
	vdrv_add(&d, 0, &seg, 1, true);
	CHECK(vdrv_used(&d, 0, &id, &len));
	CHECK_EQ(rec.n, 4);

	vdrv_w32(&d, VDRV_CONFIG + 4, 5); /* the driver reports actual */
	CHECK(virtio_balloon_info(&m, &info, &e) == 0);
	CHECK_EQ(info.target_pages, 128);
	CHECK_EQ(info.actual_pages, 5);
	CHECK_EQ(info.inflated, 14);
	CHECK_EQ(info.refused, 2); /* 0xffffff, twice */
	CHECK_EQ(info.discarded, 2 * 0x5000);
	machine_destroy(&m);
	free(ram);
}
