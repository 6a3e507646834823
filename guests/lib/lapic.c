/* The local APIC timer through xAPIC MMIO (in-kernel LAPIC), calibrated against the TSC. */
#include "guest.h"

#define XAPIC_BASE	 0xfee00000ull
#define XAPIC_EOI	 0xb0
#define XAPIC_SVR	 0xf0
#define XAPIC_LVT_TIMER	 0x320
#define XAPIC_TIMER_INIT 0x380
#define XAPIC_TIMER_CUR	 0x390
#define XAPIC_TIMER_DIV	 0x3e0
#define LVT_MASKED	 (1u << 16)
#define LVT_PERIODIC	 (1u << 17)
#define DIV_BY_1	 0xb
#define CALIBRATE_US	 5000

static uint64_t timer_khz;
static int calib_state; /* as in timing.c: 0, 1 calibrating, 2 valid */

static void lapic_write(uint32_t reg, uint32_t v)
{
	*(volatile uint32_t *)(uintptr_t)(XAPIC_BASE + reg) = v;
}

static uint32_t lapic_read(uint32_t reg)
{
	return *(volatile uint32_t *)(uintptr_t)(XAPIC_BASE + reg);
}

void lapic_enable(void)
{
	lapic_write(XAPIC_SVR, 0x1ff); /* software enable, spurious vector 0xff */
}

void lapic_eoi(void)
{
	lapic_write(XAPIC_EOI, 0);
}

/* Counts the timer down (masked, one-shot, divide by 1) over a TSC-timed
 * window. Each register read is bracketed by two TSC reads, since under
 * nested virtualization one read may cost tens of microseconds; *noise is
 * the bracket width, and the calibration keeps the quietest run. */
static uint64_t lapic_measure_khz(uint64_t *noise)
{
	uint64_t window = guest_ns_to_tsc(CALIBRATE_US * 1000ull), a0, b0, a1, b1, cycles;
	uint32_t c0, c1;

	lapic_write(XAPIC_TIMER_DIV, DIV_BY_1);
	lapic_write(XAPIC_LVT_TIMER, LVT_MASKED);
	lapic_write(XAPIC_TIMER_INIT, 0xffffffffu);
	a0 = rdtsc();
	c0 = lapic_read(XAPIC_TIMER_CUR);
	b0 = rdtsc();
	while (rdtsc() - b0 < window)
		cpu_relax();
	a1 = rdtsc();
	c1 = lapic_read(XAPIC_TIMER_CUR);
	b1 = rdtsc();
	lapic_write(XAPIC_TIMER_INIT, 0);
	cycles = (a1 + b1) / 2 - (a0 + b0) / 2;
	*noise = (b0 - a0) + (b1 - a1);
	/* ticks per ms = ticks / (cycles / tsc_khz) */
	return (uint64_t)(c0 - c1) * guest_tsc_khz() / (cycles ? cycles : 1);
}

uint64_t lapic_timer_khz(void)
{
	int expected = 0;

	if (__atomic_load_n(&calib_state, __ATOMIC_ACQUIRE) == 2)
		return timer_khz;
	if (__atomic_compare_exchange_n(&calib_state, &expected, 1, false, __ATOMIC_ACQ_REL,
					__ATOMIC_ACQUIRE)) {
		/* Every vCPU's timer runs from the same bus clock: measure it once. */
		uint64_t best = 1, best_noise = ~0ull;

		lapic_enable();
		for (int i = 0; i < 3; i++) {
			uint64_t noise, k = lapic_measure_khz(&noise);

			if (noise < best_noise) {
				best = k;
				best_noise = noise;
			}
		}
		timer_khz = best ? best : 1;
		__atomic_store_n(&calib_state, 2, __ATOMIC_RELEASE);
		return timer_khz;
	}
	while (__atomic_load_n(&calib_state, __ATOMIC_ACQUIRE) != 2)
		cpu_relax();
	return timer_khz;
}

uint64_t lapic_timer_start(uint8_t vector, uint64_t period_ns, bool periodic)
{
	uint64_t ticks = period_ns * lapic_timer_khz() / 1000000ull, now;

	if (ticks == 0)
		ticks = 1;
	if (ticks > 0xffffffffull)
		ticks = 0xffffffffull;
	lapic_enable();
	lapic_write(XAPIC_TIMER_DIV, DIV_BY_1);
	lapic_write(XAPIC_LVT_TIMER, vector | (periodic ? LVT_PERIODIC : 0));
	now = rdtsc();
	lapic_write(XAPIC_TIMER_INIT, (uint32_t)ticks);
	return now + ticks * guest_tsc_khz() / lapic_timer_khz();
}

void lapic_timer_stop(void)
{
	lapic_write(XAPIC_LVT_TIMER, LVT_MASKED);
	lapic_write(XAPIC_TIMER_INIT, 0);
}
