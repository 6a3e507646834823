/* ACPI fixed hardware: PM1a event/control (poweroff via SLP_TYP/SLP_EN), the PM timer, the reset
 * register. */
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "kvmlab/acpi.h"
#include "kvmlab/devices.h"

#define PM1_SCI_EN    0x0001
#define PM1_SLP_TYP   0x1c00
#define PM1_SLP_EN    0x2000
#define PM1_SLP_SHIFT 10
#define PM_TMR_MASK   0xffffff /* 24 bits: the FADT leaves TMR_VAL_EXT clear */

struct pm {
	pthread_mutex_t lock;
	struct machine *m;
	uint8_t evt[4]; /* PM1 status (write 1 to clear), PM1 enable */
	uint16_t cnt;
};

static uint32_t pm_timer_now(const struct pm *p)
{
	struct timespec ts;
	uint64_t ticks;

	machine_clock(p->m, CLOCK_MONOTONIC, &ts);
	ticks = (uint64_t)ts.tv_sec * ACPI_PM_TMR_HZ +
		(uint64_t)ts.tv_nsec * ACPI_PM_TMR_HZ / 1000000000ull;
	return (uint32_t)(ticks & PM_TMR_MASK);
}

static void pm_evt(void *opaque, uint64_t offset, uint8_t *data, uint32_t len, bool is_write)
{
	struct pm *p = opaque;

	pthread_mutex_lock(&p->lock);
	for (uint32_t i = 0; i < len; i++) {
		uint64_t r = offset + i;

		if (r >= sizeof(p->evt))
			data[i] = is_write ? data[i] : 0xff;
		else if (!is_write)
			data[i] = p->evt[r];
		else if (r < 2)
			p->evt[r] &= (uint8_t)~data[i]; /* status bits clear when written with 1 */
		else
			p->evt[r] = data[i];
	}
	pthread_mutex_unlock(&p->lock);
}

static void pm_cnt(void *opaque, uint64_t offset, uint8_t *data, uint32_t len, bool is_write)
{
	struct pm *p = opaque;
	uint16_t v = 0;
	unsigned slp_typ;

	if (offset != 0 || (len != 1 && len != 2)) {
		if (!is_write)
			memset(data, 0, len);
		return;
	}
	pthread_mutex_lock(&p->lock);
	if (!is_write) {
		v = p->cnt | PM1_SCI_EN; /* always in ACPI mode (the FADT has no SMI_CMD) */
		memcpy(data, &v, len);
		pthread_mutex_unlock(&p->lock);
		return;
	}
	memcpy(&v, data, len);
	if (len == 1)
		v |= p->cnt & 0xff00;
	p->cnt = v & (uint16_t)~PM1_SLP_EN;
	pthread_mutex_unlock(&p->lock);
	slp_typ = (v & PM1_SLP_TYP) >> PM1_SLP_SHIFT;
	if ((v & PM1_SLP_EN) && slp_typ == ACPI_S5_SLP_TYP)
		machine_stop(p->m, STOP_POWEROFF, 0,
			     "guest powered off (ACPI S5: SLP_TYP %u with SLP_EN)", slp_typ);
	/* Other sleep types are not in the DSDT, so a guest has no reason to ask: ignored. */
}

static void pm_tmr(void *opaque, uint64_t offset, uint8_t *data, uint32_t len, bool is_write)
{
	uint32_t v;

	if (is_write)
		return;
	v = offset < 4 ? pm_timer_now(opaque) >> (8 * offset) : 0;
	memset(data, 0, len);
	memcpy(data, &v, len < 4 ? len : 4);
}

static void pm_reset(void *opaque, uint64_t offset, uint8_t *data, uint32_t len, bool is_write)
{
	struct pm *p = opaque;

	if (!is_write) {
		memset(data, 0, len);
		return;
	}
	if (data[0] == ACPI_RESET_VALUE)
		machine_stop(p->m, STOP_RESET, 0, "guest reset the VM (ACPI reset register)");
}

static void pm_destroy(void *opaque)
{
	struct pm *p = opaque;

	pthread_mutex_destroy(&p->lock);
	free(p);
}

static int pm_attach(struct machine *m, struct errbuf *e)
{
	struct pm *p = calloc(1, sizeof(*p));

	if (!p)
		return err_set(e, "out of memory creating the ACPI PM block");
	pthread_mutex_init(&p->lock, NULL);
	p->m = m;
	if (machine_on_destroy(m, pm_destroy, p, e)) {
		pm_destroy(p);
		return -1;
	}
	if (bus_register(&m->pio, ACPI_PM1_EVT_PORT, 4, "acpi-pm1-evt", pm_evt, p, e) ||
	    bus_register(&m->pio, ACPI_PM1_CNT_PORT, 2, "acpi-pm1-cnt", pm_cnt, p, e) ||
	    bus_register(&m->pio, ACPI_PM_TMR_PORT, 4, "acpi-pm-timer", pm_tmr, p, e) ||
	    bus_register(&m->pio, ACPI_RESET_PORT, 1, "acpi-reset", pm_reset, p, e))
		return -1;
	return 0;
}

const struct device_type pm_device = {"acpi-pm", pm_attach};
