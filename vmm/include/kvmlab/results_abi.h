/* The results window shared by test guests and the host: parameters in, counters out. */
#ifndef KVMLAB_RESULTS_ABI_H
#define KVMLAB_RESULTS_ABI_H

#include <stdint.h>

/*
 * A fixed guest-physical window below 1 MiB (clear of the boot tables, the
 * SIPI trampoline page and the guest image at 1 MiB). The host may fill
 * param[] before the VM starts (0 always means "the guest's default") and
 * reads the rest through gmem while the guest runs and after it stops; the
 * guest never trusts anything here but param[] and go.
 *
 * Counters are plain 64-bit stores by one vCPU each: the host reads them with
 * relaxed atomic loads and sees a recent value, never a torn one.
 */
#define RESULTS_GPA	    0x20000ull
#define RESULTS_SIZE	    0x60000ull		  /* up to 0x80000 */
#define RESULTS_MAGIC	    0x31736c7573657270ull /* "presuls1": the guest runtime is up */
#define RESULTS_MAX_VCPUS   64
#define RESULTS_NPARAMS	    16
#define RESULTS_NVALUES	    64
#define RESULTS_MAX_SAMPLES 1024 /* per vCPU */
#define RESULTS_NINPUT	    4096 /* host-provided input words, e.g. a list of ports */

/* One cache line per vCPU, so counters of different vCPUs never share a line. */
struct results_vcpu {
	uint64_t progress; /* work done so far (loop iterations for spinners) */
	uint64_t nsamples; /* samples taken; only the first RESULTS_MAX_SAMPLES are kept */
	uint64_t max_sample;
	uint64_t sum_samples;
	uint64_t state; /* guest-defined: e.g. 1 = started, 2 = finished */
	uint64_t pad[3];
};

struct results_abi {
	/* Host -> guest, written before start. */
	uint64_t param[RESULTS_NPARAMS];
	uint64_t go; /* a host -> guest flag for guests that wait for the host mid-run */
	uint64_t pad0[7];
	/* Guest -> host. */
	uint64_t magic;
	uint64_t tsc_khz; /* the guest's calibrated TSC frequency, 0 until measured */
	uint64_t value[RESULTS_NVALUES];
	uint64_t pad1[6];
	struct results_vcpu vcpu[RESULTS_MAX_VCPUS];
	/* Per-vCPU samples in nanoseconds (guest-defined: scheduling gaps, wake-up delays). */
	uint32_t sample[RESULTS_MAX_VCPUS][RESULTS_MAX_SAMPLES];
	uint32_t input[RESULTS_NINPUT]; /* host -> guest */
};

_Static_assert(sizeof(struct results_abi) <= RESULTS_SIZE, "results window overflow");
_Static_assert(sizeof(struct results_vcpu) == 64, "one cache line per vCPU");

#endif
