/* Unit tests of the CMOS RTC: host time, BCD and binary, 12 and 24 hours, setting the time. */
#include <time.h>

#include "kvmlab/devices.h"
#include "unit.h"

#define RTC_INDEX 0x70
#define RTC_DATA  0x71

static uint8_t cmos_read(struct machine *m, uint8_t idx)
{
	uint8_t v = idx;

	CHECK(machine_pio(m, RTC_INDEX, &v, 1, true));
	CHECK(machine_pio(m, RTC_DATA, &v, 1, false));
	return v;
}

static void cmos_write(struct machine *m, uint8_t idx, uint8_t v)
{
	CHECK(machine_pio(m, RTC_INDEX, &idx, 1, true));
	CHECK(machine_pio(m, RTC_DATA, &v, 1, true));
}

static void rtc_machine(struct machine *m)
{
	struct errbuf e;

	machine_init(m);
	CHECK(rtc_device.attach(m, &e) == 0);
}

static unsigned bcd(uint8_t v)
{
	return (v >> 4) * 10u + (v & 0x0f);
}

/* Sets 2024-02-29 23:59:58 (a Thursday) in BCD, 24-hour mode, with SET up. */
static void set_leap_day(struct machine *m)
{
	cmos_write(m, 0x0b, 0x82); /* SET, 24h, BCD */
	cmos_write(m, 0x00, 0x58);
	cmos_write(m, 0x02, 0x59);
	cmos_write(m, 0x04, 0x23);
	cmos_write(m, 0x07, 0x29);
	cmos_write(m, 0x08, 0x02);
	cmos_write(m, 0x09, 0x24);
	cmos_write(m, 0x32, 0x20);
}

TEST(rtc_reads_the_hosts_utc_time_in_bcd)
{
	struct machine m;
	struct tm before, after;
	time_t t0, t1;
	unsigned sec, min, hour, mday, mon, year;

	rtc_machine(&m);
	CHECK_EQ(cmos_read(&m, 0x0b), 0x02); /* 24h, BCD */
	CHECK_EQ(cmos_read(&m, 0x0d), 0x80); /* valid RAM and time */
	do {
		t0 = time(NULL);
		sec = bcd(cmos_read(&m, 0x00));
		min = bcd(cmos_read(&m, 0x02));
		hour = bcd(cmos_read(&m, 0x04));
		mday = bcd(cmos_read(&m, 0x07));
		mon = bcd(cmos_read(&m, 0x08));
		year = bcd(cmos_read(&m, 0x32)) * 100 + bcd(cmos_read(&m, 0x09));
		t1 = time(NULL);
	} while (t0 != t1); /* retry across a second boundary */
	gmtime_r(&t0, &before);
	gmtime_r(&t1, &after);
	CHECK_EQ(sec, (unsigned)before.tm_sec);
	CHECK_EQ(min, (unsigned)before.tm_min);
	CHECK_EQ(hour, (unsigned)before.tm_hour);
	CHECK_EQ(mday, (unsigned)before.tm_mday);
	CHECK_EQ(mon, (unsigned)before.tm_mon + 1);
	CHECK_EQ(year, (unsigned)before.tm_year + 1900);
	machine_destroy(&m);
}

TEST(rtc_set_bit_freezes_the_time_the_guest_writes)
{
	struct machine m;

	rtc_machine(&m);
	set_leap_day(&m);
	CHECK_EQ(cmos_read(&m, 0x00), 0x58);
	CHECK_EQ(cmos_read(&m, 0x04), 0x23);
	CHECK_EQ(cmos_read(&m, 0x06), 5); /* Thursday: Sunday is 1 */
	CHECK_EQ(cmos_read(&m, 0x07), 0x29);
	CHECK_EQ(cmos_read(&m, 0x0a) & 0x80, 0); /* no update in progress while SET */
	/* binary and 12-hour: the same time, re-encoded */
	cmos_write(&m, 0x0b, 0x84);
	CHECK_EQ(cmos_read(&m, 0x00), 58);
	CHECK_EQ(cmos_read(&m, 0x04), 0x80 | 11); /* 11 PM */
	CHECK_EQ(cmos_read(&m, 0x09), 24);
	cmos_write(&m, 0x04, 0x80 | 12); /* 12 PM is noon */
	cmos_write(&m, 0x0b, 0x86);
	CHECK_EQ(cmos_read(&m, 0x04), 12);
	cmos_write(&m, 0x0b, 0x84);
	cmos_write(&m, 0x04, 12); /* 12 AM is midnight */
	cmos_write(&m, 0x0b, 0x86);
	CHECK_EQ(cmos_read(&m, 0x04), 0);
	machine_destroy(&m);
}

TEST(rtc_clearing_set_makes_the_new_time_run)
{
	struct machine m;
	unsigned sec;

	rtc_machine(&m);
	set_leap_day(&m);
	cmos_write(&m, 0x0b, 0x02); /* SET down: the clock runs from the written time */
	sec = bcd(cmos_read(&m, 0x00));
	CHECK(sec == 58 || sec == 59 || sec == 0);
	CHECK_EQ(cmos_read(&m, 0x09), 0x24);
	CHECK_EQ(cmos_read(&m, 0x08), sec == 0 ? 0x03 : 0x02); /* after midnight: March 1st */
	machine_destroy(&m);
}

TEST(rtc_plain_cmos_bytes_and_read_only_registers)
{
	struct machine m;

	rtc_machine(&m);
	cmos_write(&m, 0x40, 0xa5);
	CHECK_EQ(cmos_read(&m, 0x40), 0xa5);
	cmos_write(&m, 0x0d, 0x00);
	CHECK_EQ(cmos_read(&m, 0x0d), 0x80);
	CHECK_EQ(cmos_read(&m, 0x0c), 0x00); /* no interrupt flags */
	cmos_write(&m, 0x8f, 0x00);	     /* NMI-mask bit is ignored: index 0x0f */
	cmos_write(&m, 0x0f, 0x33);
	CHECK_EQ(cmos_read(&m, 0x8f), 0x33);
	machine_destroy(&m);
}
