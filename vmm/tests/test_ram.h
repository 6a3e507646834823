/* Guest RAM on plain memory for the loader unit tests: one zeroed region at guest-physical 0. */
#ifndef KVMLAB_TEST_RAM_H
#define KVMLAB_TEST_RAM_H

#include <stdbool.h>
#include <stdint.h>
#include <string.h>
#include <sys/mman.h>

#include "kvmlab/gmem.h"
#include "unit.h"

struct ram {
	struct gmem mem;
	uint8_t *host;
	uint64_t size;
};

static inline void ram_init(struct ram *r, uint64_t size)
{
	struct errbuf e;

	r->size = size;
	r->host = mmap(NULL, size, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	CHECK(r->host != MAP_FAILED);
	memset(&r->mem, 0, sizeof(r->mem));
	CHECK(gmem_add(&r->mem, 0, size, r->host, 0, &e) == 0);
}

/* Whether no byte of the RAM was written: a refused image leaves nothing behind. */
static inline bool ram_untouched(const struct ram *r)
{
	for (uint64_t i = 0; i < r->size; i += 8)
		if (*(const uint64_t *)(r->host + i))
			return false;
	return true;
}

static inline void ram_free(struct ram *r)
{
	munmap(r->host, r->size);
}

#endif
