/* Building JSON text from fuzz input for the config and control-request targets (see json.h). */
#include <stdarg.h>
#include <string.h>

#include "json.h"

#define RARE_NIBBLE 0xf0

void fuzz_json_add(struct fuzz_json *j, const char *s)
{
	size_t n = strlen(s);

	if (n <= sizeof(j->text) - j->len) {
		memcpy(j->text + j->len, s, n);
		j->len += n;
	}
}

__attribute__((format(printf, 2, 3))) static void fuzz_json_addf(struct fuzz_json *j,
								 const char *fmt, ...)
{
	char buf[64];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(buf, sizeof(buf), fmt, ap);
	va_end(ap);
	fuzz_json_add(j, buf);
}

static void fuzz_json_bytes(struct fuzz_json *j, const uint8_t *p, size_t n, bool raw)
{
	char esc[8];

	fuzz_json_add(j, "\"");
	for (size_t i = 0; i < n; i++) {
		/* escaping every non-ASCII byte keeps the text valid UTF-8 (U+0080..U+00FF) */
		if (raw || (p[i] >= 0x20 && p[i] < 0x7f && p[i] != '"' && p[i] != '\\'))
			snprintf(esc, sizeof(esc), "%c", p[i]);
		else
			snprintf(esc, sizeof(esc), "\\u%04x", p[i]);
		fuzz_json_add(j, esc);
	}
	fuzz_json_add(j, "\"");
}

void fuzz_json_string(struct fuzz_json *j, struct fuzz_in *in)
{
	uint8_t sel = fuzz_u8(in);
	uint8_t buf[31];
	size_t n = sel % sizeof(buf) + 1;

	for (size_t i = 0; i < n; i++)
		buf[i] = fuzz_u8(in);
	fuzz_json_bytes(j, buf, n, sel == 0xff);
}

int fuzz_json_name(struct fuzz_json *j, struct fuzz_in *in, const char *const *names, size_t n)
{
	uint8_t sel = fuzz_u8(in);

	if (sel == 0xff) {
		fuzz_json_string(j, in);
		return -1;
	}
	fuzz_json_bytes(j, (const uint8_t *)names[sel % n], strlen(names[sel % n]), false);
	return (int)(sel % n);
}

static void fuzz_json_rare(struct fuzz_json *j, struct fuzz_in *in, uint8_t sel)
{
	static const char *const odd[] = {
	    "null",
	    "[]",
	    "{}",
	    "[1,[2,[3]]]",
	    "{\"a\":{\"b\":{\"c\":{\"d\":{}}}}}",
	    "1e999",
	    "-0",
	    "18446744073709551616",
	    "9223372036854775807",
	    "-9223372036854775808",
	    "0.0000001",
	    "\"\\ud800\"",
	    "\"\\u0000\"",
	    "\"\"",
	    "true",
	    "1.5",
	};

	if ((sel & 0x0f) == 0x0f)
		fuzz_json_string(j, in);
	else
		fuzz_json_add(j, odd[sel & 0x0f]);
}

void fuzz_json_value(struct fuzz_json *j, struct fuzz_in *in, enum fuzz_json_kind kind)
{
	static const char *const units[] = {"", "K", "M", "G", "T", "KiB", "MB", "B"};
	uint8_t sel = fuzz_u8(in);

	if ((sel & RARE_NIBBLE) == RARE_NIBBLE) {
		fuzz_json_rare(j, in, sel);
		return;
	}
	switch (kind) {
	case FJ_BOOL:
		fuzz_json_add(j, sel & 1 ? "true" : "false");
		break;
	case FJ_INT:
		fuzz_json_addf(j, "%d", (int)(sel & 1 ? fuzz_u16(in) : fuzz_u8(in)) - (sel & 2));
		break;
	case FJ_U64:
		if ((sel & 3) == 0)
			fuzz_json_addf(j, "%llu", (unsigned long long)fuzz_u64(in) >> (sel >> 2));
		else if ((sel & 3) == 1)
			fuzz_json_addf(j, "\"0x%llx\"",
				       (unsigned long long)fuzz_u64(in) >> (sel >> 2));
		else
			fuzz_json_addf(j, "\"%u%s\"", fuzz_u16(in), units[(sel >> 2) & 7]);
		break;
	case FJ_SECONDS:
		if (sel & 1)
			fuzz_json_addf(j, "%u.%u", fuzz_u16(in), fuzz_u8(in));
		else
			fuzz_json_addf(j, "%d", (int)fuzz_u32(in) >> (sel >> 1 & 31));
		break;
	case FJ_STRING:
		fuzz_json_string(j, in);
		break;
	}
}

bool fuzz_utf8_valid(const char *buf, size_t len)
{
	const unsigned char *s = (const unsigned char *)buf;

	for (size_t i = 0; i < len;) {
		unsigned c = s[i], n;
		uint32_t cp;

		if (c < 0x80) {
			i++;
			continue;
		}
		if (c >= 0xc2 && c < 0xe0) {
			n = 1;
			cp = c & 0x1f;
		} else if ((c & 0xf0) == 0xe0) {
			n = 2;
			cp = c & 0x0f;
		} else if (c >= 0xf0 && c < 0xf5) {
			n = 3;
			cp = c & 0x07;
		} else {
			return false;
		}
		if (n > len - i - 1)
			return false;
		for (unsigned k = 1; k <= n; k++) {
			if ((s[i + k] & 0xc0) != 0x80)
				return false;
			cp = cp << 6 | (s[i + k] & 0x3f);
		}
		if ((n == 2 && (cp < 0x800 || (cp >= 0xd800 && cp < 0xe000))) ||
		    (n == 3 && (cp < 0x10000 || cp > 0x10ffff)))
			return false;
		i += n + 1;
	}
	return true;
}
