/* Helpers the scheduling policies share: k=v arguments, CPU lists, and "was this vCPU kicked". */
#include <linux/kvm.h>
#include <sched.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "kvmlab/parse.h"
#include "kvmlab/vm.h"
#include "sched_util.h"

int sched_args_each(const char *policy, const char *args,
		    int (*fn)(void *ctx, const char *key, const char *value, struct errbuf *e),
		    void *ctx, struct errbuf *e)
{
	char buf[SCHED_MAX_ARGS_LEN], *end;
	size_t len;

	if (!args || !*args)
		return 0;
	len = strlen(args);
	if (len >= sizeof(buf))
		return err_set(e, "scheduler %s: parameters longer than %zu bytes", policy,
			       sizeof(buf) - 1);
	memcpy(buf, args, len + 1);
	end = buf + len;
	/* A comma separates pairs only when a '=' follows before the next comma, so
	 * values may be lists: "cpus=0,2-3,slice=5". */
	for (char *c = buf; (c = strchr(c, ',')); c++) {
		size_t seg = strcspn(c + 1, ",");

		if (memchr(c + 1, '=', seg))
			*c = '\0';
	}
	for (char *kv = buf, *next; kv < end; kv = next) {
		char *eq = strchr(kv, '=');

		next = kv + strlen(kv) + 1;

		if (!eq || eq == kv || !eq[1])
			return err_set(e, "scheduler %s: expected KEY=VALUE, got '%s'", policy, kv);
		*eq = '\0';
		if (fn(ctx, kv, eq + 1, e))
			return -1;
	}
	return 0;
}

int sched_arg_uint(const char *policy, const char *key, const char *value, uint64_t lo, uint64_t hi,
		   uint64_t *out, struct errbuf *e)
{
	char what[96];

	snprintf(what, sizeof(what), "scheduler %s: %s", policy, key);
	return parse_uint(value, lo, hi, out, what, e);
}

int sched_key_vcpu(const char *key, const char *prefix, unsigned nvcpus, int *vcpu,
		   struct errbuf *e)
{
	size_t n = strlen(prefix);
	uint64_t id;

	if (strncmp(key, prefix, n))
		return -2;
	if (!key[n]) {
		*vcpu = -1;
		return 0;
	}
	if (key[n] != '.')
		return -2;
	if (parse_uint(key + n + 1, 0, nvcpus - 1, &id, key, e))
		return -1;
	*vcpu = (int)id;
	return 0;
}

int sched_parse_cpus(const char *policy, const char *list, unsigned *cpus, unsigned max,
		     unsigned *n, struct errbuf *e)
{
	char buf[SCHED_MAX_ARGS_LEN], *save = NULL;
	cpu_set_t allowed;

	if (sched_getaffinity(0, sizeof(allowed), &allowed))
		return err_errno(e, "scheduler %s: cannot read this process's CPU affinity",
				 policy);
	if (strlen(list) >= sizeof(buf))
		return err_set(e, "scheduler %s: CPU list too long", policy);
	strcpy(buf, list);
	*n = 0;
	for (char *r = strtok_r(buf, ",", &save); r; r = strtok_r(NULL, ",", &save)) {
		char *dash = strchr(r, '-');
		uint64_t lo, hi;

		if (dash)
			*dash = '\0';
		if (parse_uint(r, 0, CPU_SETSIZE - 1, &lo, "CPU", e) ||
		    parse_uint(dash ? dash + 1 : r, lo, CPU_SETSIZE - 1, &hi, "CPU", e))
			return err_set(e, "scheduler %s: bad CPU list '%s' (expected e.g. 0-3,6)",
				       policy, list);
		for (uint64_t c = lo; c <= hi; c++) {
			if (!CPU_ISSET(c, &allowed))
				return err_set(e,
					       "scheduler %s: CPU %llu is not one this process may "
					       "run on (%u usable)",
					       policy, (unsigned long long)c, sched_host_cpus());
			if (*n == max)
				return err_set(e, "scheduler %s: more than %u CPUs listed", policy,
					       max);
			cpus[(*n)++] = (unsigned)c;
		}
	}
	if (*n == 0)
		return err_set(e, "scheduler %s: empty CPU list", policy);
	return 0;
}

unsigned sched_host_cpus(void)
{
	cpu_set_t allowed;
	int n;

	if (sched_getaffinity(0, sizeof(allowed), &allowed))
		return 1;
	n = CPU_COUNT(&allowed);
	return n > 0 ? (unsigned)n : 1;
}

bool sched_vcpu_kicked(struct vcpu *v)
{
	return __atomic_load_n(&v->run->immediate_exit, __ATOMIC_ACQUIRE) ||
	       machine_stopping(&v->vm->m);
}
