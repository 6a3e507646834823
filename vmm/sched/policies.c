/* The table of vCPU scheduling policies: one line per policy. */
#include <stdio.h>
#include <string.h>

#include "kvmlab/sched.h"

extern const struct sched_ops sched_os;
extern const struct sched_ops sched_pinned;
extern const struct sched_ops sched_rr;
extern const struct sched_ops sched_credit;
extern const struct sched_ops sched_example_fifo;

const struct sched_ops *const sched_policies[] = {
	&sched_os,
	&sched_pinned,
	&sched_rr,
	&sched_credit,
	&sched_example_fifo,
	NULL,
};

const struct sched_ops *sched_find(const char *spec, const char **args, struct errbuf *e)
{
	size_t name_len;
	char known[256] = "";

	if (!spec || !*spec)
		spec = "os";
	name_len = strcspn(spec, ":");
	*args = spec[name_len] == ':' ? spec + name_len + 1 : "";
	for (const struct sched_ops *const *p = sched_policies; *p; p++) {
		if (strlen((*p)->name) == name_len && !strncmp((*p)->name, spec, name_len))
			return *p;
		snprintf(known + strlen(known), sizeof(known) - strlen(known), "%s%s",
			 known[0] ? ", " : "", (*p)->name);
	}
	err_set(e, "unknown scheduler '%.*s' (known: %s)", (int)name_len, spec, known);
	return NULL;
}
