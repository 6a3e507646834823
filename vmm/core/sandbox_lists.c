/* The seccomp allow-list of each thread kind: the policy that sandbox.c compiles and installs. */
#include <linux/kvm.h>
#include <linux/userfaultfd.h>
#include <seccomp.h>
#include <sys/ioctl.h>

#include "sandbox_internal.h"

const int sandbox_base_calls[] = {
    SCMP_SYS(read),	      SCMP_SYS(write),		 SCMP_SYS(readv),
    SCMP_SYS(writev),	      SCMP_SYS(close),		 SCMP_SYS(lseek),
    SCMP_SYS(fstat),	      SCMP_SYS(futex),		 SCMP_SYS(munmap),
    SCMP_SYS(mremap),	      SCMP_SYS(madvise),	 SCMP_SYS(brk),
    SCMP_SYS(clock_gettime),  SCMP_SYS(clock_nanosleep), SCMP_SYS(nanosleep),
    SCMP_SYS(gettimeofday),   SCMP_SYS(sched_yield),	 SCMP_SYS(getpid),
    SCMP_SYS(gettid),	      SCMP_SYS(getrandom),	 SCMP_SYS(rt_sigreturn),
    SCMP_SYS(rt_sigprocmask), SCMP_SYS(sigaltstack),	 SCMP_SYS(restart_syscall),
    SCMP_SYS(exit),	      SCMP_SYS(exit_group),
};
const unsigned sandbox_nbase_calls = sizeof(sandbox_base_calls) / sizeof(sandbox_base_calls[0]);

/* vCPU threads open, poll and wait on nothing: KVM_RUN, the vCPU ioctls exit handlers use, and
 * what device callbacks do on MMIO/PIO exits (interrupt lines, virtio queue set-up). */
static const int vcpu_calls[] = {
    SCMP_SYS(eventfd2),	 /* a virtio queue made ready: its ioeventfd and irqfd, */
    SCMP_SYS(epoll_ctl), /* watched by the transport's I/O thread */
};
static const unsigned long vcpu_ioctls[] = {
    KVM_RUN,	      KVM_GET_REGS,	   KVM_SET_REGS,	KVM_GET_SREGS,
    KVM_SET_SREGS,    KVM_GET_VCPU_EVENTS, KVM_SET_VCPU_EVENTS, KVM_GET_XSAVE,
    KVM_GET_XSAVE2,   KVM_SET_XSAVE,	   KVM_GET_XCRS,	KVM_SET_XCRS,
    KVM_GET_MP_STATE, KVM_SET_MP_STATE,	   KVM_IRQ_LINE,	KVM_IRQ_LINE_STATUS,
    KVM_SIGNAL_MSI,   KVM_IOEVENTFD,	   KVM_IRQFD,		KVM_RESET_DIRTY_RINGS,
};

/* Device I/O on descriptors opened at set-up: files, sockets, eventfds, a userfaultfd. */
static const int io_calls[] = {
    SCMP_SYS(pread64),	   SCMP_SYS(pwrite64),	SCMP_SYS(preadv),
    SCMP_SYS(pwritev),	   SCMP_SYS(preadv2),	SCMP_SYS(pwritev2),
    SCMP_SYS(fsync),	   SCMP_SYS(fdatasync), SCMP_SYS(fallocate),
    SCMP_SYS(poll),	   SCMP_SYS(ppoll),	SCMP_SYS(epoll_wait),
    SCMP_SYS(epoll_pwait), SCMP_SYS(epoll_ctl), SCMP_SYS(recvfrom),
    SCMP_SYS(sendto),	   SCMP_SYS(recvmsg),	SCMP_SYS(sendmsg),
    SCMP_SYS(eventfd2),	   SCMP_SYS(accept4), /* virtio-net sock=PATH: the listening VM takes its
						 peer */
};
static const unsigned long io_ioctls[] = {
    KVM_IRQ_LINE, KVM_IRQ_LINE_STATUS, KVM_SIGNAL_MSI, KVM_IRQFD,
    UFFDIO_COPY,  UFFDIO_ZEROPAGE,     UFFDIO_WAKE,
};

/* Waiting, signals, the control socket's clients, runtime commands and teardown. */
static const int main_calls[] = {
    SCMP_SYS(poll),
    SCMP_SYS(ppoll),
    SCMP_SYS(accept4),
    SCMP_SYS(recvfrom),
    SCMP_SYS(sendto),
    SCMP_SYS(recvmsg),
    SCMP_SYS(sendmsg),
    SCMP_SYS(shutdown),
    SCMP_SYS(rt_sigtimedwait),
    SCMP_SYS(rt_sigaction),
    SCMP_SYS(unlink),	  /* the control socket's file at teardown, */
    SCMP_SYS(newfstatat), /* once lstat says it is still ours */
    SCMP_SYS(memfd_create),
    SCMP_SYS(ftruncate),
    SCMP_SYS(fallocate), /* mem-add, memfd */
    SCMP_SYS(eventfd2),
    SCMP_SYS(fsync),
    SCMP_SYS(fdatasync), /* flush disks at exit */
    SCMP_SYS(sched_getaffinity),
    SCMP_SYS(sched_setaffinity), /* sched-set */
    SCMP_SYS(pread64),		 /* KVM's binary statistics */
#ifdef __SANITIZE_ADDRESS__
    /* LeakSanitizer's check at exit: a tracer thread that reads /proc and ptraces us. */
    SCMP_SYS(clone),
    SCMP_SYS(ptrace),
    SCMP_SYS(wait4),
    SCMP_SYS(prctl),
    SCMP_SYS(open),
    SCMP_SYS(openat),
    SCMP_SYS(getdents),
    SCMP_SYS(getdents64),
    SCMP_SYS(getppid),
    SCMP_SYS(kill),
    SCMP_SYS(readlink),
    SCMP_SYS(sched_getparam),
#endif
};
static const unsigned long main_ioctls[] = {
    TCGETS,
    TCSETS,
    TCSETSW,
    TCSETSF,	      /* the terminal put back */
    KVM_GET_STATS_FD, /* KVM's statistics, read with pread */
    KVM_SET_USER_MEMORY_REGION,
    KVM_GET_DIRTY_LOG,
    KVM_CLEAR_DIRTY_LOG,
    KVM_RESET_DIRTY_RINGS,
    KVM_IRQ_LINE,
    KVM_IRQ_LINE_STATUS,
    KVM_SIGNAL_MSI,
    KVM_IOEVENTFD,
    KVM_IRQFD,
    UFFDIO_REGISTER,
    UFFDIO_UNREGISTER,
    UFFDIO_WAKE,
};

#define LIST(a) (a), sizeof(a) / sizeof((a)[0])
const struct sandbox_lists sandbox_lists[SANDBOX_NKINDS] = {
    [SANDBOX_MAIN] = {LIST(main_calls), LIST(main_ioctls)},
    [SANDBOX_VCPU] = {LIST(vcpu_calls), LIST(vcpu_ioctls)},
    [SANDBOX_IO] = {LIST(io_calls), LIST(io_ioctls)},
};
