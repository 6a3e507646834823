/* Reading guest image files whole, refusing oversized ones before reading them. */
#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <sys/stat.h>
#include <unistd.h>

#include "kvmlab/loader.h"

void *loader_read_image(const char *path, size_t limit, size_t *len, struct errbuf *e)
{
	struct stat st;
	size_t done = 0;
	char *buf;
	int fd = open(path, O_RDONLY | O_CLOEXEC);

	if (fd < 0) {
		err_errno(e, "cannot open guest image %s", path);
		return NULL;
	}
	if (fstat(fd, &st) < 0 || !S_ISREG(st.st_mode)) {
		err_set(e, "guest image %s is not a regular file", path);
		goto fail;
	}
	if (st.st_size == 0) {
		err_set(e, "guest image %s is empty", path);
		goto fail;
	}
	if ((uint64_t)st.st_size > limit) {
		err_set(e, "guest image %s (%lld bytes) does not fit in guest RAM (%zu bytes "
			   "available at the load address)",
			path, (long long)st.st_size, limit);
		goto fail;
	}
	buf = malloc((size_t)st.st_size);
	if (!buf) {
		err_set(e, "out of memory reading guest image %s", path);
		goto fail;
	}
	while (done < (size_t)st.st_size) {
		ssize_t n = read(fd, buf + done, (size_t)st.st_size - done);

		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0) {
			err_errno(e, "cannot read guest image %s", path);
			free(buf);
			goto fail;
		}
		done += (size_t)n;
	}
	close(fd);
	*len = done;
	return buf;
fail:
	close(fd);
	return NULL;
}
