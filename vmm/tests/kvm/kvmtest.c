/* Helpers for KVM-level C tests: VMs around test guests, ucall recording, bounded runs. */
#include <stdlib.h>

#include "kvmlab/loader.h"
#include "kvmtest.h"

const char *kvmtest_guest_path(const char *name, char *buf, size_t len)
{
	const char *dir = getenv("KVMLAB_GUESTS");

	CHECK(dir != NULL); /* set by harness/tests/test_kvm_c.py */
	snprintf(buf, len, "%s/%s.bin", dir, name);
	return buf;
}

struct vm *kvmtest_vm(const char *guest, const struct vm_config *cfg)
{
	struct vm_config c;
	struct errbuf e;
	char path[512];
	struct vm *vm;
	size_t len;
	void *image;

	if (cfg)
		c = *cfg;
	else
		vm_config_default(&c);
	c.console_fd = 2;
	image = loader_read_image(kvmtest_guest_path(guest, path, sizeof(path)), 1 << 30, &len,
				  &e);
	if (!image) {
		fprintf(stderr, "%s\n", e.msg);
		exit(1);
	}
	vm = vm_create(&c, &e);
	if (!vm || loader_flat_load_buf(&vm->m.mem, image, len, FLAT_LOAD_GPA, &e) ||
	    vm_setup_long_mode(vm, FLAT_LOAD_GPA, &e)) {
		fprintf(stderr, "creating a VM for %s: %s\n", guest, e.msg);
		exit(1);
	}
	free(image);
	return vm;
}

static bool record_ucall(void *opaque, struct machine *m, const struct ucall_abi *uc)
{
	struct ucall_log *log = opaque;

	(void)m;
	pthread_mutex_lock(&log->lock);
	if (log->n < KVMTEST_MAX_UCALLS)
		log->calls[log->n++] = *uc;
	pthread_mutex_unlock(&log->lock);
	return false;
}

void kvmtest_log_ucalls(struct vm *vm, struct ucall_log *log)
{
	pthread_mutex_init(&log->lock, NULL);
	log->n = 0;
	ucall_set_hook(&vm->m, record_ucall, log);
}

enum stop_kind kvmtest_run(struct vm *vm, double timeout_s)
{
	struct errbuf e;

	if (vm_start(vm, &e) || vm_wait(vm, timeout_s, &e)) {
		fprintf(stderr, "running the VM: %s\n", e.msg);
		exit(1);
	}
	return vm->m.stop_kind;
}
