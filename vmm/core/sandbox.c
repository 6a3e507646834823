/* Seccomp filters: built from sandbox_lists.c, entered by each thread, and the SIGSYS report. */
#include <errno.h>
#include <fcntl.h>
#include <linux/audit.h>
#include <linux/filter.h>
#include <linux/seccomp.h>
#include <pthread.h>
#include <seccomp.h>
#include <signal.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <ucontext.h>
#include <unistd.h>

#include "sandbox_internal.h"

#define SANDBOX_NAMED_CALLS 512 /* x86-64 numbers below this get their name in reports */
#define SANDBOX_NAME_LEN    24

struct sandbox {
	struct sock_fprog prog[SANDBOX_NKINDS];
	int test_kind; /* KVMLAB_TEST_FORBIDDEN_SYSCALL, or -1 */
};

static const char *const kind_names[SANDBOX_NKINDS] = {
    [SANDBOX_MAIN] = "main",
    [SANDBOX_VCPU] = "vcpu",
    [SANDBOX_IO] = "io",
};

/*
 * System call names for the SIGSYS handler, which may not allocate (libseccomp's
 * resolver does). The signal disposition is process-wide, so this table is too:
 * filled once before the first filter is installed, read-only afterwards.
 */
static char call_names[SANDBOX_NAMED_CALLS][SANDBOX_NAME_LEN];
static pthread_once_t call_names_once = PTHREAD_ONCE_INIT;

/* The calling thread's kind for the report (libseccomp's TRAP carries no data). Initial-exec
 * TLS in the executable, so the handler reads it without calling into the dynamic linker. */
static __thread int thread_kind __attribute__((tls_model("initial-exec"))) = -1;

const char *sandbox_kind_name(enum sandbox_kind kind)
{
	return (unsigned)kind < SANDBOX_NKINDS ? kind_names[kind] : "unknown";
}

static int add_calls(scmp_filter_ctx ctx, const int *calls, unsigned n)
{
	for (unsigned i = 0; i < n; i++) {
		int r = seccomp_rule_add(ctx, SCMP_ACT_ALLOW, calls[i], 0);

		if (r && r != -EEXIST)
			return r;
	}
	return 0;
}

/* The calls every kind allows only with checked arguments, and the kind's ioctl requests. */
static int add_checked(scmp_filter_ctx ctx, const struct sandbox_lists *l)
{
	const struct {
		int nr;
		struct scmp_arg_cmp cmp;
	} checked[] = {
	    /* No thread maps executable memory: injected code gets no place to run. */
	    {SCMP_SYS(mmap), SCMP_A2(SCMP_CMP_MASKED_EQ, PROT_EXEC, 0)},
	    {SCMP_SYS(mprotect), SCMP_A2(SCMP_CMP_MASKED_EQ, PROT_EXEC, 0)},
	    /* Signals only within this process (pthread_kill: vCPU kicks, abort). */
	    {SCMP_SYS(tgkill), SCMP_A0(SCMP_CMP_EQ, (scmp_datum_t)getpid(), 0)},
	    /* fstat through newfstatat (stdio does it): a descriptor, never a path. */
	    {SCMP_SYS(newfstatat), SCMP_A3(SCMP_CMP_MASKED_EQ, AT_EMPTY_PATH, AT_EMPTY_PATH)},
	};
	int r = 0;

	for (unsigned i = 0; (!r || r == -EEXIST) && i < sizeof(checked) / sizeof(checked[0]); i++)
		r = seccomp_rule_add(ctx, SCMP_ACT_ALLOW, checked[i].nr, 1, checked[i].cmp);
	for (unsigned i = 0; (!r || r == -EEXIST) && i < l->nioctls; i++)
		r = seccomp_rule_add(ctx, SCMP_ACT_ALLOW, SCMP_SYS(ioctl), 1,
				     SCMP_A1(SCMP_CMP_EQ, (scmp_datum_t)l->ioctls[i], 0));
	return r == -EEXIST ? 0 : r;
}

/*
 * open and openat fail with EACCES instead of ending the VMM: glibc opens a file behind the
 * caller's back in a few places (malloc reads /proc/sys/vm/overcommit_memory the first time it
 * trims a thread's heap, in whatever thread frees), and a refused open is as safe as a trapped
 * one. Kinds that allow them (a sanitizer build's main list) keep them.
 */
static int add_refused(scmp_filter_ctx ctx, const struct sandbox_lists *l)
{
	static const int refused[] = {SCMP_SYS(open), SCMP_SYS(openat)};

	for (unsigned i = 0; i < sizeof(refused) / sizeof(refused[0]); i++) {
		bool allowed = false;
		int r;

		for (unsigned k = 0; k < l->ncalls; k++)
			allowed |= l->calls[k] == refused[i];
		if (!allowed && (r = seccomp_rule_add(ctx, SCMP_ACT_ERRNO(EACCES), refused[i], 0)))
			return r;
	}
	return 0;
}

/* Reads a whole exported program from a pipe (a pipe: no RLIMIT_FSIZE, which a jail may set to 0).
 */
static int read_prog(int fd, struct sock_fprog *out)
{
	size_t cap = BPF_MAXINSNS * sizeof(struct sock_filter), len = 0;
	char *prog = malloc(cap);
	ssize_t n = 1;

	while (prog && len < cap && (n = read(fd, prog + len, cap - len)) > 0)
		len += (size_t)n;
	if (!prog || n < 0 || len == 0 || len == cap || len % sizeof(struct sock_filter)) {
		free(prog);
		errno = prog && n >= 0 ? E2BIG : errno;
		return -1;
	}
	out->filter = (struct sock_filter *)prog;
	out->len = (unsigned short)(len / sizeof(struct sock_filter));
	return 0;
}

/* The filter of one kind as a BPF program (libseccomp can only write it to a descriptor). */
static int build_kind(enum sandbox_kind kind, struct sock_fprog *out, struct errbuf *e)
{
	scmp_filter_ctx ctx = seccomp_init(SCMP_ACT_TRAP);
	const struct sandbox_lists *l = &sandbox_lists[kind];
	int pipefd[2] = {-1, -1}, r;

	if (!ctx)
		return err_set(e, "seccomp: cannot create the %s filter", kind_names[kind]);
	r = seccomp_attr_set(ctx, SCMP_FLTATR_ACT_BADARCH, SCMP_ACT_TRAP);
	r = r ?: add_calls(ctx, sandbox_base_calls, sandbox_nbase_calls);
	r = r ?: add_calls(ctx, l->calls, l->ncalls);
	r = r ?: add_checked(ctx, l);
	r = r ?: add_refused(ctx, l);
	if (r) {
		errno = -r;
		err_errno(e, "seccomp: cannot build the %s filter", kind_names[kind]);
		goto out;
	}
	/* The largest program (BPF_MAXINSNS) fits in the pipe, so the export never blocks. */
	if (pipe2(pipefd, O_CLOEXEC) ||
	    fcntl(pipefd[1], F_SETPIPE_SZ, BPF_MAXINSNS * sizeof(struct sock_filter)) < 0 ||
	    (r = seccomp_export_bpf(ctx, pipefd[1])) < 0 || close(pipefd[1]) ||
	    (pipefd[1] = -1, read_prog(pipefd[0], out))) {
		if (r < 0)
			errno = -r;
		err_errno(e, "seccomp: cannot export the %s filter", kind_names[kind]);
		r = -1;
	}
out:
	for (int i = 0; i < 2; i++)
		if (pipefd[i] >= 0)
			close(pipefd[i]);
	seccomp_release(ctx);
	return r ? -1 : 0;
}

/* ---- the report ---- */

static void resolve_names(void)
{
	for (int nr = 0; nr < SANDBOX_NAMED_CALLS; nr++) {
		char *name = seccomp_syscall_resolve_num_arch(SCMP_ARCH_NATIVE, nr);

		if (name) {
			strncpy(call_names[nr], name, SANDBOX_NAME_LEN - 1);
			free(name);
		}
	}
}

static size_t append(char *buf, size_t at, size_t cap, const char *s)
{
	while (*s && at < cap)
		buf[at++] = *s++;
	return at;
}

static size_t append_num(char *buf, size_t at, size_t cap, unsigned long v)
{
	char digits[24];
	int n = 0;

	do
		digits[n++] = (char)('0' + v % 10);
	while ((v /= 10) && n < (int)sizeof(digits));
	while (n && at < cap)
		buf[at++] = digits[--n];
	return at;
}

static size_t append_hex(char *buf, size_t at, size_t cap, unsigned long v)
{
	char digits[16];
	int n = 0;

	do
		digits[n++] = "0123456789abcdef"[v & 15];
	while ((v >>= 4) && n < (int)sizeof(digits));
	while (n && at < cap)
		buf[at++] = digits[--n];
	return at;
}

/* Async-signal-safe: formats by hand, one write, then _exit (no atexit, no stdio). */
static void sandbox_sigsys(int sig, siginfo_t *si, void *uctx)
{
	char line[256];
	size_t n = 0, cap = sizeof(line) - 1;
	int nr = si->si_syscall;
	unsigned kind = (unsigned)thread_kind;

	const ucontext_t *uc = uctx;

	(void)sig;
	n = append(line, n, cap, "kvmlab: seccomp: ");
	n = append(line, n, cap, kind < SANDBOX_NKINDS ? kind_names[kind] : "unknown");
	n = append(line, n, cap, " thread made forbidden system call ");
	if (si->si_arch != AUDIT_ARCH_X86_64)
		n = append(line, n, cap, "of a foreign ABI ");
	else if (nr >= 0 && nr < SANDBOX_NAMED_CALLS && call_names[nr][0])
		n = append(line, n, cap, call_names[nr]);
	else
		n = append(line, n, cap, "unknown");
	n = append(line, n, cap, " (");
	n = append_num(line, n, cap, (unsigned long)(unsigned)nr);
	n = append(line, n, cap, ")");
	if (nr == SCMP_SYS(ioctl) && si->si_arch == AUDIT_ARCH_X86_64) {
		/* Which request: the second argument, still in its register. */
		n = append(line, n, cap, " request 0x");
		n = append_hex(line, n, cap, (unsigned long)uc->uc_mcontext.gregs[REG_RSI]);
	}
	n = append(line, n, cap, "\n");
	(void)!write(STDERR_FILENO, line, n);
	_exit(SANDBOX_EXIT_STATUS);
}

/* ---- creating and entering ---- */

static int test_kind_from_env(void)
{
	const char *v = getenv("KVMLAB_TEST_FORBIDDEN_SYSCALL");

	for (int k = 0; v && k < SANDBOX_NKINDS; k++)
		if (!strcmp(v, kind_names[k]))
			return k;
	return -1;
}

struct sandbox *sandbox_create(struct errbuf *e)
{
	struct sandbox *sb = calloc(1, sizeof(*sb));
	struct sigaction sa;

	if (!sb) {
		err_set(e, "seccomp: out of memory");
		return NULL;
	}
	if (prctl(PR_GET_SECCOMP) < 0 ||
	    syscall(SYS_seccomp, SECCOMP_GET_ACTION_AVAIL, 0, &(unsigned){SECCOMP_RET_TRAP})) {
		err_errno(e,
			  "seccomp: this kernel cannot trap system calls (run with --no-seccomp)");
		free(sb);
		return NULL;
	}
	for (int k = 0; k < SANDBOX_NKINDS; k++) {
		if (build_kind(k, &sb->prog[k], e)) {
			sandbox_destroy(sb);
			return NULL;
		}
	}
	pthread_once(&call_names_once, resolve_names);
	memset(&sa, 0, sizeof(sa));
	sa.sa_sigaction = sandbox_sigsys;
	sa.sa_flags = SA_SIGINFO;
	sigemptyset(&sa.sa_mask);
	if (sigaction(SIGSYS, &sa, NULL)) {
		err_errno(e, "seccomp: cannot install the SIGSYS reporter");
		sandbox_destroy(sb);
		return NULL;
	}
	sb->test_kind = test_kind_from_env();
	return sb;
}

static void sandbox_fail(enum sandbox_kind kind, const char *what)
{
	char line[128];
	size_t n = 0, cap = sizeof(line) - 1;

	n = append(line, n, cap, "kvmlab: seccomp: cannot confine a ");
	n = append(line, n, cap, sandbox_kind_name(kind));
	n = append(line, n, cap, " thread: ");
	n = append(line, n, cap, what);
	n = append(line, n, cap, "\n");
	(void)!write(STDERR_FILENO, line, n);
	_exit(SANDBOX_EXIT_STATUS);
}

void sandbox_enter_thread(enum sandbox_kind kind, const struct sandbox *sb)
{
	sigset_t sigsys;

	if (!sb)
		return;
	if ((unsigned)kind >= SANDBOX_NKINDS)
		sandbox_fail(kind, "unknown thread kind");
	/* A blocked SIGSYS would kill silently (the kernel resets it): never block it. */
	sigemptyset(&sigsys);
	sigaddset(&sigsys, SIGSYS);
	if (pthread_sigmask(SIG_UNBLOCK, &sigsys, NULL))
		sandbox_fail(kind, "cannot unblock SIGSYS");
	if (prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0))
		sandbox_fail(kind, "PR_SET_NO_NEW_PRIVS failed");
	thread_kind = (int)kind;
	if (syscall(SYS_seccomp, SECCOMP_SET_MODE_FILTER, 0, &sb->prog[kind]))
		sandbox_fail(kind, "SECCOMP_SET_MODE_FILTER failed");
	if (sb->test_kind == (int)kind)
		socket(AF_INET, SOCK_STREAM, 0); /* test-only: must end the process */
}

void sandbox_destroy(struct sandbox *sb)
{
	if (!sb)
		return;
	for (int k = 0; k < SANDBOX_NKINDS; k++)
		free(sb->prog[k].filter);
	free(sb);
}
