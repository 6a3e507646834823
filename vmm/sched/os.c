/* The "os" scheduler: one thread per vCPU and the host kernel decides; no hooks at all. */
#include "kvmlab/sched.h"

static int os_create(struct vm *vm, const char *args, void **state, struct errbuf *e)
{
	(void)vm;
	*state = NULL;
	if (args && *args)
		return err_set(e, "scheduler os takes no parameters (got '%s')", args);
	return 0;
}

const struct sched_ops sched_os = {
	.name = "os",
	.help = "one thread per vCPU, scheduled by the host kernel",
	.create = os_create,
};
