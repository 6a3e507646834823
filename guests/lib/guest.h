/* The freestanding test-guest runtime: port I/O, serial output, exit, entry points. */
#ifndef GUEST_H
#define GUEST_H

#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "config.h"

#define COM1_PORT	0x3f8
#define DEBUG_EXIT_PORT 0xf4

/* Every test guest defines guest_main; it runs on vCPU 0 and its return
 * value is the debug-exit code (kvmlab's exit status becomes (v << 1) | 1). */
int guest_main(unsigned ncpus);

/* Runs on every other vCPU; the default halts it with interrupts off. */
void guest_ap_main(unsigned cpu, unsigned ncpus);

static inline void outb(uint16_t port, uint8_t v)
{
	__asm__ volatile("outb %0, %1" : : "a"(v), "Nd"(port));
}

static inline void outl(uint16_t port, uint32_t v)
{
	__asm__ volatile("outl %0, %1" : : "a"(v), "Nd"(port));
}

static inline uint8_t inb(uint16_t port)
{
	uint8_t v;

	__asm__ volatile("inb %1, %0" : "=a"(v) : "Nd"(port));
	return v;
}

static inline uint32_t inl(uint16_t port)
{
	uint32_t v;

	__asm__ volatile("inl %1, %0" : "=a"(v) : "Nd"(port));
	return v;
}

__attribute__((noreturn)) static inline void cpu_halt_forever(void)
{
	for (;;)
		__asm__ volatile("cli; hlt");
}

void serial_putc(char c);
void serial_puts(const char *s);

/* printf to COM1: %s %c %d %i %u %x %p %% with l/ll/z length modifiers. */
int guest_printf(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
int guest_vprintf(const char *fmt, va_list ap);

/* Ends the run through the debug-exit port: kvmlab exits with (code << 1) | 1. */
__attribute__((noreturn)) void guest_exit(uint8_t code);

void *memset(void *dst, int c, size_t n);
void *memcpy(void *dst, const void *src, size_t n);
size_t strlen(const char *s);

#endif
