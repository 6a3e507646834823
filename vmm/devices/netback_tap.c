/* TAP network backend: Ethernet frames to and from a host interface through /dev/net/tun. */
#include <errno.h>
#include <fcntl.h>
#include <linux/if_tun.h>
#include <net/if.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <unistd.h>

#include "kvmlab/netback.h"

struct tap {
	struct netback nb;
	char name[IFNAMSIZ];
};

/* The kernel takes or refuses a whole frame per write: short writes do not happen. */
static int tap_send(struct netback *nb, const void *frame, size_t len, struct errbuf *e)
{
	(void)e;
	if (write(nb->fd, frame, len) == (ssize_t)len) {
		atomic_fetch_add(&nb->tx_frames, 1);
		return 0;
	}
	/* EAGAIN: the interface's queue is full; EIO: it is down. Ethernet drops both. */
	atomic_fetch_add(&nb->tx_dropped, 1);
	return 0;
}

static ssize_t tap_recv(struct netback *nb, void *buf, size_t cap, struct errbuf *e)
{
	for (;;) {
		ssize_t n = read(nb->fd, buf, cap);

		if (n >= NET_FRAME_MIN && (size_t)n <= NET_FRAME_MAX) {
			atomic_fetch_add(&nb->rx_frames, 1);
			return n;
		}
		if (n > 0) {
			atomic_fetch_add(&nb->rx_dropped, 1);
			continue;
		}
		if (n == 0 || errno == EAGAIN || errno == EINTR)
			return 0;
		return err_errno(e, "reading a frame from TAP interface %s",
				 ((struct tap *)nb)->name);
	}
}

static void tap_close(struct netback *nb)
{
	close(nb->fd);
	free(nb);
}

static const struct netback_ops tap_ops = {
    .name = "tap",
    .send = tap_send,
    .recv = tap_recv,
    .close = tap_close,
};

struct netback *netback_tap_open(const char *name, struct errbuf *e)
{
	struct ifreq ifr = {.ifr_flags = IFF_TAP | IFF_NO_PI};
	struct tap *t;
	int fd;

	if (!name[0] || strlen(name) >= IFNAMSIZ) {
		err_set(e, "TAP interface name '%.32s' is empty or longer than %d characters", name,
			IFNAMSIZ - 1);
		return NULL;
	}
	fd = open("/dev/net/tun", O_RDWR | O_NONBLOCK | O_CLOEXEC);
	if (fd < 0) {
		if (errno == ENOENT || errno == ENODEV)
			err_errno(e,
				  "opening /dev/net/tun for TAP interface %s (is the tun module "
				  "loaded? modprobe tun)",
				  name);
		else
			err_errno(e, "opening /dev/net/tun for TAP interface %s", name);
		return NULL;
	}
	memcpy(ifr.ifr_name, name, strlen(name));
	if (ioctl(fd, TUNSETIFF, &ifr)) {
		if (errno == EPERM)
			err_set(e,
				"TUNSETIFF failed while attaching TAP interface %s: not permitted "
				"(tap= needs root or CAP_NET_ADMIN; sock=PATH works without)",
				name);
		else
			err_errno(e, "TUNSETIFF failed while attaching TAP interface %s", name);
		close(fd);
		return NULL;
	}
	t = calloc(1, sizeof(*t));
	if (!t) {
		close(fd);
		err_set(e, "out of memory opening TAP interface %s", name);
		return NULL;
	}
	t->nb.ops = &tap_ops;
	t->nb.fd = fd;
	memcpy(t->name, ifr.ifr_name, IFNAMSIZ - 1);
	return &t->nb;
}
