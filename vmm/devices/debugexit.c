/* QEMU-compatible isa-debug-exit at port 0xf4: a guest write ends the run with (v << 1) | 1. */
#include <stdlib.h>
#include <string.h>

#include "kvmlab/devices.h"

struct debugexit {
	struct machine *m;
};

static void debugexit_access(void *opaque, uint64_t offset, uint8_t *data, uint32_t len,
			     bool is_write)
{
	struct debugexit *d = opaque;
	uint32_t value = 0;

	if (!is_write) {
		memset(data, 0, len);
		return;
	}
	if (offset != 0)
		return;
	memcpy(&value, data, len < sizeof(value) ? len : sizeof(value));
	machine_stop(d->m, STOP_DEBUG_EXIT, (int)value, "guest wrote 0x%x to the debug-exit port",
		     value);
}

static int debugexit_attach(struct machine *m, struct errbuf *e)
{
	struct debugexit *d = calloc(1, sizeof(*d));

	if (!d)
		return err_set(e, "out of memory creating debug-exit");
	d->m = m;
	if (machine_on_destroy(m, free, d, e)) {
		free(d);
		return -1;
	}
	return bus_register(&m->pio, DEBUG_EXIT_PORT, DEBUG_EXIT_WIDTH, "debug-exit",
			    debugexit_access, d, e);
}

const struct device_type debugexit_device = {"debug-exit", debugexit_attach};
