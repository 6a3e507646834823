/* VM creation and teardown: KVM fds, RAM, in-kernel devices, vCPUs and default devices. */
#include <errno.h>
#include <linux/kvm.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <unistd.h>

#include "kvmlab/cpuid.h"
#include "kvmlab/devices.h"
#include "kvmlab/faults.h"
#include "kvmlab/kvm.h"
#include "kvmlab/vm.h"
#include "kvmlab/x86_exits.h"
#include "vm_internal.h"

#define TSS_ADDR	  0xfffbd000ul
#define IDENTITY_MAP_ADDR 0xfffbc000ul

void vm_config_default(struct vm_config *c)
{
	*c = (struct vm_config){
		.kvm_path = "/dev/kvm",
		.mem_size = 64ull << 20,
		.ncpus = 1,
		.irqchip = true,
		.console_fd = 1,
	};
}

/* KVMLAB_EXTRA_CAPS=N[,N...] adds capability numbers to require, so tests can
 * drive the missing-capability path against a real KVM. */
static int vm_check_extra_caps(struct vm *vm, struct errbuf *e)
{
	const char *list = getenv("KVMLAB_EXTRA_CAPS");
	char name[32];

	while (list && *list) {
		char *end;
		long cap = strtol(list, &end, 10);

		if (end == list)
			return err_set(e, "KVMLAB_EXTRA_CAPS: '%s' is not a capability number", list);
		snprintf(name, sizeof(name), "number %ld", cap);
		if (kvm_require_cap(vm->kvm_fd, cap, name, e))
			return -1;
		list = *end == ',' ? end + 1 : end;
	}
	return 0;
}

static int vm_check_caps(struct vm *vm, struct errbuf *e)
{
	if (vm->cfg.aps_wait_sipi && !vm->cfg.irqchip)
		return err_set(e, "APs can wait for INIT/SIPI only with the in-kernel irqchip");
	if (vm_check_extra_caps(vm, e))
		return -1;
	if (kvm_require_cap(vm->kvm_fd, KVM_CAP_USER_MEMORY, "KVM_CAP_USER_MEMORY", e) ||
	    kvm_require_cap(vm->kvm_fd, KVM_CAP_IMMEDIATE_EXIT, "KVM_CAP_IMMEDIATE_EXIT", e) ||
	    kvm_require_cap(vm->kvm_fd, KVM_CAP_EXT_CPUID, "KVM_CAP_EXT_CPUID", e))
		return -1;
	if (vm->cfg.irqchip &&
	    (kvm_require_cap(vm->kvm_fd, KVM_CAP_IRQCHIP, "KVM_CAP_IRQCHIP", e) ||
	     kvm_require_cap(vm->kvm_fd, KVM_CAP_PIT2, "KVM_CAP_PIT2", e)))
		return -1;
	return 0;
}

static int vm_max_vcpus(struct vm *vm, struct errbuf *e)
{
	int max = kvm_cap(vm->kvm_fd, KVM_CAP_MAX_VCPUS, e);

	if (max <= 0)
		max = kvm_cap(vm->kvm_fd, KVM_CAP_NR_VCPUS, e);
	if (max <= 0)
		max = 4; /* the API's documented floor */
	return max < VM_MAX_VCPUS ? max : VM_MAX_VCPUS;
}

static int vm_setup_irqchip(struct vm *vm, struct errbuf *e)
{
	/* The dummy speaker puts port 0x61 (PIT channel 2 gate and output) in the kernel too. */
	struct kvm_pit_config pit = {.flags = KVM_PIT_SPEAKER_DUMMY};

	if (KVM_IOCTL(vm->vm_fd, KVM_SET_TSS_ADDR, (void *)TSS_ADDR, e, "placing the TSS"))
		return -1;
	if (kvm_cap(vm->kvm_fd, KVM_CAP_SET_IDENTITY_MAP_ADDR, e) > 0) {
		uint64_t addr = IDENTITY_MAP_ADDR;

		if (KVM_IOCTL(vm->vm_fd, KVM_SET_IDENTITY_MAP_ADDR, &addr, e,
			      "placing the identity map"))
			return -1;
	}
	if (!vm->cfg.irqchip)
		return 0;
	if (KVM_IOCTL(vm->vm_fd, KVM_CREATE_IRQCHIP, NULL, e, "creating the in-kernel irqchip") ||
	    KVM_IOCTL(vm->vm_fd, KVM_CREATE_PIT2, &pit, e, "creating the in-kernel PIT"))
		return -1;
	return 0;
}

static int vcpu_create(struct vm *vm, unsigned id, int mmap_size, struct kvm_cpuid2 *cpuid,
		       struct errbuf *e)
{
	struct vcpu *v = &vm->vcpus[id];
	int fd;

	v->vm = vm;
	v->id = id;
	fd = KVM_IOCTL(vm->vm_fd, KVM_CREATE_VCPU, (void *)(uintptr_t)id, e, "creating a vCPU");
	if (fd < 0)
		return -1;
	v->fd = fd;
	v->run_size = (size_t)mmap_size;
	v->run = mmap(NULL, v->run_size, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
	if (v->run == MAP_FAILED) {
		v->run = NULL;
		return err_errno(e, "cannot map the kvm_run area of vCPU %u", id);
	}
	cpuid_set_apic_id(cpuid, id);
	return KVM_IOCTL(fd, KVM_SET_CPUID2, cpuid, e, "setting the guest CPUID") < 0 ? -1 : 0;
}

static int vm_create_vcpus(struct vm *vm, struct errbuf *e)
{
	int max = vm_max_vcpus(vm, e);
	struct kvm_cpuid2 *cpuid;
	int mmap_size;
	int r = 0;

	if (vm->cfg.ncpus < 1 || (int)vm->cfg.ncpus > max)
		return err_set(e, "%u vCPUs requested; this host's KVM allows 1 to %d",
			       vm->cfg.ncpus, max);
	mmap_size = KVM_IOCTL(vm->kvm_fd, KVM_GET_VCPU_MMAP_SIZE, NULL, e,
			      "sizing the kvm_run area");
	if (mmap_size < 0)
		return -1;
	cpuid = cpuid_supported(vm->kvm_fd, e);
	if (!cpuid)
		return -1;
	cpuid_filter(cpuid, vm->cfg.keep_virt);
	vm->nvcpus = vm->cfg.ncpus; /* vm_destroy releases whatever was created */
	for (unsigned i = 0; i < vm->nvcpus && r == 0; i++)
		r = vcpu_create(vm, i, mmap_size, cpuid, e);
	free(cpuid);
	return r;
}

static int vm_sched_init(struct vm *vm, struct errbuf *e)
{
	const char *args;
	const struct sched_ops *ops = sched_find(vm->cfg.sched, &args, e);

	if (!ops || ops->create(vm, args, &vm->sched_state, e))
		return -1;
	vm->sched = ops;
	vm->sched_hooks = ops->enter || ops->leave || faults_armed("KVM_RUN");
	return 0;
}

static void vm_kick_handler(int sig)
{
	(void)sig;
}

static void vm_install_kick_handler(void)
{
	struct sigaction sa;

	memset(&sa, 0, sizeof(sa));
	sa.sa_handler = vm_kick_handler;
	sigemptyset(&sa.sa_mask);
	/* No SA_RESTART: the signal must make KVM_RUN return EINTR. */
	sigaction(VCPU_KICK_SIGNAL, &sa, NULL);
}

struct vm *vm_create(const struct vm_config *cfg, struct errbuf *e)
{
	struct vm *vm = calloc(1, sizeof(*vm));

	if (!vm) {
		err_set(e, "out of memory creating a VM");
		return NULL;
	}
	machine_init(&vm->m);
	vm->cfg = *cfg;
	vm->kvm_fd = vm->vm_fd = -1;
	for (unsigned i = 0; i < VM_MAX_VCPUS; i++)
		vm->vcpus[i].fd = -1;
	vm->m.strict = cfg->strict;
	vm->m.console_fd = cfg->console_fd;
	vm->m.on_stop = vm_on_stop;
	vm->m.on_stop_opaque = vm;
	vm->m.ncpus = cfg->ncpus;
	vm->m.sandbox = cfg->sandbox; /* before any thread starts (uffd, vCPUs) */
	if (cfg->irqchip) { /* devices' interrupt lines (irq.c) */
		vm->m.set_irq = vm_irq_line;
		vm->m.set_irq_opaque = vm;
		vm->m.irqfd = vm_irqfd;
	}
	vm->m.ioeventfd = vm_ioeventfd; /* virtio notifications (eventfd.c) */
	vm->m.kvm_opaque = vm;
	pthread_mutex_init(&vm->wait_lock, NULL);
	vm_wait_cond_init(vm);
	pthread_cond_init(&vm->park_cond, NULL);
	exit_table_init(&vm->exits);
	vm_install_kick_handler();

	vm->kvm_fd = kvm_open(cfg->kvm_path, &vm->api_version, e);
	if (vm->kvm_fd < 0 || vm_check_caps(vm, e))
		goto fail;
	vm->vm_fd = KVM_IOCTL(vm->kvm_fd, KVM_CREATE_VM, NULL, e, "creating the VM");
	if (vm->vm_fd < 0 || vm_setup_irqchip(vm, e) || vm_memory_init(vm, e) ||
	    vm_create_vcpus(vm, e) || vm_sched_init(vm, e) || devices_attach_all(&vm->m, e) ||
	    x86_emulate_exit_install(vm, e))
		goto fail;
	vm->state = VM_CREATED;
	return vm;
fail:
	vm_destroy(vm);
	return NULL;
}

void vm_destroy(struct vm *vm)
{
	if (!vm)
		return;
	if (vm->state == VM_RUNNING || vm->state == VM_PAUSED) {
		struct errbuf ignored;

		vm_request_stop(vm, "VM destroyed while running");
		vm_wait(vm, 0, &ignored);
	}
	machine_destroy(&vm->m);
	if (vm->sched && vm->sched->destroy)
		vm->sched->destroy(vm->sched_state);
	for (unsigned i = 0; i < vm->nvcpus; i++) {
		struct vcpu *v = &vm->vcpus[i];

		if (v->run)
			munmap(v->run, v->run_size);
		if (v->fd >= 0)
			close(v->fd);
	}
	vm_memory_destroy(vm);
	if (vm->vm_fd >= 0)
		close(vm->vm_fd);
	if (vm->kvm_fd >= 0)
		close(vm->kvm_fd);
	pthread_cond_destroy(&vm->wait_cond);
	pthread_cond_destroy(&vm->park_cond);
	pthread_mutex_destroy(&vm->wait_lock);
	free(vm);
}
