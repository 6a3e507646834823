/* Facts about the host a benchmark ran on, for the "context" of its JSON report. */
#ifndef KVMLAB_BENCH_CONTEXT_H
#define KVMLAB_BENCH_CONTEXT_H

#include "bench.h"

#ifdef __cplusplus
extern "C" {
#endif

typedef void (*bench_context_fn)(void *opaque, const char *key, const char *value);

/*
 * Calls add once per fact: kernel, kernel_build, cpu_model, kvm_nested (the
 * CPU's hypervisor flag: "true" when this host is itself a guest),
 * kvm_api_version, kvm_modules and one kvm_param.<module>.<name> per KVM
 * module parameter, kvm_flavor (pvm, amd, intel) and kvm_environment (pvm,
 * nested, bare-metal), clocksource, thp_enabled, mem_policy and sched (the
 * benchmark VMs'), kvmlab_select (which benchmarks ran), kvmlab_build_type and kvmlab_asan. A fact the host does not expose is
 * reported as "unknown", never left out, so dashboards see the same keys
 * everywhere.
 */
void bench_context_collect(const struct bench_options *o, bench_context_fn add, void *opaque);

#ifdef __cplusplus
}
#endif

#endif
