/* Unit tests of the i8042: the reset command ends the machine with STOP_RESET; self-test answers.
 */
#include "kvmlab/devices.h"
#include "unit.h"

static void i8042_machine(struct machine *m)
{
	struct errbuf e;

	machine_init(m);
	CHECK(i8042_device.attach(m, &e) == 0);
}

static void out8(struct machine *m, uint16_t port, uint8_t v)
{
	CHECK(machine_pio(m, port, &v, 1, true));
}

static uint8_t in8(struct machine *m, uint16_t port)
{
	uint8_t v = 0;

	CHECK(machine_pio(m, port, &v, 1, false));
	return v;
}

TEST(i8042_pulse_reset_command_stops_with_reset)
{
	struct machine m;

	i8042_machine(&m);
	CHECK_EQ(in8(&m, 0x64) & 0x02, 0); /* input buffer empty: the guest may write */
	out8(&m, 0x64, 0xfe);
	CHECK(machine_stopping(&m));
	CHECK_EQ(m.stop_kind, STOP_RESET);
	CHECK_CONTAINS(m.stop_msg, "i8042");
	machine_destroy(&m);
}

TEST(i8042_output_port_reset_bit_stops_with_reset)
{
	struct machine m;

	i8042_machine(&m);
	out8(&m, 0x64, 0xd0); /* read output port */
	CHECK_EQ(in8(&m, 0x64) & 0x01, 1);
	CHECK_EQ(in8(&m, 0x60) & 0x01, 1); /* reset line not asserted */
	out8(&m, 0x64, 0xd1);
	out8(&m, 0x60, 0x03); /* A20 on, reset off: nothing happens */
	CHECK(!machine_stopping(&m));
	out8(&m, 0x64, 0xd1);
	out8(&m, 0x60, 0x02);
	CHECK_EQ(m.stop_kind, STOP_RESET);
	machine_destroy(&m);
}

TEST(i8042_self_test_and_command_byte)
{
	struct machine m;

	i8042_machine(&m);
	out8(&m, 0x64, 0xaa);
	CHECK_EQ(in8(&m, 0x60), 0x55);
	CHECK_EQ(in8(&m, 0x64) & 0x01, 0); /* read: output buffer empty again */
	out8(&m, 0x64, 0x60);
	out8(&m, 0x60, 0x47);
	out8(&m, 0x64, 0x20);
	CHECK_EQ(in8(&m, 0x60), 0x47);
	out8(&m, 0x64, 0xff); /* pulse nothing */
	CHECK(!machine_stopping(&m));
	machine_destroy(&m);
}
