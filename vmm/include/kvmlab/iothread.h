/* I/O threads: one epoll loop per thread that calls a handler when one of its fds is readable. */
#ifndef KVMLAB_IOTHREAD_H
#define KVMLAB_IOTHREAD_H

#include "err.h"

/*
 * Device work that must not run on vCPU threads (virtio queue processing)
 * runs here. Watches are level-triggered: fn is called again while fd stays
 * readable, so it drains its fd (an eventfd read) or does its work until the
 * fd blocks. Handlers of one thread run one at a time, in that thread; all
 * signals are blocked in it. No global state: each thread is a value.
 */
struct iothread;

struct sandbox;

/* Starts a thread named name (cut to 15 characters) with no watches; it confines
 * itself to sb's SANDBOX_IO allow-list first (sandbox.h; NULL: not sandboxed). */
struct iothread *iothread_create(const char *name, const struct sandbox *sb, struct errbuf *e);

/* Calls fn(opaque) on the thread whenever fd is readable. May be called while the
 * thread runs; fd must stay open until iothread_destroy. */
int iothread_watch(struct iothread *t, int fd, void (*fn)(void *opaque), void *opaque,
		   struct errbuf *e);

/* Stops the thread (after the handler running now returns), joins it, and frees it. */
void iothread_destroy(struct iothread *t);

#endif
