/* MC146818 CMOS RTC at ports 0x70/0x71: the host's UTC time, BCD or binary, 12 or 24 hours. */
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "kvmlab/acpi.h"
#include "kvmlab/devices.h"

enum rtc_reg {
	RTC_SEC = 0x00,
	RTC_MIN = 0x02,
	RTC_HOUR = 0x04,
	RTC_WDAY = 0x06,
	RTC_MDAY = 0x07,
	RTC_MON = 0x08,
	RTC_YEAR = 0x09,
	RTC_REG_A = 0x0a,
	RTC_REG_B = 0x0b,
	RTC_REG_C = 0x0c,
	RTC_REG_D = 0x0d,
	RTC_CENTURY = ACPI_RTC_CENTURY,
};

#define REG_A_UIP    0x80
#define REG_B_SET    0x80 /* updates stop; the guest is setting the time */
#define REG_B_BINARY 0x04 /* DM: binary, else BCD */
#define REG_B_24H    0x02
#define REG_D_VRT    0x80 /* valid RAM and time */
#define HOUR_PM	     0x80
#define UIP_NS	     244000 /* the update cycle's warning time before each second */
#define CMOS_SIZE    128

/*
 * The guest's clock is the host's UTC time plus an offset the guest changes
 * by writing time registers. While register B's SET bit is up, the time is
 * frozen in set_tm and writes go there; clearing SET makes it current.
 */
struct rtc {
	pthread_mutex_t lock;
	const struct machine *m; /* its clock */
	uint8_t index;
	uint8_t cmos[CMOS_SIZE];
	int64_t offset;
	struct tm set_tm;
};

static uint8_t rtc_enc(const struct rtc *r, unsigned v)
{
	return (r->cmos[RTC_REG_B] & REG_B_BINARY) ? (uint8_t)v
						   : (uint8_t)(((v / 10) << 4) | v % 10);
}

static unsigned rtc_dec(const struct rtc *r, uint8_t v)
{
	return (r->cmos[RTC_REG_B] & REG_B_BINARY) ? v : (v >> 4) * 10u + (v & 0x0f);
}

static uint8_t rtc_enc_hour(const struct rtc *r, unsigned h)
{
	if (r->cmos[RTC_REG_B] & REG_B_24H)
		return rtc_enc(r, h);
	return rtc_enc(r, h % 12 ? h % 12 : 12) | (h >= 12 ? HOUR_PM : 0);
}

static unsigned rtc_dec_hour(const struct rtc *r, uint8_t v)
{
	if (r->cmos[RTC_REG_B] & REG_B_24H)
		return rtc_dec(r, v);
	return rtc_dec(r, v & (uint8_t)~HOUR_PM) % 12 + ((v & HOUR_PM) ? 12 : 0);
}

/* The host's UTC seconds, through the machine's clock. */
static time_t rtc_host_time(const struct rtc *r)
{
	struct timespec ts;

	machine_clock(r->m, CLOCK_REALTIME, &ts);
	return ts.tv_sec;
}

static void rtc_now(const struct rtc *r, struct tm *tm)
{
	time_t t;

	if (r->cmos[RTC_REG_B] & REG_B_SET) {
		*tm = r->set_tm;
		return;
	}
	t = rtc_host_time(r) + (time_t)r->offset;
	gmtime_r(&t, tm);
}

static bool rtc_updating(const struct rtc *r)
{
	struct timespec ts;

	if (r->cmos[RTC_REG_B] & REG_B_SET)
		return false;
	machine_clock(r->m, CLOCK_REALTIME, &ts);
	return ts.tv_nsec >= 1000000000L - UIP_NS;
}

static uint8_t rtc_read(struct rtc *r, uint8_t idx)
{
	struct tm tm;
	uint8_t v;

	rtc_now(r, &tm);
	switch (idx) {
	case RTC_SEC:
		return rtc_enc(r, (unsigned)tm.tm_sec);
	case RTC_MIN:
		return rtc_enc(r, (unsigned)tm.tm_min);
	case RTC_HOUR:
		return rtc_enc_hour(r, (unsigned)tm.tm_hour);
	case RTC_WDAY:
		timegm(&tm); /* the weekday of the date the guest may have set */
		return rtc_enc(r, (unsigned)tm.tm_wday + 1);
	case RTC_MDAY:
		return rtc_enc(r, (unsigned)tm.tm_mday);
	case RTC_MON:
		return rtc_enc(r, (unsigned)tm.tm_mon + 1);
	case RTC_YEAR:
		return rtc_enc(r, (unsigned)(tm.tm_year + 1900) % 100);
	case RTC_CENTURY:
		return rtc_enc(r, (unsigned)(tm.tm_year + 1900) / 100);
	case RTC_REG_A:
		return r->cmos[RTC_REG_A] | (rtc_updating(r) ? REG_A_UIP : 0);
	case RTC_REG_C:
		v = r->cmos[RTC_REG_C]; /* no alarm, periodic or update interrupts are raised */
		r->cmos[RTC_REG_C] = 0;
		return v;
	default:
		return r->cmos[idx];
	}
}

/* Changes one field of the guest's time; false if idx is not a time register. */
static bool rtc_write_time(struct rtc *r, uint8_t idx, uint8_t v)
{
	struct tm tm;
	int year;

	rtc_now(r, &tm);
	year = tm.tm_year + 1900;
	switch (idx) {
	case RTC_SEC:
		tm.tm_sec = (int)rtc_dec(r, v);
		break;
	case RTC_MIN:
		tm.tm_min = (int)rtc_dec(r, v);
		break;
	case RTC_HOUR:
		tm.tm_hour = (int)rtc_dec_hour(r, v);
		break;
	case RTC_WDAY:
		return true; /* derived from the date */
	case RTC_MDAY:
		tm.tm_mday = (int)rtc_dec(r, v);
		break;
	case RTC_MON:
		tm.tm_mon = (int)rtc_dec(r, v) - 1;
		break;
	case RTC_YEAR:
		tm.tm_year = year / 100 * 100 + (int)rtc_dec(r, v) - 1900;
		break;
	case RTC_CENTURY:
		tm.tm_year = (int)rtc_dec(r, v) * 100 + year % 100 - 1900;
		break;
	default:
		return false;
	}
	if (r->cmos[RTC_REG_B] & REG_B_SET) {
		r->set_tm = tm;
	} else {
		r->offset = (int64_t)timegm(&tm) - (int64_t)rtc_host_time(r);
	}
	return true;
}

static void rtc_write(struct rtc *r, uint8_t idx, uint8_t v)
{
	uint8_t old_b = r->cmos[RTC_REG_B];

	if (rtc_write_time(r, idx, v))
		return;
	switch (idx) {
	case RTC_REG_A:
		r->cmos[RTC_REG_A] = v & (uint8_t)~REG_A_UIP;
		break;
	case RTC_REG_B:
		if ((v & REG_B_SET) && !(old_b & REG_B_SET))
			rtc_now(r, &r->set_tm); /* freeze the time the guest is about to change */
		r->cmos[RTC_REG_B] = v;
		if (!(v & REG_B_SET) && (old_b & REG_B_SET))
			r->offset = (int64_t)timegm(&r->set_tm) - (int64_t)rtc_host_time(r);
		break;
	case RTC_REG_C:
	case RTC_REG_D:
		break; /* read-only */
	default:
		r->cmos[idx] = v;
		break;
	}
}

static void rtc_access(void *opaque, uint64_t offset, uint8_t *data, uint32_t len, bool is_write)
{
	struct rtc *r = opaque;

	pthread_mutex_lock(&r->lock);
	if (offset == 0) {
		/* The index port; bit 7 masks NMIs on a PC, which a VM has no use for. */
		if (is_write)
			r->index = data[0] & (CMOS_SIZE - 1);
		else
			memset(data, 0xff, len);
	} else if (is_write) {
		rtc_write(r, r->index, data[0]);
	} else {
		memset(data, 0, len);
		data[0] = rtc_read(r, r->index);
	}
	pthread_mutex_unlock(&r->lock);
}

static void rtc_destroy(void *opaque)
{
	struct rtc *r = opaque;

	pthread_mutex_destroy(&r->lock);
	free(r);
}

static int rtc_attach(struct machine *m, struct errbuf *e)
{
	struct rtc *r = calloc(1, sizeof(*r));

	if (!r)
		return err_set(e, "out of memory creating the RTC");
	/* glibc's gmtime_r and timegm load the time zone (open /etc/localtime) on first use:
	 * do it now, during set-up, not on a vCPU thread whose seccomp filter forbids open. */
	tzset();
	pthread_mutex_init(&r->lock, NULL);
	r->m = m;
	r->cmos[RTC_REG_A] = 0x26; /* 32.768 kHz time base, 1024 Hz periodic rate */
	r->cmos[RTC_REG_B] = REG_B_24H;
	r->cmos[RTC_REG_D] = REG_D_VRT;
	if (machine_on_destroy(m, rtc_destroy, r, e)) {
		rtc_destroy(r);
		return -1;
	}
	return bus_register(&m->pio, 0x70, 2, "rtc", rtc_access, r, e);
}

const struct device_type rtc_device = {"rtc", rtc_attach};
