/* `kvmlab run`: create a VM, load a guest, run it, and turn how it stopped into an exit status. */
#include <getopt.h>
#include <pthread.h>
#include <semaphore.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "cli.h"
#include "console.h"
#include "jail.h"
#include "kvmlab/boot.h"
#include "kvmlab/config.h"
#include "kvmlab/control.h"
#include "kvmlab/faults.h"
#include "kvmlab/loader.h"
#include "kvmlab/mem.h"
#include "kvmlab/sandbox.h"
#include "kvmlab/stats.h"
#include "kvmlab/virtio.h"
#include "kvmlab/x86_exits.h"
#include "kvmlab/vm.h"

#define LOW_RAM_LIMIT (3ull << 30)
/* Every thread's stack (vCPU, I/O, control, console, signals); each uses a few KiB. Below a
 * huge page, so that with THP "always" no stack gets a 2 MiB page for its first touch: glibc's
 * 8 MiB stacks do once one lands 2 MiB-aligned, e.g. right under thp guest RAM. */
#define RUN_THREAD_STACK (1u << 20)

enum {
	OPT_CONFIG = 'C',
	OPT_HELP = 'h',
	OPT_SET = 0x100,		      /* + enum config_field */
	OPT_UNSET = OPT_SET + CONFIG_NFIELDS, /* + a boolean's enum config_field */
};

/* The usage text comes from the field table, so flags and config keys never drift apart. */
static void run_usage(FILE *out)
{
	fputs("usage: kvmlab run --guest FILE [options]\n"
	      "       kvmlab run --kernel FILE [--initrd FILE] [--cmdline STR] [options]\n"
	      "       kvmlab run --config FILE [options]\n"
	      "  --config FILE                settings from a JSON file (docs/control-api.md);\n"
	      "                               options given here override it\n",
	      out);
	for (unsigned f = 0; f < CONFIG_NFIELDS; f++) {
		const struct config_field_info *i = config_field_info(f);
		char spec[64];

		if (i->no_flag)
			snprintf(spec, sizeof(spec), "--%s, --%s", i->flag, i->no_flag);
		else
			snprintf(spec, sizeof(spec), "--%s %s", i->flag, i->metavar);
		fprintf(out, "  %-28s %s\n", spec, i->help);
	}
}

/* Flags go into their own run_config and then over the file's (or the defaults). */
static int run_parse(int argc, char **argv, struct run_config *rc, struct errbuf *e)
{
	struct option opts[2 * CONFIG_NFIELDS + 3];
	struct run_config flags;
	const char *config = NULL;
	unsigned n = 0;
	int opt;

	for (unsigned f = 0; f < CONFIG_NFIELDS; f++) {
		const struct config_field_info *i = config_field_info(f);

		opts[n++] = (struct option){i->flag, i->metavar ? required_argument : no_argument,
					    NULL, OPT_SET + (int)f};
		if (i->no_flag)
			opts[n++] =
			    (struct option){i->no_flag, no_argument, NULL, OPT_UNSET + (int)f};
	}
	opts[n++] = (struct option){"config", required_argument, NULL, OPT_CONFIG};
	opts[n++] = (struct option){"help", no_argument, NULL, OPT_HELP};
	opts[n] = (struct option){0};

	run_config_default(&flags);
	opterr = 0;
	while ((opt = getopt_long(argc, argv, "+h", opts, NULL)) != -1) {
		if (opt >= OPT_SET && opt < OPT_UNSET) {
			if (config_set_arg(&flags, opt - OPT_SET, optarg, true, e))
				return -1;
		} else if (opt >= OPT_UNSET && opt < OPT_UNSET + CONFIG_NFIELDS) {
			config_set_arg(&flags, opt - OPT_UNSET, NULL, false, e);
		} else if (opt == OPT_CONFIG) {
			config = optarg;
		} else if (opt == OPT_HELP) {
			run_usage(stdout);
			exit(CLI_OK);
		} else {
			return err_set(
			    e, "unknown or incomplete option '%s' (see 'kvmlab run --help')",
			    argv[optind - 1]);
		}
	}
	if (optind < argc)
		return err_set(e, "unexpected argument '%s' (see 'kvmlab run --help')",
			       argv[optind]);
	if (config) {
		if (config_load_file(config, rc, e))
			return -1;
	} else {
		run_config_default(rc);
	}
	run_config_merge(rc, &flags);
	return run_config_check(rc, e);
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
	sem_t confined; /* posted once the thread is in its seccomp filter (or has none) */
};

/* Turns SIGINT/SIGTERM/SIGHUP into a clean stop request (signal handlers may not lock). */
static void *signal_watch_thread(void *arg)
{
	struct signal_watch *w = arg;
	int signo;

	sandbox_enter_thread(SANDBOX_MAIN, w->vm->m.sandbox);
	sem_post(&w->confined); /* the sandbox may be freed from now on */
	if (sigwait(&w->set, &signo) == 0) {
		w->signo = signo;
		vm_request_stop(w->vm, strsignal(signo));
	}
	return NULL;
}

static double run_seconds_since(const struct timespec *t0)
{
	struct timespec t;

	clock_gettime(CLOCK_MONOTONIC, &t);
	return (double)(t.tv_sec - t0->tv_sec) + (double)(t.tv_nsec - t0->tv_nsec) / 1e9;
}

/* Threads created from now on get RUN_THREAD_STACK-sized stacks (else glibc's default). */
static void run_thread_stacks(void)
{
	pthread_attr_t a;

	if (pthread_attr_init(&a))
		return;
	if (pthread_attr_setstacksize(&a, RUN_THREAD_STACK) == 0)
		pthread_setattr_default_np(&a);
	pthread_attr_destroy(&a);
}

/* The images are in guest memory now and nothing reloads them (a guest reset ends the VM):
 * their buffers, ~9 MiB for Debian's kernel and initrd, need not stay resident to the end. */
static void run_drop_images(struct kernel_boot *kb)
{
	free((void *)kb->kernel);
	free((void *)kb->initrd);
	kb->kernel = kb->initrd = NULL;
	kb->kernel_len = kb->initrd_len = 0;
}

/* Everything between vm_create and the first instruction: image, long mode, stats, socket.
 * -2 when the guest image is refused (a kernel's loader said why), -1 on other failures. */
static int run_prepare(struct run_config *rc, struct vm *vm, void *image, size_t len,
		       struct kernel_boot *kb, struct control_server **ctl, struct errbuf *e)
{
	int r;

	/* Before the kernel loads: its ACPI tables and command line list the transports. */
	if (virtio_attach_configured(&vm->m, rc, e))
		return -2;
	if (kb) {
		r = vm_boot_kernel(vm, kb, e);
		run_drop_images(kb);
		if (r)
			return r;
	} else if (loader_flat_load_buf(&vm->m.mem, image, len, FLAT_LOAD_GPA, e) ||
		   vm_setup_long_mode(vm, FLAT_LOAD_GPA, e)) {
		return -1;
	}
	if (rc->trace_exits && x86_trace_exits_enable(vm, 2, e))
		return -1;
	if (rc->stats && stats_enable(vm, e))
		return -1;
	if (!rc->api_sock[0] && rc->name[0] &&
	    control_default_socket(rc->name, rc->api_sock, sizeof(rc->api_sock), e))
		return -1;
	if (rc->api_sock[0]) {
		*ctl = control_server_create(vm, rc->api_sock, rc->stats, e);
		if (!*ctl)
			return -1;
	}
	return 0;
}

/* A kernel's image buffers in kb are the callee's: freed once loaded (run_drop_images). */
static int run_guest(struct run_config *rc, void *image, size_t len, struct kernel_boot *kb)
{
	struct signal_watch watch = {.signo = 0};
	struct control_server *ctl = NULL;
	struct timespec started;
	struct sandbox *sb = NULL;
	struct console *con = NULL;
	int r;
	struct vm_config cfg;
	enum stop_kind kind;
	char msg[ERR_MSG_LEN];
	pthread_t watcher;
	struct errbuf e;
	struct vm *vm;
	int code;

	clock_gettime(CLOCK_MONOTONIC, &started);
	sigemptyset(&watch.set);
	sigaddset(&watch.set, SIGINT);
	sigaddset(&watch.set, SIGTERM);
	sigaddset(&watch.set, SIGHUP);
	pthread_sigmask(SIG_BLOCK, &watch.set, NULL);
	run_thread_stacks();

	run_config_vm(rc, &cfg);
	/* A default policy (thp for kernels) only where this host serves it: THP may be off, or
	 * its sysfs knob hidden by --jail; then the VM's own default, anon. A policy rc names is
	 * refused by vm_create instead, with the reason. */
	if (!rc->mem_policy[0] && cfg.mem_policy && mem_spec_check(cfg.mem_policy, &e))
		cfg.mem_policy = NULL;
	if (rc->seccomp && !(cfg.sandbox = sb = sandbox_create(&e))) {
		fprintf(stderr, "kvmlab: %s\n", e.msg);
		return CLI_HOST_ERROR;
	}
	vm = vm_create(&cfg, &e);
	if (!vm) {
		fprintf(stderr, "kvmlab: %s\n", e.msg);
		sandbox_destroy(sb);
		return CLI_HOST_ERROR;
	}
	r = run_prepare(rc, vm, image, len, kb, &ctl, &e);
	if (r || vm_start(vm, &e) || (ctl && control_server_start(ctl, &e))) {
		fprintf(stderr, "kvmlab: %s\n", e.msg);
		control_server_destroy(ctl);
		vm_destroy(vm);
		sandbox_destroy(sb);
		return r == -2 ? CLI_USAGE : CLI_HOST_ERROR;
	}
	/* A kernel's console takes input (stdin into COM1); flat test guests read none. */
	if (kb && !(con = console_open(&vm->m, STDIN_FILENO, &e)))
		fprintf(stderr, "kvmlab: console input off: %s\n", e.msg);
	watch.vm = vm;
	sem_init(&watch.confined, 0, 0);
	if (pthread_create(&watcher, NULL, signal_watch_thread, &watch) == 0) {
		pthread_detach(watcher);
		sem_wait(&watch.confined);
	}
	/* Set-up is over: from here the main thread waits, answers and tears down. */
	sandbox_enter_thread(SANDBOX_MAIN, sb);
	vm_wait(vm, rc->timeout_s, &e);
	control_server_destroy(ctl); /* no command may reach a VM being destroyed */
	if (rc->stats)
		run_report_stats(vm, run_seconds_since(&started), stderr);
	kind = vm->m.stop_kind;
	code = vm->m.stop_code;
	snprintf(msg, sizeof(msg), "%s", vm->m.stop_msg);
	console_close(con); /* the terminal is back to normal before any report */
	vm_destroy(vm);	    /* flushes the console before kvmlab's own report */
	sandbox_destroy(sb);
	if (watch.signo) {
		fprintf(stderr, "kvmlab: stopped by %s\n", strsignal(watch.signo));
		return CLI_SIGNALLED + watch.signo;
	}
	if (kind != STOP_DEBUG_EXIT)
		fprintf(stderr, "kvmlab: %s: %s\n", stop_kind_name(kind), msg);
	return status_of(kind, code);
}

/* --kernel: reads the kernel and initrd (neither may exceed the RAM) and boots them. */
static int run_kernel(struct run_config *rc)
{
	struct kernel_boot kb = {
		.loader = rc->loader[0] ? rc->loader : NULL,
		.kernel_name = rc->kernel,
		.initrd_name = rc->initrd[0] ? rc->initrd : NULL,
		.cmdline = rc->cmdline[0] ? rc->cmdline : NULL,
	};
	struct errbuf e;
	int status = CLI_USAGE;

	kb.kernel = loader_read_image(rc->kernel, rc->mem_size, &kb.kernel_len, &e);
	if (kb.kernel && rc->initrd[0])
		kb.initrd = loader_read_image(rc->initrd, rc->mem_size, &kb.initrd_len, &e);
	if (!kb.kernel || (rc->initrd[0] && !kb.initrd))
		fprintf(stderr, "kvmlab: %s\n", e.msg);
	else
		status = run_guest(rc, NULL, 0, &kb);
	run_drop_images(&kb); /* what run_guest did not get to load */
	return status;
}

int cmd_run(int argc, char **argv)
{
	struct run_config *rc = malloc(sizeof(*rc));
	struct errbuf e;
	uint64_t low_ram;
	void *image = NULL;
	size_t len;
	int status = CLI_USAGE;

	if (!rc || run_parse(argc, argv, rc, &e)) {
		fprintf(stderr, "kvmlab: %s\n", rc ? e.msg : "out of memory");
		goto out;
	}
	if (faults_configure(getenv("KVMLAB_FAULTS"), &e)) { /* test-only (faults.h) */
		fprintf(stderr, "kvmlab: %s\n", e.msg);
		goto out;
	}
	/* Before any file is opened: the jailed process sees only the files rc names. */
	if (rc->jail[0] && jail_enter(rc, &e)) {
		fprintf(stderr, "kvmlab: %s\n", e.msg);
		status = CLI_HOST_ERROR;
		goto out;
	}
	jail_test_open();
	if (rc->kernel[0]) {
		status = run_kernel(rc);
		goto out;
	}
	low_ram = rc->mem_size < LOW_RAM_LIMIT ? rc->mem_size : LOW_RAM_LIMIT;
	image = loader_read_image(rc->guest, low_ram - FLAT_LOAD_GPA, &len, &e);
	if (!image) {
		fprintf(stderr, "kvmlab: %s\n", e.msg);
		goto out;
	}
	status = run_guest(rc, image, len, NULL);
out:
	free(image);
	free(rc);
	return status;
}
