/* I/O threads: an epoll loop per thread, a stop eventfd, handlers registered per fd. */
#include <errno.h>
#include <pthread.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/eventfd.h>
#include <unistd.h>

#include "kvmlab/iothread.h"
#include "kvmlab/sandbox.h"

#define IOTHREAD_EVENTS 16

struct iothread_watch {
	void (*fn)(void *opaque);
	void *opaque;
	struct iothread_watch *next;
};

struct iothread {
	pthread_t thread;
	int epfd;
	int stop_fd;
	const struct sandbox *sb;
	pthread_mutex_t lock; /* guards watches (the list, not the handlers) */
	struct iothread_watch *watches;
	char name[16];
};

static void *iothread_main(void *arg)
{
	struct iothread *t = arg;
	struct epoll_event ev[IOTHREAD_EVENTS];

	pthread_setname_np(pthread_self(), t->name);
	sandbox_enter_thread(SANDBOX_IO, t->sb);
	for (;;) {
		int n = epoll_wait(t->epfd, ev, IOTHREAD_EVENTS, -1);

		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0) {
			fprintf(stderr, "kvmlab: I/O thread %s: epoll_wait: %s\n", t->name,
				strerror(errno));
			return NULL;
		}
		for (int i = 0; i < n; i++) {
			struct iothread_watch *w = ev[i].data.ptr;

			if (!w) /* the stop eventfd */
				return NULL;
			w->fn(w->opaque);
		}
	}
}

struct iothread *iothread_create(const char *name, const struct sandbox *sb, struct errbuf *e)
{
	struct iothread *t = calloc(1, sizeof(*t));
	struct epoll_event ev = {.events = EPOLLIN, .data.ptr = NULL};
	sigset_t all, old;
	int r;

	if (!t) {
		err_set(e, "out of memory creating I/O thread %s", name);
		return NULL;
	}
	snprintf(t->name, sizeof(t->name), "%s", name);
	t->sb = sb;
	pthread_mutex_init(&t->lock, NULL);
	t->epfd = epoll_create1(EPOLL_CLOEXEC);
	t->stop_fd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
	if (t->epfd < 0 || t->stop_fd < 0 || epoll_ctl(t->epfd, EPOLL_CTL_ADD, t->stop_fd, &ev)) {
		err_errno(e, "cannot set up epoll for I/O thread %s", t->name);
		goto fail;
	}
	/* The thread inherits the mask: vCPU kicks and termination signals go elsewhere. */
	sigfillset(&all);
	pthread_sigmask(SIG_SETMASK, &all, &old);
	r = pthread_create(&t->thread, NULL, iothread_main, t);
	pthread_sigmask(SIG_SETMASK, &old, NULL);
	if (r) {
		errno = r;
		err_errno(e, "cannot start I/O thread %s", t->name);
		goto fail;
	}
	return t;
fail:
	if (t->epfd >= 0)
		close(t->epfd);
	if (t->stop_fd >= 0)
		close(t->stop_fd);
	pthread_mutex_destroy(&t->lock);
	free(t);
	return NULL;
}

int iothread_watch(struct iothread *t, int fd, void (*fn)(void *opaque), void *opaque,
		   struct errbuf *e)
{
	struct iothread_watch *w = malloc(sizeof(*w));
	struct epoll_event ev = {.events = EPOLLIN};

	if (!w)
		return err_set(e, "out of memory watching fd %d on I/O thread %s", fd, t->name);
	*w = (struct iothread_watch){.fn = fn, .opaque = opaque};
	ev.data.ptr = w;
	pthread_mutex_lock(&t->lock);
	w->next = t->watches;
	t->watches = w;
	pthread_mutex_unlock(&t->lock);
	/* Published only after the list holds it, so destroy always frees it. */
	if (epoll_ctl(t->epfd, EPOLL_CTL_ADD, fd, &ev))
		return err_errno(e, "cannot watch fd %d on I/O thread %s", fd, t->name);
	return 0;
}

void iothread_destroy(struct iothread *t)
{
	uint64_t one = 1;

	if (!t)
		return;
	if (write(t->stop_fd, &one, sizeof(one)) != sizeof(one))
		fprintf(stderr, "kvmlab: cannot stop I/O thread %s: %s\n", t->name,
			strerror(errno));
	else
		pthread_join(t->thread, NULL);
	close(t->epfd);
	close(t->stop_fd);
	while (t->watches) {
		struct iothread_watch *w = t->watches;

		t->watches = w->next;
		free(w);
	}
	pthread_mutex_destroy(&t->lock);
	free(t);
}
