/* Memory policy "memfd": shared memory in a memfd per region, mappable by other processes. */
#include <fcntl.h>
#include <stdio.h>
#include <sys/mman.h>
#include <unistd.h>

#include "mem_internal.h"

static int memfd_alloc(struct mem_policy *p, struct mem_backing *b, struct errbuf *e)
{
	char name[48];
	int fd;

	(void)p;
	snprintf(name, sizeof(name), "kvmlab-guest-0x%llx", (unsigned long long)b->gpa);
	fd = memfd_create(name, MFD_CLOEXEC | MFD_ALLOW_SEALING);
	if (fd < 0)
		return err_errno(e, "memfd: cannot create a memfd for guest memory");
	if (ftruncate(fd, (off_t)b->size)) {
		err_errno(e, "memfd: cannot size the memfd to %llu KiB",
			  (unsigned long long)(b->size >> 10));
		goto fail;
	}
	/* Whoever else maps the fd must not shrink it under the guest (that would SIGBUS us). */
	if (fcntl(fd, F_ADD_SEALS, F_SEAL_SHRINK | F_SEAL_GROW | F_SEAL_SEAL)) {
		err_errno(e, "memfd: cannot seal the memfd's size");
		goto fail;
	}
	b->host = mmap(NULL, b->size, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
	if (b->host == MAP_FAILED) {
		b->host = NULL;
		err_errno(e, "memfd: cannot map %llu KiB of guest memory",
			  (unsigned long long)(b->size >> 10));
		goto fail;
	}
	b->fd = fd;
	b->fd_offset = 0;
	return 0;
fail:
	close(fd);
	return -1;
}

static int memfd_discard(struct mem_policy *p, struct mem_backing *b, uint64_t off, uint64_t len,
			 struct errbuf *e)
{
	(void)p;
	if (fallocate(b->fd, FALLOC_FL_PUNCH_HOLE | FALLOC_FL_KEEP_SIZE,
		      (off_t)(b->fd_offset + off), (off_t)len))
		return err_errno(e, "memfd: cannot punch a hole for 0x%llx bytes at guest 0x%llx",
				 (unsigned long long)len, (unsigned long long)(b->gpa + off));
	return 0;
}

static void memfd_free(struct mem_policy *p, struct mem_backing *b)
{
	(void)p;
	mem_unmap(b);
	if (b->fd >= 0)
		close(b->fd);
	b->fd = -1;
}

const struct mem_policy_ops mem_policy_memfd = {
    .name = "memfd",
    .help = "shared memory in one memfd per region; vm_mem_fd exposes it to other processes",
    .page_size = MEM_PAGE_SIZE,
    .alloc = memfd_alloc,
    .discard = memfd_discard,
    .free = memfd_free,
};
