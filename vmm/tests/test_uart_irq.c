/* Unit tests of the UART's interrupt line (IRQ 4) and receive path, with a recording set_irq. */
#include "kvmlab/devices.h"
#include "unit.h"

#define IER 1
#define IIR 2
#define FCR 2
#define MCR 4
#define LSR 5

struct irq_log {
	unsigned n;
	uint32_t gsi[64];
	bool level[64];
};

static void record_irq(void *opaque, uint32_t gsi, bool level)
{
	struct irq_log *l = opaque;

	if (l->n < 64) {
		l->gsi[l->n] = gsi;
		l->level[l->n++] = level;
	}
}

static void uart_machine(struct machine *m, struct irq_log *log)
{
	struct errbuf e;

	machine_init(m);
	memset(log, 0, sizeof(*log));
	m->set_irq = record_irq;
	m->set_irq_opaque = log;
	m->console_fd = -1;
	CHECK(uart16550_device.attach(m, &e) == 0);
}

static void out8(struct machine *m, uint16_t reg, uint8_t v)
{
	CHECK(machine_pio(m, COM1_PORT + reg, &v, 1, true));
}

static uint8_t in8(struct machine *m, uint16_t reg)
{
	uint8_t v = 0;

	CHECK(machine_pio(m, COM1_PORT + reg, &v, 1, false));
	return v;
}

static bool line(const struct irq_log *l)
{
	return l->n && l->level[l->n - 1];
}

TEST(uart_input_raises_irq4_until_the_fifo_is_drained)
{
	struct machine m;
	struct irq_log log;

	uart_machine(&m, &log);
	out8(&m, FCR, 0x07); /* FIFO on, cleared */
	CHECK_EQ(machine_console_input(&m, (const uint8_t *)"hi", 2), 2);
	CHECK_EQ(log.n, 0); /* receive interrupt not enabled yet */
	CHECK(in8(&m, LSR) & 0x01);
	out8(&m, IER, 0x01);
	CHECK(line(&log));
	CHECK_EQ(log.gsi[0], 4);
	CHECK_EQ(in8(&m, IIR) & 0x0f, 0x04); /* received data available */
	CHECK_EQ(in8(&m, 0), 'h');
	CHECK(line(&log));
	CHECK_EQ(in8(&m, 0), 'i');
	CHECK(!line(&log));
	CHECK_EQ(in8(&m, IIR) & 0x0f, 0x01);
	CHECK_EQ(in8(&m, LSR) & 0x01, 0);
	machine_destroy(&m);
}

TEST(uart_fifo_takes_sixteen_bytes_then_asks_to_wait)
{
	struct machine m;
	struct irq_log log;
	const uint8_t buf[20] = "0123456789abcdefghij";

	uart_machine(&m, &log);
	CHECK_EQ(machine_console_input(&m, buf, 20), 1); /* FIFO off: one byte */
	out8(&m, FCR, 0x01);				 /* enabling the FIFO clears it */
	CHECK_EQ(machine_console_input(&m, buf, 20), 16);
	CHECK_EQ(machine_console_input(&m, buf + 16, 4), 0);
	CHECK_EQ(in8(&m, 0), '0');
	CHECK_EQ(machine_console_input(&m, buf + 16, 4), 1);
	machine_destroy(&m);
}

TEST(uart_thr_empty_interrupt_follows_the_16550)
{
	struct machine m;
	struct irq_log log;

	uart_machine(&m, &log);
	out8(&m, IER, 0x02); /* enabling THRI with THR empty raises it */
	CHECK(line(&log));
	CHECK_EQ(in8(&m, IIR) & 0x0f, 0x02);
	CHECK(!line(&log)); /* reading IIR acknowledged it */
	CHECK_EQ(in8(&m, IIR) & 0x0f, 0x01);
	out8(&m, IER, 0x00);
	out8(&m, IER, 0x02); /* Linux's UART_BUG_THRE check: re-enabling re-raises */
	CHECK_EQ(in8(&m, IIR) & 0x0f, 0x02);
	out8(&m, MCR, 0x10); /* loopback: a transmitted byte re-arms THRI */
	out8(&m, 0, 'x');
	CHECK(line(&log));
	CHECK_EQ(in8(&m, IIR) & 0x0f, 0x02);
	CHECK_EQ(in8(&m, 0), 'x');
	machine_destroy(&m);
}

TEST(uart_loopback_refuses_console_input)
{
	struct machine m;
	struct irq_log log;

	uart_machine(&m, &log);
	out8(&m, MCR, 0x10);
	CHECK_EQ(machine_console_input(&m, (const uint8_t *)"x", 1), 0);
	machine_destroy(&m);
	CHECK_EQ(machine_console_input(&m, (const uint8_t *)"x", 1), 0); /* no UART: 0 */
}
