/* A benchmark VM: created, loaded and entered through the kvmlab library like any other VM. */
#include <stdio.h>
#include <stdlib.h>

#include "bench_vm.h"
#include "kvmlab/loader.h"

static int bench_vm_load(struct vm *vm, const char *dir, const char *guest, uint64_t mem,
			 struct errbuf *e)
{
	char path[4096];
	size_t len;
	void *image;
	int r;

	if ((size_t)snprintf(path, sizeof(path), "%s/%s", dir, guest) >= sizeof(path))
		return err_set(e, "guest directory path too long: %s", dir);
	image = loader_read_image(path, mem - FLAT_LOAD_GPA, &len, e);
	if (!image)
		return -1;
	r = loader_flat_load_buf(&vm->m.mem, image, len, FLAT_LOAD_GPA, e);
	free(image);
	return r;
}

struct vm *bench_vm_create(const struct bench_options *o, const char *name, const char *guest,
			   uint64_t mem, struct errbuf *e)
{
	struct vm_config cfg;
	struct vm *vm;

	vm_config_default(&cfg);
	cfg.name = name;
	cfg.mem_size = mem;
	cfg.mem_policy = o->mem_policy;
	cfg.sched = o->sched;
	cfg.console_fd = 2;
	vm = vm_create(&cfg, e);
	if (!vm)
		return NULL;
	if (bench_vm_load(vm, o->guest_dir, guest, mem, e) ||
	    vm_setup_long_mode(vm, FLAT_LOAD_GPA, e)) {
		vm_destroy(vm);
		return NULL;
	}
	return vm;
}
