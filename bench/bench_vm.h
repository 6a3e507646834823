/* A benchmark VM: vm_create with the run's memory policy and scheduler, a flat guest loaded. */
#ifndef KVMLAB_BENCH_VM_H
#define KVMLAB_BENCH_VM_H

#include <stdint.h>

#include "bench.h"
#include "kvmlab/err.h"
#include "kvmlab/vm.h"

/*
 * Creates a one-vCPU VM of mem bytes named name, loads o->guest_dir/guest (a
 * flat guest from guests/) and puts the vCPU in long mode at its entry. The VM
 * stays CREATED: benchmarks drive vCPU 0 from their own thread with vcpu_step.
 * The console goes to stderr, so stdout keeps the report. NULL with e filled.
 */
struct vm *bench_vm_create(const struct bench_options *o, const char *name, const char *guest,
			   uint64_t mem, struct errbuf *e);

#endif
