/* The field table and typed setters shared by the command-line and JSON halves of config. */
#ifndef KVMLAB_CONFIG_INTERNAL_H
#define KVMLAB_CONFIG_INTERNAL_H

#include "kvmlab/config.h"

enum config_kind {
	KIND_PATH,    /* a file path */
	KIND_SOCK,    /* a Unix socket path: at most CONFIG_SOCK_MAX - 1 bytes */
	KIND_NAME,    /* a VM name: letters, digits, '.', '_', '-' */
	KIND_STRING,  /* any non-empty string (a policy spec, checked by its subsystem) */
	KIND_CPUS,    /* an integer from 1 to VM_MAX_VCPUS */
	KIND_SIZE,    /* bytes of guest RAM: 4 KiB multiple, at least 2 MiB */
	KIND_SECONDS, /* non-negative seconds, 0 = no limit */
	KIND_BOOL,
	KIND_LIST,    /* repeatable string: char[n][item], appended to, ends at the first "" */
};

struct config_field_def {
	struct config_field_info info;
	enum config_kind kind;
	size_t offset;	       /* of the value in struct run_config */
	size_t cap;	       /* size of the char array, for string kinds */
	size_t item;	       /* KIND_LIST: bytes per entry (cap / item entries) */
	bool relative_to_file; /* a relative path in a file is taken from the file's directory */
};

extern const struct config_field_def config_fields[CONFIG_NFIELDS];

/* Validates and stores a string-kind field; what names the field in reports. */
int config_store_string(struct run_config *rc, enum config_field f, const char *s, size_t len,
			const char *what, struct errbuf *e);

/* Validates and stores the RAM size. */
int config_store_mem(struct run_config *rc, uint64_t bytes, const char *what, struct errbuf *e);

static inline void *config_slot(struct run_config *rc, enum config_field f)
{
	return (char *)rc + config_fields[f].offset;
}

#endif
