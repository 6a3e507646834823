/* Load test worker: a fixed amount of work (hashing 64 KiB twice: about half a second under PVM,
 * where guest kernel code runs slowly), then the hash and DONE.
 * harness/tests/test_load.py runs as many at once as memory allows. */
#include "lib/guest.h"

#define WORK_BYTES  (64u << 10)
#define WORK_ROUNDS 2

static uint8_t work[WORK_BYTES];

int guest_main(unsigned ncpus)
{
	uint64_t hash = 0xcbf29ce484222325ull;

	(void)ncpus;
	guest_printf("load_worker: working\n");
	for (uint32_t i = 0; i < WORK_BYTES; i++)
		work[i] = (uint8_t)(i * 31 + (i >> 8));
	for (unsigned r = 0; r < WORK_ROUNDS; r++)
		for (uint32_t i = 0; i < WORK_BYTES; i++)
			hash = (hash ^ work[i]) * 0x100000001b3ull; /* FNV-1a */
	guest_printf("load_worker: hash %llx\n", (unsigned long long)hash);
	GUEST_DONE();
}
