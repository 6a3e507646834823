/* The PIO benchmark VM: created, loaded and wired through the kvmlab library like any other VM. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "bench_vm.h"
#include "pio_vm.h"

#define PIO_VM_MEM (16ull << 20)

/* The trivial device: counts writes, reads as zero. */
static void pio_vm_device(void *opaque, uint64_t offset, uint8_t *data, uint32_t len, bool is_write)
{
	struct pio_vm *p = opaque;

	if (is_write)
		p->hits++;
	else
		memset(data, 0, len);
}

int pio_vm_create(struct pio_vm *p, const struct bench_options *o, struct errbuf *e)
{
	*p = (struct pio_vm){.vm = bench_vm_create(o, "bench-pio", PIO_VM_GUEST, PIO_VM_MEM, e)};
	if (!p->vm)
		return -1;
	p->vcpu = &p->vm->vcpus[0];
	if (bus_register(&p->vm->m.pio, PIO_VM_PORT, 1, "bench-pio", pio_vm_device, p, e)) {
		pio_vm_destroy(p);
		return -1;
	}
	return 0;
}

void pio_vm_destroy(struct pio_vm *p)
{
	vm_destroy(p->vm);
	p->vm = NULL;
	p->vcpu = NULL;
}

void pio_vm_explain(const struct pio_vm *p, const char *what, struct errbuf *e)
{
	int err = errno; /* of the failed KVM_RUN, before anything else can change it */
	const struct machine *m = &p->vm->m;
	unsigned reason = p->vcpu->run->exit_reason;

	if (machine_stopping(m))
		err_set(e, "%s: the VM stopped (%s): %s", what, stop_kind_name(m->stop_kind),
			m->stop_msg);
	else if (reason != KVM_EXIT_IO)
		err_set(e, "%s: unexpected exit %u (%s)", what, reason, exit_reason_name(reason));
	else
		err_set(e, "%s: KVM_RUN failed: %s", what, strerror(err));
}
