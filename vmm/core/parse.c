/* Strict parsing of sizes, integers and durations given on the command line or in configs. */
#include <ctype.h>
#include <errno.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "kvmlab/parse.h"

int parse_uint(const char *s, uint64_t min, uint64_t max, uint64_t *out, const char *what,
	       struct errbuf *e)
{
	unsigned long long v;
	char *end;

	if (!s || !isdigit((unsigned char)s[0]))
		return err_set(e, "%s: '%s' is not a number", what, s ? s : "");
	errno = 0;
	v = strtoull(s, &end, 10);
	if (errno || *end)
		return err_set(e, "%s: '%s' is not a number", what, s);
	if (v < min || v > max)
		return err_set(e, "%s: %llu is out of range (%llu to %llu)", what, v,
			       (unsigned long long)min, (unsigned long long)max);
	*out = v;
	return 0;
}

int parse_size(const char *s, uint64_t *out, const char *what, struct errbuf *e)
{
	unsigned long long v;
	unsigned shift = 0;
	char *end;

	if (!s || !isdigit((unsigned char)s[0]))
		return err_set(e, "%s: '%s' is not a size (use e.g. 512M or 2G)", what,
			       s ? s : "");
	errno = 0;
	v = strtoull(s, &end, 10);
	if (errno)
		return err_set(e, "%s: '%s' is too large", what, s);
	switch (toupper((unsigned char)*end)) {
	case 'K':
		shift = 10;
		break;
	case 'M':
		shift = 20;
		break;
	case 'G':
		shift = 30;
		break;
	case 'T':
		shift = 40;
		break;
	case 'B': /* plain bytes, "4096B" */
	case '\0':
		break;
	default:
		return err_set(e, "%s: '%s' has an unknown suffix (use K, M, G or T)", what, s);
	}
	if (shift)
		end++;
	if (shift && (*end == 'i' || *end == 'I'))
		end++;
	if (*end == 'B' || *end == 'b')
		end++;
	if (*end)
		return err_set(e, "%s: '%s' is not a size (use e.g. 512M or 2G)", what, s);
	if (shift && v > (~0ull >> shift))
		return err_set(e, "%s: '%s' is too large", what, s);
	*out = (uint64_t)v << shift;
	return 0;
}

int parse_seconds(const char *s, double *out, const char *what, struct errbuf *e)
{
	double v;
	char *end;

	/* decimal only: strtod alone would also take hex ("0x1e3" is 483) */
	if (!s || !(isdigit((unsigned char)s[0]) || s[0] == '.') || s[strspn(s, "0123456789.eE+-")])
		return err_set(e, "%s: '%s' is not a number of seconds", what, s ? s : "");
	errno = 0;
	v = strtod(s, &end);
	if (errno || *end || !isfinite(v) || v < 0 || v > 1e9)
		return err_set(e, "%s: '%s' is not a number of seconds", what, s);
	*out = v;
	return 0;
}
