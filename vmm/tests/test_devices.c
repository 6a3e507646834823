/* Unit tests of the device models on a machine without KVM: UART, debug-exit, strict mode. */
#include <unistd.h>

#include "kvmlab/devices.h"
#include "unit.h"

struct console {
	int rd;
	struct machine m;
};

static void machine_with_console(struct console *c)
{
	int fds[2];
	struct errbuf e;

	CHECK(pipe(fds) == 0);
	machine_init(&c->m);
	c->m.console_fd = fds[1];
	c->rd = fds[0];
	CHECK(devices_attach_all(&c->m, &e) == 0);
}

static void console_close(struct console *c, char *out, size_t cap)
{
	ssize_t n;

	machine_destroy(&c->m); /* flushes the UART */
	close(c->m.console_fd);
	n = read(c->rd, out, cap - 1);
	out[n > 0 ? n : 0] = '\0';
	close(c->rd);
}

static void pio_write(struct machine *m, uint16_t port, uint8_t v)
{
	CHECK(machine_pio(m, port, &v, 1, true));
}

static uint8_t pio_read(struct machine *m, uint16_t port)
{
	uint8_t v = 0;

	CHECK(machine_pio(m, port, &v, 1, false));
	return v;
}

TEST(uart_transmits_to_the_console)
{
	struct console c;
	char out[64];

	machine_with_console(&c);
	CHECK(pio_read(&c.m, COM1_PORT + 5) & 0x20); /* THR empty */
	for (const char *s = "hi\nthere"; *s; s++)
		pio_write(&c.m, COM1_PORT, (uint8_t)*s);
	console_close(&c, out, sizeof(out));
	CHECK(strcmp(out, "hi\nthere") == 0);
}

TEST(uart_divisor_latch_does_not_transmit)
{
	struct console c;
	char out[64];

	machine_with_console(&c);
	pio_write(&c.m, COM1_PORT + 3, 0x80); /* DLAB */
	pio_write(&c.m, COM1_PORT, 0x01);
	pio_write(&c.m, COM1_PORT + 1, 0x00);
	CHECK_EQ(pio_read(&c.m, COM1_PORT), 0x01);
	pio_write(&c.m, COM1_PORT + 3, 0x03);
	pio_write(&c.m, COM1_PORT + 7, 0x5a);
	CHECK_EQ(pio_read(&c.m, COM1_PORT + 7), 0x5a);
	console_close(&c, out, sizeof(out));
	CHECK_EQ(strlen(out), 0);
}

TEST(uart_loopback_echoes_without_output)
{
	struct console c;
	char out[64];

	machine_with_console(&c);
	pio_write(&c.m, COM1_PORT + 4, 0x10);
	pio_write(&c.m, COM1_PORT, 'x');
	CHECK(pio_read(&c.m, COM1_PORT + 5) & 0x01);
	CHECK_EQ(pio_read(&c.m, COM1_PORT), 'x');
	console_close(&c, out, sizeof(out));
	CHECK_EQ(strlen(out), 0);
}

TEST(debugexit_stops_the_machine_with_the_value)
{
	struct console c;
	char out[8];
	uint8_t v = 0x21;

	machine_with_console(&c);
	CHECK(!machine_stopping(&c.m));
	CHECK(machine_pio(&c.m, DEBUG_EXIT_PORT, &v, 1, true));
	CHECK(machine_stopping(&c.m));
	CHECK_EQ(c.m.stop_kind, STOP_DEBUG_EXIT);
	CHECK_EQ(c.m.stop_code, 0x21);
	/* the first stop wins */
	v = 3;
	CHECK(machine_pio(&c.m, DEBUG_EXIT_PORT, &v, 1, true));
	CHECK_EQ(c.m.stop_code, 0x21);
	console_close(&c, out, sizeof(out));
}

TEST(unclaimed_access_is_fatal_only_in_strict_mode)
{
	struct console c;
	char out[8];
	uint8_t v[4] = {0};

	machine_with_console(&c);
	CHECK(machine_pio(&c.m, 0x5f0, v, 4, false));
	CHECK_EQ(v[0] & v[3], 0xff);
	CHECK(!machine_stopping(&c.m));
	c.m.strict = true;
	CHECK(!machine_mmio(&c.m, 0xd0000000, v, 4, true));
	CHECK(machine_stopping(&c.m));
	CHECK_EQ(c.m.stop_kind, STOP_GUEST_ERROR);
	CHECK_CONTAINS(c.m.stop_msg, "unclaimed mmio write");
	console_close(&c, out, sizeof(out));
}
