/* Fuzz target: the size, integer and seconds parsers, checked against their documented grammar. */
#include <ctype.h>
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "fuzz.h"
#include "kvmlab/parse.h"

enum parse_fn { FN_SIZE, FN_UINT, FN_SECONDS };

/* Decimal digits at *s into *v; false on no digits or 64-bit overflow. */
static bool ref_digits(const char **s, uint64_t *v)
{
	const char *p = *s;

	*v = 0;
	for (; isdigit((unsigned char)*p); p++) {
		if (*v > (UINT64_MAX - (uint64_t)(*p - '0')) / 10)
			return false;
		*v = *v * 10 + (uint64_t)(*p - '0');
	}
	if (p == *s)
		return false;
	*s = p;
	return true;
}

/* parse.h: digits, an optional K/M/G/T multiplier (binary), then an optional "B", "iB" or
 * (IEC without the unit) "i" after a multiplier; case-insensitive; no overflow. */
static bool ref_size(const char *s, uint64_t *out)
{
	static const char units[] = "KMGT";
	const char *u;
	unsigned shift = 0;
	uint64_t v;

	if (!ref_digits(&s, &v))
		return false;
	if (*s && (u = strchr(units, toupper((unsigned char)*s)))) {
		shift = 10 * (unsigned)(u - units + 1);
		s++;
		if (toupper((unsigned char)*s) == 'I')
			s++;
	}
	if (toupper((unsigned char)*s) == 'B')
		s++;
	if (*s || (shift && v > UINT64_MAX >> shift))
		return false;
	*out = v << shift;
	return true;
}

/* parse.h: a non-negative decimal such as "10" or "0.5" (an exponent is tolerated). */
static bool ref_seconds_grammar(const char *s)
{
	size_t digits = strspn(s, "0123456789");

	s += digits;
	if (*s == '.') {
		size_t frac = strspn(s + 1, "0123456789");

		digits += frac;
		s += 1 + frac;
	}
	if (!digits)
		return false;
	if (*s == 'e' || *s == 'E') {
		s += 1 + (s[1] == '+' || s[1] == '-');
		if (!isdigit((unsigned char)*s))
			return false;
		s += strspn(s, "0123456789");
	}
	return *s == '\0';
}

static void check_report(int rc, const struct errbuf *e, const char *what)
{
	FUZZ_CHECK(rc == 0 || rc == -1, "returned %d", rc);
	FUZZ_CHECK(
	    rc == 0 || (memchr(e->msg, '\0', sizeof(e->msg)) && strstr(e->msg, what) == e->msg),
	    "report does not start with the field name: '%.*s'", (int)sizeof(e->msg), e->msg);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct fuzz_in in;
	struct errbuf e;
	uint8_t kind, min;
	const uint8_t *rest;
	size_t len;
	char *s;
	uint64_t got = 0, want = 0, max;
	double secs = -1;
	int rc;

	fuzz_in_init(&in, data, size);
	kind = fuzz_u8(&in);
	min = fuzz_u8(&in);
	/* parse_uint's upper bound: 2^k - 1 for k = kind >> 2, and rarely (k = 63) UINT64_MAX */
	max = (kind >> 2) == 63 ? UINT64_MAX : (1ull << (kind >> 2)) - 1;
	rest = fuzz_rest(&in, &len);
	s = malloc(len + 1); /* exactly sized: reading past the terminator is caught */
	FUZZ_CHECK(s, "out of memory");
	memcpy(s, rest, len);
	s[len] = '\0';
	switch ((enum parse_fn)((kind & 3) % 3)) {
	case FN_SIZE:
		rc = parse_size(s, &got, "size", &e);
		check_report(rc, &e, "size");
		FUZZ_CHECK((rc == 0) == ref_size(s, &want), "parse_size('%s') returned %d", s, rc);
		FUZZ_CHECK(rc || got == want, "parse_size('%s') = %llu, not %llu", s,
			   (unsigned long long)got, (unsigned long long)want);
		break;
	case FN_UINT: {
		const char *p = s;
		bool ok = ref_digits(&p, &want) && !*p && want >= min && want <= max;

		rc = parse_uint(s, min, max, &got, "count", &e);
		check_report(rc, &e, "count");
		FUZZ_CHECK((rc == 0) == ok, "parse_uint('%s', %u, %llu) returned %d", s, min,
			   (unsigned long long)max, rc);
		FUZZ_CHECK(rc || got == want, "parse_uint('%s') = %llu", s,
			   (unsigned long long)got);
		break;
	}
	case FN_SECONDS: {
		double v;
		bool ok;

		errno = 0;
		v = strtod(s, NULL);
		ok = ref_seconds_grammar(s) && errno == 0 && v <= 1e9;
		rc = parse_seconds(s, &secs, "timeout", &e);
		check_report(rc, &e, "timeout");
		FUZZ_CHECK((rc == 0) == ok, "parse_seconds('%s') returned %d", s, rc);
		FUZZ_CHECK(rc || (secs == v && secs >= 0), "parse_seconds('%s') = %g", s, secs);
		break;
	}
	}
	free(s);
	return 0;
}
