/* Fuzz target: the 16550 UART on COM1, driven by port accesses through the machine's PIO bus. */
#include "fuzz.h"
#include "kvmlab/devices.h"

#define UART_WIDTH 8
#define REG_LSR	   5
#define REG_SCR	   7
#define LSR_READY  0x60 /* THRE | TEMT: kvmlab's transmitter is never busy */
#define SEL_INPUT  30	/* window selector taken for console input: up to 31 bytes follow */

/* The promises a guest can observe without timing: the scratch register reads back, the
 * transmitter is always ready, and ports the UART does not claim read as all-ones. */
static void uart_check(const struct fuzz_io *io, uint8_t *scr)
{
	uint64_t off = io->addr - COM1_PORT;
	bool claimed = io->addr >= COM1_PORT && off + io->len <= UART_WIDTH;

	if (!claimed) {
		for (uint32_t i = 0; !io->write && i < io->len; i++)
			FUZZ_CHECK(io->data[i] == 0xff, "unclaimed port 0x%llx read 0x%02x",
				   (unsigned long long)io->addr, io->data[i]);
		return;
	}
	for (uint32_t i = 0; i < io->len; i++) {
		uint64_t reg = off + i;

		if (io->write && reg == REG_SCR)
			*scr = io->data[i];
		else if (reg == REG_SCR)
			FUZZ_CHECK(io->data[i] == *scr, "SCR read 0x%02x after writing 0x%02x",
				   io->data[i], *scr);
		else if (!io->write && reg == REG_LSR)
			FUZZ_CHECK((io->data[i] & LSR_READY) == LSR_READY, "LSR 0x%02x not ready",
				   io->data[i]);
	}
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct fuzz_in in;
	struct machine m;
	struct errbuf e;
	struct fuzz_io io;
	uint8_t scr = 0;

	fuzz_in_init(&in, data, size);
	machine_init(&m);
	m.console_fd = fuzz_null_fd();
	FUZZ_CHECK(uart16550_device.attach(&m, &e) == 0, "%s", e.msg);
	while (fuzz_more(&in)) {
		uint8_t ctl = fuzz_u8(&in);

		if (ctl >> 3 == SEL_INPUT) { /* the host typing into the receive FIFO */
			uint8_t buf[31];
			size_t n = ctl & 7 ? ctl & 7 : 1 + fuzz_u8(&in) % sizeof(buf);

			for (size_t i = 0; i < n; i++)
				buf[i] = fuzz_u8(&in);
			FUZZ_CHECK(machine_console_input(&m, buf, n) <= n,
				   "took more than offered");
			continue;
		}
		fuzz_io_window(&in, ctl, COM1_PORT, UART_WIDTH, false, &io);
		FUZZ_CHECK(fuzz_io_run(&m, &io), "non-strict machine stopped on an access");
		uart_check(&io, &scr);
	}
	machine_destroy(&m);
	return 0;
}
