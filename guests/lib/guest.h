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

/* ---- time: the TSC and its frequency (lib/timing.c) ---- */

static inline uint64_t rdtsc(void)
{
	uint32_t lo, hi;

	__asm__ volatile("rdtsc" : "=a"(lo), "=d"(hi) : : "memory");
	return ((uint64_t)hi << 32) | lo;
}

/* TSC kHz, found once by the first caller: read from KVM's paravirtual clock
 * (kvmclock), else measured against PIT channel 2 (about 20 ms, in-kernel PIT).
 * Concurrent callers on other vCPUs wait for that result. */
uint64_t guest_tsc_khz(void);
uint64_t guest_tsc_to_ns(uint64_t cycles);
uint64_t guest_ns_to_tsc(uint64_t ns);
void guest_udelay(uint64_t us);

/* ---- the local APIC timer, xAPIC MMIO at 0xfee00000 (lib/lapic.c) ---- */

/* Software-enables this vCPU's LAPIC (spurious vector 0xff). */
void lapic_enable(void);
/* Ends an interrupt handler for a LAPIC-delivered vector. */
void lapic_eoi(void);
/* Timer ticks per millisecond at divide-by-1, calibrated against the TSC once. */
uint64_t lapic_timer_khz(void);
/* Arms this vCPU's timer to raise vector after period_ns, once or every period
 * (the handler calls lapic_eoi). Returns the TSC value the first expiry is due at. */
uint64_t lapic_timer_start(uint8_t vector, uint64_t period_ns, bool periodic);
void lapic_timer_stop(void);

/* ---- the results window shared with the host (kvmlab/results_abi.h, lib/results.c) ---- */

#include "kvmlab/results_abi.h"

static inline struct results_abi *guest_results(void)
{
	return (struct results_abi *)(uintptr_t)RESULTS_GPA;
}

/* Publishes the TSC frequency and the magic; call once on vCPU 0 before the
 * host is meant to look. */
struct results_abi *results_init(void);
/* param[i] as written by the host, or dflt when it left it 0. */
uint64_t results_param(unsigned i, uint64_t dflt);
/* Bumps this vCPU's progress counter; the host reads it live. */
static inline void results_progress(unsigned cpu, uint64_t n)
{
	__atomic_store_n(&guest_results()->vcpu[cpu].progress, n, __ATOMIC_RELAXED);
}
/* Records one sample (ns) for cpu: the first RESULTS_MAX_SAMPLES are kept,
 * all are counted into nsamples, sum_samples and max_sample. */
void results_sample(unsigned cpu, uint64_t ns);

void guest_sort_u32(uint32_t *a, size_t n);
/* Nearest-rank percentile of a sorted array (0 when empty). */
uint32_t guest_percentile_u32(const uint32_t *sorted, size_t n, unsigned pct);

/* ---- memory layout ---- */

/* The end of the guest image (code, data, bss, stacks): RAM above it is free. */
extern char guest_image_end[];
/* The end of RAM below the 3 GiB MMIO hole, found by probing (touches about 20
 * pages; needs non-strict mode, since probes beyond RAM are unclaimed MMIO). */
uint64_t guest_ram_top(void);
/* Counts the 8-byte-aligned quadwords in [start, end) equal to halves[0] ^
 * halves[1], a value that never exists in guest memory itself (it is built
 * in a register), so the scan cannot find its own copy. *first (if not NULL)
 * gets the first match, or ~0. */
uint64_t guest_scan_hidden(uint64_t start, uint64_t end, const uint64_t halves[2],
			   uint64_t *first);

/* The registers each vCPU had when kvmlab entered it, saved by lib/entry.S
 * before anything ran: guest_entry_regs[GUEST_REG_x][cpu]. */
enum guest_reg {
	GUEST_REG_RAX,
	GUEST_REG_RBX,
	GUEST_REG_RCX,
	GUEST_REG_RDX,
	GUEST_REG_RSI,
	GUEST_REG_RDI,
	GUEST_REG_RBP,
	GUEST_REG_RSP,
	GUEST_REG_R8,
	GUEST_REG_R9,
	GUEST_REG_R10,
	GUEST_REG_R11,
	GUEST_REG_R12,
	GUEST_REG_R13,
	GUEST_REG_R14,
	GUEST_REG_R15,
	GUEST_NREGS,
};
extern uint64_t guest_entry_regs[GUEST_NREGS][GUEST_MAX_VCPUS];

/* ---- spinning vCPUs for scheduling experiments (lib/spin.c) ---- */

/* Counts loop iterations into this vCPU's progress counter and records every
 * TSC gap longer than gap_ns (time the vCPU did not run; at least 16 times the
 * cost of an undisturbed iteration) until *stop or, if end_tsc is not 0, until
 * the TSC reaches end_tsc. */
void spin_run(unsigned cpu, uint64_t gap_ns, uint64_t end_tsc, const volatile int *stop);
/* Prints each vCPU's numbers and one line "RESULT <prefix>_progress=...
 * <prefix>_jain_permille=... <prefix>_samples=... <prefix>_p50_ns=...
 * <prefix>_p99_ns=... <prefix>_max_ns=..." over vCPUs first .. first + n - 1. */
void spin_report(const char *prefix, unsigned first, unsigned n);

#endif
