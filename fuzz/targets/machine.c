/* Fuzz target: a machine with every default device and some RAM, driven as a guest would. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include "fuzz.h"
#include "kvmlab/config.h"
#include "kvmlab/devices.h"
#include "kvmlab/virtio.h"
#include "kvmlab/ucall_abi.h"

#define RAM_SIZE 0x4000 /* guest RAM at 0, where devices read the structures guests pass */

struct expect {
	uint64_t unclaimed_reads[2], unclaimed_writes[2]; /* [0] PIO, [1] MMIO */
	enum stop_kind kind;
	int code;
};

/* The bus's side of the contract, whatever devices sit on it: unclaimed reads are all-ones
 * and counted, strict mode stops on them, and the first stop request wins. */
static void machine_check(const struct machine *m, const struct fuzz_io *io, bool claimed, bool ok,
			  struct expect *x)
{
	const struct bus *b = io->mmio ? &m->mmio : &m->pio;

	FUZZ_CHECK(ok == (claimed || !m->strict), "access returned %d (claimed %d, strict %d)", ok,
		   claimed, m->strict);
	if (!claimed) {
		if (io->write)
			x->unclaimed_writes[io->mmio]++;
		else
			x->unclaimed_reads[io->mmio]++;
		for (uint32_t i = 0; !io->write && i < io->len; i++)
			FUZZ_CHECK(io->data[i] == 0xff, "unclaimed %s read at 0x%llx gave 0x%02x",
				   b->name, (unsigned long long)io->addr, io->data[i]);
	}
	FUZZ_CHECK(b->unclaimed_reads == x->unclaimed_reads[io->mmio] &&
		       b->unclaimed_writes == x->unclaimed_writes[io->mmio],
		   "%s unclaimed counters %llu/%llu, expected %llu/%llu", b->name,
		   (unsigned long long)b->unclaimed_reads, (unsigned long long)b->unclaimed_writes,
		   (unsigned long long)x->unclaimed_reads[io->mmio],
		   (unsigned long long)x->unclaimed_writes[io->mmio]);
	if (x->kind != STOP_NONE)
		FUZZ_CHECK(m->stop_kind == x->kind && m->stop_code == x->code,
			   "first stop %s/0x%x replaced by %s/0x%x", stop_kind_name(x->kind),
			   x->code, stop_kind_name(m->stop_kind), m->stop_code);
	FUZZ_CHECK(machine_stopping(m) == (m->stop_kind != STOP_NONE), "stopping flag disagrees");
	x->kind = m->stop_kind;
	x->code = m->stop_code;
}

/* Interrupt lines go nowhere, as with an irqchip that ignores them. */
static void machine_irq(void *opaque, uint32_t gsi, bool level)
{
	(void)opaque;
	(void)gsi;
	(void)level;
}

/*
 * The devices' clock (RTC, ACPI PM timer): a fixed date plus a counter that every read moves
 * by the input's step, so an input behaves the same on every run and the RTC's
 * update-in-progress window and the PM timer's wrap are reached by stepping, not by luck.
 */
struct fixed_clock {
	uint64_t ns, step;
};

#define CLOCK_EPOCH_S 1735689600ull /* 2025-01-01T00:00:00Z */

static void machine_fixed_clock(void *opaque, clockid_t id, struct timespec *ts)
{
	struct fixed_clock *c = opaque;
	uint64_t ns =
	    (c->ns += c->step) + (id == CLOCK_REALTIME ? CLOCK_EPOCH_S * 1000000000ull : 0);

	ts->tv_sec = (time_t)(ns / 1000000000ull);
	ts->tv_nsec = (long)(ns % 1000000000ull);
}

#define DISK_SIZE 0x10000

/*
 * The virtio devices of a kernel boot (a disk, virtio-rng, the balloon) as the default machine
 * has them; no network, whose backends are sockets. Process-wide on purpose: the run
 * configuration is the same for every input, and the disk is a memfd emptied before each input,
 * so no input sees what an earlier one wrote.
 */
static const struct run_config *machine_virtio_config(void)
{
	static struct run_config *rc;
	static int disk_fd = -1;

	if (!rc) {
		rc = calloc(1, sizeof(*rc));
		disk_fd = memfd_create("machine-fuzz-disk", MFD_CLOEXEC);
		FUZZ_CHECK(rc && disk_fd >= 0, "cannot set up the virtio devices");
		run_config_default(rc);
		snprintf(rc->kernel, sizeof(rc->kernel), "fuzz"); /* a kernel boot's devices */
		snprintf(rc->disks[0], sizeof(rc->disks[0]), "/proc/self/fd/%d", disk_fd);
		rc->rng = true;
	}
	FUZZ_CHECK(ftruncate(disk_fd, 0) == 0 && ftruncate(disk_fd, DISK_SIZE) == 0,
		   "cannot reset the disk");
	return rc;
}

/* Guest log lines would flood the fuzzer's output; every other ucall takes the default path. */
static bool machine_ucall(void *opaque, struct machine *m, const struct ucall_abi *uc)
{
	(void)opaque;
	(void)m;
	return uc->cmd == UCALL_PRINT;
}

/* Selector FUZZ_IO_MACHINE_OWN: the guest writing its RAM (port I/O bit) or the host typing
 * console input (MMIO bit); a length byte and the bytes follow. */
static void machine_own(struct fuzz_in *in, struct machine *m, uint8_t ctl, uint8_t *ram)
{
	uint8_t buf[64];
	size_t n = 1 + fuzz_u8(in) % sizeof(buf);

	for (size_t i = 0; i < n && i < sizeof(buf); i++) /* bound spelled out for gcc -O3 */
		buf[i] = fuzz_u8(in);
	if (ctl & 0x08) {
		FUZZ_CHECK(machine_console_input(m, buf, n) <= n, "took more than offered");
		return;
	}
	memcpy(ram + fuzz_u16(in) % (RAM_SIZE - sizeof(buf)), buf, n);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct fuzz_in in;
	struct machine m;
	struct errbuf e;
	struct fuzz_io io;
	struct expect x = {0};
	struct fixed_clock clock = {0};
	uint8_t *ram = calloc(1, RAM_SIZE);
	uint8_t first;

	FUZZ_CHECK(ram, "out of memory");
	fuzz_in_init(&in, data, size);
	machine_init(&m);
	m.console_fd = fuzz_null_fd();
	first = fuzz_u8(&in); /* bit 0 strict mode, bits 1-7 the clock's step (1-128 ms) */
	m.strict = first & 1;
	clock.step = ((first >> 1) + 1ull) * 1000003ull;
	m.clock = machine_fixed_clock;
	m.clock_opaque = &clock;
	m.set_irq = machine_irq;
	m.on_ucall = machine_ucall;
	FUZZ_CHECK(gmem_add(&m.mem, 0, RAM_SIZE, ram, 0, &e) == 0, "%s", e.msg);
	FUZZ_CHECK(devices_attach_all(&m, &e) == 0, "%s", e.msg);
	FUZZ_CHECK(virtio_attach_configured(&m, machine_virtio_config(), &e) == 0, "%s", e.msg);
	/* Keep going after a stop: other vCPUs may still complete exits while it is handled. */
	while (fuzz_more(&in)) {
		uint8_t ctl = fuzz_u8(&in);
		bool claimed, ok;

		if (ctl >> 4 == FUZZ_IO_MACHINE_OWN) {
			machine_own(&in, &m, ctl, ram);
			continue;
		}
		fuzz_io_machine(&in, ctl, &m, &io);
		claimed = bus_find(io.mmio ? &m.mmio : &m.pio,
				   io.mmio ? io.addr : (uint16_t)io.addr, io.len) != NULL;
		ok = fuzz_io_run(&m, &io);
		machine_check(&m, &io, claimed, ok, &x);
	}
	machine_destroy(&m);
	free(ram);
	return 0;
}
