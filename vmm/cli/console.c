/* Guest console input: stdin into COM1's receive FIFO; the terminal in raw mode and always
 * restored. */
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <termios.h>
#include <unistd.h>

#include "console.h"
#include "kvmlab/sandbox.h"

#define CTRL_A		 0x01
#define RETRY_MS	 5 /* while the guest's FIFO is full */
#define CONSOLE_BUF_SIZE 256

struct console {
	struct machine *m;
	int fd;
	int wake[2];
	bool raw;
	bool escape; /* the last byte was Ctrl-A */
	bool started;
	pthread_t thread;
};

/*
 * The terminal is the process's, not the VM's: its saved state is the one
 * piece of global state here, so that exit() and fatal-signal handlers can
 * put it back. Written before raw mode is entered, read-only after.
 */
static struct termios saved_termios;
static volatile sig_atomic_t raw_fd = -1;
static const int fatal_signals[] = {SIGSEGV, SIGBUS, SIGFPE, SIGILL, SIGABRT, SIGQUIT};
static struct sigaction previous[sizeof(fatal_signals) / sizeof(fatal_signals[0])];

static void terminal_restore(void)
{
	int fd = raw_fd;

	if (fd >= 0) {
		tcsetattr(fd, TCSANOW, &saved_termios);
		raw_fd = -1;
	}
}

/* Async-signal-safe: restore, then let the previous handler (default, ASan) act. */
static void terminal_fatal(int sig)
{
	terminal_restore();
	for (unsigned i = 0; i < sizeof(fatal_signals) / sizeof(fatal_signals[0]); i++)
		if (fatal_signals[i] == sig)
			sigaction(sig, &previous[i], NULL);
	raise(sig);
}

static bool terminal_raw(int fd)
{
	static bool hooked;
	struct termios t;
	struct sigaction sa;

	if (!isatty(fd) || tcgetpgrp(fd) != getpgrp() || tcgetattr(fd, &saved_termios))
		return false;
	if (!hooked) {
		hooked = true;
		atexit(terminal_restore);
		memset(&sa, 0, sizeof(sa));
		sa.sa_handler = terminal_fatal;
		sigemptyset(&sa.sa_mask);
		for (unsigned i = 0; i < sizeof(fatal_signals) / sizeof(fatal_signals[0]); i++)
			sigaction(fatal_signals[i], &sa, &previous[i]);
	}
	t = saved_termios;
	cfmakeraw(&t);
	t.c_oflag |= OPOST; /* keep "\n" -> "\r\n" for guests that print bare newlines */
	raw_fd = fd;
	if (tcsetattr(fd, TCSANOW, &t)) {
		raw_fd = -1;
		return false;
	}
	return true;
}

/* Handles Ctrl-A escapes in place; returns the bytes left for the guest. */
static size_t console_filter(struct console *c, uint8_t *buf, size_t n)
{
	size_t out = 0;

	if (!c->raw)
		return n;
	for (size_t i = 0; i < n; i++) {
		uint8_t b = buf[i];

		if (c->escape) {
			c->escape = false;
			if (b == 'x' || b == 'X') {
				machine_stop(c->m, STOP_REQUESTED, 0, "Ctrl-A x on the console");
				continue;
			}
			if (b != CTRL_A)
				buf[out++] = CTRL_A;
			buf[out++] = b;
		} else if (b == CTRL_A) {
			c->escape = true;
		} else {
			buf[out++] = b;
		}
	}
	return out;
}

static void *console_thread(void *arg)
{
	struct console *c = arg;
	uint8_t buf[CONSOLE_BUF_SIZE];
	size_t have = 0, off = 0;

	sandbox_enter_thread(SANDBOX_IO, c->m->sandbox);
	for (;;) {
		struct pollfd p[2] = {{.fd = c->fd, .events = have == off ? POLLIN : 0},
				      {.fd = c->wake[0], .events = POLLIN}};

		if (poll(p, 2, have > off ? RETRY_MS : -1) < 0 && errno != EINTR)
			break;
		if (p[1].revents)
			break;
		if (have == off && p[0].revents) {
			ssize_t n = read(c->fd, buf, sizeof(buf));

			if (n == 0 || (n < 0 && errno != EINTR && errno != EAGAIN))
				break; /* end of input: the guest just gets no more */
			have = n > 0 ? console_filter(c, buf, (size_t)n) : 0;
			off = 0;
		}
		if (have > off)
			off += machine_console_input(c->m, buf + off, have - off);
	}
	return NULL;
}

struct console *console_open(struct machine *m, int fd, struct errbuf *e)
{
	struct console *c = calloc(1, sizeof(*c));
	int r;

	if (!c) {
		err_set(e, "out of memory starting the console");
		return NULL;
	}
	c->m = m;
	c->fd = fd;
	if (pipe2(c->wake, O_CLOEXEC)) {
		err_errno(e, "cannot create the console's wake-up pipe");
		free(c);
		return NULL;
	}
	/* A background job must not touch the terminal: SIGTTIN would stop kvmlab. */
	if (isatty(fd) && tcgetpgrp(fd) != getpgrp())
		c->fd = -1;
	else
		c->raw = terminal_raw(fd);
	r = pthread_create(&c->thread, NULL, console_thread, c);
	c->started = r == 0;
	if (r) {
		errno = r;
		err_errno(e, "cannot start the console thread");
		console_close(c);
		return NULL;
	}
	return c;
}

void console_close(struct console *c)
{
	if (!c)
		return;
	if (c->started) {
		if (write(c->wake[1], "x", 1) < 0) {
			/* the pipe cannot be full: one byte, written once */
		}
		pthread_join(c->thread, NULL);
	}
	close(c->wake[0]);
	close(c->wake[1]);
	if (c->raw)
		terminal_restore();
	free(c);
}
