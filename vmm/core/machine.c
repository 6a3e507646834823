/* The device-facing machine: buses, cleanups, the unclaimed-access policy and stop requests. */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "kvmlab/machine.h"

static const char *const stop_kind_names[] = {
	[STOP_NONE] = "none",
	[STOP_DEBUG_EXIT] = "debug-exit",
	[STOP_HALT] = "halt",
	[STOP_POWEROFF] = "poweroff",
	[STOP_RESET] = "reset",
	[STOP_SHUTDOWN] = "shutdown",
	[STOP_GUEST_ERROR] = "guest-error",
	[STOP_HOST_ERROR] = "host-error",
	[STOP_TIMEOUT] = "timeout",
	[STOP_REQUESTED] = "requested",
	[STOP_GUEST_DONE] = "guest-done",
	[STOP_GUEST_ASSERT] = "guest-assert",
};

const char *stop_kind_name(enum stop_kind kind)
{
	if ((unsigned)kind < sizeof(stop_kind_names) / sizeof(stop_kind_names[0]))
		return stop_kind_names[kind];
	return "unknown";
}

void machine_init(struct machine *m)
{
	memset(m, 0, sizeof(*m));
	bus_init(&m->pio, "pio");
	bus_enable_direct(&m->pio, 0x10000);
	bus_init(&m->mmio, "mmio");
	m->console_fd = 1;
	pthread_mutex_init(&m->stop_lock, NULL);
}

void machine_destroy(struct machine *m)
{
	while (m->cleanups) {
		struct machine_cleanup *c = m->cleanups;

		m->cleanups = c->next;
		c->fn(c->opaque);
		free(c);
	}
	bus_free(&m->pio);
	bus_free(&m->mmio);
	pthread_mutex_destroy(&m->stop_lock);
}

int machine_on_destroy(struct machine *m, void (*fn)(void *), void *opaque, struct errbuf *e)
{
	struct machine_cleanup *c = malloc(sizeof(*c));

	if (!c)
		return err_set(e, "out of memory registering a device cleanup");
	*c = (struct machine_cleanup){.fn = fn, .opaque = opaque, .next = m->cleanups};
	m->cleanups = c;
	return 0;
}

void machine_stop(struct machine *m, enum stop_kind kind, int code, const char *fmt, ...)
{
	bool first = false;
	va_list ap;

	pthread_mutex_lock(&m->stop_lock);
	if (m->stop_kind == STOP_NONE) {
		first = true;
		m->stop_kind = kind;
		m->stop_code = code;
		va_start(ap, fmt);
		vsnprintf(m->stop_msg, sizeof(m->stop_msg), fmt, ap);
		va_end(ap);
		atomic_store(&m->stopping, true);
	}
	pthread_mutex_unlock(&m->stop_lock);
	if (first && m->on_stop)
		m->on_stop(m->on_stop_opaque);
}

static bool machine_unclaimed(struct machine *m, const struct bus *b, uint64_t addr,
			      uint32_t len, bool is_write)
{
	if (!m->strict)
		return true;
	machine_stop(m, STOP_GUEST_ERROR, 0, "strict mode: unclaimed %s %s of %u bytes at 0x%llx",
		     b->name, is_write ? "write" : "read", len, (unsigned long long)addr);
	return false;
}

/* machine_pio for what the direct index does not answer: unclaimed ports, or no index. */
__attribute__((cold)) bool machine_pio_slow(struct machine *m, uint16_t port, uint8_t *data,
					    uint32_t len, bool is_write)
{
	if (bus_access(&m->pio, port, data, len, is_write))
		return true;
	return machine_unclaimed(m, &m->pio, port, len, is_write);
}

bool machine_mmio(struct machine *m, uint64_t addr, uint8_t *data, uint32_t len, bool is_write)
{
	if (bus_access(&m->mmio, addr, data, len, is_write))
		return true;
	return machine_unclaimed(m, &m->mmio, addr, len, is_write);
}

void machine_set_irq(struct machine *m, uint32_t gsi, bool level)
{
	if (m->set_irq)
		m->set_irq(m->set_irq_opaque, gsi, level);
}

size_t machine_console_input(struct machine *m, const uint8_t *buf, size_t len)
{
	return m->console_in ? m->console_in(m->console_in_opaque, buf, len) : 0;
}

void machine_clock(const struct machine *m, clockid_t id, struct timespec *ts)
{
	if (m->clock)
		m->clock(m->clock_opaque, id, ts);
	else
		clock_gettime(id, ts);
}
