/* Decoding guest port/MMIO accesses for the device and machine fuzz targets (see fuzz.h). */
#include <fcntl.h>
#include <string.h>

#include "fuzz.h"

#define WINDOW_RARE  31
#define MACHINE_ANY  14
#define MACHINE_MMIO 0x08

static void fuzz_io_value(struct fuzz_in *in, struct fuzz_io *io)
{
	memset(io->data, 0, sizeof(io->data));
	if (io->write)
		for (uint32_t i = 0; i < io->len; i++)
			io->data[i] = fuzz_u8(in);
}

void fuzz_io_window(struct fuzz_in *in, uint8_t ctl, uint64_t base, uint64_t width, bool mmio,
		    struct fuzz_io *io)
{
	unsigned sel = ctl >> 3;

	io->write = ctl & FUZZ_IO_WRITE;
	io->mmio = mmio;
	if (sel == WINDOW_RARE) {
		io->addr = base + (uint64_t)(int64_t)(int16_t)fuzz_u16(in);
		io->len = 1 + fuzz_u8(in) % 8;
	} else {
		io->addr = base + sel % width;
		io->len = FUZZ_IO_SIZE(ctl);
	}
	if (!mmio)
		io->addr &= 0xffff;
	fuzz_io_value(in, io);
}

void fuzz_io_machine(struct fuzz_in *in, uint8_t ctl, const struct machine *m, struct fuzz_io *io)
{
	unsigned sel = ctl >> 4;
	const struct bus *b;

	io->write = ctl & FUZZ_IO_WRITE;
	io->mmio = ctl & MACHINE_MMIO;
	io->len = FUZZ_IO_SIZE(ctl);
	b = io->mmio ? &m->mmio : &m->pio;
	if (sel < MACHINE_ANY && b->nranges) {
		const struct bus_range *r = &b->ranges[fuzz_u8(in) % b->nranges];

		io->addr = r->base + fuzz_below(in, r->len);
	} else {
		io->addr = io->mmio ? fuzz_u64(in) : fuzz_u16(in);
	}
	fuzz_io_value(in, io);
}

bool fuzz_io_run(struct machine *m, struct fuzz_io *io)
{
	if (io->mmio)
		return machine_mmio(m, io->addr, io->data, io->len, io->write);
	return machine_pio(m, (uint16_t)io->addr, io->data, io->len, io->write);
}

/* Process-wide on purpose: opened once, holds no state an input could change. */
int fuzz_null_fd(void)
{
	static int fd = -1;

	if (fd < 0)
		fd = open("/dev/null", O_WRONLY | O_CLOEXEC);
	return fd;
}
