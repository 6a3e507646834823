/* Building blocks shared by memory policies: aligned anonymous mappings and checked madvise. */
#include <errno.h>
#include <sys/mman.h>

#include "mem_internal.h"

int mem_map_anon(struct mem_backing *b, uint64_t align, int extra_flags, struct errbuf *e)
{
	uint64_t span = b->size + (align > MEM_PAGE_SIZE ? align : 0);
	uint8_t *base, *start;

	base = mmap(NULL, span, PROT_READ | PROT_WRITE,
		    MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE | extra_flags, -1, 0);
	if (base == MAP_FAILED)
		return err_errno(e, "cannot map %llu KiB of guest memory",
				 (unsigned long long)(b->size >> 10));
	/* Over-map by one alignment unit, then trim both ends to an aligned start. */
	start = (uint8_t *)(((uintptr_t)base + align - 1) & ~(uintptr_t)(align - 1));
	if (start > base)
		munmap(base, (size_t)(start - base));
	if (base + span > start + b->size)
		munmap(start + b->size, (size_t)(base + span - (start + b->size)));
	b->host = start;
	return 0;
}

int mem_madvise(struct mem_backing *b, uint64_t off, uint64_t len, int advice, const char *what,
		struct errbuf *e)
{
	if (madvise(b->host + off, len, advice))
		return err_errno(e, "madvise failed while %s (0x%llx bytes at guest 0x%llx)", what,
				 (unsigned long long)len, (unsigned long long)(b->gpa + off));
	return 0;
}

void mem_unmap(struct mem_backing *b)
{
	if (b->host)
		munmap(b->host, b->size);
	b->host = NULL;
}

int mem_anon_alloc(struct mem_policy *p, struct mem_backing *b, struct errbuf *e)
{
	if (mem_map_anon(b, p->page_size, 0, e))
		return -1;
	/* Debian enables THP for all memory; EINVAL means this kernel has no THP at all. */
	if (madvise(b->host, b->size, MADV_NOHUGEPAGE) && errno != EINVAL) {
		err_errno(e, "cannot keep guest memory at 4 KiB pages (MADV_NOHUGEPAGE)");
		mem_unmap(b);
		return -1;
	}
	return 0;
}

int mem_anon_discard(struct mem_policy *p, struct mem_backing *b, uint64_t off, uint64_t len,
		     struct errbuf *e)
{
	(void)p;
	return mem_madvise(b, off, len, MADV_DONTNEED, "giving guest pages back", e);
}

void mem_anon_free(struct mem_policy *p, struct mem_backing *b)
{
	(void)p;
	mem_unmap(b);
}
