/* KVM's binary statistics: finds one counter by name in a VM or vCPU stats file descriptor. */
#include <errno.h>
#include <linux/kvm.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <unistd.h>

#include "kvmlab/kvm.h"
#include "kvmlab/kvm_stats.h"

/* Reads exactly len bytes at off; the stats fd serves pread at any offset. */
static int stats_pread(int fd, void *buf, size_t len, uint64_t off, struct errbuf *e)
{
	ssize_t n = pread(fd, buf, len, (off_t)off);

	if (n != (ssize_t)len)
		return err_set(e, "reading KVM statistics at offset %llu: %s",
			       (unsigned long long)off, n < 0 ? strerror(errno) : "short read");
	return 0;
}

static int stats_find(int sfd, const char *name, uint64_t *value, struct errbuf *e)
{
	struct kvm_stats_header h;
	size_t desc_size;
	uint8_t *descs;
	int r = -1;

	if (stats_pread(sfd, &h, sizeof(h), 0, e))
		return -1;
	/* A descriptor is the fixed part plus a name of name_size bytes. */
	desc_size = sizeof(struct kvm_stats_desc) + h.name_size;
	if (h.num_desc == 0 || h.num_desc > 4096 || h.name_size == 0 || h.name_size > 4096)
		return err_set(e,
			       "KVM statistics header is malformed (%u descriptors, names of %u)",
			       h.num_desc, h.name_size);
	descs = malloc(desc_size * h.num_desc);
	if (!descs)
		return err_set(e, "no memory for KVM statistics descriptors");
	if (stats_pread(sfd, descs, desc_size * h.num_desc, h.desc_offset, e))
		goto out;
	for (uint32_t i = 0; i < h.num_desc; i++) {
		const struct kvm_stats_desc *d = (const void *)(descs + i * desc_size);

		if (strnlen(d->name, h.name_size) == h.name_size || strcmp(d->name, name))
			continue;
		if (d->size != 1) {
			err_set(e, "KVM statistic %s has %u values, not one", name, d->size);
			goto out;
		}
		r = stats_pread(sfd, value, sizeof(*value), (uint64_t)h.data_offset + d->offset, e);
		goto out;
	}
	err_set(e, "KVM has no statistic called %s", name);
out:
	free(descs);
	return r;
}

int kvm_stats_read(int fd, const char *name, uint64_t *value, struct errbuf *e)
{
	int sfd = KVM_IOCTL(fd, KVM_GET_STATS_FD, NULL, e, "opening KVM's statistics");
	int r;

	if (sfd < 0)
		return -1;
	r = stats_find(sfd, name, value, e);
	close(sfd);
	return r;
}
