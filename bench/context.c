/* Collects the host facts a benchmark result is meaningless without: kernel, CPU, KVM, memory. */
#include <dirent.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/utsname.h>
#include <unistd.h>

#include "context.h"
#include "kvmlab/kvm.h"

#ifndef BENCH_BUILD_TYPE
#define BENCH_BUILD_TYPE "unknown"
#endif

#define SYS_MODULES "/sys/module"

/* First line of path without its newline, or "unknown". */
static void read_line(const char *path, char *out, size_t size)
{
	FILE *f = fopen(path, "r");

	snprintf(out, size, "unknown");
	if (!f)
		return;
	if (fgets(out, (int)size, f))
		out[strcspn(out, "\n")] = '\0';
	else
		snprintf(out, size, "unknown");
	fclose(f);
}

/* The value of the first "key<spaces>: value" line of /proc/cpuinfo. */
static void cpuinfo_field(const char *key, char *out, size_t size)
{
	FILE *f = fopen("/proc/cpuinfo", "r");
	char line[4096];
	size_t klen = strlen(key);

	snprintf(out, size, "unknown");
	if (!f)
		return;
	while (fgets(line, sizeof(line), f)) {
		char *colon = strchr(line, ':');

		if (strncmp(line, key, klen) || !colon ||
		    strspn(line + klen, " \t") != (size_t)(colon - line) - klen)
			continue;
		colon += strspn(colon + 1, " \t") + 1;
		colon[strcspn(colon, "\n")] = '\0';
		snprintf(out, size, "%s", colon);
		break;
	}
	fclose(f);
}

static const char *cpu_has_flag(const char *flags, const char *flag)
{
	size_t n = strlen(flag);

	for (const char *p = flags; (p = strstr(p, flag)); p += n)
		if ((p == flags || p[-1] == ' ') && (p[n] == ' ' || p[n] == '\0'))
			return "true";
	return "false";
}

/* "[madvise]" out of "always [madvise] never". */
static void bracketed(char *s)
{
	char *open = strchr(s, '['), *close = open ? strchr(open, ']') : NULL;

	if (open && close) {
		*close = '\0';
		memmove(s, open + 1, (size_t)(close - open));
	}
}

static int is_kvm_module(const char *name)
{
	return strcmp(name, "kvm") == 0 || strncmp(name, "kvm_", 4) == 0;
}

static int name_cmp(const struct dirent **a, const struct dirent **b)
{
	return strcmp((*a)->d_name, (*b)->d_name);
}

static int not_dot(const struct dirent *d)
{
	return d->d_name[0] != '.';
}

/* kvm_param.<module>.<name> for each of a module's parameters, in name order. */
static void kvm_module_params(const char *mod, bench_context_fn add, void *opaque)
{
	struct dirent **params;
	char dir[320];
	int n;

	snprintf(dir, sizeof(dir), SYS_MODULES "/%s/parameters", mod);
	n = scandir(dir, &params, not_dot, name_cmp);
	for (int i = 0; i < n; i++) {
		char path[600], key[600], value[256];

		snprintf(path, sizeof(path), "%s/%s", dir, params[i]->d_name);
		snprintf(key, sizeof(key), "kvm_param.%s.%s", mod, params[i]->d_name);
		read_line(path, value, sizeof(value));
		add(opaque, key, value);
		free(params[i]);
	}
	if (n >= 0)
		free(params);
}

/*
 * How the guests are virtualized: kvm_flavor is the vendor module (pvm, amd,
 * intel), kvm_environment "pvm" (kvm_pvm: paravirtualized, no hardware
 * virtualization), "nested" (this host is itself a guest) or "bare-metal".
 * Figures from different environments are not comparable; dashboards key on it.
 */
static void kvm_flavor(const char *modules, bool nested, bench_context_fn add, void *opaque)
{
	char list[600];
	const char *flavor = "unknown";

	snprintf(list, sizeof(list), ",%s,", modules);
	if (strstr(list, ",kvm_pvm,"))
		flavor = "pvm";
	else if (strstr(list, ",kvm_amd,"))
		flavor = "amd";
	else if (strstr(list, ",kvm_intel,"))
		flavor = "intel";
	add(opaque, "kvm_flavor", flavor);
	add(opaque, "kvm_environment",
	    !strcmp(flavor, "pvm") ? "pvm" : (nested ? "nested" : "bare-metal"));
}

/* kvm_modules ("kvm,kvm_amd") and their parameters, sorted so reports diff cleanly. */
static void kvm_modules(bench_context_fn add, void *opaque, bool nested)
{
	struct dirent **mods;
	char list[512] = "";
	int n = scandir(SYS_MODULES, &mods, not_dot, name_cmp);

	for (int i = 0; i < n; i++) {
		const char *mod = mods[i]->d_name;
		size_t used = strlen(list);

		if (is_kvm_module(mod)) {
			snprintf(list + used, sizeof(list) - used, "%s%s", used ? "," : "", mod);
			kvm_module_params(mod, add, opaque);
		}
		free(mods[i]);
	}
	if (n >= 0)
		free(mods);
	add(opaque, "kvm_modules", list[0] ? list : "none");
	kvm_flavor(list, nested, add, opaque);
}

void bench_context_collect(const struct bench_options *o, bench_context_fn add, void *opaque)
{
	char buf[4096];
	struct utsname u;
	struct errbuf e;
	unsigned api = 0;
	bool nested;
	int fd;

	if (uname(&u) == 0) {
		add(opaque, "kernel", u.release);
		add(opaque, "kernel_build", u.version);
	} else {
		add(opaque, "kernel", "unknown");
		add(opaque, "kernel_build", "unknown");
	}
	cpuinfo_field("model name", buf, sizeof(buf));
	add(opaque, "cpu_model", buf);
	cpuinfo_field("flags", buf, sizeof(buf));
	nested = !strcmp(cpu_has_flag(buf, "hypervisor"), "true");
	add(opaque, "kvm_nested", nested ? "true" : "false");

	fd = kvm_open(NULL, &api, &e);
	if (fd >= 0) {
		snprintf(buf, sizeof(buf), "%u", api);
		close(fd);
	} else {
		snprintf(buf, sizeof(buf), "unknown (%s)", e.msg);
	}
	add(opaque, "kvm_api_version", buf);
	kvm_modules(add, opaque, nested);

	read_line("/sys/devices/system/clocksource/clocksource0/current_clocksource", buf,
		  sizeof(buf));
	add(opaque, "clocksource", buf);
	read_line("/sys/kernel/mm/transparent_hugepage/enabled", buf, sizeof(buf));
	bracketed(buf);
	add(opaque, "thp_enabled", buf);
	add(opaque, "mem_policy", o->mem_policy ? o->mem_policy : "anon");
	add(opaque, "sched", o->sched ? o->sched : "os");
	add(opaque, "kvmlab_select", o->select ? o->select : "all");
	add(opaque, "kvmlab_build_type", BENCH_BUILD_TYPE);
#ifdef __SANITIZE_ADDRESS__
	add(opaque, "kvmlab_asan", "true");
#else
	add(opaque, "kvmlab_asan", "false");
#endif
}
