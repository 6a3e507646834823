/* A test device on port 0x5e8 that counts the ticks a guest writes there. */
#ifndef KVMLAB_TEST_TICK_H
#define KVMLAB_TEST_TICK_H

#include <stdatomic.h>
#include <time.h>

#include "kvmtest.h"

#define TICK_PORT 0x5e8

struct tick_counter {
	_Atomic uint64_t ticks;
};

static void tick_access(void *opaque, uint64_t offset, uint8_t *data, uint32_t len,
			bool is_write)
{
	struct tick_counter *t = opaque;

	(void)offset;
	(void)data;
	(void)len;
	if (is_write)
		atomic_fetch_add(&t->ticks, 1);
}

static inline void tick_attach(struct vm *vm, struct tick_counter *t)
{
	struct errbuf e;

	atomic_init(&t->ticks, 0);
	CHECK(bus_register(&vm->m.pio, TICK_PORT, 4, "tick", tick_access, t, &e) == 0);
}

static inline void sleep_ms(long ms)
{
	struct timespec ts = {ms / 1000, (ms % 1000) * 1000000L};

	nanosleep(&ts, NULL);
}

/* Waits (up to about 30 s, for slow nested hosts) until the counter passes at least. */
static inline uint64_t tick_wait_past(struct tick_counter *t, uint64_t at_least)
{
	for (int i = 0; i < 3000; i++) {
		uint64_t now = atomic_load(&t->ticks);

		if (now > at_least)
			return now;
		sleep_ms(10);
	}
	fprintf(stderr, "guest made no progress past %llu ticks\n", (unsigned long long)at_least);
	exit(1);
}

#endif
