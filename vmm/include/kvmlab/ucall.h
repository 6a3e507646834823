/* Host side of the ucall protocol: the device at UCALL_PORT and the hook tests install. */
#ifndef KVMLAB_UCALL_H
#define KVMLAB_UCALL_H

#include "machine.h"
#include "ucall_abi.h"

/*
 * Called on the vCPU thread for every well-formed ucall, before the default
 * action. Return true to consume the call (the default action is skipped).
 * It may block (the calling vCPU waits) but must not pause or wait for its own VM.
 */
typedef bool (*ucall_fn)(void *opaque, struct machine *m, const struct ucall_abi *uc);

/* Installs (or with fn NULL removes) the machine's ucall hook. Set it before
 * the VM starts. */
void ucall_set_hook(struct machine *m, ucall_fn fn, void *opaque);

/*
 * The default action: SYNC and PRINT are counted (PRINT also goes to stderr),
 * DONE stops the machine with STOP_GUEST_DONE, ASSERT and FAULT stop it with
 * STOP_GUEST_ASSERT and a report naming the guest's file, line and values.
 */
void ucall_default(struct machine *m, const struct ucall_abi *uc);

/* One line describing uc ("ASSERT guests/x.c:12: a == b (0x1, 0x2)"). */
void ucall_describe(const struct ucall_abi *uc, char *buf, size_t len);

#endif
