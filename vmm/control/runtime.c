/* Where VM sockets live (the runtime directory) and the client side of one control call. */
#include <errno.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>

#include "kvmlab/control.h"

#define REPLY_MAX (4u << 20) /* larger than any reply kvmlab sends */

static int runtime_dir_path(char *buf, size_t size, struct errbuf *e)
{
	const char *own = getenv("KVMLAB_RUNTIME_DIR"), *xdg = getenv("XDG_RUNTIME_DIR");
	int n;

	if (own && own[0])
		n = snprintf(buf, size, "%s", own);
	else if (xdg && xdg[0])
		n = snprintf(buf, size, "%s/kvmlab", xdg);
	else if (geteuid() == 0)
		n = snprintf(buf, size, "/run/kvmlab");
	else
		n = snprintf(buf, size, "/tmp/kvmlab-%u", (unsigned)geteuid());
	if (n < 0 || (size_t)n >= size)
		return err_set(e, "runtime directory path is too long");
	return 0;
}

int control_runtime_dir(char *buf, size_t size, bool create, struct errbuf *e)
{
	struct stat st;

	if (runtime_dir_path(buf, size, e))
		return -1;
	if (!create)
		return 0;
	if (mkdir(buf, 0700) && errno != EEXIST)
		return err_errno(e, "cannot create the runtime directory %s", buf);
	if (lstat(buf, &st))
		return err_errno(e, "cannot use the runtime directory %s", buf);
	/* Another user's directory could hold sockets that impersonate our VMs. */
	if (!S_ISDIR(st.st_mode) || st.st_uid != geteuid() || (st.st_mode & 0022))
		return err_set(e,
			       "runtime directory %s is not a directory owned by this user and "
			       "writable only by it",
			       buf);
	return 0;
}

int control_default_socket(const char *name, char *buf, size_t size, struct errbuf *e)
{
	char dir[sizeof(((struct sockaddr_un *)0)->sun_path)];
	int n;

	if (control_runtime_dir(dir, sizeof(dir), true, e))
		return -1;
	n = snprintf(buf, size, "%s/%s.sock", dir, name);
	if (n < 0 || (size_t)n >= size || (size_t)n >= sizeof(dir))
		return err_set(e, "the api socket path %s/%s.sock is too long for a Unix socket",
			       dir, name);
	return 0;
}

static int wait_fd(int fd, short events, double timeout_s)
{
	struct pollfd p = {.fd = fd, .events = events};
	int r;

	do
		r = poll(&p, 1, (int)(timeout_s * 1000));
	while (r < 0 && errno == EINTR);
	if (r == 0)
		errno = ETIMEDOUT;
	return r > 0 ? 0 : -1;
}

static int call_send(int fd, const char *data, size_t len, double timeout_s)
{
	while (len) {
		ssize_t n = send(fd, data, len, MSG_NOSIGNAL | MSG_DONTWAIT);

		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0 && errno == EAGAIN) {
			if (wait_fd(fd, POLLOUT, timeout_s))
				return -1;
			continue;
		}
		if (n < 0)
			return -1;
		data += n;
		len -= (size_t)n;
	}
	return 0;
}

/* Reads up to the first newline into a malloc'd string. */
static char *call_recv(int fd, double timeout_s, const char *path, struct errbuf *e)
{
	size_t len = 0, cap = 4096;
	char *buf = malloc(cap), *p;

	while (buf) {
		ssize_t n;

		if (wait_fd(fd, POLLIN, timeout_s)) {
			err_errno(e, "no reply from %s", path);
			break;
		}
		n = recv(fd, buf + len, cap - len - 1, MSG_DONTWAIT);
		if (n < 0 && (errno == EINTR || errno == EAGAIN))
			continue;
		if (n <= 0) {
			n ? err_errno(e, "reading the reply from %s", path)
			  : err_set(e, "%s closed the connection without a reply", path);
			break;
		}
		len += (size_t)n;
		buf[len] = '\0';
		if ((p = memchr(buf, '\n', len))) {
			*p = '\0';
			return buf;
		}
		if (len + 1 == cap) {
			if (cap >= REPLY_MAX) {
				err_set(e, "the reply from %s is longer than %u bytes", path,
					REPLY_MAX);
				break;
			}
			p = realloc(buf, cap * 2);
			if (!p)
				break;
			buf = p;
			cap *= 2;
		}
	}
	if (!buf)
		err_set(e, "out of memory reading a reply");
	free(buf);
	return NULL;
}

char *control_call(const char *path, const char *request, double timeout_s, int *err_no,
		   struct errbuf *e)
{
	struct sockaddr_un addr = {.sun_family = AF_UNIX};
	size_t len = strlen(request);
	char *reply = NULL;
	int fd;

	*err_no = 0;
	if (strlen(path) >= sizeof(addr.sun_path)) {
		err_set(e, "%s: longer than a Unix socket path may be", path);
		return NULL;
	}
	strcpy(addr.sun_path, path);
	fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (fd < 0) {
		err_errno(e, "cannot create a socket");
		return NULL;
	}
	if (connect(fd, (struct sockaddr *)&addr, sizeof(addr))) {
		*err_no = errno;
		err_errno(e, "cannot connect to %s", path);
	} else if (call_send(fd, request, len, timeout_s) ||
		   (len && request[len - 1] != '\n' && call_send(fd, "\n", 1, timeout_s))) {
		*err_no = errno;
		err_errno(e, "cannot send the request to %s", path);
	} else {
		reply = call_recv(fd, timeout_s, path, e);
	}
	close(fd);
	return reply;
}
