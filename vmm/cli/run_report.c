/* `kvmlab run --stats`: the closing summary of a run (time, KVM's exit count, exits by reason). */
#include <linux/kvm.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli.h"
#include "kvmlab/kvm_stats.h"
#include "kvmlab/stats.h"
#include "kvmlab/vm.h"

/* KVM's own count of every exit of every vCPU; -1 where the kernel has no binary stats. */
static long long run_report_kvm_exits(struct vm *vm)
{
	unsigned long long total = 0;
	struct errbuf e;

	for (unsigned i = 0; i < vm->nvcpus; i++) {
		uint64_t n;

		if (kvm_stats_read(vm->vcpus[i].fd, "exits", &n, &e))
			return -1;
		total += n;
	}
	return (long long)total;
}

void run_report_stats(struct vm *vm, double seconds, FILE *out)
{
	struct stats_snapshot *s = calloc(1, sizeof(*s));
	unsigned long long to_vmm = 0;
	long long kvm_exits = run_report_kvm_exits(vm);
	struct errbuf e;

	if (!s || stats_read(vm, s, &e)) {
		fprintf(out, "kvmlab: stats: %s\n", s ? e.msg : "out of memory");
		free(s);
		return;
	}
	for (unsigned r = 0; r < EXIT_TABLE_SIZE; r++)
		to_vmm += s->reason[r].count;
	fprintf(out, "kvmlab: stats: ran %.3f s on %u vCPU%s; ", seconds, vm->nvcpus,
		vm->nvcpus == 1 ? "" : "s");
	if (kvm_exits >= 0)
		fprintf(out, "%lld exits in all (KVM's count), ", kvm_exits);
	fprintf(out, "%llu to kvmlab:", to_vmm);
	for (unsigned r = 0; r < EXIT_TABLE_SIZE; r++)
		if (s->reason[r].count)
			fprintf(out, " %s %llu", exit_reason_name(r),
				(unsigned long long)s->reason[r].count);
	fputc('\n', out);
	free(s);
}
