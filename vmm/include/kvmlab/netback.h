/* Network backends (TAP, Unix sockets) behind virtio-net, and the frame switch for sockets. */
#ifndef KVMLAB_NETBACK_H
#define KVMLAB_NETBACK_H

#include <stdatomic.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include "err.h"

/*
 * Frames are whole Ethernet frames without preamble or FCS: destination MAC,
 * source MAC, type, payload. kvmlab carries up to NET_FRAME_MAX bytes (64 KiB
 * of payload plus headers, room for a guest that raises its MTU), and refuses
 * anything shorter than an Ethernet header.
 */
#define NET_FRAME_MIN 14
#define NET_FRAME_MAX 65550
#define NET_MAC_LEN   6

/* What `--net SPEC` asks for: "tap=NAME[,mac=..]" or "sock=PATH[,mac=..]". */
enum net_kind {
	NET_TAP,
	NET_SOCK,
};

#define NET_SPEC_MAX 256 /* a spec's length, including the NUL */

struct net_spec {
	enum net_kind kind;
	char where[NET_SPEC_MAX]; /* the TAP interface name or the socket path */
	bool has_mac;
	uint8_t mac[NET_MAC_LEN];
};

/*
 * Parses spec. Refuses an unknown kind or option, an empty or over-long name
 * (IFNAMSIZ for TAP, sun_path for sockets), a MAC that is not six hex pairs
 * separated by ':' and a multicast MAC (the low bit of its first byte).
 */
int net_spec_parse(const char *spec, struct net_spec *out, struct errbuf *e);

/*
 * The MAC of NIC index of a VM whose identity is vm_id (its name, else any
 * string that tells VMs apart): 02:6b:xx:xx:xx:xx, locally administered
 * unicast, with four bytes of an FNV-1a hash of vm_id and index, so the same
 * VM gets the same MAC every run.
 */
void net_mac_default(const char *vm_id, unsigned index, uint8_t mac[NET_MAC_LEN]);

/*
 * A backend: one frame per send or recv. fd is what an I/O thread polls for
 * POLLIN: readable means recv has work (a frame, or for sockets a peer
 * arriving or leaving); it stays the same fd for the backend's whole life.
 * send and recv may be called from different threads; each backend
 * serialises what it must. Counters are atomics any thread may read.
 */
struct netback;

struct netback_ops {
	const char *name;
	/* Sends one frame of len bytes. 0 when sent or dropped as Ethernet would
	 * drop it (no peer, queue full: counted in tx_dropped); -1 with e filled
	 * only for a failure that makes the backend useless. */
	int (*send)(struct netback *nb, const void *frame, size_t len, struct errbuf *e);
	/* Receives one frame into buf (cap >= NET_FRAME_MAX): its length, 0 when
	 * none is waiting (after handling whatever made fd readable), -1 with e
	 * filled when the backend failed for good. Frames too long or too short
	 * are dropped (rx_dropped) and never returned. */
	ssize_t (*recv)(struct netback *nb, void *buf, size_t cap, struct errbuf *e);
	void (*close)(struct netback *nb);
};

struct netback {
	const struct netback_ops *ops;
	int fd;
	_Atomic uint64_t tx_frames, tx_dropped; /* frames handed to send */
	_Atomic uint64_t rx_frames, rx_dropped; /* frames that arrived */
};

/* Opens the backend spec names. */
struct netback *netback_open(const struct net_spec *spec, struct errbuf *e);

/*
 * TAP: attaches to (or creates) interface name through /dev/net/tun with
 * IFF_TAP | IFF_NO_PI. Needs CAP_NET_ADMIN unless the interface was made
 * persistent for this user; the report says so when it is refused.
 */
struct netback *netback_tap_open(const char *name, struct errbuf *e);

/*
 * Unix SOCK_SEQPACKET, one frame per message, no root needed. The rule for
 * path: if something listens there (`kvmlab switch PATH`, or another VM), this
 * backend connects to it; otherwise it listens there itself (replacing a
 * stale socket no one listens on) and takes the first VM that connects as its
 * peer (point-to-point: a further VM is turned away; run a switch for three
 * or more). When a listening backend's peer leaves, it waits for the next;
 * a connected backend whose peer (or switch) left stays unconnected and drops
 * what it sends: reconnecting would create sockets on the I/O thread, which
 * the sandbox forbids. The listener removes path when it closes.
 */
struct netback *netback_sock_open(const char *path, struct errbuf *e);

/* A backend over an already connected SOCK_SEQPACKET socket (tests, fuzzers,
 * socketpair); takes fd. Without a peer the link is gone: frames are dropped. */
struct netback *netback_sock_from_fd(int fd, struct errbuf *e);

static inline void netback_close(struct netback *nb)
{
	if (nb)
		nb->ops->close(nb);
}

/*
 * The virtio-net device (vmm/devices/virtio_net.c; virtio_net_type attaches one
 * per --net SPEC). Offers VIRTIO_NET_F_MAC and VIRTIO_NET_F_STATUS (link always
 * up), no offloads and no mergeable buffers: every rx buffer holds the 12-byte
 * header and one whole frame. Received frames move on the transport's I/O
 * thread; while the guest has no rx buffers the backend is not read at all.
 */
struct machine;
struct virtio_net;

struct virtio_net_stats {
	uint64_t tx_frames, tx_dropped; /* handed to the backend; refused by it for good */
	uint64_t tx_malformed;		/* chains with writable parts, runts, giants */
	uint64_t rx_frames;		/* delivered to the guest */
	uint64_t rx_short_buffer;	/* frames lost: the guest's buffer was too short */
	uint64_t rx_dropped;		/* frames lost: the rx ring was malformed */
};

/* Attaches a virtio-net device with backend nb and mac to m. On success the
 * device owns nb (closed at machine_destroy); on failure nb stays the caller's. */
struct virtio_net *virtio_net_attach(struct machine *m, struct netback *nb,
				     const uint8_t mac[NET_MAC_LEN], struct errbuf *e);

/* Runs the receive side once, as the I/O thread does when the backend is
 * readable: for tests and fuzzers on a machine without a VM (no I/O thread). */
void virtio_net_poll(struct virtio_net *n);

void virtio_net_stats(struct virtio_net *n, struct virtio_net_stats *out);

/*
 * The switch behind `kvmlab switch PATH`: listens on a SOCK_SEQPACKET socket
 * and forwards frames between the VMs connected to it, learning which port
 * each source MAC is behind; broadcast, multicast and unknown destinations
 * are flooded to every other port; a frame for the port it came from is
 * filtered. A port whose socket is full misses the frame (as a congested
 * switch port would). Single-threaded; no global state.
 */
#define NETSWITCH_MAX_PORTS 64
#define NETSWITCH_MAX_MACS  1024
#define NETSWITCH_AGE_S	    300 /* a learnt MAC is forgotten after this long unheard */

struct netswitch;

struct netswitch_stats {
	uint64_t frames;    /* frames received */
	uint64_t forwarded; /* frames sent to one learnt port */
	uint64_t flooded;   /* frames sent to every other port */
	uint64_t filtered;  /* frames for the port they came from */
	uint64_t dropped;   /* copies a full or dead port did not take, malformed frames */
	unsigned ports;	    /* connected now */
	unsigned macs;	    /* learnt now */
};

/* Listens on path (NULL: no listener; tests add ports with netswitch_add_port).
 * Refuses a path where someone listens; replaces a stale socket. */
struct netswitch *netswitch_create(const char *path, struct errbuf *e);

/* Adds a connected SOCK_SEQPACKET socket as a port; takes fd (closed on failure). */
int netswitch_add_port(struct netswitch *sw, int fd, struct errbuf *e);

/* Waits up to timeout_ms (-1: forever) for work, then accepts new ports and forwards
 * every frame waiting. Returns 1 if stop_fd (-1: none) became readable, else 0; -1 on
 * failure. */
int netswitch_poll(struct netswitch *sw, int timeout_ms, int stop_fd, struct errbuf *e);

void netswitch_stats(const struct netswitch *sw, struct netswitch_stats *out);

/* Closes every port, removes the socket it created. */
void netswitch_destroy(struct netswitch *sw);

#endif
