/* The control server: a per-VM thread polling a Unix socket and its clients, with bounded buffers.
 */
#include <errno.h>
#include <poll.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include "kvmlab/control.h"
#include "kvmlab/sandbox.h"
#include "kvmlab/vm.h"

#define IN_CAP	 (CONTROL_MAX_REQUEST + 1) /* one whole request line and its newline */
#define OUT_HIGH (256u * 1024)		   /* stop reading a client whose replies pile up */

struct control_client {
	int fd; /* -1 when the slot is free */
	char *in;
	size_t in_len;
	bool discarding; /* the current line overflowed: drop it up to its newline */
	bool eof;	 /* the client will send nothing more: close once replies are out */
	char *out;
	size_t out_off, out_len, out_cap;
};

struct control_server {
	struct control_ctx ctx;
	int listen_fd;
	int wake_fd;
	pthread_t thread;
	bool thread_started;
	char path[sizeof(((struct sockaddr_un *)0)->sun_path)];
	dev_t dev;
	ino_t ino;
	struct control_client clients[CONTROL_MAX_CLIENTS];
};

static void client_close(struct control_client *c)
{
	close(c->fd);
	free(c->in);
	free(c->out);
	*c = (struct control_client){.fd = -1};
}

/* Sends what it can without blocking; false when the client is gone. */
static bool client_flush(struct control_client *c)
{
	while (c->out_off < c->out_len) {
		ssize_t n = send(c->fd, c->out + c->out_off, c->out_len - c->out_off,
				 MSG_NOSIGNAL | MSG_DONTWAIT);

		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0)
			return errno == EAGAIN || errno == EWOULDBLOCK;
		c->out_off += (size_t)n;
	}
	c->out_off = c->out_len = 0;
	if (c->out_cap > OUT_HIGH) { /* give back what a burst of replies took */
		free(c->out);
		c->out = NULL;
		c->out_cap = 0;
	}
	return true;
}

static void client_queue(struct control_client *c, const char *data, size_t len)
{
	if (c->out_len + len > c->out_cap) {
		size_t cap = c->out_cap ? c->out_cap : 4096;
		char *p;

		while (cap < c->out_len + len)
			cap *= 2;
		p = realloc(c->out, cap);
		if (!p) /* the reply is lost; the client sees a missing line rather than a crash */
			return;
		c->out = p;
		c->out_cap = cap;
	}
	memcpy(c->out + c->out_len, data, len);
	c->out_len += len;
}

static void client_request(struct control_server *s, struct control_client *c, const char *line,
			   size_t len)
{
	size_t reply_len;
	size_t i = 0;
	char *reply;

	while (i < len && (line[i] == ' ' || line[i] == '\t' || line[i] == '\r'))
		i++;
	if (i == len)
		return; /* blank lines are not requests */
	reply = control_execute(&s->ctx, line, len, &reply_len);
	if (reply)
		client_queue(c, reply, reply_len);
	free(reply);
}

static void client_too_long(struct control_client *c)
{
	char line[96];
	int n = snprintf(line, sizeof(line),
			 "{\"ok\":false,\"error\":\"request longer than %u bytes\"}\n",
			 CONTROL_MAX_REQUEST);

	client_queue(c, line, (size_t)n);
}

/* Answers the buffered requests, as long as the client keeps reading the replies. */
static void client_process(struct control_server *s, struct control_client *c)
{
	size_t off = 0;

	while (c->out_len - c->out_off < OUT_HIGH && off < c->in_len) {
		char *start = c->in + off, *nl = memchr(start, '\n', c->in_len - off);
		size_t len = nl ? (size_t)(nl - start) : c->in_len - off;

		if (!nl && len == IN_CAP) { /* no newline within the limit */
			if (!c->discarding)
				client_too_long(c);
			c->discarding = true;
		} else if (!nl && !c->eof) {
			break; /* the rest of this line is still to come */
		} else {
			/* A line, or the client's last words without a newline. */
			if (!c->discarding)
				client_request(s, c, start, len);
			c->discarding = false;
		}
		off += nl ? len + 1 : len;
	}
	memmove(c->in, c->in + off, c->in_len - off);
	c->in_len -= off;
}

/* Reads what the client sent; false when the connection broke. */
static bool client_read(struct control_server *s, struct control_client *c)
{
	ssize_t n = recv(c->fd, c->in + c->in_len, IN_CAP - c->in_len, MSG_DONTWAIT);

	if (n < 0)
		return errno == EINTR || errno == EAGAIN || errno == EWOULDBLOCK;
	if (n == 0)
		c->eof = true;
	c->in_len += (size_t)n;
	client_process(s, c);
	return true;
}

static void server_accept(struct control_server *s)
{
	int fd = accept4(s->listen_fd, NULL, NULL, SOCK_NONBLOCK | SOCK_CLOEXEC);
	static const char busy[] = "{\"ok\":false,\"error\":\"too many clients\"}\n";

	if (fd < 0)
		return;
	for (unsigned i = 0; i < CONTROL_MAX_CLIENTS; i++) {
		struct control_client *c = &s->clients[i];

		if (c->fd >= 0)
			continue;
		c->in = malloc(IN_CAP);
		if (!c->in)
			break;
		c->fd = fd;
		return;
	}
	(void)!send(fd, busy, sizeof(busy) - 1, MSG_NOSIGNAL | MSG_DONTWAIT);
	close(fd);
}

static void *server_thread(void *arg)
{
	struct control_server *s = arg;
	struct pollfd pfd[CONTROL_MAX_CLIENTS + 2];
	int slot[CONTROL_MAX_CLIENTS + 2];

	sandbox_enter_thread(SANDBOX_MAIN, s->ctx.vm->m.sandbox);

	for (;;) {
		nfds_t n = 2;

		pfd[0] = (struct pollfd){.fd = s->wake_fd, .events = POLLIN};
		pfd[1] = (struct pollfd){.fd = s->listen_fd, .events = POLLIN};
		for (int i = 0; i < CONTROL_MAX_CLIENTS; i++) {
			struct control_client *c = &s->clients[i];
			short ev = 0;

			if (c->fd < 0)
				continue;
			if (c->out_len > c->out_off)
				ev |= POLLOUT;
			if (!c->eof && c->out_len - c->out_off < OUT_HIGH && c->in_len < IN_CAP)
				ev |= POLLIN;
			if (c->eof && c->in_len == 0 && c->out_len == c->out_off) {
				client_close(c); /* everything answered and sent */
				continue;
			}
			slot[n] = i;
			pfd[n++] = (struct pollfd){.fd = c->fd, .events = ev};
		}
		if (poll(pfd, n, -1) < 0 && errno != EINTR)
			break;
		if (pfd[0].revents)
			break;
		if (pfd[1].revents & POLLIN)
			server_accept(s);
		for (nfds_t k = 2; k < n; k++) {
			struct control_client *c = &s->clients[slot[k]];

			if ((pfd[k].revents & POLLIN) && !client_read(s, c)) {
				client_close(c);
				continue;
			}
			if (pfd[k].revents & (POLLERR | POLLNVAL) ||
			    ((pfd[k].revents & POLLHUP) && !(pfd[k].revents & POLLIN))) {
				client_close(c);
				continue;
			}
			if (!client_flush(c)) {
				client_close(c);
				continue;
			}
			if (c->in_len)
				client_process(s, c); /* lines held back while replies piled up */
			if (!client_flush(c))
				client_close(c);
		}
	}
	for (int i = 0; i < CONTROL_MAX_CLIENTS; i++)
		if (s->clients[i].fd >= 0)
			client_flush(&s->clients[i]); /* e.g. the reply to "stop" */
	return NULL;
}

static bool server_live(const struct sockaddr_un *addr)
{
	int probe = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
	bool live = probe >= 0 && connect(probe, (const struct sockaddr *)addr, sizeof(*addr)) == 0;

	if (probe >= 0)
		close(probe);
	return live;
}

/* Binds, restricts and listens on a socket at addr; reports name path, its final name. */
static int server_listen(struct control_server *s, const struct sockaddr_un *addr, const char *path,
			 struct errbuf *e)
{
	if (bind(s->listen_fd, (const struct sockaddr *)addr, sizeof(*addr)))
		return err_errno(e, "cannot create the api socket %s", path);
	if (chmod(addr->sun_path, 0600) || listen(s->listen_fd, 64)) {
		err_errno(e, "cannot set up the api socket %s", path);
		unlink(addr->sun_path);
		return -1;
	}
	return 0;
}

/*
 * Creates the socket at path, replacing a socket file no one listens on any
 * more. It is made under a temporary name and renamed into place once it
 * listens, so a client that sees the file can connect at once.
 */
static int server_bind(struct control_server *s, const char *path, struct errbuf *e)
{
	struct sockaddr_un addr = {.sun_family = AF_UNIX}, tmp = {.sun_family = AF_UNIX};
	const char *slash = strrchr(path, '/');
	int dirlen = slash ? (int)(slash - path) + 1 : 0;
	struct stat st;
	int n;

	if (strlen(path) >= sizeof(addr.sun_path))
		return err_set(e, "api socket %s: longer than %zu bytes", path,
			       sizeof(addr.sun_path) - 1);
	strcpy(addr.sun_path, path);
	if (lstat(path, &st) == 0 && !S_ISSOCK(st.st_mode))
		return err_set(e, "api socket %s: exists and is not a socket", path);
	if (server_live(&addr))
		return err_set(e, "api socket %s: another VM is listening there", path);
	n = snprintf(tmp.sun_path, sizeof(tmp.sun_path), "%.*s.kvmlab-%d.tmp", dirlen, path,
		     (int)getpid());
	if (n < 0 || (size_t)n >= sizeof(tmp.sun_path)) {
		/* No room for a temporary name: bind in place (after the stale file). */
		unlink(path);
		if (server_listen(s, &addr, path, e))
			return -1;
	} else {
		unlink(tmp.sun_path);
		if (server_listen(s, &tmp, path, e))
			return -1;
		if (rename(tmp.sun_path, path)) { /* replaces a stale socket atomically */
			err_errno(e, "cannot create the api socket %s", path);
			unlink(tmp.sun_path);
			return -1;
		}
	}
	if (lstat(path, &st))
		return err_errno(e, "cannot set up the api socket %s", path);
	s->dev = st.st_dev;
	s->ino = st.st_ino;
	snprintf(s->path, sizeof(s->path), "%s", path);
	return 0;
}

struct control_server *control_server_create(struct vm *vm, const char *path, bool stats_enabled,
					     struct errbuf *e)
{
	struct control_server *s = calloc(1, sizeof(*s));

	if (!s) {
		err_set(e, "out of memory creating the control server");
		return NULL;
	}
	s->ctx = (struct control_ctx){.vm = vm, .stats_enabled = stats_enabled};
	clock_gettime(CLOCK_MONOTONIC, &s->ctx.started);
	s->wake_fd = -1;
	for (unsigned i = 0; i < CONTROL_MAX_CLIENTS; i++)
		s->clients[i].fd = -1;
	s->listen_fd = socket(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	if (s->listen_fd < 0) {
		err_errno(e, "cannot create the api socket");
		goto fail;
	}
	if (server_bind(s, path, e))
		goto fail;
	s->wake_fd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
	if (s->wake_fd < 0) {
		err_errno(e, "cannot create the control server's eventfd");
		goto fail;
	}
	return s;
fail:
	control_server_destroy(s);
	return NULL;
}

int control_server_start(struct control_server *s, struct errbuf *e)
{
	int r;

	clock_gettime(CLOCK_MONOTONIC, &s->ctx.started);
	r = pthread_create(&s->thread, NULL, server_thread, s);
	if (r) {
		errno = r;
		return err_errno(e, "cannot start the control server thread");
	}
	s->thread_started = true;
	return 0;
}

void control_server_destroy(struct control_server *s)
{
	struct stat st;

	if (!s)
		return;
	if (s->thread_started) {
		uint64_t one = 1;

		(void)!write(s->wake_fd, &one, sizeof(one));
		pthread_join(s->thread, NULL);
	}
	for (unsigned i = 0; i < CONTROL_MAX_CLIENTS; i++)
		if (s->clients[i].fd >= 0)
			client_close(&s->clients[i]);
	/* Remove the socket only if it is still ours, not a successor's. */
	if (s->path[0] && lstat(s->path, &st) == 0 && st.st_dev == s->dev && st.st_ino == s->ino)
		unlink(s->path);
	if (s->listen_fd >= 0)
		close(s->listen_fd);
	if (s->wake_fd >= 0)
		close(s->wake_fd);
	free(s);
}
