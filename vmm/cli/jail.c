/* `--jail DIR`: new namespaces, a read-only tmpfs root with the VM's files bound in, no privileges.
 */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <linux/capability.h>
#include <sched.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mount.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include "cli.h"
#include "jail.h"
#include "kvmlab/control.h"

#define JAIL_MAX_BINDS 32
#define JAIL_OLD_ROOT  "/.old-root"

enum bind_kind {
	BIND_RO,     /* a file the VMM only reads */
	BIND_RW,     /* a writable disk */
	BIND_DEVICE, /* a device node: read-write, not nodev */
	BIND_DIR,    /* a directory the VMM makes sockets in */
};

struct jail_bind {
	char path[CONFIG_PATH_MAX]; /* absolute, the same inside and outside */
	enum bind_kind kind;
};

struct jail_plan {
	struct jail_bind binds[JAIL_MAX_BINDS];
	unsigned nbinds;
	bool keep_net; /* a tap is configured */
	bool may_grow_files;
};

static int plan_add(struct jail_plan *p, const char *path, enum bind_kind kind, struct errbuf *e)
{
	if (p->nbinds == JAIL_MAX_BINDS)
		return err_set(e, "--jail: more than %d files to bind", JAIL_MAX_BINDS);
	if (!realpath(path, p->binds[p->nbinds].path))
		return err_errno(e, "--jail: cannot resolve %s", path);
	p->binds[p->nbinds++].kind = kind;
	return 0;
}

/* Adds a file the run names, and rewrites the run's path to the absolute one. */
static int plan_file(struct jail_plan *p, char *field, size_t cap, enum bind_kind kind,
		     struct errbuf *e)
{
	if (!field[0])
		return 0;
	if (plan_add(p, field, kind, e))
		return -1;
	if (strlen(p->binds[p->nbinds - 1].path) >= cap)
		return err_set(e, "--jail: the absolute path of %s is too long", field);
	strcpy(field, p->binds[p->nbinds - 1].path);
	return 0;
}

/* "FILE[,ro]" (virtio_blk.c's format): the file becomes absolute, the option stays. */
static int plan_disk(struct jail_plan *p, char *spec, size_t cap, struct errbuf *e)
{
	char path[CONFIG_PATH_MAX], out[CONFIG_PATH_MAX + 4];
	const char *comma = strrchr(spec, ',');
	bool ro = comma && !strcmp(comma + 1, "ro");
	size_t len = ro ? (size_t)(comma - spec) : strlen(spec);

	if (len >= sizeof(path))
		return err_set(e, "--jail: disk path too long");
	memcpy(path, spec, len);
	path[len] = '\0';
	if (plan_add(p, path, ro ? BIND_RO : BIND_RW, e))
		return -1;
	p->may_grow_files |= !ro;
	if ((size_t)snprintf(out, sizeof(out), "%s%s", p->binds[p->nbinds - 1].path,
			     ro ? ",ro" : "") >= cap)
		return err_set(e, "--jail: the absolute path of disk %s is too long", path);
	strcpy(spec, out);
	return 0;
}

/* "tap=NAME[,...]" needs /dev/net/tun and the host's network; "sock=PATH[,...]" its directory. */
static int plan_net(struct jail_plan *p, const char *spec, struct errbuf *e)
{
	char path[CONFIG_PATH_MAX];
	char *slash;

	if (!strncmp(spec, "tap=", 4)) {
		p->keep_net = true;
		return plan_add(p, "/dev/net/tun", BIND_DEVICE, e);
	}
	if (strncmp(spec, "sock=", 5))
		return 0; /* the device reports the bad spec */
	snprintf(path, sizeof(path), "%.*s", (int)strcspn(spec + 5, ","), spec + 5);
	slash = strrchr(path, '/');
	if (slash == path)
		slash[1] = '\0';
	else if (slash)
		*slash = '\0';
	else
		strcpy(path, ".");
	return plan_add(p, path, BIND_DIR, e);
}

/* The control socket: the default one (from --name) is fixed now, its directory bound. */
static int plan_socket(struct jail_plan *p, struct run_config *rc, struct errbuf *e)
{
	char dir[CONFIG_SOCK_MAX], base[CONFIG_SOCK_MAX], *slash;

	if (!rc->api_sock[0] && rc->name[0] &&
	    control_default_socket(rc->name, rc->api_sock, sizeof(rc->api_sock), e))
		return -1;
	if (!rc->api_sock[0])
		return 0;
	snprintf(dir, sizeof(dir), "%s", rc->api_sock);
	slash = strrchr(dir, '/');
	snprintf(base, sizeof(base), "%s", slash ? slash + 1 : dir);
	if (slash)
		slash[slash == dir] = '\0'; /* "/x.sock" keeps "/" */
	if (plan_add(p, slash ? dir : ".", BIND_DIR, e))
		return -1;
	if ((size_t)snprintf(rc->api_sock, sizeof(rc->api_sock), "%s/%s",
			     p->binds[p->nbinds - 1].path, base) >= sizeof(rc->api_sock))
		return err_set(e, "--jail: the api socket's absolute path is too long");
	return 0;
}

static bool is_regular(int fd)
{
	struct stat st;

	return fstat(fd, &st) == 0 && S_ISREG(st.st_mode);
}

static int plan_build(struct jail_plan *p, struct run_config *rc, struct errbuf *e)
{
	memset(p, 0, sizeof(*p));
	if (plan_file(p, rc->guest, sizeof(rc->guest), BIND_RO, e) ||
	    plan_file(p, rc->kernel, sizeof(rc->kernel), BIND_RO, e) ||
	    plan_file(p, rc->initrd, sizeof(rc->initrd), BIND_RO, e) ||
	    plan_file(p, rc->kvm_device, sizeof(rc->kvm_device), BIND_DEVICE, e) ||
	    plan_add(p, "/dev/urandom", BIND_DEVICE, e) || plan_socket(p, rc, e))
		return -1;
	for (unsigned i = 0; i < CONFIG_DISKS_MAX && rc->disks[i][0]; i++)
		if (plan_disk(p, rc->disks[i], sizeof(rc->disks[i]), e))
			return -1;
	for (unsigned i = 0; i < CONFIG_NETS_MAX && rc->net[i][0]; i++)
		if (plan_net(p, rc->net[i], e))
			return -1;
	p->may_grow_files |= is_regular(STDOUT_FILENO) || is_regular(STDERR_FILENO);
	p->may_grow_files |= rc->mem_policy[0] != '\0'; /* memfd and hugetlb files */
	return 0;
}

/* ---- inside: building the root ---- */

static int mkdirs(char *path, struct errbuf *e)
{
	for (char *s = strchr(path + 1, '/'); s; s = strchr(s + 1, '/')) {
		*s = '\0';
		if (mkdir(path, 0755) && errno != EEXIST)
			return err_errno(e, "--jail: cannot create %s", path);
		*s = '/';
	}
	return 0;
}

static int bind_one(const char *root, const struct jail_bind *b, struct errbuf *e)
{
	char target[2 * CONFIG_PATH_MAX];
	unsigned long flags = MS_BIND | MS_REMOUNT | MS_NOSUID | MS_NOEXEC;
	int fd;

	snprintf(target, sizeof(target), "%s%s", root, b->path);
	if (mkdirs(target, e))
		return -1;
	if (b->kind == BIND_DIR) {
		if (mkdir(target, 0755) && errno != EEXIST)
			return err_errno(e, "--jail: cannot create %s", target);
	} else if ((fd = open(target, O_WRONLY | O_CREAT | O_CLOEXEC, 0644)) < 0) {
		return err_errno(e, "--jail: cannot create %s", target);
	} else {
		close(fd);
	}
	if (mount(b->path, target, NULL, MS_BIND, NULL))
		return err_errno(e, "--jail: cannot bind %s", b->path);
	if (b->kind != BIND_DEVICE)
		flags |= MS_NODEV;
	if (b->kind == BIND_RO)
		flags |= MS_RDONLY;
	if (mount(NULL, target, NULL, flags, NULL))
		return err_errno(e, "--jail: cannot restrict %s", b->path);
	return 0;
}

static int jail_root(const char *root, const struct jail_plan *p, struct errbuf *e)
{
	char old[CONFIG_PATH_MAX + sizeof(JAIL_OLD_ROOT)];

	/* Nothing mounted here may reach the host's mount namespace, and back. */
	if (mount(NULL, "/", NULL, MS_REC | MS_PRIVATE, NULL))
		return err_errno(e, "--jail: cannot make the mounts private");
	if (mount("kvmlab-jail", root, "tmpfs", MS_NOSUID | MS_NODEV | MS_NOEXEC,
		  "size=1m,mode=0755"))
		return err_errno(e, "--jail: cannot mount a tmpfs on %s", root);
	for (unsigned i = 0; i < p->nbinds; i++)
		if (bind_one(root, &p->binds[i], e))
			return -1;
#ifdef __SANITIZE_ADDRESS__
	/* LeakSanitizer reads /proc/self at exit; this proc shows only the jail's PIDs. */
	snprintf(old, sizeof(old), "%s/proc", root);
	if (mkdir(old, 0555) ||
	    mount("proc", old, "proc", MS_NOSUID | MS_NODEV | MS_NOEXEC | MS_RDONLY, NULL))
		return err_errno(e, "--jail: cannot mount /proc");
#endif
	snprintf(old, sizeof(old), "%s%s", root, JAIL_OLD_ROOT);
	if (mkdir(old, 0700))
		return err_errno(e, "--jail: cannot create %s", old);
	if (syscall(SYS_pivot_root, root, old) || chdir("/"))
		return err_errno(e, "--jail: cannot pivot into %s", root);
	if (umount2(JAIL_OLD_ROOT, MNT_DETACH) || rmdir(JAIL_OLD_ROOT))
		return err_errno(e, "--jail: cannot detach the host's root");
	if (mount(NULL, "/", NULL, MS_REMOUNT | MS_RDONLY | MS_NOSUID | MS_NODEV | MS_NOEXEC, NULL))
		return err_errno(e, "--jail: cannot make the root read-only");
	return 0;
}

static int set_limit(int res, rlim_t v, const char *name, struct errbuf *e)
{
	struct rlimit cur, l = {v, v};

	if (getrlimit(res, &cur) == 0 && cur.rlim_max != RLIM_INFINITY && cur.rlim_max < v)
		l.rlim_cur = l.rlim_max = cur.rlim_max; /* never more than we had */
	if (setrlimit(res, &l))
		return err_errno(e, "--jail: cannot set %s", name);
	return 0;
}

static int jail_limits(const struct run_config *rc, const struct jail_plan *p, struct errbuf *e)
{
	/* Descriptors: KVM, VM, a vCPU and stats fd each, eventfds of virtio queues, disks,
	 * control clients; threads: vCPUs plus tick, control, signals, console, I/O, uffd and
	 * a sanitizer's leak checker. */
	if (set_limit(RLIMIT_CORE, 0, "RLIMIT_CORE", e) ||
	    set_limit(RLIMIT_NOFILE, 256 + 4 * (rlim_t)rc->cpus, "RLIMIT_NOFILE", e) ||
	    set_limit(RLIMIT_NPROC, 32 + (rlim_t)rc->cpus, "RLIMIT_NPROC", e))
		return -1;
	if (!p->may_grow_files && set_limit(RLIMIT_FSIZE, 0, "RLIMIT_FSIZE", e))
		return -1;
	return 0;
}

static int jail_drop_privileges(struct errbuf *e)
{
	struct __user_cap_header_struct hdr = {.version = _LINUX_CAPABILITY_VERSION_3};
	struct __user_cap_data_struct none[_LINUX_CAPABILITY_U32S_3] = {{0}};

	for (int cap = 0; prctl(PR_CAPBSET_READ, cap, 0, 0, 0) >= 0; cap++)
		if (prctl(PR_CAPBSET_DROP, cap, 0, 0, 0))
			return err_errno(e, "--jail: cannot drop capability %d", cap);
	if (prctl(PR_CAP_AMBIENT, PR_CAP_AMBIENT_CLEAR_ALL, 0, 0, 0) ||
	    syscall(SYS_capset, &hdr, none))
		return err_errno(e, "--jail: cannot drop the capabilities");
	if (prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0))
		return err_errno(e, "--jail: cannot set no_new_privs");
	return 0;
}

static int write_file(const char *path, const char *text, struct errbuf *e)
{
	int fd = open(path, O_WRONLY | O_CLOEXEC);
	ssize_t n = fd < 0 ? -1 : write(fd, text, strlen(text));

	if (fd >= 0)
		close(fd);
	if (n != (ssize_t)strlen(text))
		return err_errno(e, "--jail: cannot write %s", path);
	return 0;
}

/* Maps the caller to root in a new user namespace, so it may mount there. */
static int jail_map_user(uid_t uid, gid_t gid, struct errbuf *e)
{
	char map[64];

	snprintf(map, sizeof(map), "0 %u 1\n", (unsigned)uid);
	if (write_file("/proc/self/uid_map", map, e) ||
	    write_file("/proc/self/setgroups", "deny", e))
		return -1;
	snprintf(map, sizeof(map), "0 %u 1\n", (unsigned)gid);
	return write_file("/proc/self/gid_map", map, e);
}

/* ---- outside: the waiting parent ---- */

static volatile sig_atomic_t jailed_pid;

static void jail_forward(int sig)
{
	if (jailed_pid > 0)
		kill(jailed_pid, sig);
}

static __attribute__((noreturn)) void jail_wait(pid_t child)
{
	static const int forwarded[] = {SIGINT, SIGTERM, SIGHUP};
	struct sigaction sa;
	int status;

	memset(&sa, 0, sizeof(sa));
	sa.sa_handler = jail_forward;
	sigemptyset(&sa.sa_mask);
	jailed_pid = child;
	for (unsigned i = 0; i < sizeof(forwarded) / sizeof(forwarded[0]); i++)
		sigaction(forwarded[i], &sa, NULL);
	while (waitpid(child, &status, 0) < 0)
		if (errno != EINTR)
			_exit(CLI_HOST_ERROR);
	fflush(NULL);
	_exit(WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status));
}

void jail_test_open(void)
{
	const char *path = getenv("KVMLAB_TEST_OPEN");
	int fd;

	if (!path)
		return;
	fd = open(path, O_RDONLY | O_CLOEXEC);
	fprintf(stderr, "kvmlab: jail test: open %s: %s\n", path,
		fd >= 0 ? "opened" : strerror(errno));
	if (fd >= 0)
		close(fd);
}

int jail_enter(struct run_config *rc, struct errbuf *e)
{
	struct jail_plan *p = malloc(sizeof(*p));
	char root[CONFIG_PATH_MAX];
	uid_t uid = geteuid();
	gid_t gid = getegid();
	struct stat st;
	int flags = CLONE_NEWNS | CLONE_NEWPID;
	pid_t child;

	if (!p)
		return err_set(e, "--jail: out of memory");
	if (!realpath(rc->jail, root) || stat(root, &st) || !S_ISDIR(st.st_mode)) {
		err_errno(e, "--jail: %s is not a directory", rc->jail);
		goto fail;
	}
	if (!strcmp(root, "/")) {
		err_set(e, "--jail: the host's root cannot be a jail");
		goto fail;
	}
	if (plan_build(p, rc, e))
		goto fail;
	if (!p->keep_net)
		flags |= CLONE_NEWNET;
	if (uid != 0)
		flags |= CLONE_NEWUSER;
	if (unshare(flags)) {
		err_errno(e, "--jail: cannot create the namespaces%s",
			  uid ? " (unprivileged user namespaces may be off)" : "");
		goto fail;
	}
	if (uid != 0 && jail_map_user(uid, gid, e))
		goto fail;
	fflush(NULL);
	child = fork(); /* the PID namespace is for children: the jailed run is PID 1 */
	if (child < 0) {
		err_errno(e, "--jail: cannot start the jailed process");
		goto fail;
	}
	if (child > 0)
		jail_wait(child);
	prctl(PR_SET_PDEATHSIG, SIGKILL, 0, 0, 0); /* the jail ends with whoever waits for it */
	if (jail_root(root, p, e) || jail_limits(rc, p, e) || jail_drop_privileges(e))
		goto fail;
	free(p);
	return 0;
fail:
	free(p);
	return -1;
}
