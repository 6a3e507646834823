/* 16550A UART on COM1: console output, input into the receive FIFO, IRQ 4; COM2-COM4 absent. */
#include <errno.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "kvmlab/devices.h"

enum uart_reg {
	UART_RBR_THR = 0, /* receive buffer / transmit holding; divisor low with DLAB */
	UART_IER = 1,	  /* interrupt enable; divisor high with DLAB */
	UART_IIR_FCR = 2, /* interrupt identification / FIFO control */
	UART_LCR = 3,
	UART_MCR = 4,
	UART_LSR = 5,
	UART_MSR = 6,
	UART_SCR = 7,
};

#define LCR_DLAB     0x80
#define LSR_DR	     0x01
#define LSR_THRE     0x20
#define LSR_TEMT     0x40
#define IER_RDI	     0x01 /* received data available */
#define IER_THRI     0x02 /* transmit holding register empty */
#define IIR_NO_INT   0x01
#define IIR_THRI     0x02
#define IIR_RDI	     0x04
#define IIR_FIFO_ON  0xc0
#define FCR_ENABLE   0x01
#define FCR_CLEAR_RX 0x02
#define MCR_LOOP     0x10
#define MSR_LOOP_OUT 0xf0 /* CTS, DSR, RI, DCD echo MCR's outputs in loopback */
#define UART_OUT_MAX 256
#define UART_FIFO    16 /* a 16550A's receive FIFO; one byte with the FIFO off */
#define COM1_IRQ     4

/*
 * The transmitter is infinitely fast: THR is empty again as soon as a byte is
 * written, so LSR always shows THRE|TEMT and, with IER_THRI, the THR-empty
 * interrupt is re-armed by every write (and by enabling IER_THRI), and
 * cleared by reading IIR while it is the reported cause, as on a real 16550.
 * The interrupt output follows IIR and goes to machine_set_irq on each change.
 */
struct uart {
	pthread_mutex_t lock;
	struct machine *m;
	uint8_t ier, lcr, mcr, scr, fcr, dll, dlm;
	bool thr_pending; /* THR-empty interrupt armed */
	bool irq_line;
	uint8_t rx[UART_FIFO];
	unsigned rx_head, rx_count;
	size_t out_len;
	char out[UART_OUT_MAX];
#ifdef KVMLAB_PLANTED_BUG
	unsigned planted; /* test-only: see uart_planted_bug */
#endif
};

#ifdef KVMLAB_PLANTED_BUG
#include <stdio.h>
/*
 * TEST-ONLY, never in a kvmlab build: fuzz/CMakeLists.txt compiles this file with
 * -DKVMLAB_PLANTED_BUG into uart_planted_fuzzer, and harness/tests/test_fuzz.py proves
 * libFuzzer finds this bug hidden behind device state. The crash needs the writes
 * SCR := 0xc3, MCR := 0x1d, LCR := 0x1b in that order; one wide access writes its
 * registers in ascending order, so that takes three separate accesses.
 */
static void uart_planted_bug(struct uart *u, uint64_t reg, uint8_t v)
{
	switch (u->planted) {
	case 0:
		if (reg == UART_SCR && v == 0xc3)
			u->planted = 1;
		break;
	case 1:
		if (reg == UART_MCR && v == 0x1d)
			u->planted = 2;
		break;
	default:
		if (reg == UART_LCR && v == 0x1b) {
			fprintf(stderr, "uart16550: planted bug reached\n");
			abort();
		}
	}
}
#endif

/* Writes everything buffered; a console that cannot take it loses nothing silently. */
static void uart_flush(struct uart *u)
{
	size_t done = 0;

	while (done < u->out_len) {
		ssize_t n = write(u->m->console_fd, u->out + done, u->out_len - done);

		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0)
			break;
		done += (size_t)n;
	}
	u->out_len = 0;
}

static unsigned uart_rx_cap(const struct uart *u)
{
	return (u->fcr & FCR_ENABLE) ? UART_FIFO : 1;
}

static bool uart_rx_push(struct uart *u, uint8_t byte)
{
	if (u->rx_count >= uart_rx_cap(u))
		return false;
	u->rx[(u->rx_head + u->rx_count++) % UART_FIFO] = byte;
	return true;
}

static uint8_t uart_rx_pop(struct uart *u)
{
	uint8_t byte;

	if (!u->rx_count)
		return 0;
	byte = u->rx[u->rx_head];
	u->rx_head = (u->rx_head + 1) % UART_FIFO;
	u->rx_count--;
	return byte;
}

/* The highest-priority pending interrupt, as IIR reports it. */
static uint8_t uart_iir(const struct uart *u)
{
	if ((u->ier & IER_RDI) && u->rx_count)
		return IIR_RDI;
	if ((u->ier & IER_THRI) && u->thr_pending)
		return IIR_THRI;
	return IIR_NO_INT;
}

/* Drives IRQ 4 to follow IIR; called with the lock held after every state change. */
static void uart_update_irq(struct uart *u)
{
	bool level = uart_iir(u) != IIR_NO_INT;

	if (level != u->irq_line) {
		u->irq_line = level;
		machine_set_irq(u->m, COM1_IRQ, level);
	}
}

static void uart_transmit(struct uart *u, uint8_t byte)
{
	u->thr_pending = true; /* the byte is gone at once: THR is empty again */
	if (u->mcr & MCR_LOOP) {
		uart_rx_push(u, byte);
		return;
	}
	u->out[u->out_len++] = (char)byte;
	if (byte == '\n' || u->out_len == UART_OUT_MAX)
		uart_flush(u);
}

static uint8_t uart_read(struct uart *u, uint64_t reg)
{
	uint8_t iir;

	switch (reg) {
	case UART_RBR_THR:
		if (u->lcr & LCR_DLAB)
			return u->dll;
		return uart_rx_pop(u);
	case UART_IER:
		return (u->lcr & LCR_DLAB) ? u->dlm : u->ier;
	case UART_IIR_FCR:
		iir = uart_iir(u);
		if (iir == IIR_THRI)
			u->thr_pending = false; /* reading IIR acknowledges THR empty */
		return iir | ((u->fcr & FCR_ENABLE) ? IIR_FIFO_ON : 0);
	case UART_LCR:
		return u->lcr;
	case UART_MCR:
		return u->mcr;
	case UART_LSR:
		return LSR_THRE | LSR_TEMT | (u->rx_count ? LSR_DR : 0);
	case UART_MSR:
		return (u->mcr & MCR_LOOP) ? (uint8_t)((u->mcr & 0x0f) << 4) & MSR_LOOP_OUT : 0xb0;
	default:
		return u->scr;
	}
}

static void uart_write(struct uart *u, uint64_t reg, uint8_t v)
{
#ifdef KVMLAB_PLANTED_BUG
	uart_planted_bug(u, reg, v);
#endif
	switch (reg) {
	case UART_RBR_THR:
		if (u->lcr & LCR_DLAB)
			u->dll = v;
		else
			uart_transmit(u, v);
		break;
	case UART_IER:
		if (u->lcr & LCR_DLAB) {
			u->dlm = v;
			break;
		}
		if ((v & IER_THRI) && !(u->ier & IER_THRI))
			u->thr_pending = true; /* THR is empty: enabling its interrupt raises it */
		u->ier = v & 0x0f;
		break;
	case UART_IIR_FCR:
		if ((v ^ u->fcr) & FCR_ENABLE || (v & FCR_CLEAR_RX))
			u->rx_head = u->rx_count = 0;
		u->fcr = v & (uint8_t)~FCR_CLEAR_RX;
		break;
	case UART_LCR:
		u->lcr = v;
		break;
	case UART_MCR:
		u->mcr = v & 0x1f;
		break;
	case UART_LSR:
	case UART_MSR:
		break; /* read-only */
	default:
		u->scr = v;
		break;
	}
}

static void uart_access(void *opaque, uint64_t offset, uint8_t *data, uint32_t len, bool is_write)
{
	struct uart *u = opaque;

	pthread_mutex_lock(&u->lock);
	/* Registers are bytes; a wider access touches consecutive registers. */
	for (uint32_t i = 0; i < len && offset + i < 8; i++) {
		if (is_write)
			uart_write(u, offset + i, data[i]);
		else
			data[i] = uart_read(u, offset + i);
	}
	uart_update_irq(u);
	pthread_mutex_unlock(&u->lock);
}

/* machine_console_input: host input into the receive FIFO, as much as fits. */
static size_t uart_input(void *opaque, const uint8_t *buf, size_t len)
{
	struct uart *u = opaque;
	size_t n = 0;

	pthread_mutex_lock(&u->lock);
	/* In loopback the receiver hears only the transmitter. */
	while (!(u->mcr & MCR_LOOP) && n < len && uart_rx_push(u, buf[n]))
		n++;
	uart_update_irq(u);
	pthread_mutex_unlock(&u->lock);
	return n;
}

/* COM2-COM4: nothing there. Reads float high, so Linux's scratch test finds no UART. */
static void uart_absent(void *opaque, uint64_t offset, uint8_t *data, uint32_t len, bool is_write)
{
	(void)opaque;
	if (!is_write)
		memset(data, 0xff, len);
}

static void uart_destroy(void *opaque)
{
	struct uart *u = opaque;

	if (u->m->console_in_opaque == u)
		u->m->console_in = NULL;
	uart_flush(u);
	pthread_mutex_destroy(&u->lock);
	free(u);
}

static int uart_attach(struct machine *m, struct errbuf *e)
{
	static const uint16_t absent[] = {0x2f8, 0x3e8, 0x2e8};
	static const char *const absent_names[] = {"com2 (absent)", "com3 (absent)",
						   "com4 (absent)"};
	struct uart *u = calloc(1, sizeof(*u));

	if (!u)
		return err_set(e, "out of memory creating the UART");
	pthread_mutex_init(&u->lock, NULL);
	u->m = m;
	u->dll = 12; /* 9600 baud until the guest programs it */
	if (machine_on_destroy(m, uart_destroy, u, e)) {
		uart_destroy(u);
		return -1;
	}
	m->console_in = uart_input;
	m->console_in_opaque = u;
	for (unsigned i = 0; i < 3; i++)
		if (bus_register(&m->pio, absent[i], 8, absent_names[i], uart_absent, NULL, e))
			return -1;
	return bus_register(&m->pio, COM1_PORT, 8, "com1", uart_access, u, e);
}

const struct device_type uart16550_device = {"uart16550", uart_attach};
