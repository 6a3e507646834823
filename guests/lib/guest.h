/* The freestanding test-guest runtime: port I/O, serial output, exit, entry points. */
#ifndef GUEST_H
#define GUEST_H

#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "config.h"
#include "kvmlab/ucall_abi.h"

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

/* ---- ucall: test results to the host (vmm/include/kvmlab/ucall_abi.h) ---- */

void ucall(uint32_t cmd, const char *file, uint32_t line, const char *msg, uint32_t nargs,
	   uint64_t a0, uint64_t a1, uint64_t a2, uint64_t a3);

#define GUEST_SYNC(stage) ucall(UCALL_SYNC, __FILE__, __LINE__, "sync", 1, (stage), 0, 0, 0)
#define GUEST_SYNC_ARGS(stage, a1, a2, a3)                                                  \
	ucall(UCALL_SYNC, __FILE__, __LINE__, "sync", 4, (stage), (a1), (a2), (a3))
#define GUEST_PRINT(msg) ucall(UCALL_PRINT, __FILE__, __LINE__, (msg), 0, 0, 0, 0, 0)
#define GUEST_DONE()                                                                        \
	do {                                                                                \
		ucall(UCALL_DONE, __FILE__, __LINE__, "done", 0, 0, 0, 0, 0);               \
		cpu_halt_forever();                                                         \
	} while (0)
#define GUEST_ASSERT(cond)                                                                  \
	do {                                                                                \
		if (!(cond)) {                                                              \
			ucall(UCALL_ASSERT, __FILE__, __LINE__, #cond, 0, 0, 0, 0, 0);      \
			cpu_halt_forever();                                                 \
		}                                                                           \
	} while (0)
#define GUEST_ASSERT_EQ(a, b)                                                               \
	do {                                                                                \
		uint64_t a_ = (uint64_t)(a), b_ = (uint64_t)(b);                            \
		if (a_ != b_) {                                                             \
			ucall(UCALL_ASSERT, __FILE__, __LINE__, #a " == " #b, 2, a_, b_, 0, 0); \
			cpu_halt_forever();                                                 \
		}                                                                           \
	} while (0)

/* ---- interrupts and exceptions ---- */

/* What the entry stubs save; vector and error_code sit under the CPU's frame. */
struct guest_frame {
	uint64_t r11, r10, r9, r8, rdi, rsi, rdx, rcx, rax, rbx;
	uint64_t vector, error_code;
	uint64_t rip, cs, rflags, rsp, ss;
};

typedef void (*guest_irq_fn)(struct guest_frame *f);

/* The runtime builds the IDT before guest_main and loads it on every vCPU; an
 * exception with no handler is reported to the host as a ucall FAULT. */
void guest_idt_init(void);
void guest_idt_load(void);
void guest_set_irq_handler(uint8_t vector, guest_irq_fn fn);

static inline void cpu_relax(void)
{
	__asm__ volatile("pause" ::: "memory");
}

static inline uint32_t cpu_apic_id(void)
{
	uint32_t a = 1, b, c = 0, d;

	__asm__ volatile("cpuid" : "+a"(a), "=b"(b), "+c"(c), "=d"(d));
	return b >> 24;
}

static inline void cpuid(uint32_t leaf, uint32_t sub, uint32_t *a, uint32_t *b, uint32_t *c,
			 uint32_t *d)
{
	__asm__ volatile("cpuid" : "=a"(*a), "=b"(*b), "=c"(*c), "=d"(*d) : "a"(leaf), "c"(sub));
}

/* ---- SMP ---- */

/* Starts every other vCPU with INIT, SIPI, SIPI (for VMs whose APs wait for SIPI);
 * each AP then runs guest_ap_main(its APIC ID, ncpus). Needs the in-kernel LAPIC. */
void guest_smp_boot_aps(unsigned ncpus);

void *memset(void *dst, int c, size_t n);
void *memcpy(void *dst, const void *src, size_t n);
size_t strlen(const char *s);

#endif
