/* A learning Ethernet switch between Unix SOCK_SEQPACKET ports: the hub of `kvmlab switch PATH`. */
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>

#include "kvmlab/netback.h"

struct netswitch_mac {
	uint8_t mac[NET_MAC_LEN];
	int port; /* index in ports, or -1 for a free entry */
	time_t seen;
};

struct netswitch {
	char path[sizeof(((struct sockaddr_un *)0)->sun_path)];
	int listen_fd;
	dev_t dev;
	ino_t ino;
	int port_fd[NETSWITCH_MAX_PORTS]; /* -1: free */
	unsigned nmacs;
	struct netswitch_mac macs[NETSWITCH_MAX_MACS];
	struct netswitch_stats st;
	uint8_t frame[NET_FRAME_MAX];
};

static time_t netswitch_now(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec;
}

static struct netswitch_mac *netswitch_lookup(struct netswitch *sw, const uint8_t *mac, time_t now)
{
	for (unsigned i = 0; i < sw->nmacs; i++) {
		struct netswitch_mac *m = &sw->macs[i];

		if (m->port >= 0 && !memcmp(m->mac, mac, NET_MAC_LEN))
			return now - m->seen <= NETSWITCH_AGE_S ? m : NULL;
	}
	return NULL;
}

/* Remembers that mac is behind port: the newest sighting wins (a VM that moved). */
static void netswitch_learn(struct netswitch *sw, const uint8_t *mac, int port, time_t now)
{
	struct netswitch_mac *slot = NULL, *oldest = NULL;

	for (unsigned i = 0; i < sw->nmacs; i++) {
		struct netswitch_mac *m = &sw->macs[i];

		if (m->port >= 0 && !memcmp(m->mac, mac, NET_MAC_LEN)) {
			m->port = port;
			m->seen = now;
			return;
		}
		if (!slot && (m->port < 0 || now - m->seen > NETSWITCH_AGE_S))
			slot = m;
		if (!oldest || m->seen < oldest->seen)
			oldest = m;
	}
	if (!slot)
		slot = sw->nmacs < NETSWITCH_MAX_MACS ? &sw->macs[sw->nmacs++] : oldest;
	memcpy(slot->mac, mac, NET_MAC_LEN);
	slot->port = port;
	slot->seen = now;
}

static void netswitch_port_close(struct netswitch *sw, int port)
{
	close(sw->port_fd[port]);
	sw->port_fd[port] = -1;
	for (unsigned i = 0; i < sw->nmacs; i++)
		if (sw->macs[i].port == port)
			sw->macs[i].port = -1;
}

static void netswitch_send(struct netswitch *sw, int port, size_t len)
{
	if (send(sw->port_fd[port], sw->frame, len, MSG_DONTWAIT | MSG_NOSIGNAL) != (ssize_t)len)
		sw->st.dropped++; /* full: the copy is lost; dead: its recv side closes it */
}

/* One frame from port in: learn its source, then forward, flood or filter it. */
static void netswitch_forward(struct netswitch *sw, int in, size_t len)
{
	const uint8_t *dst = sw->frame, *src = sw->frame + NET_MAC_LEN;
	time_t now = netswitch_now();
	struct netswitch_mac *to;

	sw->st.frames++;
	if (!(src[0] & 1))
		netswitch_learn(sw, src, in, now);
	to = dst[0] & 1 ? NULL : netswitch_lookup(sw, dst, now);
	if (to && to->port == in) {
		sw->st.filtered++;
	} else if (to) {
		sw->st.forwarded++;
		netswitch_send(sw, to->port, len);
	} else {
		sw->st.flooded++;
		for (int p = 0; p < NETSWITCH_MAX_PORTS; p++)
			if (p != in && sw->port_fd[p] >= 0)
				netswitch_send(sw, p, len);
	}
}

/* Every frame waiting on port, until it would block; closes the port when its VM left. */
static void netswitch_drain(struct netswitch *sw, int port)
{
	for (unsigned budget = 256; budget; budget--) {
		ssize_t n =
		    recv(sw->port_fd[port], sw->frame, sizeof(sw->frame), MSG_DONTWAIT | MSG_TRUNC);

		if (n >= NET_FRAME_MIN && (size_t)n <= sizeof(sw->frame)) {
			netswitch_forward(sw, port, (size_t)n);
		} else if (n > 0) {
			sw->st.dropped++;
		} else if (n < 0 && (errno == EAGAIN || errno == EINTR)) {
			return;
		} else {
			netswitch_port_close(sw, port);
			return;
		}
	}
}

int netswitch_add_port(struct netswitch *sw, int fd, struct errbuf *e)
{
	int size = 1 << 20;

	for (int p = 0; p < NETSWITCH_MAX_PORTS; p++) {
		if (sw->port_fd[p] >= 0)
			continue;
		if (fcntl(fd, F_SETFL, O_NONBLOCK)) {
			close(fd);
			return err_errno(e, "making switch port %d non-blocking", p);
		}
		setsockopt(fd, SOL_SOCKET, SO_SNDBUF, &size, sizeof(size));
		setsockopt(fd, SOL_SOCKET, SO_RCVBUF, &size, sizeof(size));
		sw->port_fd[p] = fd;
		return 0;
	}
	close(fd);
	return err_set(e, "switch full: all %d ports are in use", NETSWITCH_MAX_PORTS);
}

int netswitch_poll(struct netswitch *sw, int timeout_ms, int stop_fd, struct errbuf *e)
{
	struct pollfd p[NETSWITCH_MAX_PORTS + 2];
	int port_of[NETSWITCH_MAX_PORTS];
	nfds_t n = 0, nports;
	int fd;

	for (int i = 0; i < NETSWITCH_MAX_PORTS; i++)
		if (sw->port_fd[i] >= 0) {
			port_of[n] = i;
			p[n++] = (struct pollfd){.fd = sw->port_fd[i], .events = POLLIN};
		}
	nports = n;
	p[n++] = (struct pollfd){.fd = sw->listen_fd, .events = POLLIN};
	p[n++] = (struct pollfd){.fd = stop_fd, .events = POLLIN};
	if (poll(p, n, timeout_ms) < 0)
		return errno == EINTR ? 0 : err_errno(e, "waiting for frames on the switch");
	if (stop_fd >= 0 && p[n - 1].revents)
		return 1;
	for (nfds_t i = 0; i < nports; i++)
		if (p[i].revents)
			netswitch_drain(sw, port_of[i]);
	if (sw->listen_fd >= 0 && p[nports].revents)
		while ((fd = accept4(sw->listen_fd, NULL, NULL, SOCK_CLOEXEC)) >= 0) {
			struct errbuf full;

			if (netswitch_add_port(sw, fd, &full))
				fprintf(stderr, "kvmlab switch: %s: a VM was turned away\n",
					full.msg);
		}
	return 0;
}

void netswitch_stats(const struct netswitch *sw, struct netswitch_stats *out)
{
	time_t now = netswitch_now();

	*out = sw->st;
	out->ports = out->macs = 0;
	for (int p = 0; p < NETSWITCH_MAX_PORTS; p++)
		out->ports += sw->port_fd[p] >= 0;
	for (unsigned i = 0; i < sw->nmacs; i++)
		out->macs += sw->macs[i].port >= 0 && now - sw->macs[i].seen <= NETSWITCH_AGE_S;
}

static int netswitch_listen(struct netswitch *sw, const char *path, struct errbuf *e)
{
	struct sockaddr_un sa = {.sun_family = AF_UNIX};
	struct stat st;
	int fd;

	if (!path[0] || strlen(path) >= sizeof(sa.sun_path))
		return err_set(e,
			       "switch socket path '%.64s' is empty or longer than %zu characters",
			       path, sizeof(sa.sun_path) - 1);
	memcpy(sa.sun_path, path, strlen(path));
	fd = socket(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0);
	if (fd < 0)
		return err_errno(e, "creating the switch socket %s", path);
	if (!connect(fd, (struct sockaddr *)&sa, sizeof(sa))) {
		close(fd);
		return err_set(e, "%s: something already listens there (another switch or a VM)",
			       path);
	}
	if (errno == ECONNREFUSED && !lstat(path, &st) && S_ISSOCK(st.st_mode))
		unlink(path); /* stale: left by a switch or VM that died */
	if (bind(fd, (struct sockaddr *)&sa, sizeof(sa)) || listen(fd, 16) || stat(path, &st) ||
	    fcntl(fd, F_SETFL, O_NONBLOCK)) {
		err_errno(e, "listening on switch socket %s", path);
		close(fd);
		return -1;
	}
	snprintf(sw->path, sizeof(sw->path), "%s", path);
	sw->listen_fd = fd;
	sw->dev = st.st_dev;
	sw->ino = st.st_ino;
	return 0;
}

struct netswitch *netswitch_create(const char *path, struct errbuf *e)
{
	struct netswitch *sw = calloc(1, sizeof(*sw));

	if (!sw) {
		err_set(e, "out of memory creating the switch");
		return NULL;
	}
	sw->listen_fd = -1;
	for (int p = 0; p < NETSWITCH_MAX_PORTS; p++)
		sw->port_fd[p] = -1;
	if (path && netswitch_listen(sw, path, e)) {
		free(sw);
		return NULL;
	}
	return sw;
}

void netswitch_destroy(struct netswitch *sw)
{
	struct stat st;

	if (!sw)
		return;
	for (int p = 0; p < NETSWITCH_MAX_PORTS; p++)
		if (sw->port_fd[p] >= 0)
			close(sw->port_fd[p]);
	if (sw->listen_fd >= 0) {
		if (!stat(sw->path, &st) && st.st_dev == sw->dev && st.st_ino == sw->ino)
			unlink(sw->path);
		close(sw->listen_fd);
	}
	free(sw);
}
