/* The PIO benchmark VM: created, loaded and wired through the kvmlab library like any other VM. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "kvmlab/loader.h"
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

static int pio_vm_load(struct pio_vm *p, const char *guest_dir, struct errbuf *e)
{
	char path[4096];
	size_t len;
	void *image;
	int r;

	if ((size_t)snprintf(path, sizeof(path), "%s/%s", guest_dir, PIO_VM_GUEST) >= sizeof(path))
		return err_set(e, "guest directory path too long: %s", guest_dir);
	image = loader_read_image(path, PIO_VM_MEM - FLAT_LOAD_GPA, &len, e);
	if (!image)
		return -1;
	r = loader_flat_load_buf(&p->vm->m.mem, image, len, FLAT_LOAD_GPA, e);
	free(image);
	return r;
}

int pio_vm_create(struct pio_vm *p, const struct bench_options *o, struct errbuf *e)
{
	struct vm_config cfg;

	vm_config_default(&cfg);
	cfg.name = "bench-pio";
	cfg.mem_size = PIO_VM_MEM;
	cfg.mem_policy = o->mem_policy;
	cfg.sched = o->sched;
	cfg.console_fd = 2; /* keep stdout for the report */
	*p = (struct pio_vm){.vm = vm_create(&cfg, e)};
	if (!p->vm)
		return -1;
	p->vcpu = &p->vm->vcpus[0];
	if (pio_vm_load(p, o->guest_dir, e) || vm_setup_long_mode(p->vm, FLAT_LOAD_GPA, e) ||
	    bus_register(&p->vm->m.pio, PIO_VM_PORT, 1, "bench-pio", pio_vm_device, p, e)) {
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
