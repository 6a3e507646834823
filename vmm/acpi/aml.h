/* A small AML (ACPI Machine Language) writer: names, integers, scopes, devices, resource templates.
 */
#ifndef KVMLAB_AML_H
#define KVMLAB_AML_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/*
 * Encodings follow the ACPI specification's AML grammar (chapter 20) and
 * resource descriptor formats (6.4). A growing byte buffer; after an
 * allocation failure every call is a no-op and failed is set, so callers
 * check once at the end.
 */
struct aml {
	uint8_t *data;
	size_t len, cap;
	bool failed;
};

void aml_init(struct aml *a);
void aml_free(struct aml *a);
void aml_bytes(struct aml *a, const void *p, size_t n);
void aml_byte(struct aml *a, uint8_t b);

/* A NameString: "\\" prefixes the root, then '.'-separated segments of up to
 * 4 characters, padded with '_' ("\\_SB", "COM1", "_HID"). */
void aml_namestring(struct aml *a, const char *path);

/* The shortest constant for v: ZeroOp, OneOp, Byte/Word/DWord/QWordConst. */
void aml_integer(struct aml *a, uint64_t v);
void aml_string(struct aml *a, const char *s);
/* A compressed EISA id ("PNP0501") as a DWordConst. */
void aml_eisaid(struct aml *a, const char *id);

/* Name (name, ...): the caller then emits exactly one data object. */
void aml_name(struct aml *a, const char *name);

/*
 * Opens a construct with a PkgLength: Scope, Device, Package. Returns a mark
 * for aml_close, which fills in the length once the body is written.
 */
size_t aml_scope(struct aml *a, const char *path);
size_t aml_device(struct aml *a, const char *name);
size_t aml_package(struct aml *a, uint8_t nelems);
void aml_close(struct aml *a, size_t mark);

/* A Buffer holding bytes (a ResourceTemplate is one). */
void aml_buffer(struct aml *a, const uint8_t *bytes, size_t n);

/* Resource descriptors, appended to a small byte array (struct aml_res). */
struct aml_res {
	uint8_t b[256];
	size_t n;
	bool overflow;
};

void aml_res_io(struct aml_res *r, uint16_t port, uint8_t len);	    /* IO (Decode16, ...) */
void aml_res_irq(struct aml_res *r, uint8_t irq);		    /* IRQNoFlags () {irq} */
void aml_res_mem32(struct aml_res *r, uint32_t base, uint32_t len); /* Memory32Fixed (RW) */
void aml_res_interrupt(struct aml_res *r, uint32_t gsi);	    /* Interrupt (edge, high) */
void aml_res_end(struct aml_res *r);				    /* EndTag */

#endif
