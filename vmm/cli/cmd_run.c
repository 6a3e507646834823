/* `kvmlab run`: create a VM, load a guest, run it, and turn how it stopped into an exit status. */
#include <getopt.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli.h"
#include "kvmlab/loader.h"
#include "kvmlab/parse.h"
#include "kvmlab/vm.h"

#define LOW_RAM_LIMIT (3ull << 30)

struct run_options {
	struct vm_config cfg;
	const char *guest;
	double timeout_s;
};

static const char run_usage[] =
	"usage: kvmlab run --guest FILE [options]\n"
	"  --guest FILE       flat 64-bit test guest, loaded and entered at 0x100000\n"
	"  --mem SIZE         guest RAM, with K/M/G suffix (default 64M)\n"
	"  --cpus N           vCPUs (default 1)\n"
	"  --timeout S        stop the guest after S seconds (exit status 124)\n"
	"  --strict           unclaimed port or MMIO accesses stop the guest\n"
	"  --no-irqchip       no in-kernel LAPIC/IOAPIC/PIC/PIT (HLT then stops the guest)\n"
	"  --keep-virt        leave SVM/VMX visible in the guest's CPUID\n"
	"  --kvm-device PATH  the KVM device (default /dev/kvm)\n";

static int run_parse(int argc, char **argv, struct run_options *o, struct errbuf *e)
{
	static const struct option opts[] = {
		{"guest", required_argument, NULL, 'g'},  {"mem", required_argument, NULL, 'm'},
		{"cpus", required_argument, NULL, 'c'},	  {"timeout", required_argument, NULL, 't'},
		{"strict", no_argument, NULL, 's'},	  {"no-irqchip", no_argument, NULL, 'I'},
		{"keep-virt", no_argument, NULL, 'V'},	  {"kvm-device", required_argument, NULL, 'k'},
		{"help", no_argument, NULL, 'h'},	  {0},
	};
	uint64_t n;
	int opt;

	vm_config_default(&o->cfg);
	opterr = 0;
	while ((opt = getopt_long(argc, argv, "+h", opts, NULL)) != -1) {
		switch (opt) {
		case 'g':
			o->guest = optarg;
			break;
		case 'm':
			if (parse_size(optarg, &o->cfg.mem_size, "--mem", e))
				return -1;
			break;
		case 'c':
			if (parse_uint(optarg, 1, VM_MAX_VCPUS, &n, "--cpus", e))
				return -1;
			o->cfg.ncpus = (unsigned)n;
			break;
		case 't':
			if (parse_seconds(optarg, &o->timeout_s, "--timeout", e))
				return -1;
			break;
		case 's':
			o->cfg.strict = true;
			break;
		case 'I':
			o->cfg.irqchip = false;
			break;
		case 'V':
			o->cfg.keep_virt = true;
			break;
		case 'k':
			o->cfg.kvm_path = optarg;
			break;
		case 'h':
			fputs(run_usage, stdout);
			exit(CLI_OK);
		default:
			return err_set(e, "unknown or incomplete option '%s' (see 'kvmlab run --help')",
				       argv[optind - 1]);
		}
	}
	if (optind < argc)
		return err_set(e, "unexpected argument '%s' (see 'kvmlab run --help')",
			       argv[optind]);
	if (!o->guest)
		return err_set(e, "no guest given: use --guest FILE");
	if (o->cfg.mem_size < (2ull << 20) || o->cfg.mem_size % 4096)
		return err_set(e, "--mem: must be a multiple of 4 KiB and at least 2M");
	return 0;
}

static int status_of(enum stop_kind kind, int code)
{
	switch (kind) {
	case STOP_DEBUG_EXIT:
		return ((code << 1) | 1) & 0xff;
	case STOP_HALT:
	case STOP_POWEROFF:
	case STOP_RESET:
	case STOP_REQUESTED:
	case STOP_GUEST_DONE:
		return CLI_OK;
	case STOP_GUEST_ASSERT:
		return CLI_GUEST_ASSERT;
	case STOP_SHUTDOWN:
		return CLI_GUEST_SHUTDOWN;
	case STOP_TIMEOUT:
		return CLI_TIMEOUT;
	case STOP_HOST_ERROR:
		return CLI_HOST_ERROR;
	default:
		return CLI_GUEST_ERROR;
	}
}

struct signal_watch {
	struct vm *vm;
	sigset_t set;
	int signo;
};

/* Turns SIGINT/SIGTERM/SIGHUP into a clean stop request (signal handlers may not lock). */
static void *signal_watch_thread(void *arg)
{
	struct signal_watch *w = arg;
	int signo;

	if (sigwait(&w->set, &signo) == 0) {
		w->signo = signo;
		vm_request_stop(w->vm, strsignal(signo));
	}
	return NULL;
}

static int run_guest(struct run_options *o, void *image, size_t len)
{
	struct signal_watch watch = {.signo = 0};
	enum stop_kind kind;
	char msg[ERR_MSG_LEN];
	pthread_t watcher;
	struct errbuf e;
	struct vm *vm;
	int code;

	sigemptyset(&watch.set);
	sigaddset(&watch.set, SIGINT);
	sigaddset(&watch.set, SIGTERM);
	sigaddset(&watch.set, SIGHUP);
	pthread_sigmask(SIG_BLOCK, &watch.set, NULL);

	vm = vm_create(&o->cfg, &e);
	if (!vm) {
		fprintf(stderr, "kvmlab: %s\n", e.msg);
		return CLI_HOST_ERROR;
	}
	if (loader_flat_load_buf(&vm->m.mem, image, len, FLAT_LOAD_GPA, &e) ||
	    vm_setup_long_mode(vm, FLAT_LOAD_GPA, &e) || vm_start(vm, &e)) {
		fprintf(stderr, "kvmlab: %s\n", e.msg);
		vm_destroy(vm);
		return CLI_HOST_ERROR;
	}
	watch.vm = vm;
	pthread_create(&watcher, NULL, signal_watch_thread, &watch);
	pthread_detach(watcher);
	vm_wait(vm, o->timeout_s, &e);
	kind = vm->m.stop_kind;
	code = vm->m.stop_code;
	snprintf(msg, sizeof(msg), "%s", vm->m.stop_msg);
	vm_destroy(vm); /* flushes the console before kvmlab's own report */
	if (watch.signo) {
		fprintf(stderr, "kvmlab: stopped by %s\n", strsignal(watch.signo));
		return CLI_SIGNALLED + watch.signo;
	}
	if (kind != STOP_DEBUG_EXIT)
		fprintf(stderr, "kvmlab: %s: %s\n", stop_kind_name(kind), msg);
	return status_of(kind, code);
}

int cmd_run(int argc, char **argv)
{
	struct run_options o = {0};
	struct errbuf e;
	uint64_t low_ram;
	void *image;
	size_t len;
	int status;

	if (run_parse(argc, argv, &o, &e)) {
		fprintf(stderr, "kvmlab: %s\n", e.msg);
		return CLI_USAGE;
	}
	low_ram = o.cfg.mem_size < LOW_RAM_LIMIT ? o.cfg.mem_size : LOW_RAM_LIMIT;
	image = loader_read_image(o.guest, low_ram - FLAT_LOAD_GPA, &len, &e);
	if (!image) {
		fprintf(stderr, "kvmlab: %s\n", e.msg);
		return CLI_USAGE;
	}
	status = run_guest(&o, image, len);
	free(image);
	return status;
}
