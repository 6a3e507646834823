/* The device-facing half of a VM: memory, buses, stop requests. Needs no /dev/kvm. */
#ifndef KVMLAB_MACHINE_H
#define KVMLAB_MACHINE_H

#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <time.h>

#include "bus.h"
#include "err.h"
#include "gmem.h"

struct acpi_devices;
struct sandbox;
struct ucall_abi;

/* Why a machine stopped; the kvmlab command maps each kind to an exit status. */
enum stop_kind {
	STOP_NONE = 0,
	STOP_DEBUG_EXIT, /* guest wrote the debug-exit port; code is the value written */
	STOP_HALT,	 /* guest halted with no in-kernel irqchip to wake it */
	STOP_POWEROFF,	 /* guest asked to power off */
	STOP_RESET,	 /* guest asked to reset */
	STOP_SHUTDOWN,	 /* vCPU shutdown: a triple fault */
	STOP_GUEST_ERROR, /* entry failure, internal error, unknown exit, strict-mode access */
	STOP_HOST_ERROR,  /* an ioctl or host resource failed while running */
	STOP_TIMEOUT,	  /* the run's time limit passed */
	STOP_REQUESTED,	  /* the host asked (control API, signal) */
	STOP_GUEST_DONE,  /* the guest's test reported success (ucall DONE) */
	STOP_GUEST_ASSERT, /* the guest's test failed an assertion or took a fault */
};

const char *stop_kind_name(enum stop_kind kind);

struct machine_cleanup {
	void (*fn)(void *opaque);
	void *opaque;
	struct machine_cleanup *next;
};

/*
 * Devices attach to a machine, never to globals: a fuzz target or unit test
 * builds a machine on plain memory and drives the same callbacks a vCPU
 * would. The first stop request wins; later ones are ignored, so the report
 * names the cause, not a consequence.
 */
struct machine {
	struct gmem mem;
	struct bus pio;
	struct bus mmio;
	bool strict; /* unclaimed port or MMIO accesses stop the machine */
	int console_fd;

	atomic_bool stopping;
	pthread_mutex_t stop_lock;
	enum stop_kind stop_kind;
	int stop_code;
	char stop_msg[ERR_MSG_LEN];
	/* Called once, after the first stop request is recorded (the VM kicks its vCPUs). */
	void (*on_stop)(void *opaque);
	void *on_stop_opaque;

	struct machine_cleanup *cleanups;

	/* The ucall hook (see ucall.h); NULL for the default action only. */
	bool (*on_ucall)(void *opaque, struct machine *m, const struct ucall_abi *uc);
	void *on_ucall_opaque;

	/* Interrupt lines (machine_set_irq): the VM installs KVM_IRQ_LINE, tests a recorder. */
	void (*set_irq)(void *opaque, uint32_t gsi, bool level);
	void *set_irq_opaque;
	/* Console input (machine_console_input): the UART installs its receiver. */
	size_t (*console_in)(void *opaque, const uint8_t *buf, size_t len);
	void *console_in_opaque;
	/* The clocks devices read (RTC, ACPI PM timer), see machine_clock; NULL is the
	 * host's clock_gettime. Fuzz targets install a counter, so an input replays exactly. */
	void (*clock)(void *opaque, clockid_t id, struct timespec *ts);
	void *clock_opaque;
	/*
	 * KVM notification fds, for virtio (virtio.h); NULL without a VM, and devices
	 * then do their work synchronously. ioeventfd: a guest write of datamatch (len
	 * bytes) at MMIO address addr signals fd instead of exiting. irqfd: a write to
	 * fd pulses GSI gsi (needs the in-kernel irqchip, else NULL). assign false
	 * removes the registration.
	 */
	int (*ioeventfd)(void *opaque, int fd, uint64_t addr, uint32_t len, uint64_t datamatch,
			 bool assign, struct errbuf *e);
	int (*irqfd)(void *opaque, int fd, uint32_t gsi, bool assign, struct errbuf *e);
	void *kvm_opaque;
	/* Gives guest RAM [gpa, gpa + len) back to the host (virtio-balloon): the VM installs
	 * vm_mem_discard (mem.h), whose gpa and len must be multiples of discard_min;
	 * discard_align is the unit that goes back without splitting a page (the memory
	 * policy's page size). NULL without a VM. */
	int (*discard)(void *opaque, uint64_t gpa, uint64_t len, struct errbuf *e);
	void *discard_opaque;
	uint64_t discard_align;
	uint64_t discard_min;
	unsigned ncpus;		   /* vCPUs, for fw_cfg and the ACPI tables; 0 counts as 1 */
	struct acpi_devices *acpi; /* what the DSDT describes besides COM1 (acpi.h) */
	/* Seccomp filters each thread of this machine enters (sandbox.h); NULL: none. */
	const struct sandbox *sandbox;
};

void machine_init(struct machine *m);

/* Runs the registered cleanups (newest first) and frees the buses. Guest
 * memory belongs to whoever added it. */
void machine_destroy(struct machine *m);

/* Registers fn(opaque) to run at machine_destroy; devices free themselves this way. */
int machine_on_destroy(struct machine *m, void (*fn)(void *), void *opaque, struct errbuf *e);

/* Records the first stop request and wakes whoever runs the machine. */
void machine_stop(struct machine *m, enum stop_kind kind, int code, const char *fmt, ...)
	__attribute__((format(printf, 4, 5)));

static inline bool machine_stopping(const struct machine *m)
{
	/* seq_cst, like the store in machine_stop: vCPU start-up relies on it (run.c). */
	return atomic_load(&m->stopping);
}

/*
 * Routes a port or MMIO access, applying the machine's policy for unclaimed
 * addresses (all-ones on read, counted, and a stop in strict mode). Returns
 * false when the access stopped the machine.
 */
bool machine_pio_slow(struct machine *m, uint16_t port, uint8_t *data, uint32_t len,
		      bool is_write);
static inline bool machine_pio(struct machine *m, uint16_t port, uint8_t *data, uint32_t len,
			       bool is_write)
{
	/* The exit path: a claimed port costs one index lookup and the callback. */
	const struct bus_range *r = bus_find_direct(&m->pio, port, len);

	if (__builtin_expect(r != NULL, 1)) {
		r->fn(r->opaque, port - r->base, data, len, is_write);
		return true;
	}
	return machine_pio_slow(m, port, data, len, is_write);
}
bool machine_mmio(struct machine *m, uint64_t addr, uint8_t *data, uint32_t len, bool is_write);

/* Drives interrupt line gsi (an ISA IRQ or IOAPIC pin) to level; dropped when no
 * set_irq is installed (no irqchip). Devices call it on every change of their line. */
void machine_set_irq(struct machine *m, uint32_t gsi, bool level);

/* Offers console input to the machine's console device; returns how many bytes it
 * took (0 when its FIFO is full or there is no console device: try again later). */
size_t machine_console_input(struct machine *m, const uint8_t *buf, size_t len);

/* Clock id (CLOCK_REALTIME or CLOCK_MONOTONIC) as the machine's devices see it. */
void machine_clock(const struct machine *m, clockid_t id, struct timespec *ts);

#endif
