/* Memory policy "uffd": demand paging through userfaultfd, each first touch served by a handler. */
#include <errno.h>
#include <fcntl.h>
#include <linux/userfaultfd.h>
#include <poll.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <sys/ioctl.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "kvmlab/machine.h"
#include "kvmlab/sandbox.h"
#include "mem_internal.h"

struct uffd_range {
	uint8_t *host;
	uint64_t size;
	uint64_t gpa;
	struct uffd_range *next;
};

/* lock guards ranges and ops; the fault thread holds it while it serves a fault, so a
 * range is never unregistered under a handler that is filling one of its pages. */
struct uffd_state {
	int uffd;
	int stop_fd;
	pthread_t thread;
	bool thread_started;
	pthread_mutex_t lock;
	struct uffd_range *ranges;
	struct mem_fault_ops ops;
	uint8_t *page;
	uint64_t page_size;
	struct machine *machine;
};

static int uffd_open(struct errbuf *e)
{
	int fd = (int)syscall(SYS_userfaultfd, O_CLOEXEC | O_NONBLOCK);
	int saved = errno, dev;

	if (fd >= 0)
		return fd;
	/* Without the privilege to catch kernel-mode faults, /dev/userfaultfd may still allow it.
	 */
	dev = open("/dev/userfaultfd", O_RDWR | O_CLOEXEC);
	if (dev >= 0) {
		fd = ioctl(dev, USERFAULTFD_IOC_NEW, O_CLOEXEC | O_NONBLOCK);
		close(dev);
		if (fd >= 0)
			return fd;
	}
	errno = saved;
	return err_errno(e, "uffd: cannot create a userfaultfd (needs root or CAP_SYS_PTRACE, "
			    "vm.unprivileged_userfaultfd=1, or access to /dev/userfaultfd)");
}

/* Stops the VM (or, with no VM, says so on stderr): the fault thread has no caller to tell. */
__attribute__((format(printf, 2, 3))) static void uffd_fail(struct uffd_state *s, const char *fmt,
							    ...)
{
	char msg[ERR_MSG_LEN];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	if (s->machine)
		machine_stop(s->machine, STOP_HOST_ERROR, 0, "%s", msg);
	else
		fprintf(stderr, "kvmlab: %s\n", msg);
}

/* Resolves one fault: the handler fills the page (or asks for zeroes), then the kernel maps it. */
static void uffd_serve(struct uffd_state *s, uint64_t addr, bool write)
{
	struct uffd_range *r;
	struct errbuf e = {.msg = "the handler gave no reason"};
	uint64_t gpa;
	int result = MEM_FAULT_ZERO;
	long rc;

	addr &= ~(s->page_size - 1);
	pthread_mutex_lock(&s->lock);
	for (r = s->ranges; r; r = r->next)
		if (addr >= (uintptr_t)r->host && addr - (uintptr_t)r->host < r->size)
			break;
	if (r) {
		gpa = r->gpa + (addr - (uintptr_t)r->host);
		memset(s->page, 0, s->page_size);
		if (s->ops.fault)
			result = s->ops.fault(s->ops.opaque, gpa, write, s->page, s->page_size, &e);
		if (result < 0) {
			uffd_fail(s, "memory fault handler failed at guest 0x%llx: %s",
				  (unsigned long long)gpa, e.msg);
			memset(s->page, 0, s->page_size);
			result = MEM_FAULT_ZERO;
		}
	}
	if (!r) {
		rc = -1;
		errno = ENOENT;
	} else if (result == MEM_FAULT_ZERO && !write) {
		struct uffdio_zeropage z = {.range = {.start = addr, .len = s->page_size}};

		rc = ioctl(s->uffd, UFFDIO_ZEROPAGE, &z);
	} else {
		struct uffdio_copy c = {
		    .dst = addr, .src = (uintptr_t)s->page, .len = s->page_size};

		rc = ioctl(s->uffd, UFFDIO_COPY, &c);
	}
	if (rc < 0) {
		/* EEXIST: another fault filled it first; ENOENT/EAGAIN: the range changed.
		 * Either way wake the toucher, which retries and faults again if need be. */
		struct uffdio_range w = {.start = addr, .len = s->page_size};

		if (errno != EEXIST && errno != ENOENT && errno != EAGAIN)
			uffd_fail(
			    s, "uffd: cannot map the faulting guest page at 0x%llx: %s",
			    (unsigned long long)(r ? r->gpa + (addr - (uintptr_t)r->host) : 0),
			    strerror(errno));
		ioctl(s->uffd, UFFDIO_WAKE, &w);
	}
	pthread_mutex_unlock(&s->lock);
}

static void *uffd_thread(void *arg)
{
	struct uffd_state *s = arg;
	struct pollfd pfd[2] = {{.fd = s->uffd, .events = POLLIN},
				{.fd = s->stop_fd, .events = POLLIN}};
	struct uffd_msg msg[16];

	sandbox_enter_thread(SANDBOX_IO, s->machine ? s->machine->sandbox : NULL);
	for (;;) {
		ssize_t n;

		if (poll(pfd, 2, -1) < 0) {
			if (errno == EINTR)
				continue;
			uffd_fail(s, "uffd: the fault thread cannot poll its userfaultfd");
			return NULL;
		}
		if (pfd[1].revents)
			return NULL;
		n = read(s->uffd, msg, sizeof(msg));
		if (n < 0) {
			if (errno == EAGAIN || errno == EINTR)
				continue;
			uffd_fail(s, "uffd: the fault thread cannot read its userfaultfd");
			return NULL;
		}
		for (size_t i = 0; i < (size_t)n / sizeof(msg[0]); i++)
			if (msg[i].event == UFFD_EVENT_PAGEFAULT)
				uffd_serve(s, msg[i].arg.pagefault.address,
					   msg[i].arg.pagefault.flags & UFFD_PAGEFAULT_FLAG_WRITE);
	}
}

static void uffd_fini(struct mem_policy *p)
{
	struct uffd_state *s = p->priv;
	uint64_t one = 1;

	if (!s)
		return;
	if (s->thread_started) {
		if (write(s->stop_fd, &one, sizeof(one)) != sizeof(one))
			abort(); /* an eventfd write of 1 cannot fail; a stuck thread would hang us
				  */
		pthread_join(s->thread, NULL);
	}
	if (s->stop_fd >= 0)
		close(s->stop_fd);
	if (s->uffd >= 0)
		close(s->uffd);
	pthread_mutex_destroy(&s->lock);
	free(s->page);
	free(s);
	p->priv = NULL;
}

static int uffd_start_thread(struct uffd_state *s, struct errbuf *e)
{
	sigset_t all, old;
	int r;

	/* The fault thread takes no signals: they belong to vCPU and control threads. */
	sigfillset(&all);
	pthread_sigmask(SIG_SETMASK, &all, &old);
	r = pthread_create(&s->thread, NULL, uffd_thread, s);
	pthread_sigmask(SIG_SETMASK, &old, NULL);
	if (r) {
		errno = r;
		return err_errno(e, "uffd: cannot start the fault thread");
	}
	s->thread_started = true;
	return 0;
}

static int uffd_init(struct mem_policy *p, struct mem_opts *o, struct errbuf *e)
{
	struct uffd_state *s = calloc(1, sizeof(*s));
	struct uffdio_api api = {.api = UFFD_API};

	(void)o;
	if (!s)
		return err_set(e, "uffd: out of memory");
	s->uffd = s->stop_fd = -1;
	s->page_size = p->page_size;
	s->machine = p->machine;
	pthread_mutex_init(&s->lock, NULL);
	p->priv = s;
	s->page = aligned_alloc(s->page_size, s->page_size);
	if (!s->page) {
		err_set(e, "uffd: out of memory");
		goto fail;
	}
	s->uffd = uffd_open(e);
	if (s->uffd < 0)
		goto fail;
	if (ioctl(s->uffd, UFFDIO_API, &api)) {
		err_errno(e, "uffd: UFFDIO_API failed");
		goto fail;
	}
	s->stop_fd = eventfd(0, EFD_CLOEXEC);
	if (s->stop_fd < 0) {
		err_errno(e, "uffd: cannot create the fault thread's stop eventfd");
		goto fail;
	}
	if (uffd_start_thread(s, e) == 0)
		return 0;
fail:
	uffd_fini(p);
	return -1;
}

static int uffd_prepare(struct mem_policy *p, struct mem_backing *b, struct errbuf *e)
{
	struct uffd_state *s = p->priv;
	struct uffdio_register reg = {
	    .range = {.start = (uintptr_t)b->host, .len = b->size},
	    .mode = UFFDIO_REGISTER_MODE_MISSING,
	};
	const uint64_t need = (1ull << _UFFDIO_COPY) | (1ull << _UFFDIO_ZEROPAGE);
	struct uffd_range *r = malloc(sizeof(*r));

	if (!r)
		return err_set(e, "uffd: out of memory");
	if (ioctl(s->uffd, UFFDIO_REGISTER, &reg)) {
		free(r);
		return err_errno(e, "uffd: cannot register guest memory at 0x%llx for faults",
				 (unsigned long long)b->gpa);
	}
	if ((reg.ioctls & need) != need) {
		ioctl(s->uffd, UFFDIO_UNREGISTER, &reg.range);
		free(r);
		return err_set(e, "uffd: the kernel cannot fill pages of this mapping");
	}
	*r = (struct uffd_range){.host = b->host, .size = b->size, .gpa = b->gpa};
	pthread_mutex_lock(&s->lock);
	r->next = s->ranges;
	s->ranges = r;
	pthread_mutex_unlock(&s->lock);
	b->priv = r;
	return 0;
}

static void uffd_free(struct mem_policy *p, struct mem_backing *b)
{
	struct uffd_state *s = p->priv;
	struct uffd_range **pp, *r = b->priv;

	if (r) {
		struct uffdio_range range = {.start = (uintptr_t)b->host, .len = b->size};

		pthread_mutex_lock(&s->lock);
		for (pp = &s->ranges; *pp; pp = &(*pp)->next) {
			if (*pp == r) {
				*pp = r->next;
				break;
			}
		}
		/* Unregistering wakes any toucher still waiting on this range. */
		ioctl(s->uffd, UFFDIO_UNREGISTER, &range);
		pthread_mutex_unlock(&s->lock);
		free(r);
		b->priv = NULL;
	}
	mem_unmap(b);
}

static int uffd_set_fault_handler(struct mem_policy *p, const struct mem_fault_ops *ops,
				  struct errbuf *e)
{
	struct uffd_state *s = p->priv;

	(void)e;
	pthread_mutex_lock(&s->lock);
	s->ops = ops ? *ops : (struct mem_fault_ops){0};
	pthread_mutex_unlock(&s->lock);
	return 0;
}

/* A discarded page is missing again: its next touch comes back to the handler. */
const struct mem_policy_ops mem_policy_uffd = {
    .name = "uffd",
    .help = "anon memory filled on first touch by a replaceable fault handler (userfaultfd; "
	    "default: zeroes)",
    .page_size = MEM_PAGE_SIZE,
    .init = uffd_init,
    .fini = uffd_fini,
    .alloc = mem_anon_alloc,
    .prepare = uffd_prepare,
    .discard = mem_anon_discard,
    .free = uffd_free,
    .set_fault_handler = uffd_set_fault_handler,
};
