/* Unix-socket network backend: one frame per SOCK_SEQPACKET message, point-to-point or to a switch.
 */
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include "kvmlab/netback.h"

#define SOCK_SEND_WAIT 20	 /* ms a full peer gets before the frame is dropped */
#define SOCK_BUF       (1 << 20) /* socket buffers: a few hundred full-size frames */

enum sock_tag { TAG_LISTEN = 1, TAG_CONN };

/*
 * nb.fd is an epoll set holding whichever of the listening socket and the
 * connection exist, so the I/O thread polls one fd that never changes. lock
 * serialises send (tx queue) against recv (rx side). After set-up the backend
 * only accepts, reads, writes and closes: no socket is created or bound on
 * the I/O thread, whose seccomp filter (sandbox.h) allows none of that.
 */
struct sock {
	struct netback nb;
	pthread_mutex_t lock;
	char path[sizeof(((struct sockaddr_un *)0)->sun_path)];
	int listen_fd, conn_fd;
	dev_t dev; /* the socket file this backend bound, to remove only its own */
	ino_t ino;
};

static int sock_watch(struct sock *s, int fd, enum sock_tag tag, struct errbuf *e)
{
	struct epoll_event ev = {.events = EPOLLIN, .data.u32 = tag};

	if (epoll_ctl(s->nb.fd, EPOLL_CTL_ADD, fd, &ev))
		return err_errno(e, "watching network socket %s", s->path);
	return 0;
}

static void sock_set_bufs(int fd)
{
	int size = SOCK_BUF;

	/* Best effort: the kernel caps these at net.core.[rw]mem_max. */
	setsockopt(fd, SOL_SOCKET, SO_SNDBUF, &size, sizeof(size));
	setsockopt(fd, SOL_SOCKET, SO_RCVBUF, &size, sizeof(size));
}

/* fd is connected and non-blocking. */
static int sock_connected(struct sock *s, int fd, struct errbuf *e)
{
	if (sock_watch(s, fd, TAG_CONN, e)) {
		close(fd);
		return -1;
	}
	s->conn_fd = fd;
	return 0;
}

static int sock_listen(struct sock *s, int fd, const struct sockaddr_un *sa, struct errbuf *e)
{
	struct stat st;

	if (listen(fd, 4) || stat(sa->sun_path, &st) || fcntl(fd, F_SETFL, O_NONBLOCK)) {
		err_errno(e, "listening on network socket %s", s->path);
		unlink(sa->sun_path);
		close(fd);
		return -1;
	}
	s->dev = st.st_dev;
	s->ino = st.st_ino;
	if (sock_watch(s, fd, TAG_LISTEN, e)) {
		unlink(sa->sun_path);
		close(fd);
		return -1;
	}
	s->listen_fd = fd;
	return 0;
}

/* The rule: connect to whoever listens on path, else listen there. Lock held. */
static int sock_apply_rule(struct sock *s, struct errbuf *e)
{
	struct sockaddr_un sa = {.sun_family = AF_UNIX};
	struct stat st;

	memcpy(sa.sun_path, s->path, strlen(s->path));
	for (int attempt = 0; attempt < 4; attempt++) {
		int fd = socket(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0);

		if (fd < 0)
			return err_errno(e, "creating a socket for %s", s->path);
		if (!connect(fd, (struct sockaddr *)&sa, sizeof(sa))) {
			if (fcntl(fd, F_SETFL, O_NONBLOCK)) {
				close(fd);
				return err_errno(e, "making network socket %s non-blocking",
						 s->path);
			}
			sock_set_bufs(fd);
			return sock_connected(s, fd, e);
		}
		if (errno != ENOENT && errno != ECONNREFUSED) {
			close(fd);
			return err_errno(e, "connecting to network socket %s", s->path);
		}
		/* Nobody listens. A socket file left by a VM that died is stale: replace it. */
		if (errno == ECONNREFUSED) {
			if (lstat(s->path, &st) || !S_ISSOCK(st.st_mode)) {
				close(fd);
				return err_set(e,
					       "network socket %s: the path exists and is not a "
					       "socket",
					       s->path);
			}
			unlink(s->path);
		}
		if (!bind(fd, (struct sockaddr *)&sa, sizeof(sa)))
			return sock_listen(s, fd, &sa, e);
		close(fd);
		if (errno != EADDRINUSE) /* else another VM bound it first: connect to it */
			return err_errno(e, "binding network socket %s", s->path);
	}
	return err_set(e, "network socket %s: gave up after repeated connect/bind races", s->path);
}

/* The peer left: a listener waits for the next; a connector stays without one. Lock held. */
static void sock_peer_gone(struct sock *s)
{
	epoll_ctl(s->nb.fd, EPOLL_CTL_DEL, s->conn_fd, NULL);
	close(s->conn_fd);
	s->conn_fd = -1;
}

static int sock_send(struct netback *nb, const void *frame, size_t len, struct errbuf *e)
{
	struct sock *s = (struct sock *)nb;
	bool sent = false;

	(void)e;
	pthread_mutex_lock(&s->lock);
	for (int tries = 0; s->conn_fd >= 0 && tries < 2; tries++) {
		struct pollfd p = {.fd = s->conn_fd, .events = POLLOUT};

		if (send(s->conn_fd, frame, len, MSG_DONTWAIT | MSG_NOSIGNAL) == (ssize_t)len) {
			sent = true;
			break;
		}
		if (errno != EAGAIN && errno != EINTR)
			break; /* EPIPE, ECONNRESET: recv notices the hang-up */
		poll(&p, 1, SOCK_SEND_WAIT);
	}
	pthread_mutex_unlock(&s->lock);
	atomic_fetch_add(sent ? &nb->tx_frames : &nb->tx_dropped, 1);
	return 0;
}

/* Accepts the first peer and turns away the rest. Lock held. */
static void sock_accept(struct sock *s)
{
	struct errbuf ignored;
	int fd;

	while ((fd = accept4(s->listen_fd, NULL, NULL, SOCK_CLOEXEC | SOCK_NONBLOCK)) >= 0) {
		if (s->conn_fd >= 0)
			close(fd); /* point-to-point: the newcomer sees its peer leave */
		else
			sock_connected(s, fd, &ignored);
	}
}

static ssize_t sock_recv(struct netback *nb, void *buf, size_t cap, struct errbuf *e)
{
	struct sock *s = (struct sock *)nb;
	ssize_t n = 0;

	(void)e;
	pthread_mutex_lock(&s->lock);
	if (s->listen_fd >= 0)
		sock_accept(s);
	while (s->conn_fd >= 0) {
		n = recv(s->conn_fd, buf, cap, MSG_DONTWAIT | MSG_TRUNC);
		if (n >= NET_FRAME_MIN && (size_t)n <= cap && n <= NET_FRAME_MAX) {
			atomic_fetch_add(&nb->rx_frames, 1);
			break;
		}
		if (n > 0) {
			atomic_fetch_add(&nb->rx_dropped, 1);
			continue;
		}
		if (n < 0 && (errno == EAGAIN || errno == EINTR)) {
			n = 0;
			break;
		}
		sock_peer_gone(s); /* 0: the peer closed (frames are never empty); or an error */
		n = 0;
	}
	pthread_mutex_unlock(&s->lock);
	return n;
}

static void sock_close(struct netback *nb)
{
	struct sock *s = (struct sock *)nb;
	struct stat st;

	if (s->listen_fd >= 0) {
		if (!stat(s->path, &st) && st.st_dev == s->dev && st.st_ino == s->ino)
			unlink(s->path);
		close(s->listen_fd);
	}
	if (s->conn_fd >= 0)
		close(s->conn_fd);
	close(nb->fd);
	pthread_mutex_destroy(&s->lock);
	free(s);
}

static const struct netback_ops sock_ops = {
    .name = "sock",
    .send = sock_send,
    .recv = sock_recv,
    .close = sock_close,
};

static struct sock *sock_new(const char *path, struct errbuf *e)
{
	struct sock *s = calloc(1, sizeof(*s));

	if (!s) {
		err_set(e, "out of memory opening network socket %s", path);
		return NULL;
	}
	s->nb.ops = &sock_ops;
	s->listen_fd = s->conn_fd = -1;
	snprintf(s->path, sizeof(s->path), "%s", path);
	pthread_mutex_init(&s->lock, NULL);
	s->nb.fd = epoll_create1(EPOLL_CLOEXEC);
	if (s->nb.fd < 0) {
		err_errno(e, "creating an epoll set for network socket %s", path);
		pthread_mutex_destroy(&s->lock);
		free(s);
		return NULL;
	}
	return s;
}

struct netback *netback_sock_open(const char *path, struct errbuf *e)
{
	struct sock *s;

	if (!path[0] || strlen(path) >= sizeof(s->path)) {
		err_set(e, "network socket path '%.64s' is empty or longer than %zu characters",
			path, sizeof(s->path) - 1);
		return NULL;
	}
	s = sock_new(path, e);
	if (!s)
		return NULL;
	pthread_mutex_lock(&s->lock);
	if (sock_apply_rule(s, e)) {
		pthread_mutex_unlock(&s->lock);
		sock_close(&s->nb);
		return NULL;
	}
	pthread_mutex_unlock(&s->lock);
	return &s->nb;
}

struct netback *netback_sock_from_fd(int fd, struct errbuf *e)
{
	struct sock *s = sock_new("(socket)", e);

	if (!s) {
		close(fd);
		return NULL;
	}
	if (fcntl(fd, F_SETFL, O_NONBLOCK) < 0) {
		err_errno(e, "making a network socket non-blocking");
		close(fd);
		sock_close(&s->nb);
		return NULL;
	}
	if (sock_connected(s, fd, e)) {
		sock_close(&s->nb);
		return NULL;
	}
	return &s->nb;
}
