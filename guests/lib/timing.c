/* Guest time: the TSC frequency, from KVM's paravirtual clock or measured against the PIT. */
#include "guest.h"

#define PIT_HZ			1193182ull
#define PIT_CH2			0x42
#define PIT_CMD			0x43
#define PORT_B			0x61 /* bit 0: channel 2 gate, bit 1: speaker, bit 5: channel 2 output */
#define CALIBRATE_MS		2
#define CALIBRATE_RUN		10
#define MSR_KVM_SYSTEM_TIME_NEW 0x4b564d01

/* KVM's per-vCPU time page (pvclock_vcpu_time_info): ns = ((tsc << shift) * mul) >> 32. */
struct pvclock {
	uint32_t version;
	uint32_t pad0;
	uint64_t tsc_timestamp;
	uint64_t system_time;
	uint32_t mul;
	int8_t shift;
	uint8_t flags;
	uint8_t pad[2];
} __attribute__((aligned(64)));

static struct pvclock pvclock;

static uint64_t tsc_khz;
static int calib_state; /* 0: not yet, 1: a vCPU is calibrating, 2: tsc_khz is valid */

/* TSC cycles while PIT channel 2 counts down ms milliseconds in mode 0 (the
 * Linux method): its output goes high at terminal count. */
static uint64_t pit_window_cycles(unsigned ms)
{
	uint32_t latch = (uint32_t)(PIT_HZ * ms / 1000);
	uint64_t t0;

	outb(PORT_B, (uint8_t)((inb(PORT_B) & ~0x02) | 0x01));
	outb(PIT_CMD, 0xb0); /* channel 2, lobyte/hibyte, mode 0, binary */
	outb(PIT_CH2, (uint8_t)latch);
	outb(PIT_CH2, (uint8_t)(latch >> 8));
	t0 = rdtsc();
	while (!(inb(PORT_B) & 0x20))
		;
	return rdtsc() - t0;
}

static void wrmsr(uint32_t msr, uint64_t v)
{
	__asm__ volatile("wrmsr"
			 :
			 : "c"(msr), "a"((uint32_t)v), "d"((uint32_t)(v >> 32))
			 : "memory");
}

/* The exact TSC frequency KVM uses for the guest's clock: enable kvmclock for a
 * moment, read its scale, disable it again (so KVM stops writing to guest
 * memory). KVM accepts the MSR unless PV-feature CPUID is enforced; 0 then. */
static uint64_t pvclock_tsc_khz(void)
{
	uint32_t a, b, c, d;
	uint64_t khz = 0;

	cpuid(0x40000000, 0, &a, &b, &c, &d);
	if (b != 0x4b4d564b || c != 0x564b4d56 || d != 0x4d) /* "KVMKVMKVM" */
		return 0;
	memset(&pvclock, 0, sizeof(pvclock));
	wrmsr(MSR_KVM_SYSTEM_TIME_NEW, (uint64_t)(uintptr_t)&pvclock | 1);
	if (__atomic_load_n(&pvclock.version, __ATOMIC_ACQUIRE) && pvclock.mul &&
	    pvclock.shift > -16 && pvclock.shift < 16) {
		/* tsc_hz = 10^9 * 2^32 / (mul * 2^shift) */
		unsigned up = (unsigned)(32 - pvclock.shift);

		khz = up > 43 ? (1000000ull << (up - 20)) / pvclock.mul << 20
			      : (1000000ull << up) / pvclock.mul;
	}
	wrmsr(MSR_KVM_SYSTEM_TIME_NEW, 0);
	return khz;
}

uint64_t guest_tsc_khz(void)
{
	int expected = 0;

	if (__atomic_load_n(&calib_state, __ATOMIC_ACQUIRE) == 2)
		return tsc_khz;
	if (__atomic_compare_exchange_n(&calib_state, &expected, 1, false, __ATOMIC_ACQ_REL,
					__ATOMIC_ACQUIRE)) {
		tsc_khz = pvclock_tsc_khz();
		if (!tsc_khz) {
			/* The shortest of several short windows: a window stretched by a
			 * host preemption only ever looks longer, and short windows fit
			 * between the preemptions of a busy scheduler. */
			uint64_t best = ~0ull;

			for (int i = 0; i < CALIBRATE_RUN; i++) {
				uint64_t c = pit_window_cycles(CALIBRATE_MS);

				best = c < best ? c : best;
			}
			tsc_khz = best / CALIBRATE_MS ? best / CALIBRATE_MS : 1;
		}
		__atomic_store_n(&calib_state, 2, __ATOMIC_RELEASE);
		return tsc_khz;
	}
	while (__atomic_load_n(&calib_state, __ATOMIC_ACQUIRE) != 2)
		cpu_relax();
	return tsc_khz;
}

uint64_t guest_tsc_to_ns(uint64_t cycles)
{
	uint64_t khz = guest_tsc_khz();

	/* Split to keep cycles * 10^6 from overflowing for long intervals. */
	return cycles / khz * 1000000ull + cycles % khz * 1000000ull / khz;
}

uint64_t guest_ns_to_tsc(uint64_t ns)
{
	uint64_t khz = guest_tsc_khz();

	return ns / 1000000ull * khz + ns % 1000000ull * khz / 1000000ull;
}

void guest_udelay(uint64_t us)
{
	uint64_t end = rdtsc() + guest_ns_to_tsc(us * 1000);

	while ((int64_t)(rdtsc() - end) < 0)
		cpu_relax();
}
