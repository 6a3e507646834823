/* A small AML writer: the encodings kvmlab's DSDT needs, straight from the ACPI grammar. */
#include <stdlib.h>
#include <string.h>

#include "aml.h"

enum {
	AML_ZERO = 0x00,
	AML_ONE = 0x01,
	AML_NAME = 0x08,
	AML_BYTE = 0x0a,
	AML_WORD = 0x0b,
	AML_DWORD = 0x0c,
	AML_STRING = 0x0d,
	AML_QWORD = 0x0e,
	AML_SCOPE = 0x10,
	AML_BUFFER = 0x11,
	AML_PACKAGE = 0x12,
	AML_EXT = 0x5b,
	AML_EXT_DEVICE = 0x82,
	AML_ROOT = 0x5c,
	AML_DUAL_NAME = 0x2e,
	AML_MULTI_NAME = 0x2f,
};

#define AML_PKGLEN_MAX_BYTES 4

void aml_init(struct aml *a)
{
	memset(a, 0, sizeof(*a));
}

void aml_free(struct aml *a)
{
	free(a->data);
	aml_init(a);
}

void aml_bytes(struct aml *a, const void *p, size_t n)
{
	if (a->failed)
		return;
	if (a->len + n > a->cap) {
		size_t cap = a->cap ? a->cap : 256;
		uint8_t *d;

		while (cap < a->len + n)
			cap *= 2;
		d = realloc(a->data, cap);
		if (!d) {
			a->failed = true;
			return;
		}
		a->data = d;
		a->cap = cap;
	}
	memcpy(a->data + a->len, p, n);
	a->len += n;
}

void aml_byte(struct aml *a, uint8_t b)
{
	aml_bytes(a, &b, 1);
}

static void aml_nameseg(struct aml *a, const char *seg, size_t n)
{
	char s[4] = {'_', '_', '_', '_'};

	memcpy(s, seg, n > 4 ? 4 : n);
	aml_bytes(a, s, 4);
}

void aml_namestring(struct aml *a, const char *path)
{
	const char *p = path;
	unsigned nsegs = 1;

	if (*p == '\\') {
		aml_byte(a, AML_ROOT);
		p++;
	}
	for (const char *c = p; *c; c++)
		nsegs += *c == '.';
	if (nsegs == 2) {
		aml_byte(a, AML_DUAL_NAME);
	} else if (nsegs > 2) {
		aml_byte(a, AML_MULTI_NAME);
		aml_byte(a, (uint8_t)nsegs);
	}
	while (*p) {
		size_t n = strcspn(p, ".");

		aml_nameseg(a, p, n);
		p += n + (p[n] == '.');
	}
}

void aml_integer(struct aml *a, uint64_t v)
{
	uint8_t le[8];

	for (unsigned i = 0; i < 8; i++)
		le[i] = (uint8_t)(v >> (8 * i));
	if (v == 0 || v == 1) {
		aml_byte(a, v ? AML_ONE : AML_ZERO);
	} else if (v <= 0xff) {
		aml_byte(a, AML_BYTE);
		aml_bytes(a, le, 1);
	} else if (v <= 0xffff) {
		aml_byte(a, AML_WORD);
		aml_bytes(a, le, 2);
	} else if (v <= 0xffffffffu) {
		aml_byte(a, AML_DWORD);
		aml_bytes(a, le, 4);
	} else {
		aml_byte(a, AML_QWORD);
		aml_bytes(a, le, 8);
	}
}

void aml_string(struct aml *a, const char *s)
{
	aml_byte(a, AML_STRING);
	aml_bytes(a, s, strlen(s) + 1);
}

void aml_eisaid(struct aml *a, const char *id)
{
	/* Three letters in 5 bits each (A = 1), then four hex digits; stored big-endian. */
	uint32_t v = ((uint32_t)(id[0] - 0x40) << 26) | ((uint32_t)(id[1] - 0x40) << 21) |
		     ((uint32_t)(id[2] - 0x40) << 16) | (uint32_t)strtoul(id + 3, NULL, 16);
	uint8_t be[4] = {(uint8_t)(v >> 24), (uint8_t)(v >> 16), (uint8_t)(v >> 8), (uint8_t)v};

	aml_byte(a, AML_DWORD);
	aml_bytes(a, be, 4);
}

void aml_name(struct aml *a, const char *name)
{
	aml_byte(a, AML_NAME);
	aml_namestring(a, name);
}

/* Leaves room for the longest PkgLength; aml_close moves the body back. */
static size_t aml_open(struct aml *a)
{
	static const uint8_t room[AML_PKGLEN_MAX_BYTES];
	size_t mark = a->len;

	aml_bytes(a, room, sizeof(room));
	return mark;
}

void aml_close(struct aml *a, size_t mark)
{
	size_t body = a->len - mark - AML_PKGLEN_MAX_BYTES;
	uint8_t enc[AML_PKGLEN_MAX_BYTES];
	size_t n, total;

	if (a->failed)
		return;
	/* The length counts its own bytes: 1 byte up to 63, then 4 bits plus 8 per extra byte. */
	for (n = 1;; n++) {
		total = body + n;
		if (n == 1 ? total < 0x40 : total < (1ull << (4 + 8 * (n - 1))))
			break;
		if (n == AML_PKGLEN_MAX_BYTES) {
			a->failed = true; /* beyond 256 MiB: not an AML we write */
			return;
		}
	}
	if (n == 1) {
		enc[0] = (uint8_t)total;
	} else {
		enc[0] = (uint8_t)(((n - 1) << 6) | (total & 0x0f));
		for (size_t i = 1; i < n; i++)
			enc[i] = (uint8_t)(total >> (4 + 8 * (i - 1)));
	}
	memmove(a->data + mark + n, a->data + mark + AML_PKGLEN_MAX_BYTES, body);
	memcpy(a->data + mark, enc, n);
	a->len = mark + n + body;
}

size_t aml_scope(struct aml *a, const char *path)
{
	size_t mark;

	aml_byte(a, AML_SCOPE);
	mark = aml_open(a);
	aml_namestring(a, path);
	return mark;
}

size_t aml_device(struct aml *a, const char *name)
{
	size_t mark;

	aml_byte(a, AML_EXT);
	aml_byte(a, AML_EXT_DEVICE);
	mark = aml_open(a);
	aml_namestring(a, name);
	return mark;
}

size_t aml_package(struct aml *a, uint8_t nelems)
{
	size_t mark;

	aml_byte(a, AML_PACKAGE);
	mark = aml_open(a);
	aml_byte(a, nelems);
	return mark;
}

void aml_buffer(struct aml *a, const uint8_t *bytes, size_t n)
{
	size_t mark;

	aml_byte(a, AML_BUFFER);
	mark = aml_open(a);
	aml_integer(a, n);
	aml_bytes(a, bytes, n);
	aml_close(a, mark);
}

static void res_put(struct aml_res *r, const uint8_t *b, size_t n)
{
	if (r->n + n > sizeof(r->b)) {
		r->overflow = true;
		return;
	}
	memcpy(r->b + r->n, b, n);
	r->n += n;
}

void aml_res_io(struct aml_res *r, uint16_t port, uint8_t len)
{
	/* Small item 0x08 (I/O port), 7 bytes: 16-bit decode, min = max = port, align 1. */
	const uint8_t d[] = {
	    0x47, 0x01, (uint8_t)port, (uint8_t)(port >> 8), (uint8_t)port, (uint8_t)(port >> 8),
	    0x01, len};

	res_put(r, d, sizeof(d));
}

void aml_res_irq(struct aml_res *r, uint8_t irq)
{
	/* Small item 0x04 (IRQ), 2 bytes: the mask; no flags byte means edge, active high. */
	const uint8_t d[] = {0x22, (uint8_t)(1u << irq), (uint8_t)((1u << irq) >> 8)};

	res_put(r, d, sizeof(d));
}

void aml_res_mem32(struct aml_res *r, uint32_t base, uint32_t len)
{
	/* Large item 0x06 (32-bit fixed memory), 9 bytes: read-write, base, length. */
	const uint8_t d[] = {0x86,
			     0x09,
			     0x00,
			     0x01,
			     (uint8_t)base,
			     (uint8_t)(base >> 8),
			     (uint8_t)(base >> 16),
			     (uint8_t)(base >> 24),
			     (uint8_t)len,
			     (uint8_t)(len >> 8),
			     (uint8_t)(len >> 16),
			     (uint8_t)(len >> 24)};

	res_put(r, d, sizeof(d));
}

void aml_res_interrupt(struct aml_res *r, uint32_t gsi)
{
	/* Large item 0x09 (extended interrupt), 6 bytes: consumer + edge, one interrupt. */
	const uint8_t d[] = {0x89,
			     0x06,
			     0x00,
			     0x03,
			     0x01,
			     (uint8_t)gsi,
			     (uint8_t)(gsi >> 8),
			     (uint8_t)(gsi >> 16),
			     (uint8_t)(gsi >> 24)};

	res_put(r, d, sizeof(d));
}

void aml_res_end(struct aml_res *r)
{
	/* Small item 0x0f (end tag) with checksum 0, which means "not checked". */
	const uint8_t d[] = {0x79, 0x00};

	res_put(r, d, sizeof(d));
}
