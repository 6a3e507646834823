/* Fuzz targets' shared input decoder: bytes in, valid-by-construction guest operations out. */
#ifndef KVMLAB_FUZZ_H
#define KVMLAB_FUZZ_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>

#include "kvmlab/machine.h"

/*
 * What every target in fuzz/targets/ does (docs/fuzzing.md):
 *  - defines LLVMFuzzerTestOneInput and no other global symbol;
 *  - builds all its state (machine, gmem, buffers) from the input and frees it
 *    before returning, so an input's behaviour depends on its bytes alone;
 *  - decodes through struct fuzz_in, which reads zeros past the end: any prefix
 *    of an input is an input, and a truncated one still reaches deep code;
 *  - draws addresses, lengths and values from the valid set, and takes an
 *    invalid variant (out-of-range offset, odd length, arbitrary 64-bit
 *    number) only when a selector field is all ones, i.e. rarely;
 *  - checks what the code's contract promises with FUZZ_CHECK, which aborts,
 *    so every engine (libFuzzer, AFL++, the replay driver) reports a crash.
 */
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

struct fuzz_in {
	const uint8_t *p;
	size_t left;
};

static inline void fuzz_in_init(struct fuzz_in *in, const uint8_t *data, size_t size)
{
	in->p = data;
	in->left = size;
}

static inline bool fuzz_more(const struct fuzz_in *in)
{
	return in->left > 0;
}

static inline uint8_t fuzz_u8(struct fuzz_in *in)
{
	if (!in->left)
		return 0;
	in->left--;
	return *in->p++;
}

/* An n-byte little-endian number (n <= 8); bytes past the end read as zero. */
static inline uint64_t fuzz_uint(struct fuzz_in *in, unsigned n)
{
	uint64_t v = 0;

	for (unsigned i = 0; i < n; i++)
		v |= (uint64_t)fuzz_u8(in) << (8 * i);
	return v;
}

static inline uint16_t fuzz_u16(struct fuzz_in *in)
{
	return (uint16_t)fuzz_uint(in, 2);
}

static inline uint32_t fuzz_u32(struct fuzz_in *in)
{
	return (uint32_t)fuzz_uint(in, 4);
}

static inline uint64_t fuzz_u64(struct fuzz_in *in)
{
	return fuzz_uint(in, 8);
}

/* A number below n (n >= 1) from one byte when n <= 256, else from two. */
static inline uint64_t fuzz_below(struct fuzz_in *in, uint64_t n)
{
	return (n <= 256 ? fuzz_u8(in) : fuzz_u16(in)) % n;
}

/* The remaining bytes, consumed. */
static inline const uint8_t *fuzz_rest(struct fuzz_in *in, size_t *len)
{
	const uint8_t *p = in->p;

	*len = in->left;
	in->p += in->left;
	in->left = 0;
	return p;
}

/* A broken promise: print why and abort, which every engine records as a crash. */
#define FUZZ_CHECK(cond, ...)                                                                      \
	do {                                                                                       \
		if (!(cond)) {                                                                     \
			fprintf(stderr, "%s:%d: FUZZ_CHECK(%s) failed: ", __FILE__, __LINE__,      \
				#cond);                                                            \
			fprintf(stderr, __VA_ARGS__);                                              \
			fputc('\n', stderr);                                                       \
			abort();                                                                   \
		}                                                                                  \
	} while (0)

/* One guest access as a vCPU exit would deliver it. */
struct fuzz_io {
	uint64_t addr;
	uint32_t len; /* 1, 2, 4 or 8; 1..8 in the rare variant */
	bool write;
	bool mmio;
	uint8_t data[8]; /* the value written, or what the read returned */
};

#define FUZZ_IO_SIZE(ctl) (1u << ((ctl)&3))
#define FUZZ_IO_WRITE	  0x04

/*
 * An access aimed at the window [base, base + width) of one bus (width <= 256),
 * from the control byte ctl the caller read (a target may claim selector values
 * for operations of its own before calling): bits 0-1 size (1, 2, 4, 8), bit 2
 * write, bits 3-7 selector: offset = selector % width, except selector 31
 * (1 in 32), the rare variant: a signed 16-bit displacement from base and a
 * length of 1..8 follow (accesses that straddle or miss the device, odd MMIO
 * lengths). A write's value follows, len bytes little-endian.
 */
void fuzz_io_window(struct fuzz_in *in, uint8_t ctl, uint64_t base, uint64_t width, bool mmio,
		    struct fuzz_io *io);

#define FUZZ_IO_MACHINE_OWN 15 /* fuzz_io_machine selector left to the caller */

/*
 * An access anywhere on a machine, from the control byte ctl: bits 0-1 size,
 * bit 2 write, bit 3 MMIO, bits 4-7 selector: 0-13 a claimed range of that bus
 * (the next byte % ranges, in address order) with an offset inside it from the
 * byte after (two for ranges over 256 bytes); 14 (1 in 16), or a bus with no
 * ranges, an arbitrary address instead (2 bytes for port I/O, 8 for MMIO).
 * Selector 15 is the caller's own (FUZZ_IO_MACHINE_OWN); here it reads as 14.
 * A write's value follows.
 */
void fuzz_io_machine(struct fuzz_in *in, uint8_t ctl, const struct machine *m, struct fuzz_io *io);

/* Delivers io through machine_pio / machine_mmio, the vCPU exit path's entry
 * into the buses; returns what they return. */
bool fuzz_io_run(struct machine *m, struct fuzz_io *io);

/* A write-only descriptor for device output (console), opened once per process. */
int fuzz_null_fd(void);

#endif
