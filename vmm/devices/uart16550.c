/* 16550A UART on COM1: transmit to the console fd, line status always ready. */
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
#define IIR_NO_INT   0x01
#define IIR_FIFO_ON  0xc0
#define FCR_ENABLE   0x01
#define MCR_LOOP     0x10
#define MSR_LOOP_OUT 0xf0 /* CTS, DSR, RI, DCD echo MCR's outputs in loopback */
#define UART_OUT_MAX 256

struct uart {
	pthread_mutex_t lock;
	struct machine *m;
	uint8_t ier, lcr, mcr, scr, fcr, dll, dlm;
	uint8_t loop_byte;
	bool loop_full;
	size_t out_len;
	char out[UART_OUT_MAX];
};

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

static void uart_transmit(struct uart *u, uint8_t byte)
{
	if (u->mcr & MCR_LOOP) {
		u->loop_byte = byte;
		u->loop_full = true;
		return;
	}
	u->out[u->out_len++] = (char)byte;
	if (byte == '\n' || u->out_len == UART_OUT_MAX)
		uart_flush(u);
}

static uint8_t uart_read(struct uart *u, uint64_t reg)
{
	switch (reg) {
	case UART_RBR_THR:
		if (u->lcr & LCR_DLAB)
			return u->dll;
		u->loop_full = false;
		return u->loop_byte;
	case UART_IER:
		return (u->lcr & LCR_DLAB) ? u->dlm : u->ier;
	case UART_IIR_FCR:
		return IIR_NO_INT | ((u->fcr & FCR_ENABLE) ? IIR_FIFO_ON : 0);
	case UART_LCR:
		return u->lcr;
	case UART_MCR:
		return u->mcr;
	case UART_LSR:
		return LSR_THRE | LSR_TEMT | (u->loop_full ? LSR_DR : 0);
	case UART_MSR:
		return (u->mcr & MCR_LOOP) ? (uint8_t)((u->mcr & 0x0f) << 4) & MSR_LOOP_OUT : 0xb0;
	default:
		return u->scr;
	}
}

static void uart_write(struct uart *u, uint64_t reg, uint8_t v)
{
	switch (reg) {
	case UART_RBR_THR:
		if (u->lcr & LCR_DLAB)
			u->dll = v;
		else
			uart_transmit(u, v);
		break;
	case UART_IER:
		if (u->lcr & LCR_DLAB)
			u->dlm = v;
		else
			u->ier = v & 0x0f;
		break;
	case UART_IIR_FCR:
		u->fcr = v;
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

static void uart_access(void *opaque, uint64_t offset, uint8_t *data, uint32_t len,
			bool is_write)
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
	pthread_mutex_unlock(&u->lock);
}

static void uart_destroy(void *opaque)
{
	struct uart *u = opaque;

	uart_flush(u);
	pthread_mutex_destroy(&u->lock);
	free(u);
}

static int uart_attach(struct machine *m, struct errbuf *e)
{
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
	return bus_register(&m->pio, COM1_PORT, 8, "com1", uart_access, u, e);
}

const struct device_type uart16550_device = {"uart16550", uart_attach};
