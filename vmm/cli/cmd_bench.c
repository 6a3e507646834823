/* `kvmlab bench`: the benchmark suite, KVM parts in kvmbox where the host has no KVM, one JSON. */
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <json-c/json.h>
#include <libgen.h>
#include <limits.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "cli.h"
#include "kvmlab/parse.h"

#ifndef KVMLAB_SOURCE_DIR
#define KVMLAB_SOURCE_DIR "."
#endif

#define BOX_LOCK	"/tmp/kvmlab-box.lock" /* one box at a time on a machine */
#define DEFAULT_REPS	9 /* a U test needs at least 4 a side to ever reach p < 0.05 */
#define MAX_PASSTHROUGH 32

static const char usage_text[] =
    "usage: kvmlab bench [--filter RE] [--out FILE] [--repetitions N] [--min-time S]\n"
    "                    [--mem-policy SPEC] [--sched SPEC] [--box | --no-box]\n"
    "                    [--bench PATH] [--list] [-- KVMLAB_BENCH_ARGS...]\n"
    "Runs kvmlab's benchmarks (build/<type>/bench/kvmlab_bench) and writes one Google\n"
    "Benchmark JSON with repetitions and the host's context: kernel, CPU, KVM flavor and\n"
    "environment (pvm, nested, bare-metal), KVM module parameters, memory policy.\n"
    "  --filter RE        only benchmarks whose name matches RE (Google Benchmark's filter)\n"
    "  --out FILE         the JSON report (default: console table only)\n"
    "  --repetitions N    repetitions of each benchmark (default 9: enough for bench/compare's\n"
    "                     U test to reach p < 0.05)\n"
    "  --min-time S       minimum seconds per repetition (Google Benchmark's default 0.5)\n"
    "  --mem-policy SPEC  --sched SPEC: the benchmark VMs' memory policy and vCPU scheduler\n"
    "  --box              run the KVM benchmarks in harness/kvmbox even if /dev/kvm works\n"
    "  --no-box           never use the box (fail without a usable /dev/kvm)\n"
    "  --bench PATH       the kvmlab_bench binary (default: next to this kvmlab's build)\n"
    "  --list             list the benchmarks and exit\n"
    "Host-only benchmarks always run natively; the ones that need KVM run natively where\n"
    "/dev/kvm works, else in the box, holding " BOX_LOCK " (KVMLAB_BOX_LOCK names another\n"
    "lock file; empty: none, for callers that hold it already).\n"
    "Exit status: 0 ok, 2 bad usage, 4 a benchmark failed or could not run.\n";

struct bench_opts {
	const char *filter, *out, *min_time, *mem_policy, *sched, *bench;
	uint64_t reps;
	bool box, no_box, list;
	char *const *extra;
	int nextra;
};

static bool kvm_usable(void)
{
	int fd = open("/dev/kvm", O_RDWR | O_CLOEXEC);

	if (fd < 0)
		return false;
	close(fd);
	return true;
}

/* build/<type>/vmm/kvmlab -> build/<type>/bench/kvmlab_bench, unless told otherwise. */
static int find_bench(const char *given, char *out, size_t size)
{
	char exe[PATH_MAX];
	ssize_t n;

	if (given || (given = getenv("KVMLAB_BENCH"))) {
		snprintf(out, size, "%s", given);
	} else {
		n = readlink("/proc/self/exe", exe, sizeof(exe) - 1);
		if (n < 0)
			return -1;
		exe[n] = '\0';
		snprintf(out, size, "%s/../bench/kvmlab_bench", dirname(exe));
	}
	if (access(out, X_OK)) {
		fprintf(stderr,
			"kvmlab bench: %s is not an executable benchmark binary: %s "
			"(build it: ci/build, or pass --bench PATH)\n",
			out, strerror(errno));
		return -1;
	}
	return 0;
}

/* Runs argv, waits; returns its exit status (128 + signal when killed, -1 if not started). */
static int spawn(char *const argv[])
{
	int status;
	pid_t pid = fork();

	if (pid < 0)
		return -1;
	if (pid == 0) {
		execvp(argv[0], argv);
		fprintf(stderr, "kvmlab bench: cannot run %s: %s\n", argv[0], strerror(errno));
		_exit(127);
	}
	while (waitpid(pid, &status, 0) < 0)
		if (errno != EINTR)
			return -1;
	return WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
}

/* One run of kvmlab_bench over the benchmarks of one kind ("host" or "kvm"). */
static int run_part(const struct bench_opts *o, const char *bench, const char *select,
		    const char *json, bool in_box)
{
	char sel[32], filter[512], reps[48], out[PATH_MAX + 32], min_time[64], policy[160],
	    sched[160], kvmbox[PATH_MAX];
	char *argv[24 + MAX_PASSTHROUGH];
	/* KVMLAB_BOX_LOCK: another lock file, or empty for none (a caller already holds it). */
	const char *lock_path = getenv("KVMLAB_BOX_LOCK") ? getenv("KVMLAB_BOX_LOCK") : BOX_LOCK;
	int argc = 0, lock = -1, rc;

	snprintf(kvmbox, sizeof(kvmbox), "%s",
		 getenv("KVMLAB_KVMBOX") ? getenv("KVMLAB_KVMBOX")
					 : KVMLAB_SOURCE_DIR "/harness/kvmbox");
	if (in_box) {
		argv[argc++] = kvmbox;
		argv[argc++] = (char *)"--force";
		argv[argc++] = (char *)"--";
	}
	argv[argc++] = (char *)bench;
	snprintf(sel, sizeof(sel), "--kvmlab_select=%s", select);
	argv[argc++] = sel;
	snprintf(reps, sizeof(reps), "--benchmark_repetitions=%llu", (unsigned long long)o->reps);
	argv[argc++] = reps;
	argv[argc++] = (char *)"--benchmark_display_aggregates_only=true";
	snprintf(out, sizeof(out), "--benchmark_out=%s", json);
	argv[argc++] = out;
	argv[argc++] = (char *)"--benchmark_out_format=json";
	if (o->filter) {
		snprintf(filter, sizeof(filter), "--benchmark_filter=%s", o->filter);
		argv[argc++] = filter;
	}
	if (o->min_time) {
		snprintf(min_time, sizeof(min_time), "--benchmark_min_time=%s", o->min_time);
		argv[argc++] = min_time;
	}
	if (o->mem_policy) {
		snprintf(policy, sizeof(policy), "--kvmlab_mem_policy=%s", o->mem_policy);
		argv[argc++] = policy;
	}
	if (o->sched) {
		snprintf(sched, sizeof(sched), "--kvmlab_sched=%s", o->sched);
		argv[argc++] = sched;
	}
	for (int i = 0; i < o->nextra; i++)
		argv[argc++] = o->extra[i];
	argv[argc] = NULL;
	if (in_box && lock_path[0]) {
		lock = open(lock_path, O_RDWR | O_CREAT | O_CLOEXEC, 0666);
		if (lock >= 0 && flock(lock, LOCK_EX | LOCK_NB) < 0) {
			fprintf(stderr, "kvmlab bench: waiting for %s (another box is running)\n",
				lock_path);
			if (flock(lock, LOCK_EX) < 0) {
				close(lock);
				lock = -1;
			}
		}
	}
	rc = spawn(argv);
	if (lock >= 0)
		close(lock);
	return rc;
}

/*
 * One report out of the two parts: the KVM part's context (it describes the KVM
 * the figures came from), plus kvm_runner, and the host part's facts that differ
 * (its kernel when the KVM part ran in the box) under host_only.<key>.
 */
static int merge(const char *host_json, const char *kvm_json, const char *runner, const char *out)
{
	struct json_object *host = host_json ? json_object_from_file(host_json) : NULL;
	struct json_object *kvm = kvm_json ? json_object_from_file(kvm_json) : NULL;
	struct json_object *report = kvm ? kvm : host, *ctx, *benches, *hctx, *hb;
	int rc = 0;

	if ((host_json && !host) || (kvm_json && !kvm) || !report) {
		fprintf(stderr, "kvmlab bench: a part of the run wrote no readable JSON\n");
		rc = -1;
		goto out;
	}
	if (!json_object_object_get_ex(report, "context", &ctx) ||
	    !json_object_object_get_ex(report, "benchmarks", &benches)) {
		fprintf(stderr, "kvmlab bench: the report has no context or benchmarks\n");
		rc = -1;
		goto out;
	}
	json_object_object_add(ctx, "kvm_runner", json_object_new_string(runner));
	if (kvm && host)
		json_object_object_add(ctx, "kvmlab_select", json_object_new_string("all"));
	if (kvm && host && json_object_object_get_ex(host, "context", &hctx) &&
	    json_object_object_get_ex(host, "benchmarks", &hb)) {
		json_object_object_foreach(hctx, key, val)
		{
			struct json_object *mine;
			char name[256];

			if (json_object_object_get_ex(ctx, key, &mine) &&
			    json_object_equal(mine, val))
				continue;
			snprintf(name, sizeof(name), "host_only.%s", key);
			json_object_object_add(ctx, name, json_object_get(val));
		}
		for (size_t i = 0; i < json_object_array_length(hb); i++)
			json_object_array_add(benches,
					      json_object_get(json_object_array_get_idx(hb, i)));
	}
	if (json_object_to_file_ext(out, report, JSON_C_TO_STRING_PRETTY)) {
		fprintf(stderr, "kvmlab bench: cannot write %s: %s\n", out, strerror(errno));
		rc = -1;
	}
out:
	if (host)
		json_object_put(host);
	if (kvm)
		json_object_put(kvm);
	return rc;
}

static bool has_report(const char *path)
{
	struct stat st;

	return stat(path, &st) == 0 && st.st_size > 0;
}

static int parse(int argc, char **argv, struct bench_opts *o)
{
	static const struct option opts[] = {
	    {"filter", required_argument, NULL, 'f'},
	    {"out", required_argument, NULL, 'o'},
	    {"repetitions", required_argument, NULL, 'r'},
	    {"min-time", required_argument, NULL, 't'},
	    {"mem-policy", required_argument, NULL, 'm'},
	    {"sched", required_argument, NULL, 's'},
	    {"box", no_argument, NULL, 'B'},
	    {"no-box", no_argument, NULL, 'N'},
	    {"bench", required_argument, NULL, 'b'},
	    {"list", no_argument, NULL, 'l'},
	    {"help", no_argument, NULL, 'h'},
	    {0},
	};
	struct errbuf e;
	double secs;
	int opt;

	*o = (struct bench_opts){.reps = DEFAULT_REPS};
	while ((opt = getopt_long(argc, argv, "h", opts, NULL)) != -1) {
		switch (opt) {
		case 'f':
			o->filter = optarg;
			break;
		case 'o':
			o->out = optarg;
			break;
		case 'r':
			if (parse_uint(optarg, 1, 1000, &o->reps, "--repetitions", &e))
				goto bad;
			break;
		case 't':
			if (parse_seconds(optarg, &secs, "--min-time", &e))
				goto bad;
			o->min_time = optarg;
			break;
		case 'm':
			o->mem_policy = optarg;
			break;
		case 's':
			o->sched = optarg;
			break;
		case 'B':
			o->box = true;
			break;
		case 'N':
			o->no_box = true;
			break;
		case 'b':
			o->bench = optarg;
			break;
		case 'l':
			o->list = true;
			break;
		case 'h':
			fputs(usage_text, stdout);
			return 1;
		default:
			fputs(usage_text, stderr);
			return -1;
		}
	}
	o->extra = argv + optind;
	o->nextra = argc - optind;
	if (o->nextra > MAX_PASSTHROUGH || (o->box && o->no_box)) {
		fputs(o->box ? "kvmlab bench: --box and --no-box exclude each other\n"
			     : "kvmlab bench: too many arguments for kvmlab_bench\n",
		      stderr);
		return -1;
	}
	return 0;
bad:
	fprintf(stderr, "kvmlab bench: %s\n", e.msg);
	return -1;
}

int cmd_bench(int argc, char **argv)
{
	char bench[PATH_MAX], dir[PATH_MAX + 32], host_json[PATH_MAX + 64], kvm_json[PATH_MAX + 64];
	struct bench_opts o;
	bool in_box;
	int r, host_rc, kvm_rc, status = CLI_OK;

	r = parse(argc, argv, &o);
	if (r)
		return r > 0 ? CLI_OK : CLI_USAGE;
	if (find_bench(o.bench, bench, sizeof(bench)))
		return CLI_HOST_ERROR;
	if (o.list) {
		char *list_argv[] = {bench, (char *)"--kvmlab_list", NULL};

		return spawn(list_argv) == 0 ? CLI_OK : CLI_HOST_ERROR;
	}
	in_box = o.box || !kvm_usable();
	if (in_box && o.no_box) {
		fprintf(stderr,
			"kvmlab bench: /dev/kvm is not usable here and --no-box was given\n");
		return CLI_HOST_ERROR;
	}
	/* The parts' JSON goes next to the report: the box sees the host's files, not its /tmp. */
	snprintf(dir, sizeof(dir), "%s/.kvmlab-bench-XXXXXX",
		 o.out ? dirname(strdupa(o.out)) : ".");
	if (!mkdtemp(dir)) {
		fprintf(stderr, "kvmlab bench: cannot create %s: %s\n", dir, strerror(errno));
		return CLI_HOST_ERROR;
	}
	snprintf(host_json, sizeof(host_json), "%s/host.json", dir);
	snprintf(kvm_json, sizeof(kvm_json), "%s/kvm.json", dir);
	host_rc = run_part(&o, bench, "host", host_json, false);
	kvm_rc = run_part(&o, bench, "kvm", kvm_json, in_box);
	if (host_rc || kvm_rc) {
		fprintf(stderr, "kvmlab bench: %s%s%s failed (exit status %d)\n",
			host_rc ? "the host-only benchmarks" : "", host_rc && kvm_rc ? " and " : "",
			kvm_rc ? (in_box ? "the KVM benchmarks (in kvmbox)" : "the KVM benchmarks")
			       : "",
			host_rc ? host_rc : kvm_rc);
		status = CLI_HOST_ERROR;
	}
	/* An empty selection (the filter left one part nothing) writes no report: not an error. */
	if (o.out &&
	    merge(has_report(host_json) ? host_json : NULL, has_report(kvm_json) ? kvm_json : NULL,
		  in_box ? "kvmbox" : "native", o.out))
		status = CLI_HOST_ERROR;
	unlink(host_json);
	unlink(kvm_json);
	rmdir(dir);
	return status;
}
