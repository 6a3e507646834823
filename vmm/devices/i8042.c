/* i8042 keyboard controller, just enough for a PC: self-test, command byte, and the reset line. */
#include <pthread.h>
#include <stdlib.h>
#include <string.h>

#include "kvmlab/devices.h"

/*
 * There is no keyboard or mouse behind it, and the FADT does not announce an
 * 8042, so Linux does not probe it; what it is for is the reset a guest
 * pulses through it (command 0xfe, Linux's reboot=k and its fallback after
 * the ACPI reset register), which stops the VM with STOP_RESET.
 */

#define I8042_DATA_PORT 0x60
#define I8042_CMD_PORT	0x64

#define STS_OBF	     0x01 /* output buffer full */
#define STS_SYS	     0x04 /* system flag: self-test passed */
#define STS_CMD	     0x08 /* the last write went to the command port */
#define STS_UNLOCKED 0x10

#define CMD_READ_CONFIG	 0x20
#define CMD_WRITE_CONFIG 0x60
#define CMD_AUX_DISABLE	 0xa7
#define CMD_AUX_ENABLE	 0xa8
#define CMD_AUX_TEST	 0xa9
#define CMD_SELF_TEST	 0xaa
#define CMD_KBD_TEST	 0xab
#define CMD_KBD_DISABLE	 0xad
#define CMD_KBD_ENABLE	 0xae
#define CMD_READ_OUTPUT	 0xd0
#define CMD_WRITE_OUTPUT 0xd1
#define CMD_PULSE_FIRST	 0xf0 /* 0xf0-0xff pulse the output lines whose bit is clear */

#define CONFIG_KBD_DISABLED 0x10
#define CONFIG_AUX_DISABLED 0x20
#define OUTPUT_RESET	    0x01 /* low: the CPU is held in reset */
#define OUTPUT_A20	    0x02

struct i8042 {
	pthread_mutex_t lock;
	struct machine *m;
	uint8_t status, out, config, output_port;
	uint8_t pending; /* a command waiting for its data byte, or 0 */
};

static void i8042_reply(struct i8042 *k, uint8_t v)
{
	k->out = v;
	k->status |= STS_OBF;
}

/* Returns true when the command asks for a reset. */
static bool i8042_command(struct i8042 *k, uint8_t cmd)
{
	switch (cmd) {
	case CMD_READ_CONFIG:
		i8042_reply(k, k->config);
		break;
	case CMD_WRITE_CONFIG:
	case CMD_WRITE_OUTPUT:
		k->pending = cmd;
		break;
	case CMD_AUX_DISABLE:
		k->config |= CONFIG_AUX_DISABLED;
		break;
	case CMD_AUX_ENABLE:
		k->config &= (uint8_t)~CONFIG_AUX_DISABLED;
		break;
	case CMD_SELF_TEST:
		k->status |= STS_SYS;
		i8042_reply(k, 0x55);
		break;
	case CMD_AUX_TEST:
	case CMD_KBD_TEST:
		i8042_reply(k, 0x00);
		break;
	case CMD_KBD_DISABLE:
		k->config |= CONFIG_KBD_DISABLED;
		break;
	case CMD_KBD_ENABLE:
		k->config &= (uint8_t)~CONFIG_KBD_DISABLED;
		break;
	case CMD_READ_OUTPUT:
		i8042_reply(k, k->output_port);
		break;
	default:
		return cmd >= CMD_PULSE_FIRST && !(cmd & OUTPUT_RESET);
	}
	return false;
}

/* Returns true when the byte asks for a reset. */
static bool i8042_data(struct i8042 *k, uint8_t v)
{
	uint8_t cmd = k->pending;

	k->pending = 0;
	if (cmd == CMD_WRITE_CONFIG) {
		k->config = v;
	} else if (cmd == CMD_WRITE_OUTPUT) {
		k->output_port = v;
		return !(v & OUTPUT_RESET);
	}
	/* Bytes for the keyboard go nowhere: there is none. */
	return false;
}

static void i8042_access(struct i8042 *k, bool cmd_port, uint8_t *data, uint32_t len, bool is_write)
{
	bool reset = false;

	pthread_mutex_lock(&k->lock);
	if (!is_write) {
		memset(data, 0, len);
		if (cmd_port) {
			data[0] = k->status;
		} else {
			data[0] = k->out;
			k->status &= (uint8_t)~STS_OBF;
		}
	} else if (cmd_port) {
		k->status |= STS_CMD;
		reset = i8042_command(k, data[0]);
	} else {
		k->status &= (uint8_t)~STS_CMD;
		reset = i8042_data(k, data[0]);
	}
	pthread_mutex_unlock(&k->lock);
	if (reset)
		machine_stop(k->m, STOP_RESET, 0, "guest reset the VM (i8042 reset line)");
}

static void i8042_data_port(void *opaque, uint64_t offset, uint8_t *data, uint32_t len,
			    bool is_write)
{
	i8042_access(opaque, false, data, len, is_write);
}

static void i8042_cmd_port(void *opaque, uint64_t offset, uint8_t *data, uint32_t len,
			   bool is_write)
{
	i8042_access(opaque, true, data, len, is_write);
}

static void i8042_destroy(void *opaque)
{
	struct i8042 *k = opaque;

	pthread_mutex_destroy(&k->lock);
	free(k);
}

static int i8042_attach(struct machine *m, struct errbuf *e)
{
	struct i8042 *k = calloc(1, sizeof(*k));

	if (!k)
		return err_set(e, "out of memory creating the i8042");
	pthread_mutex_init(&k->lock, NULL);
	k->m = m;
	k->status = STS_SYS | STS_UNLOCKED;
	k->config = CONFIG_AUX_DISABLED | 0x44; /* system flag, scancode translation */
	k->output_port = OUTPUT_RESET | OUTPUT_A20;
	if (machine_on_destroy(m, i8042_destroy, k, e)) {
		i8042_destroy(k);
		return -1;
	}
	/* One range per port: 0x61 between them is the in-kernel PIT's speaker port. */
	if (bus_register(&m->pio, I8042_DATA_PORT, 1, "i8042-data", i8042_data_port, k, e) ||
	    bus_register(&m->pio, I8042_CMD_PORT, 1, "i8042-cmd", i8042_cmd_port, k, e))
		return -1;
	return 0;
}

const struct device_type i8042_device = {"i8042", i8042_attach};
