/* virtio-net: one rx and one tx queue between the guest and a network backend (TAP or Unix socket).
 */
#include <endian.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <unistd.h>

#include "kvmlab/config.h"
#include "kvmlab/netback.h"
#include "kvmlab/virtio.h"

#define NET_F_MAC      5
#define NET_F_STATUS   16
#define NET_S_LINK_UP  1
#define NET_Q_RX       0
#define NET_Q_TX       1
#define NET_HDR_LEN    12 /* struct virtio_net_hdr of virtio 1.x, num_buffers included */
#define NET_CONFIG_LEN 10 /* mac[6], le16 status, le16 max_virtqueue_pairs */
#define NET_RX_BATCH   64 /* frames per rx call: the I/O thread serves other fds in between */

/*
 * The backend's fd sits in our own epoll set, watch_fd, which the transport's
 * I/O thread watches. While the guest has no rx buffers the backend fd is
 * taken out of that set: nothing is read (frames wait in the backend, as on a
 * wire whose receiver is busy) and nothing spins; the rx kick that brings
 * buffers puts it back.
 */
struct virtio_net {
	struct virtio_dev *vd;
	struct netback *nb;
	int watch_fd;
	bool rx_watching;
	uint8_t mac[NET_MAC_LEN];
	struct virtio_net_stats st;
	struct virtq_elem el;
	uint8_t buf[NET_HDR_LEN + NET_FRAME_MAX];
};

static void net_rx_watch(struct virtio_net *n, bool on)
{
	struct epoll_event ev = {.events = EPOLLIN};

	if (on == n->rx_watching || n->watch_fd < 0)
		return;
	/* Cannot fail for an fd we added before (ENOMEM aside): the state follows the call. */
	if (!epoll_ctl(n->watch_fd, on ? EPOLL_CTL_ADD : EPOLL_CTL_DEL, n->nb->fd, &ev))
		n->rx_watching = on;
}

/*
 * Moves waiting frames into the guest's rx buffers: a buffer is taken before
 * a frame is read, so no frame is read without a place to put it. Lock held.
 */
static void net_rx(void *dev)
{
	struct virtio_net *n = dev;
	struct virtq *vq = virtio_queue(n->vd, NET_Q_RX);
	static const uint8_t hdr[NET_HDR_LEN] = {[10] = 1}; /* no offloads; num_buffers = 1 */
	unsigned pushed = 0;
	struct errbuf e;

	for (unsigned i = 0; vq && i < NET_RX_BATCH; i++) {
		uint32_t used = 0;
		ssize_t len;
		int r;

		if (!virtq_pending(vq) && !virtq_enable_notify(vq)) {
			vq = NULL; /* out of buffers: wait for the guest's kick */
			break;
		}
		len = n->nb->ops->recv(n->nb, n->buf, NET_FRAME_MAX, &e);
		if (len < 0) {
			fprintf(stderr, "kvmlab: virtio-net: %s (receiving stops)\n", e.msg);
			vq = NULL;
			break;
		}
		if (len == 0)
			break;
		r = virtq_pop(vq, &n->el, &e);
		if (r <= 0) {
			n->st.rx_dropped++;
			if (r < 0)
				virtio_queue_error(n->vd, NET_Q_RX, e.msg);
			vq = NULL;
			break;
		}
		if (n->el.in_len < NET_HDR_LEN + (uint64_t)len) {
			n->st.rx_short_buffer++; /* the guest's buffer cannot hold it: the frame is
						    lost */
		} else {
			virtq_elem_write(&n->el, 0, hdr, NET_HDR_LEN);
			virtq_elem_write(&n->el, NET_HDR_LEN, n->buf, (size_t)len);
			used = NET_HDR_LEN + (uint32_t)len;
			n->st.rx_frames++;
		}
		if (virtq_push(vq, &n->el, used, &e)) {
			virtio_queue_error(n->vd, NET_Q_RX, e.msg);
			vq = NULL;
			break;
		}
		pushed++;
	}
	if (pushed)
		virtio_queue_signal(n->vd, NET_Q_RX);
	if (!vq)
		net_rx_watch(n, false);
}

/* Sends every frame the guest queued: header, then the frame, both device-readable. Lock held. */
static void net_tx(struct virtio_net *n)
{
	struct virtq *vq = virtio_queue(n->vd, NET_Q_TX);
	unsigned pushed = 0;
	struct errbuf e;
	int r = 0;

	if (vq)
		virtq_disable_notify(vq); /* no kicks while we are at it */
	while (vq) {
		r = virtq_pop(vq, &n->el, &e);
		if (r == 0 && virtq_enable_notify(vq))
			continue;
		if (r <= 0)
			break;
		if (n->el.nin || n->el.out_len < NET_HDR_LEN + NET_FRAME_MIN ||
		    n->el.out_len > NET_HDR_LEN + NET_FRAME_MAX) {
			n->st.tx_malformed++; /* dropped: what the guest gets for a frame no wire
						 carries */
		} else {
			size_t len = (size_t)n->el.out_len - NET_HDR_LEN;

			virtq_elem_read(&n->el, NET_HDR_LEN, n->buf, len);
			if (n->nb->ops->send(n->nb, n->buf, len, &e)) {
				fprintf(stderr, "kvmlab: virtio-net: %s\n", e.msg);
				n->st.tx_dropped++;
			} else {
				n->st.tx_frames++;
			}
		}
		if (virtq_push(vq, &n->el, 0, &e)) {
			r = -1;
			break;
		}
		if (++pushed % 64 == 0) /* give the guest its buffers back during long bursts */
			virtio_queue_signal(n->vd, NET_Q_TX);
	}
	if (pushed)
		virtio_queue_signal(n->vd, NET_Q_TX);
	if (r < 0)
		virtio_queue_error(n->vd, NET_Q_TX, e.msg);
}

static void net_queue_notify(void *dev, unsigned qidx)
{
	struct virtio_net *n = dev;

	if (qidx == NET_Q_TX) {
		net_tx(n);
	} else if (!n->rx_watching) {
		net_rx_watch(n, true); /* the guest brought rx buffers */
		net_rx(n);
	}
}

static void net_driver_ok(void *dev, uint64_t features)
{
	(void)features;
	net_rx_watch(dev, true);
}

static void net_reset(void *dev)
{
	net_rx_watch(dev, false);
}

static uint64_t net_features(void *dev)
{
	(void)dev;
	return VIRTIO_BIT(NET_F_MAC) | VIRTIO_BIT(NET_F_STATUS);
}

static void net_config_read(void *dev, uint32_t off, void *buf, uint32_t len)
{
	struct virtio_net *n = dev;
	uint8_t cfg[NET_CONFIG_LEN] = {0};
	uint16_t status = htole16(NET_S_LINK_UP), pairs = htole16(1);

	memcpy(cfg, n->mac, NET_MAC_LEN);
	memcpy(cfg + 6, &status, 2);
	memcpy(cfg + 8, &pairs, 2);
	memcpy(buf, cfg + off, len);
}

static void net_destroy(void *dev)
{
	struct virtio_net *n = dev;

	netback_close(n->nb);
	if (n->watch_fd >= 0)
		close(n->watch_fd);
	free(n);
}

static const struct virtio_device_ops net_ops = {
    .name = "virtio-net",
    .device_id = VIRTIO_ID_NET,
    .num_queues = 2,
    .queue_max_size = VIRTQ_MAX_SIZE,
    .config_size = NET_CONFIG_LEN,
    .features = net_features,
    .config_read = net_config_read,
    .queue_notify = net_queue_notify,
    .driver_ok = net_driver_ok,
    .reset = net_reset,
    .destroy = net_destroy,
};

struct virtio_net *virtio_net_attach(struct machine *m, struct netback *nb,
				     const uint8_t mac[NET_MAC_LEN], struct errbuf *e)
{
	struct virtio_net *n = calloc(1, sizeof(*n));

	if (!n) {
		err_set(e, "out of memory creating virtio-net");
		return NULL;
	}
	n->nb = nb;
	memcpy(n->mac, mac, NET_MAC_LEN);
	n->watch_fd = epoll_create1(EPOLL_CLOEXEC);
	if (n->watch_fd < 0) {
		err_errno(e, "creating virtio-net's epoll set");
		free(n);
		return NULL;
	}
	n->vd = virtio_mmio_attach(m, &net_ops, n, e);
	if (!n->vd) {
		close(n->watch_fd);
		free(n);
		return NULL;
	}
	if (virtio_watch_fd(n->vd, n->watch_fd, net_rx, e)) {
		n->nb = NULL; /* the transport frees n at machine_destroy; nb stays the caller's */
		return NULL;
	}
	return n;
}

void virtio_net_poll(struct virtio_net *n)
{
	virtio_lock(n->vd);
	if (n->rx_watching)
		net_rx(n);
	virtio_unlock(n->vd);
}

void virtio_net_stats(struct virtio_net *n, struct virtio_net_stats *out)
{
	virtio_lock(n->vd);
	*out = n->st;
	virtio_unlock(n->vd);
}

/* One device per --net SPEC, MACs from mac= or derived from the VM's name (else the pid). */
static int net_type_attach(struct machine *m, const struct run_config *rc, struct errbuf *e)
{
	char id[CONFIG_NAME_MAX + 16];

	if (rc->name[0])
		snprintf(id, sizeof(id), "%s", rc->name);
	else
		snprintf(id, sizeof(id), "pid-%ld", (long)getpid());
	for (unsigned i = 0; i < CONFIG_NETS_MAX && rc->net[i][0]; i++) {
		struct net_spec spec;
		struct netback *nb;

		if (net_spec_parse(rc->net[i], &spec, e))
			return -1;
		if (!spec.has_mac)
			net_mac_default(id, i, spec.mac);
		nb = netback_open(&spec, e);
		if (!nb)
			return -1;
		if (!virtio_net_attach(m, nb, spec.mac, e)) {
			netback_close(nb);
			return -1;
		}
	}
	return 0;
}

const struct virtio_device_type virtio_net_type = {
    .name = "virtio-net",
    .attach = net_type_attach,
};
