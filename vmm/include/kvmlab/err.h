/* Error reports: a caller-owned buffer that failing calls fill with one clear line. */
#ifndef KVMLAB_ERR_H
#define KVMLAB_ERR_H

#include <stddef.h>

#define ERR_MSG_LEN 256

/*
 * Every fallible kvmlab call takes a struct errbuf. On failure it returns a
 * negative value and leaves one line in msg saying what was being attempted
 * and why it failed; on success msg is left untouched. No global errno-like
 * state, so calls on different VMs never race on their reports.
 */
struct errbuf {
	char msg[ERR_MSG_LEN];
};

/* Formats msg and returns -1, so callers can write `return err_set(e, ...)`. */
int err_set(struct errbuf *e, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

/* Like err_set, appending ": strerror(errno)" for the errno at the call. */
int err_errno(struct errbuf *e, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

#endif
