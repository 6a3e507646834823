/* Run configurations: one field table behind both `kvmlab run` flags and JSON config files. */
#ifndef KVMLAB_CONFIG_H
#define KVMLAB_CONFIG_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "err.h"
#include "vm.h"

#define CONFIG_PATH_MAX	  4096
#define CONFIG_NAME_MAX	  64 /* VM names become file names in the runtime directory */
#define CONFIG_POLICY_MAX 256
#define CONFIG_SOCK_MAX	  108 /* sizeof(sockaddr_un.sun_path), including the NUL */
#define CONFIG_FILE_MAX	  (1u << 20)
#define CONFIG_CMDLINE_MAX 4096
#define CONFIG_DISKS_MAX	  8    /* --disk, repeatable: virtio-blk disks */
#define CONFIG_DISK_SPEC_MAX 1024 /* "FILE[,ro]" */
#define CONFIG_NETS_MAX	  4    /* --net, repeatable: virtio-net devices */
#define CONFIG_NET_SPEC_MAX  256

/*
 * Every setting of a run. Each has a JSON key and a command-line flag, and
 * both go through the same validation: the table in config/fields.c is the
 * one place a setting is added.
 */
enum config_field {
	CONFIG_GUEST,	   /* "guest"      --guest FILE */
	CONFIG_CPUS,	   /* "cpus"       --cpus N */
	CONFIG_MEM,	   /* "mem"        --mem SIZE */
	CONFIG_MEM_POLICY, /* "mem_policy" --mem-policy SPEC */
	CONFIG_SCHED,	   /* "sched"      --sched SPEC */
	CONFIG_NAME,	   /* "name"       --name NAME */
	CONFIG_API_SOCK,   /* "api_sock"   --api-sock PATH */
	CONFIG_TIMEOUT,	   /* "timeout"    --timeout S */
	CONFIG_STRICT,	   /* "strict"     --strict / --no-strict */
	CONFIG_IRQCHIP,	   /* "irqchip"    --irqchip / --no-irqchip */
	CONFIG_KEEP_VIRT,  /* "keep_virt"  --keep-virt / --no-keep-virt */
	CONFIG_STATS,	   /* "stats"      --stats / --no-stats */
	CONFIG_KVM_DEVICE, /* "kvm_device" --kvm-device PATH */
	CONFIG_KERNEL,	   /* "kernel"     --kernel FILE */
	CONFIG_INITRD,	   /* "initrd"     --initrd FILE */
	CONFIG_CMDLINE,	   /* "cmdline"    --cmdline STR */
	CONFIG_LOADER,	   /* "loader"     --loader NAME */
	CONFIG_TRACE_EXITS, /* "trace_exits" --trace-exits / --no-trace-exits */
	CONFIG_DISKS,	   /* "disks": [..] --disk FILE[,ro] (repeatable) */
	CONFIG_NET,	   /* "net": [..]   --net SPEC (repeatable) */
	CONFIG_RNG,	   /* "rng"        --rng / --no-rng */
	CONFIG_SECCOMP,	   /* "seccomp"    --seccomp / --no-seccomp */
	CONFIG_JAIL,	   /* "jail"       --jail DIR */
	CONFIG_NFIELDS,
};

/*
 * A whole run: the VM's settings plus what kvmlab does around it. Plain
 * values with no pointers, so it may be copied, and a fuzz target can parse
 * into a stack variable and drop it. An empty string means "not set".
 */
struct run_config {
	char guest[CONFIG_PATH_MAX];
	unsigned cpus;
	uint64_t mem_size;
	char mem_policy[CONFIG_POLICY_MAX]; /* "" means the VM's default policy */
	char sched[CONFIG_POLICY_MAX];	    /* "" means the default vCPU scheduler */
	char name[CONFIG_NAME_MAX + 1];
	char api_sock[CONFIG_SOCK_MAX]; /* "" means no control socket (unless name is set) */
	double timeout_s;		/* 0 means no limit */
	bool strict;
	bool irqchip;
	bool keep_virt;
	bool stats; /* count exits from the start (stats_enable before the first vCPU runs) */
	bool trace_exits; /* print every exit, with the instruction behind MMIO, on stderr */
	char kvm_device[CONFIG_PATH_MAX];
	char kernel[CONFIG_PATH_MAX]; /* a kernel instead of a flat guest (docs/linux-guest.md) */
	char initrd[CONFIG_PATH_MAX];
	char cmdline[CONFIG_CMDLINE_MAX];
	char loader[CONFIG_NAME_MAX + 1]; /* "" or "auto": detected from the kernel file */
	/* Repeatable settings: lists that end at the first empty string. A repeated flag
	 * appends; flags given on the command line replace a config file's whole list. */
	char disks[CONFIG_DISKS_MAX][CONFIG_DISK_SPEC_MAX]; /* virtio-blk: "FILE[,ro]" */
	char net[CONFIG_NETS_MAX][CONFIG_NET_SPEC_MAX];	    /* virtio-net specs */
	bool rng; /* virtio-rng on kernel boots (default on) */
	bool seccomp; /* per-thread seccomp filters (sandbox.h; default on) */
	char jail[CONFIG_PATH_MAX]; /* run in namespaces, pivoted into this directory */
	uint32_t given; /* bit (1u << enum config_field) for each field set explicitly */
};

/* How the command line spells a field; booleans also get "no-" + flag. */
struct config_field_info {
	const char *key;     /* JSON key */
	const char *flag;    /* long option without "--" */
	const char *no_flag; /* the negative option of a boolean, else NULL */
	const char *metavar; /* "N", "SIZE", ...; NULL for booleans */
	const char *help;
};

/* The field's names and help; f < CONFIG_NFIELDS. */
const struct config_field_info *config_field_info(enum config_field f);

/* The defaults: no guest, 1 vCPU, 64 MiB, irqchip on, /dev/kvm, no limit. */
void run_config_default(struct run_config *rc);

/*
 * Sets field f from command-line text (arg is ignored for booleans, which take
 * value instead). Reports name the flag, e.g. "--cpus: 0 is out of range (1 to 256)".
 */
int config_set_arg(struct run_config *rc, enum config_field f, const char *arg, bool value,
		   struct errbuf *e);

/*
 * Parses a JSON config (an object whose keys are the fields' JSON keys) into
 * out, starting from the defaults. Pure: no I/O, no KVM, no global state, so
 * fuzz targets call it directly. Every report names the field, e.g.
 *   "cpus": expected an integer from 1 to 256, got "four"
 *   unknown field "cpu" (known: guest, cpus, ...)
 *   invalid JSON at line 3, column 9: unexpected character
 * Relative paths are kept as written. text need not be NUL-terminated.
 */
int config_parse_json(const char *text, size_t len, struct run_config *out, struct errbuf *e);

/*
 * Reads and parses the config file at path (at most CONFIG_FILE_MAX bytes);
 * relative "guest", "api_sock" and "kvm_device" paths are taken relative to
 * the file's directory. Reports start with "config PATH: ".
 */
int config_load_file(const char *path, struct run_config *out, struct errbuf *e);

/* Copies into dst every field given in src (command-line flags over a file). */
void run_config_merge(struct run_config *dst, const struct run_config *src);

/* Checks what only a complete configuration can: that a guest is named. */
int run_config_check(const struct run_config *rc, struct errbuf *e);

/*
 * A vm_config for rc; its strings point into rc, which must outlive the VM.
 * Without a mem_policy in rc, a kernel boot whose RAM is whole 2 MiB pages
 * gets RUN_KERNEL_MEM_POLICY; anything else the VM's default (anon). The
 * caller may fall back to the default where the host lacks THP.
 */
#define RUN_KERNEL_MEM_POLICY "thp"
void run_config_vm(const struct run_config *rc, struct vm_config *out);

/*
 * Strict JSON text handling shared by config files and the control API
 * (json-c underneath). config_json_parse accepts exactly one JSON value
 * nested at most max_depth deep, surrounded only by whitespace; it refuses
 * NUL bytes and invalid UTF-8, and reports where the text went wrong as
 * "invalid JSON at line L, column C: WHY". On success *out is a new
 * reference the caller drops with json_object_put. Pure.
 */
struct json_object;
int config_json_parse(const char *text, size_t len, int max_depth, struct json_object **out,
		      struct errbuf *e);

/* v as compact JSON for a report, cut to fit size with "..." at the end. */
void config_json_repr(struct json_object *v, char *buf, size_t size);

/* s as a JSON string for a report ("..." quoted and escaped), cut like config_json_repr. */
void config_json_quote(const char *s, char *buf, size_t size);

#endif
