/* The device-facing half of a VM: memory, buses, stop requests. Needs no /dev/kvm. */
#ifndef KVMLAB_MACHINE_H
#define KVMLAB_MACHINE_H

#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>

#include "bus.h"
#include "err.h"
#include "gmem.h"

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
	return atomic_load_explicit(&m->stopping, memory_order_acquire);
}

/*
 * Routes a port or MMIO access, applying the machine's policy for unclaimed
 * addresses (all-ones on read, counted, and a stop in strict mode). Returns
 * false when the access stopped the machine.
 */
bool machine_pio(struct machine *m, uint16_t port, uint8_t *data, uint32_t len, bool is_write);
bool machine_mmio(struct machine *m, uint64_t addr, uint8_t *data, uint32_t len, bool is_write);

#endif
