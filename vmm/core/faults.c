/* The fault-injection plan: parsing KVMLAB_FAULTS rules and deciding which call fails. */
#include <ctype.h>
#include <errno.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <unistd.h>

#include "kvmlab/faults.h"
#include "kvmlab/parse.h"

#define FAULTS_MAX_RULES 16
#define FAULTS_POINT_MAX 40

enum fault_error { FE_EINTR, FE_EAGAIN, FE_ENOMEM, FE_EIO, FE_ENOSPC, FE_SHORT, FE_SKIP };

static const struct {
	const char *name;
	int err;
	bool disk; /* for disk points only (else for ioctls only) */
} fault_errors[] = {
    [FE_EINTR] = {"eintr", EINTR, false},    [FE_EAGAIN] = {"eagain", EAGAIN, false},
    [FE_ENOMEM] = {"enomem", ENOMEM, false}, [FE_EIO] = {"eio", EIO, true},
    [FE_ENOSPC] = {"enospc", ENOSPC, true},  [FE_SHORT] = {"short", 0, true},
    [FE_SKIP] = {"skip", 0, true}, /* a lying disk: success without doing it (power-cut tests) */
};

struct fault_rule {
	char point[FAULTS_POINT_MAX]; /* lower case, without "kvm_" */
	enum fault_error error;
	bool every; /* else nth */
	uint64_t n;
	_Atomic uint64_t calls;
};

struct fault_plan {
	unsigned nrules;
	struct fault_rule rules[FAULTS_MAX_RULES];
};

/* Written once by faults_configure before any VM runs, then only read (see faults.h). */
static struct fault_plan *_Atomic plan;

static const char *const disk_points[] = {"disk_read", "disk_write", "disk_flush"};

static bool is_disk_point(const char *p)
{
	for (unsigned i = 0; i < sizeof(disk_points) / sizeof(disk_points[0]); i++)
		if (!strcmp(p, disk_points[i]))
			return true;
	return false;
}

static int parse_rule(char *text, struct fault_rule *r, struct errbuf *e)
{
	char *point = strtok(text, ":"), *error = strtok(NULL, ":"), *trigger = strtok(NULL, "");
	char what[64];
	unsigned i;

	if (!point || !error || !trigger)
		return err_set(e, "KVMLAB_FAULTS: '%.64s' is not POINT:ERROR:TRIGGER", text);
	if (!strncasecmp(point, "kvm_", 4))
		point += 4;
	if (strlen(point) >= sizeof(r->point) || !point[0])
		return err_set(e, "KVMLAB_FAULTS: bad point '%.64s'", point);
	for (i = 0; point[i]; i++)
		r->point[i] = (char)tolower((unsigned char)point[i]);
	for (i = 0; i < sizeof(fault_errors) / sizeof(fault_errors[0]); i++)
		if (!strcasecmp(error, fault_errors[i].name))
			break;
	if (i == sizeof(fault_errors) / sizeof(fault_errors[0]))
		return err_set(e,
			       "KVMLAB_FAULTS: unknown error '%.32s' (eintr, eagain, enomem, eio, "
			       "enospc, short or skip)",
			       error);
	if (fault_errors[i].disk != is_disk_point(r->point))
		return err_set(e, "KVMLAB_FAULTS: %s is not an error of %s", fault_errors[i].name,
			       r->point);
	r->error = (enum fault_error)i;
	if (!strncmp(trigger, "every=", 6))
		r->every = true;
	else if (strncmp(trigger, "nth=", 4))
		return err_set(e, "KVMLAB_FAULTS: trigger '%.32s' is not every=N or nth=N",
			       trigger);
	snprintf(what, sizeof(what), "KVMLAB_FAULTS: %s", r->every ? "every" : "nth");
	return parse_uint(strchr(trigger, '=') + 1, 1, UINT32_MAX, &r->n, what, e);
}

int faults_configure(const char *spec, struct errbuf *e)
{
	struct fault_plan *p;
	char *text, *save = NULL;

	if (!spec || !spec[0]) { /* no plan (tests reset with this; no VM may be running) */
		free(atomic_exchange(&plan, NULL));
		return 0;
	}
	p = calloc(1, sizeof(*p));
	text = strdup(spec);
	if (!p || !text) {
		free(p);
		free(text);
		return err_set(e, "KVMLAB_FAULTS: out of memory");
	}
	for (char *rule = strtok_r(text, ";", &save); rule; rule = strtok_r(NULL, ";", &save)) {
		if (p->nrules == FAULTS_MAX_RULES) {
			free(p);
			free(text);
			return err_set(e, "KVMLAB_FAULTS: more than %d rules", FAULTS_MAX_RULES);
		}
		if (parse_rule(rule, &p->rules[p->nrules++], e)) {
			free(p);
			free(text);
			return -1;
		}
	}
	free(text);
	free(atomic_exchange(&plan, p));
	return 0;
}

/* The rule for point whose trigger this call hits, or NULL. Counts the call. */
static struct fault_rule *fault_hit(const char *point, bool strip_kvm)
{
	struct fault_plan *p = atomic_load_explicit(&plan, memory_order_acquire);

	if (__builtin_expect(!p, 1))
		return NULL;
	if (strip_kvm && !strncmp(point, "KVM_", 4))
		point += 4;
	for (unsigned i = 0; i < p->nrules; i++) {
		struct fault_rule *r = &p->rules[i];
		uint64_t call;

		if (strcasecmp(r->point, point))
			continue;
		call = atomic_fetch_add(&r->calls, 1) + 1;
		if (r->every ? call % r->n == 0 : call == r->n)
			return r;
	}
	return NULL;
}

bool faults_armed(const char *req_name)
{
	struct fault_plan *p = atomic_load_explicit(&plan, memory_order_acquire);

	if (!p)
		return false;
	if (!strncmp(req_name, "KVM_", 4))
		req_name += 4;
	for (unsigned i = 0; i < p->nrules; i++)
		if (!strcasecmp(p->rules[i].point, req_name))
			return true;
	return false;
}

int faults_kvm_ioctl(const char *req_name)
{
	struct fault_rule *r = fault_hit(req_name, true);

	return r ? fault_errors[r->error].err : 0;
}

/* A disk call that the plan fails: -1 with errno set, or the short variant (first iov, halved). */
static ssize_t disk_call(const char *point, int fd, const struct iovec *iov, int n, off_t off,
			 ssize_t (*call)(int, const struct iovec *, int, off_t))
{
	struct fault_rule *r = fault_hit(point, false);
	struct iovec first;

	if (!r)
		return call(fd, iov, n, off);
	if (r->error == FE_SKIP) {
		ssize_t all = 0;

		for (int i = 0; i < n; i++)
			all += (ssize_t)iov[i].iov_len;
		return all;
	}
	if (r->error != FE_SHORT) {
		errno = fault_errors[r->error].err;
		return -1;
	}
	first = iov[0];
	if (n == 1 && first.iov_len > 1)
		first.iov_len /= 2;
	return call(fd, &first, 1, off);
}

ssize_t faults_preadv(int fd, const struct iovec *iov, int n, off_t off)
{
	return disk_call("disk_read", fd, iov, n, off, preadv);
}

ssize_t faults_pwritev(int fd, const struct iovec *iov, int n, off_t off)
{
	return disk_call("disk_write", fd, iov, n, off, pwritev);
}

int faults_fdatasync(int fd)
{
	struct fault_rule *r = fault_hit("disk_flush", false);

	if (r && r->error == FE_SKIP)
		return 0;
	if (r && r->error != FE_SHORT) {
		errno = fault_errors[r->error].err;
		return -1;
	}
	return fdatasync(fd);
}
