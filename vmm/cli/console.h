/* The terminal side of the guest console: input into COM1, raw mode while interactive. */
#ifndef KVMLAB_CLI_CONSOLE_H
#define KVMLAB_CLI_CONSOLE_H

#include "kvmlab/err.h"
#include "kvmlab/machine.h"

struct console;

/*
 * Starts a thread that feeds what arrives on fd (stdin) into the machine's
 * console input (COM1's receive FIFO), waiting while the FIFO is full; it
 * stops at end of file. When fd is a terminal in the foreground, it is put
 * in raw mode (Ctrl-C goes to the guest; Ctrl-A x stops the VM, Ctrl-A
 * Ctrl-A sends Ctrl-A) and restored by console_close, at exit() and on a
 * fatal signal. A terminal kvmlab does not own (background job) is not read.
 */
struct console *console_open(struct machine *m, int fd, struct errbuf *e);

/* Stops the thread and restores the terminal; NULL is ignored. */
void console_close(struct console *c);

#endif
