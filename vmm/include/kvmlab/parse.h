/* Parsing of user-supplied numbers: sizes with K/M/G suffixes, bounded integers, durations. */
#ifndef KVMLAB_PARSE_H
#define KVMLAB_PARSE_H

#include <stdint.h>

#include "err.h"

/* "64M", "1G", "4096", "512K" (binary multiples; optional trailing 'B' or 'iB').
 * Refuses empty strings, junk, and values that overflow 64 bits. what names the
 * field in the report. */
int parse_size(const char *s, uint64_t *out, const char *what, struct errbuf *e);

/* A decimal integer in [min, max]. */
int parse_uint(const char *s, uint64_t min, uint64_t max, uint64_t *out, const char *what,
	       struct errbuf *e);

/* Seconds as a non-negative decimal, e.g. "10" or "0.5". */
int parse_seconds(const char *s, double *out, const char *what, struct errbuf *e);

#endif
