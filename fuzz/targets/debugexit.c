/* Fuzz target: the debug-exit port, driven by port accesses through the machine's PIO bus. */
#include <string.h>

#include "fuzz.h"
#include "kvmlab/devices.h"

struct first_stop {
	bool seen;
	int code;
};

/* Reads return zeros, only a write at offset 0 stops the machine, with the written value,
 * and the first stop wins: later writes change neither the kind nor the code. */
static void debugexit_check(const struct machine *m, const struct fuzz_io *io,
			    struct first_stop *first)
{
	uint64_t off = io->addr - DEBUG_EXIT_PORT;
	bool claimed = io->addr >= DEBUG_EXIT_PORT && off + io->len <= DEBUG_EXIT_WIDTH;
	uint32_t value = 0;

	for (uint32_t i = 0; !io->write && i < io->len; i++)
		FUZZ_CHECK(io->data[i] == (claimed ? 0x00 : 0xff), "port 0x%llx read 0x%02x",
			   (unsigned long long)io->addr, io->data[i]);
	if (first->seen) {
		FUZZ_CHECK(m->stop_kind == STOP_DEBUG_EXIT && m->stop_code == first->code,
			   "first stop (code 0x%x) replaced by %s code 0x%x", first->code,
			   stop_kind_name(m->stop_kind), m->stop_code);
		return;
	}
	if (!(io->write && claimed && off == 0)) {
		FUZZ_CHECK(!machine_stopping(m), "stopped by a %s at 0x%llx",
			   io->write ? "write" : "read", (unsigned long long)io->addr);
		return;
	}
	memcpy(&value, io->data, io->len < 4 ? io->len : 4);
	FUZZ_CHECK(machine_stopping(m) && m->stop_kind == STOP_DEBUG_EXIT, "write did not stop");
	FUZZ_CHECK((uint32_t)m->stop_code == value, "code 0x%x after writing 0x%x", m->stop_code,
		   value);
	first->seen = true;
	first->code = m->stop_code;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct fuzz_in in;
	struct machine m;
	struct errbuf e;
	struct fuzz_io io;
	struct first_stop first = {0};

	fuzz_in_init(&in, data, size);
	machine_init(&m);
	FUZZ_CHECK(debugexit_device.attach(&m, &e) == 0, "%s", e.msg);
	while (fuzz_more(&in)) {
		fuzz_io_window(&in, fuzz_u8(&in), DEBUG_EXIT_PORT, DEBUG_EXIT_WIDTH, false, &io);
		fuzz_io_run(&m, &io);
		debugexit_check(&m, &io, &first);
	}
	machine_destroy(&m);
	return 0;
}
