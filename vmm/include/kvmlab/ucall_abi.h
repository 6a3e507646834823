/* The test-call (ucall) ABI shared by guests and kvmlab: one port write carries a struct's address. */
#ifndef KVMLAB_UCALL_ABI_H
#define KVMLAB_UCALL_ABI_H

#include <stdint.h>

/*
 * A guest fills a struct ucall_abi in its own memory and writes its
 * guest-physical address (below 4 GiB) to UCALL_PORT with a 32-bit OUT.
 * kvmlab reads it through the checked guest-memory accessor, so a hostile
 * address gets a report, not a host access.
 */
#define UCALL_PORT 0x1000

enum ucall_cmd {
	UCALL_SYNC = 1,	  /* args[0] = stage; the guest continues */
	UCALL_DONE = 2,	  /* the test passed; the VM stops */
	UCALL_ASSERT = 3, /* file, line, msg = failed expression, args = values; VM stops */
	UCALL_FAULT = 4,  /* args = vector, error code, RIP, CR2; VM stops */
	UCALL_PRINT = 5,  /* msg is a line for the host's log */
};

#define UCALL_FILE_LEN 64
#define UCALL_MSG_LEN  128

struct ucall_abi {
	uint32_t cmd;
	uint32_t line;
	uint32_t cpu; /* initial APIC ID of the vCPU that made the call */
	uint32_t nargs;
	uint64_t args[4];
	char file[UCALL_FILE_LEN];
	char msg[UCALL_MSG_LEN];
};

#endif
