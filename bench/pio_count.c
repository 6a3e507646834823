/* Runs N PIO exits for callgrind to count: kvmlab's whole exit path, or with --bare a KVM_RUN loop.
 */
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "context.h"
#include "kvmlab/parse.h"
#include "pio_vm.h"

#ifdef BENCH_HAVE_CALLGRIND
#include <valgrind/callgrind.h>
#define COLLECT_MODE "toggle" /* only the measured loop is counted */
#else
#define CALLGRIND_TOGGLE_COLLECT
#define COLLECT_MODE "process" /* count everything; the difference of two runs cancels start-up */
#endif

#ifndef BENCH_GUEST_DIR
#define BENCH_GUEST_DIR "guests"
#endif

#define WARMUP_EXITS 100

static const char usage[] =
    "usage: pio_count [--bare] [--guests DIR] [--mem-policy SPEC] [--sched SPEC] N\n"
    "       pio_count --context\n"
    "Runs N PIO exits of the bench_pio guest on the calling thread, through vcpu_step\n"
    "(kvmlab's exit table, bus and a trivial device) or, with --bare, through a bare\n"
    "ioctl(KVM_RUN). Under callgrind only those N exits are collected (collect=toggle;\n"
    "run valgrind with --collect-atstart=no). --context prints the host facts as\n"
    "key=value lines, plus collect=toggle|process.\n";

static void print_fact(void *opaque, const char *key, const char *value)
{
	(void)opaque;
	printf("%s=%s\n", key, value);
}

static int run(struct pio_vm *p, uint64_t n, bool bare, struct errbuf *e)
{
	uint64_t i;

	for (i = 0; i < WARMUP_EXITS; i++) {
		if (!pio_vm_step(p)) {
			pio_vm_explain(p, "warming up", e);
			return -1;
		}
	}
	p->hits = 0;
	/* The measured loops: nothing but the step and its check. */
	CALLGRIND_TOGGLE_COLLECT;
	if (bare) {
		for (i = 0; i < n && pio_vm_step_bare(p); i++)
			;
	} else {
		for (i = 0; i < n && pio_vm_step(p); i++)
			;
	}
	CALLGRIND_TOGGLE_COLLECT;
	if (i < n) {
		pio_vm_explain(p, bare ? "bare exit" : "dispatched exit", e);
		return -1;
	}
	if (!bare && p->hits != n)
		return err_set(e, "the device saw %llu writes for %llu dispatched exits",
			       (unsigned long long)p->hits, (unsigned long long)n);
	return 0;
}

int main(int argc, char **argv)
{
	static const struct option opts[] = {
	    {"bare", no_argument, NULL, 'b'},
	    {"guests", required_argument, NULL, 'g'},
	    {"mem-policy", required_argument, NULL, 'm'},
	    {"sched", required_argument, NULL, 's'},
	    {"context", no_argument, NULL, 'c'},
	    {"help", no_argument, NULL, 'h'},
	    {0},
	};
	struct bench_options o = {BENCH_GUEST_DIR, "anon", "os", "kvm"};
	bool bare = false, context = false;
	struct pio_vm p;
	struct errbuf e;
	uint64_t n;
	int opt;

	while ((opt = getopt_long(argc, argv, "h", opts, NULL)) != -1) {
		switch (opt) {
		case 'b':
			bare = true;
			break;
		case 'g':
			o.guest_dir = optarg;
			break;
		case 'm':
			o.mem_policy = optarg;
			break;
		case 's':
			o.sched = optarg;
			break;
		case 'c':
			context = true;
			break;
		case 'h':
			fputs(usage, stdout);
			return 0;
		default:
			fputs(usage, stderr);
			return 2;
		}
	}
	if (context) {
		bench_context_collect(&o, print_fact, NULL);
		printf("collect=%s\n", COLLECT_MODE);
		return 0;
	}
	if (optind != argc - 1) {
		fputs(usage, stderr);
		return 2;
	}
	if (parse_uint(argv[optind], 1, UINT64_MAX, &n, "N", &e)) {
		fprintf(stderr, "pio_count: %s\n", e.msg);
		return 2;
	}
	if (pio_vm_create(&p, &o, &e)) {
		fprintf(stderr, "pio_count: %s\n", e.msg);
		return 4;
	}
	if (run(&p, n, bare, &e)) {
		fprintf(stderr, "pio_count: %s\n", e.msg);
		pio_vm_destroy(&p);
		return 8;
	}
	pio_vm_destroy(&p);
	printf("mode=%s exits=%llu collect=%s\n", bare ? "bare" : "dispatch", (unsigned long long)n,
	       COLLECT_MODE);
	return 0;
}
