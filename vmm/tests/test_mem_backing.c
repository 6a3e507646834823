/* Unit tests of policy backings on plain host memory: alignment, discard, memfd sharing, prefault.
 */
#include <stdint.h>
#include <sys/mman.h>
#include <unistd.h>

#include "kvmlab/mem.h"
#include "unit.h"

static void open_policy(struct mem_policy *p, const char *spec)
{
	struct errbuf e;

	if (mem_policy_open(p, spec, &e)) {
		fprintf(stderr, "%s: %s\n", spec, e.msg);
		exit(1);
	}
}

/* Pages of [host, host + len) that are resident. */
static unsigned resident_pages(const void *host, size_t len)
{
	unsigned char vec[256];
	unsigned n = 0;

	CHECK(len / 4096 <= sizeof(vec));
	CHECK(mincore((void *)host, len, vec) == 0);
	for (size_t i = 0; i < len / 4096; i++)
		n += vec[i] & 1;
	return n;
}

TEST(mem_backing_alloc_refuses_sizes_off_the_page)
{
	struct mem_policy p;
	struct mem_backing b;
	struct errbuf e;

	open_policy(&p, "anon");
	CHECK(mem_backing_alloc(&p, &b, 0x1000, 5000, &e) == -1);
	CHECK_CONTAINS(e.msg, "anon memory: 0x1388 bytes is not a non-zero multiple of its 4 KiB");
	CHECK(b.host == NULL);
	CHECK(mem_backing_alloc(&p, &b, 0x1000, 0, &e) == -1);
	mem_policy_close(&p);
}

TEST(mem_anon_discard_gives_pages_back_as_zeroes)
{
	struct mem_policy p;
	struct mem_backing b;
	struct errbuf e;

	open_policy(&p, "anon");
	CHECK(mem_backing_alloc(&p, &b, 0x40000000, 16 * 4096, &e) == 0);
	CHECK_EQ((uintptr_t)b.host % 4096, 0);
	CHECK_EQ(b.fd, -1);
	memset(b.host, 0xab, b.size);
	CHECK_EQ(resident_pages(b.host, b.size), 16);
	CHECK(mem_backing_discard(&p, &b, 4 * 4096, 2 * 4096, &e) == 0);
	CHECK_EQ(resident_pages(b.host, b.size), 14);
	CHECK_EQ(b.host[4 * 4096], 0);
	CHECK_EQ(b.host[6 * 4096 - 1], 0);
	CHECK_EQ(b.host[4 * 4096 - 1], 0xab);
	CHECK_EQ(b.host[6 * 4096], 0xab);
	/* Only whole pages, only inside the region. */
	CHECK(mem_backing_discard(&p, &b, 100, 4096, &e) == -1);
	CHECK_CONTAINS(e.msg, "given back in whole 4 KiB pages");
	CHECK(mem_backing_discard(&p, &b, 15 * 4096, 2 * 4096, &e) == -1);
	CHECK_CONTAINS(e.msg, "outside the 0x10000-byte region");
	CHECK(mem_backing_discard(&p, &b, 0, 0, &e) == -1);
	mem_backing_free(&p, &b);
	mem_policy_close(&p);
}

TEST(mem_prefault_populates_what_anon_leaves_lazy)
{
	struct mem_policy lazy, eager;
	struct mem_backing a, b;
	struct errbuf e;

	open_policy(&lazy, "anon");
	open_policy(&eager, "prefault");
	CHECK(mem_backing_alloc(&lazy, &a, 0, 64 * 4096, &e) == 0);
	CHECK(mem_backing_alloc(&eager, &b, 0, 64 * 4096, &e) == 0);
	CHECK_EQ(resident_pages(a.host, a.size), 0);
	CHECK_EQ(resident_pages(b.host, b.size), 64);
	mem_backing_free(&lazy, &a);
	mem_backing_free(&eager, &b);
	mem_policy_close(&lazy);
	mem_policy_close(&eager);
}

TEST(mem_memfd_is_shared_through_its_fd_and_punched_on_discard)
{
	struct mem_policy p;
	struct mem_backing b;
	struct errbuf e;
	uint8_t *other;

	open_policy(&p, "memfd");
	CHECK(mem_backing_alloc(&p, &b, 0x100000, 8 * 4096, &e) == 0);
	CHECK(b.fd >= 0);
	other = mmap(NULL, b.size, PROT_READ | PROT_WRITE, MAP_SHARED, b.fd, (off_t)b.fd_offset);
	CHECK(other != MAP_FAILED);
	b.host[3 * 4096 + 7] = 0x5a;
	CHECK_EQ(other[3 * 4096 + 7], 0x5a);
	other[5 * 4096] = 0xc3;
	CHECK_EQ(b.host[5 * 4096], 0xc3);
	/* A hole punched by discard reads as zeroes through both mappings. */
	CHECK(mem_backing_discard(&p, &b, 3 * 4096, 4096, &e) == 0);
	CHECK_EQ(b.host[3 * 4096 + 7], 0);
	CHECK_EQ(other[3 * 4096 + 7], 0);
	CHECK_EQ(other[5 * 4096], 0xc3);
	/* Sealed: whoever holds the fd cannot shrink the memory under the guest. */
	CHECK(ftruncate(b.fd, 4096) == -1);
	munmap(other, b.size);
	mem_backing_free(&p, &b);
	CHECK_EQ(b.host, 0);
	mem_policy_close(&p);
}

static int static_alloc(struct mem_policy *p, struct mem_backing *b, struct errbuf *e)
{
	static uint8_t mem[4 * 4096] __attribute__((aligned(4096)));

	(void)p, (void)e;
	b->host = mem;
	return 0;
}

static void static_free(struct mem_policy *p, struct mem_backing *b)
{
	(void)p, (void)b;
}

/* A researcher's policy from the same ops: here one that cannot give memory back. */
TEST(mem_policy_without_discard_says_so)
{
	static const struct mem_policy_ops ops = {.name = "static",
						  .help = "a test",
						  .page_size = 4096,
						  .alloc = static_alloc,
						  .free = static_free};
	struct mem_policy p = {.ops = &ops, .page_size = 4096};
	struct mem_backing b;
	struct errbuf e;

	CHECK(mem_backing_alloc(&p, &b, 0, 4 * 4096, &e) == 0);
	CHECK(mem_backing_discard(&p, &b, 0, 4096, &e) == -1);
	CHECK_CONTAINS(e.msg, "memory policy 'static' cannot give pages back to the host");
	CHECK(mem_policy_set_fault_handler(&p, NULL, &e) == -1);
	CHECK_CONTAINS(e.msg, "does no demand paging; fault handlers need 'uffd'");
	mem_backing_free(&p, &b);
}
