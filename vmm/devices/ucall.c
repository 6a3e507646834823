/* The ucall device: reads a guest's test call through checked memory and acts on it. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "kvmlab/devices.h"
#include "kvmlab/ucall.h"

static const char *const ucall_names[] = {
	[UCALL_SYNC] = "SYNC", [UCALL_DONE] = "DONE",	[UCALL_ASSERT] = "ASSERT",
	[UCALL_FAULT] = "FAULT", [UCALL_PRINT] = "PRINT",
};

static const char *const fault_names[32] = {
	"#DE", "#DB", "NMI", "#BP", "#OF", "#BR", "#UD", "#NM", "#DF", "#09", "#TS",
	"#NP", "#SS", "#GP", "#PF", "#15", "#MF", "#AC", "#MC", "#XM", "#VE", "#CP",
};

void ucall_set_hook(struct machine *m, ucall_fn fn, void *opaque)
{
	m->on_ucall = fn;
	m->on_ucall_opaque = opaque;
}

void ucall_describe(const struct ucall_abi *uc, char *buf, size_t len)
{
	const char *name = uc->cmd < sizeof(ucall_names) / sizeof(ucall_names[0]) &&
					   ucall_names[uc->cmd]
				   ? ucall_names[uc->cmd]
				   : "UNKNOWN";
	size_t used;

	if (uc->cmd == UCALL_FAULT) {
		const char *fault = uc->args[0] < 32 && fault_names[uc->args[0]]
					    ? fault_names[uc->args[0]]
					    : "vector";
		snprintf(buf, len,
			 "FAULT on CPU %u: %s (vector %llu) error code 0x%llx at RIP 0x%llx, "
			 "CR2 0x%llx",
			 uc->cpu, fault, (unsigned long long)uc->args[0],
			 (unsigned long long)uc->args[1], (unsigned long long)uc->args[2],
			 (unsigned long long)uc->args[3]);
		return;
	}
	snprintf(buf, len, "%s on CPU %u at %s:%u: %s", name, uc->cpu, uc->file, uc->line,
		 uc->msg);
	for (uint32_t i = 0; i < uc->nargs && i < 4; i++) {
		used = strlen(buf);
		snprintf(buf + used, len - used, "%s0x%llx%s", i ? ", " : " (",
			 (unsigned long long)uc->args[i], i + 1 == uc->nargs ? ")" : "");
	}
}

void ucall_default(struct machine *m, const struct ucall_abi *uc)
{
	char line[ERR_MSG_LEN];

	switch (uc->cmd) {
	case UCALL_SYNC:
		break;
	case UCALL_PRINT:
		fprintf(stderr, "guest: %s\n", uc->msg);
		break;
	case UCALL_DONE:
		machine_stop(m, STOP_GUEST_DONE, 0, "guest test done on CPU %u", uc->cpu);
		break;
	case UCALL_ASSERT:
	case UCALL_FAULT:
		ucall_describe(uc, line, sizeof(line));
		machine_stop(m, STOP_GUEST_ASSERT, (int)uc->cmd, "guest %s", line);
		break;
	default:
		machine_stop(m, STOP_GUEST_ERROR, 0, "guest made an unknown ucall %u", uc->cmd);
		break;
	}
}

static void ucall_access(void *opaque, uint64_t offset, uint8_t *data, uint32_t len,
			 bool is_write)
{
	struct machine *m = opaque;
	struct ucall_abi uc;
	uint32_t gpa;

	if (!is_write) {
		memset(data, 0xff, len);
		return;
	}
	if (offset != 0 || len != 4) {
		machine_stop(m, STOP_GUEST_ERROR, 0,
			     "ucall: %u-byte write at offset %llu; expected one 4-byte OUT", len,
			     (unsigned long long)offset);
		return;
	}
	memcpy(&gpa, data, sizeof(gpa));
	if (gmem_read(&m->mem, gpa, &uc, sizeof(uc))) {
		machine_stop(m, STOP_GUEST_ERROR, 0, "ucall: struct at 0x%x is not in guest RAM",
			     gpa);
		return;
	}
	uc.file[UCALL_FILE_LEN - 1] = '\0';
	uc.msg[UCALL_MSG_LEN - 1] = '\0';
	if (m->on_ucall && m->on_ucall(m->on_ucall_opaque, m, &uc))
		return;
	ucall_default(m, &uc);
}

static int ucall_attach(struct machine *m, struct errbuf *e)
{
	return bus_register(&m->pio, UCALL_PORT, 4, "ucall", ucall_access, m, e);
}

const struct device_type ucall_device = {"ucall", ucall_attach};
