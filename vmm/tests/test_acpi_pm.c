/* Unit tests of the ACPI fixed hardware: S5 poweroff, the PM timer, PM1 status, the reset register.
 */
#include <time.h>

#include "kvmlab/acpi.h"
#include "kvmlab/devices.h"
#include "unit.h"

static void pm_machine(struct machine *m)
{
	struct errbuf e;

	machine_init(m);
	CHECK(pm_device.attach(m, &e) == 0);
}

static void out16(struct machine *m, uint16_t port, uint16_t v)
{
	CHECK(machine_pio(m, port, (uint8_t *)&v, 2, true));
}

static uint16_t in16(struct machine *m, uint16_t port)
{
	uint16_t v = 0;

	CHECK(machine_pio(m, port, (uint8_t *)&v, 2, false));
	return v;
}

static uint32_t in32(struct machine *m, uint16_t port)
{
	uint32_t v = 0;

	CHECK(machine_pio(m, port, (uint8_t *)&v, 4, false));
	return v;
}

TEST(acpi_pm_s5_with_slp_en_powers_off)
{
	struct machine m;

	pm_machine(&m);
	CHECK_EQ(in16(&m, ACPI_PM1_CNT_PORT) & 1, 1); /* SCI_EN: ACPI mode */
	/* as ACPICA does it: SLP_TYP first, then SLP_EN with it */
	out16(&m, ACPI_PM1_CNT_PORT, ACPI_S5_SLP_TYP << 10);
	CHECK(!machine_stopping(&m));
	out16(&m, ACPI_PM1_CNT_PORT, ACPI_S5_SLP_TYP << 10 | 1 << 13);
	CHECK(machine_stopping(&m));
	CHECK_EQ(m.stop_kind, STOP_POWEROFF);
	CHECK_CONTAINS(m.stop_msg, "S5");
	machine_destroy(&m);
}

TEST(acpi_pm_other_sleep_types_are_ignored)
{
	struct machine m;

	pm_machine(&m);
	out16(&m, ACPI_PM1_CNT_PORT, 1 << 10 | 1 << 13); /* S1-ish: not offered */
	CHECK(!machine_stopping(&m));
	CHECK_EQ(in16(&m, ACPI_PM1_CNT_PORT) & (1 << 13), 0); /* SLP_EN reads as 0 */
	machine_destroy(&m);
}

TEST(acpi_pm_timer_counts_at_3_58_mhz_in_24_bits)
{
	struct machine m;
	struct timespec ts = {.tv_nsec = 20 * 1000 * 1000};
	uint32_t t0, t1, ticks;

	pm_machine(&m);
	t0 = in32(&m, ACPI_PM_TMR_PORT);
	nanosleep(&ts, NULL);
	t1 = in32(&m, ACPI_PM_TMR_PORT);
	CHECK(t0 <= 0xffffff && t1 <= 0xffffff);
	ticks = (t1 - t0) & 0xffffff;
	CHECK(ticks >= 20 * 3579); /* at least 20 ms worth; sleeping may take longer */
	CHECK(ticks < 2000 * 3579);
	machine_destroy(&m);
}

TEST(acpi_pm1_status_clears_on_write_one_and_enable_keeps)
{
	struct machine m;

	pm_machine(&m);
	CHECK_EQ(in16(&m, ACPI_PM1_EVT_PORT), 0);
	out16(&m, ACPI_PM1_EVT_PORT + 2, 0x0120);
	CHECK_EQ(in16(&m, ACPI_PM1_EVT_PORT + 2), 0x0120);
	out16(&m, ACPI_PM1_EVT_PORT, 0xffff);
	CHECK_EQ(in16(&m, ACPI_PM1_EVT_PORT), 0);
	machine_destroy(&m);
}

TEST(acpi_reset_register_resets)
{
	struct machine m;
	uint8_t v = 0x02;

	pm_machine(&m);
	CHECK(machine_pio(&m, ACPI_RESET_PORT, &v, 1, true));
	CHECK(!machine_stopping(&m));
	v = ACPI_RESET_VALUE;
	CHECK(machine_pio(&m, ACPI_RESET_PORT, &v, 1, true));
	CHECK_EQ(m.stop_kind, STOP_RESET);
	machine_destroy(&m);
}
