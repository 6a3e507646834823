/* Opening /dev/kvm, checking its API version and capabilities, and reported ioctls. */
#include <errno.h>
#include <fcntl.h>
#include <linux/kvm.h>
#include <sys/ioctl.h>
#include <unistd.h>

#include "kvmlab/faults.h"
#include "kvmlab/kvm.h"

int kvm_open(const char *path, unsigned *api_version, struct errbuf *e)
{
	int fd, version;

	if (!path)
		path = "/dev/kvm";
	fd = open(path, O_RDWR | O_CLOEXEC);
	if (fd < 0) {
		if (errno == ENOENT)
			return err_set(e,
				       "%s does not exist: this host has no KVM (load kvm_intel or "
				       "kvm_amd, or run through harness/kvmbox)",
				       path);
		return err_errno(e, "cannot open %s", path);
	}
	version = ioctl(fd, KVM_GET_API_VERSION, 0);
	if (version < 0) {
		err_errno(e, "KVM_GET_API_VERSION failed on %s", path);
		close(fd);
		return -1;
	}
	if (version != KVM_EXPECTED_API_VERSION) {
		err_set(e, "%s speaks KVM API version %d; kvmlab needs version %d", path, version,
			KVM_EXPECTED_API_VERSION);
		close(fd);
		return -1;
	}
	if (api_version)
		*api_version = (unsigned)version;
	return fd;
}

int kvm_cap(int fd, long cap, struct errbuf *e)
{
	int r = ioctl(fd, KVM_CHECK_EXTENSION, cap);

	if (r < 0)
		return err_errno(e, "KVM_CHECK_EXTENSION(%ld) failed", cap);
	return r;
}

int kvm_require_cap(int fd, long cap, const char *cap_name, struct errbuf *e)
{
	int r = kvm_cap(fd, cap, e);

	if (r < 0)
		return r;
	if (r == 0)
		return err_set(e, "KVM lacks capability %s, which kvmlab needs", cap_name);
	return 0;
}

int kvm_ioctl_named(int fd, unsigned long req, const char *req_name, void *arg, struct errbuf *e,
		    const char *what)
{
	int r;

	do {
		int injected = faults_kvm_ioctl(req_name); /* 0 unless a test plans a fault */

		if (injected) {
			errno = injected;
			r = -1;
		} else {
			r = ioctl(fd, req, arg);
		}
	} while (r < 0 && errno == EINTR);
	if (r < 0)
		return err_errno(e, "%s failed while %s", req_name, what);
	return r;
}
