/* Building JSON text from fuzz input: mostly well-formed, well-typed values, rarely anything. */
#ifndef KVMLAB_FUZZ_JSON_H
#define KVMLAB_FUZZ_JSON_H

#include "fuzz.h"

#define FUZZ_JSON_MAX 16384

/* Text being built; appends that do not fit are dropped, so the text is cut short (which
 * the parser under test must refuse cleanly) but never overflows. */
struct fuzz_json {
	char text[FUZZ_JSON_MAX];
	size_t len;
};

/* The value a field expects. */
enum fuzz_json_kind {
	FJ_BOOL,
	FJ_INT,	    /* a count such as vCPUs */
	FJ_U64,	    /* an address or size: integer, "0x..." or "64M" */
	FJ_SECONDS, /* integer or decimal */
	FJ_STRING,
};

void fuzz_json_add(struct fuzz_json *j, const char *s);

/* A JSON string of up to 31 input bytes, escaped as needed; selector byte value 0xff, the rare
 * variant, copies the bytes raw (bad escapes, control bytes, invalid UTF-8). */
void fuzz_json_string(struct fuzz_json *j, struct fuzz_in *in);

/* A JSON string that is one of names[0..n) (n >= 1), returning its index; selector byte 0xff,
 * the rare variant, is a string of input bytes instead (returns -1). */
int fuzz_json_name(struct fuzz_json *j, struct fuzz_in *in, const char *const *names, size_t n);

/*
 * A value for a field of the given kind. Selector byte: the top nibble 0xf (1 in 16) is the
 * rare variant, a value of another type or an edge of the JSON grammar (null, arrays, nested
 * objects, 1e999, -0, 2^64, lone surrogates); otherwise a value of the expected kind, valid
 * or just outside the valid range.
 */
void fuzz_json_value(struct fuzz_json *j, struct fuzz_in *in, enum fuzz_json_kind kind);

/* Whether buf[0..len) is valid UTF-8 (no overlongs, surrogates or code points past U+10FFFF). */
bool fuzz_utf8_valid(const char *buf, size_t len);

#endif
