/* Unit tests of the network backends and the switch: specs, MACs, point-to-point sockets, learning.
 */
#include <poll.h>
#include <stdlib.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>

#include "kvmlab/netback.h"
#include "unit.h"

static const uint8_t mac_a[NET_MAC_LEN] = {0x02, 0, 0, 0, 0, 0xa};
static const uint8_t mac_b[NET_MAC_LEN] = {0x02, 0, 0, 0, 0, 0xb};
static const uint8_t mac_c[NET_MAC_LEN] = {0x02, 0, 0, 0, 0, 0xc};
static const uint8_t bcast[NET_MAC_LEN] = {0xff, 0xff, 0xff, 0xff, 0xff, 0xff};

/* A frame dst <- src whose payload byte tells frames apart. */
static size_t frame(uint8_t *buf, const uint8_t *dst, const uint8_t *src, uint8_t tag, size_t len)
{
	memset(buf, tag, len);
	memcpy(buf, dst, NET_MAC_LEN);
	memcpy(buf + NET_MAC_LEN, src, NET_MAC_LEN);
	return len;
}

/* recv on nb until a frame arrives (at most ~2 s): its length. */
static ssize_t recv_tries(struct netback *nb, uint8_t *buf, int tries)
{
	struct errbuf e;

	for (int i = 0; i < tries; i++) {
		struct pollfd p = {.fd = nb->fd, .events = POLLIN};
		ssize_t n;

		poll(&p, 1, 10);
		n = nb->ops->recv(nb, buf, NET_FRAME_MAX, &e);
		CHECK(n >= 0);
		if (n > 0)
			return n;
	}
	return 0;
}

#define recv_wait(nb, buf) recv_tries(nb, buf, 200)
#define recv_none(nb, buf) (recv_tries(nb, buf, 20) == 0) /* nothing within ~200 ms */

static char *tmp_sock(char *dir, size_t size)
{
	snprintf(dir, size, "/tmp/kvmlab-net-XXXXXX");
	CHECK(mkdtemp(dir));
	strcat(dir, "/net.sock");
	return dir;
}

static void tmp_sock_done(char *path)
{
	unlink(path);
	*strrchr(path, '/') = '\0';
	CHECK(rmdir(path) == 0);
}

TEST(net_spec_parses_tap_sock_and_mac)
{
	struct net_spec s;
	struct errbuf e;

	CHECK(net_spec_parse("tap=kvtap0", &s, &e) == 0);
	CHECK(s.kind == NET_TAP && !strcmp(s.where, "kvtap0") && !s.has_mac);
	CHECK(net_spec_parse("sock=/tmp/x.sock,mac=02:AB:cd:00:11:ff", &s, &e) == 0);
	CHECK(s.kind == NET_SOCK && !strcmp(s.where, "/tmp/x.sock") && s.has_mac);
	CHECK(s.mac[0] == 0x02 && s.mac[1] == 0xab && s.mac[2] == 0xcd && s.mac[5] == 0xff);

	CHECK(net_spec_parse("vde=/x", &s, &e) == -1);
	CHECK_CONTAINS(e.msg, "neither tap=NAME nor sock=PATH");
	CHECK(net_spec_parse("tap=", &s, &e) == -1);
	CHECK(net_spec_parse("tap=averyveryverylongname", &s, &e) == -1);
	CHECK_CONTAINS(e.msg, "longer than 15");
	CHECK(net_spec_parse("sock=/x,mac=01:00:00:00:00:01", &s, &e) == -1);
	CHECK_CONTAINS(e.msg, "multicast");
	CHECK(net_spec_parse("sock=/x,mac=02:00:00:00:00", &s, &e) == -1);
	CHECK(net_spec_parse("sock=/x,mac=02:00:00:00:00:0g", &s, &e) == -1);
	CHECK(net_spec_parse("sock=/x,mac=02-00-00-00-00-01", &s, &e) == -1);
	CHECK(net_spec_parse("sock=/x,mac=02:00:00:00:00:01,mac=02:00:00:00:00:02", &s, &e) == -1);
	CHECK(net_spec_parse("sock=/x,speed=10", &s, &e) == -1);
	CHECK_CONTAINS(e.msg, "unknown option 'speed=10'");
}

TEST(net_default_macs_are_stable_local_unicast_and_distinct)
{
	uint8_t a[NET_MAC_LEN], a2[NET_MAC_LEN], b[NET_MAC_LEN], c[NET_MAC_LEN];

	net_mac_default("vm-a", 0, a);
	net_mac_default("vm-a", 0, a2);
	net_mac_default("vm-a", 1, b);
	net_mac_default("vm-b", 0, c);
	CHECK(!memcmp(a, a2, NET_MAC_LEN));
	CHECK(memcmp(a, b, NET_MAC_LEN) && memcmp(a, c, NET_MAC_LEN));
	CHECK(a[0] == 0x02 && b[0] == 0x02 && c[0] == 0x02); /* local, unicast */
}

TEST(net_sock_point_to_point_listen_connect_turn_away_and_rejoin)
{
	uint8_t out[128], in[NET_FRAME_MAX];
	struct netback *a, *b, *c, *d;
	struct errbuf e;
	char path[64];
	struct stat st;

	tmp_sock(path, sizeof(path));
	a = netback_sock_open(path, &e); /* nobody there: listens */
	CHECK(a);
	CHECK(stat(path, &st) == 0 && S_ISSOCK(st.st_mode));
	b = netback_sock_open(path, &e); /* connects to a */
	CHECK(b);
	CHECK(b->ops->send(b, out, frame(out, mac_a, mac_b, 1, 60), &e) == 0);
	CHECK_EQ(recv_wait(a, in), 60);
	CHECK(!memcmp(in, out, 60));
	CHECK(a->ops->send(a, out, frame(out, mac_b, mac_a, 2, 100), &e) == 0);
	CHECK_EQ(recv_wait(b, in), 100);
	CHECK(!memcmp(in, out, 100));
	CHECK_EQ(a->tx_frames, 1);
	CHECK_EQ(b->rx_frames, 1);

	/* A third VM is turned away: a sees only b's frames; d's send finds no peer. */
	d = netback_sock_open(path, &e);
	CHECK(d);
	CHECK(recv_none(a, in));
	CHECK(recv_none(d, in)); /* d notices the hang-up */
	CHECK(d->ops->send(d, out, frame(out, mac_a, mac_c, 3, 60), &e) == 0);
	CHECK_EQ(d->tx_dropped, 1);
	netback_close(d);

	/* b leaves; c takes its place. */
	netback_close(b);
	CHECK(recv_none(a, in));
	c = netback_sock_open(path, &e);
	CHECK(c);
	CHECK(c->ops->send(c, out, frame(out, mac_a, mac_c, 4, 64), &e) == 0);
	CHECK_EQ(recv_wait(a, in), 64);
	CHECK(in[20] == 4);

	/* Frames too short for Ethernet are never delivered. */
	CHECK(c->ops->send(c, out, 10, &e) == 0);
	CHECK(c->ops->send(c, out, frame(out, mac_a, mac_c, 5, 64), &e) == 0);
	CHECK_EQ(recv_wait(a, in), 64);
	CHECK(in[20] == 5);
	CHECK_EQ(a->rx_dropped, 1);

	netback_close(a); /* the listener removes its socket */
	CHECK(stat(path, &st) == -1);
	netback_close(c);
	tmp_sock_done(path);
}

TEST(net_sock_connector_drops_frames_once_the_listener_left)
{
	uint8_t out[64], in[NET_FRAME_MAX];
	struct netback *a, *b;
	struct errbuf e;
	char path[64];

	tmp_sock(path, sizeof(path));
	a = netback_sock_open(path, &e);
	b = netback_sock_open(path, &e);
	CHECK(a && b);
	netback_close(a);
	CHECK(recv_none(b, in)); /* b sees its peer leave */
	CHECK(b->ops->send(b, out, frame(out, mac_a, mac_b, 7, 64), &e) == 0);
	CHECK_EQ(b->tx_dropped, 1);
	CHECK_EQ(b->tx_frames, 0);
	netback_close(b);
	tmp_sock_done(path);
}

TEST(net_sock_refuses_a_path_that_is_not_a_socket)
{
	struct errbuf e;
	char path[] = "/tmp/kvmlab-net-file-XXXXXX";
	int fd = mkstemp(path);

	CHECK(fd >= 0);
	close(fd);
	CHECK(netback_sock_open(path, &e) == NULL);
	CHECK_CONTAINS(e.msg, "not a socket");
	CHECK(netback_sock_open("", &e) == NULL);
	unlink(path);
}

TEST(net_tap_refuses_bad_names)
{
	struct errbuf e;

	CHECK(netback_tap_open("", &e) == NULL);
	CHECK(netback_tap_open("sixteen-chars-xx", &e) == NULL);
	CHECK_CONTAINS(e.msg, "longer than 15");
}

/* Three ports on socketpairs: the far ends are the "VMs". */
struct three {
	struct netswitch *sw;
	int vm[3];
};

static void three_open(struct three *t)
{
	struct errbuf e;

	t->sw = netswitch_create(NULL, &e);
	CHECK(t->sw);
	for (int i = 0; i < 3; i++) {
		int sv[2];

		CHECK(socketpair(AF_UNIX, SOCK_SEQPACKET, 0, sv) == 0);
		CHECK(netswitch_add_port(t->sw, sv[0], &e) == 0);
		t->vm[i] = sv[1];
	}
}

static void three_send(struct three *t, int from, const uint8_t *buf, size_t len)
{
	struct errbuf e;

	CHECK(send(t->vm[from], buf, len, 0) == (ssize_t)len);
	CHECK(netswitch_poll(t->sw, 100, -1, &e) == 0);
}

/* The tag of the frame waiting at vm i, or -1 if none is. */
static int three_got(struct three *t, int i)
{
	uint8_t buf[256];
	ssize_t n = recv(t->vm[i], buf, sizeof(buf), MSG_DONTWAIT);

	return n > 20 ? buf[20] : -1;
}

TEST(net_switch_floods_unknown_then_forwards_learnt_and_filters)
{
	struct netswitch_stats st;
	struct three t;
	uint8_t f[64];

	three_open(&t);
	/* a (port 0) to b, unknown yet: everyone else gets it. */
	three_send(&t, 0, f, frame(f, mac_b, mac_a, 1, 64));
	CHECK(three_got(&t, 1) == 1 && three_got(&t, 2) == 1 && three_got(&t, 0) == -1);
	/* b (port 1) answers a, whom the switch has learnt: only port 0. */
	three_send(&t, 1, f, frame(f, mac_a, mac_b, 2, 64));
	CHECK(three_got(&t, 0) == 2 && three_got(&t, 2) == -1 && three_got(&t, 1) == -1);
	/* a to b again: b is learnt now. */
	three_send(&t, 0, f, frame(f, mac_b, mac_a, 3, 64));
	CHECK(three_got(&t, 1) == 3 && three_got(&t, 2) == -1);
	/* Broadcast: every other port. */
	three_send(&t, 2, f, frame(f, bcast, mac_c, 4, 64));
	CHECK(three_got(&t, 0) == 4 && three_got(&t, 1) == 4 && three_got(&t, 2) == -1);
	/* For a MAC behind the sender's own port: filtered. */
	three_send(&t, 0, f, frame(f, mac_a, mac_a, 5, 64));
	CHECK(three_got(&t, 0) == -1 && three_got(&t, 1) == -1 && three_got(&t, 2) == -1);
	/* A runt is dropped, not forwarded. */
	three_send(&t, 0, f, 8);
	CHECK(three_got(&t, 1) == -1 && three_got(&t, 2) == -1);
	netswitch_stats(t.sw, &st);
	CHECK_EQ(st.frames, 5);
	CHECK_EQ(st.flooded, 2);
	CHECK_EQ(st.forwarded, 2);
	CHECK_EQ(st.filtered, 1);
	CHECK_EQ(st.dropped, 1);
	CHECK_EQ(st.ports, 3);
	CHECK_EQ(st.macs, 3);

	/* b leaves: the switch closes its port and forgets its MAC (back to flooding). */
	close(t.vm[1]);
	CHECK(netswitch_poll(t.sw, 100, -1, &(struct errbuf){{0}}) == 0);
	three_send(&t, 0, f, frame(f, mac_b, mac_a, 6, 64));
	CHECK(three_got(&t, 2) == 6);
	netswitch_stats(t.sw, &st);
	CHECK_EQ(st.ports, 2);
	CHECK_EQ(st.macs, 2);
	close(t.vm[0]);
	close(t.vm[2]);
	netswitch_destroy(t.sw);
}

TEST(net_switch_on_a_path_connects_sock_backends)
{
	uint8_t out[1514], in[NET_FRAME_MAX];
	struct netback *a, *b, *c;
	struct netswitch *sw;
	struct errbuf e;
	char path[64];
	int stop[2];

	tmp_sock(path, sizeof(path));
	sw = netswitch_create(path, &e);
	CHECK(sw);
	CHECK(netswitch_create(path, &e) == NULL); /* one switch per path */
	CHECK_CONTAINS(e.msg, "already listens");
	a = netback_sock_open(path, &e);
	b = netback_sock_open(path, &e);
	c = netback_sock_open(path, &e); /* a switch takes any number */
	CHECK(a && b && c);
	CHECK(netswitch_poll(sw, 100, -1, &e) == 0);
	CHECK(a->ops->send(a, out, frame(out, mac_b, mac_a, 1, sizeof(out)), &e) == 0);
	CHECK(netswitch_poll(sw, 100, -1, &e) == 0);
	CHECK_EQ(recv_wait(b, in), sizeof(out));
	CHECK_EQ(recv_wait(c, in), sizeof(out)); /* flooded */
	CHECK(b->ops->send(b, out, frame(out, mac_a, mac_b, 2, 64), &e) == 0);
	CHECK(netswitch_poll(sw, 100, -1, &e) == 0);
	CHECK_EQ(recv_wait(a, in), 64);
	CHECK(in[20] == 2);
	CHECK(recv_none(c, in)); /* learnt: not flooded */
	CHECK(pipe(stop) == 0);
	CHECK(write(stop[1], "x", 1) == 1);
	CHECK(netswitch_poll(sw, -1, stop[0], &e) == 1);
	netback_close(a);
	netback_close(b);
	netback_close(c);
	netswitch_destroy(sw);
	close(stop[0]);
	close(stop[1]);
	tmp_sock_done(path);
}
