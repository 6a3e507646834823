/* The control API: newline-delimited JSON requests and replies on a per-VM Unix socket. */
#ifndef KVMLAB_CONTROL_H
#define KVMLAB_CONTROL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <time.h>

#include "err.h"

struct json_object;
struct vm;

/*
 * The protocol. A client writes one JSON object per line, e.g.
 *   {"cmd":"pause"}
 *   {"cmd":"mem-add","gpa":"4G","size":"64M"}
 * and reads one reply line per request, in order:
 *   {"ok":true,"state":"paused"}
 *   {"ok":false,"error":"cannot pause a VM that is paused"}
 * Blank lines are ignored. A line longer than CONTROL_MAX_REQUEST bytes gets
 * an error reply as soon as the limit is passed, and the rest of it is
 * skipped. docs/control-api.md lists the commands.
 */
#define CONTROL_MAX_REQUEST (64u * 1024)
#define CONTROL_MAX_CLIENTS 16 /* further connections get an error reply and are closed */
#define CONTROL_JSON_DEPTH  8

/* The arguments commands may take (besides "cmd"). */
enum control_arg {
	CONTROL_ARG_ENABLE,    /* "enable": bool */
	CONTROL_ARG_GPA,       /* "gpa": integer, "0x..." or size string like "4G" */
	CONTROL_ARG_SIZE,      /* "size": same forms as gpa */
	CONTROL_ARG_READONLY,  /* "readonly": bool */
	CONTROL_ARG_DIRTY_LOG, /* "dirty_log": bool */
	CONTROL_ARG_VCPU,      /* "vcpu": integer (sched-set; absent: every vCPU) */
	CONTROL_ARG_WEIGHT,    /* "weight": integer (sched-set) */
	CONTROL_ARG_CAP,       /* "cap": integer, percent of a host CPU (sched-set) */
	CONTROL_ARG_SLICE,     /* "slice": integer, milliseconds (sched-set) */
	CONTROL_ARG_TARGET_MIB, /* "target_mib": integer, the balloon's size in MiB (balloon) */
	CONTROL_ARG_DISK,      /* "disk": integer, a --disk's index from 0 (disk-resize) */
	CONTROL_NARGS,
};

#define CONTROL_ARG(a) (1u << (a))

struct control_args {
	uint32_t given; /* CONTROL_ARG(a) for each argument present */
	bool enable;
	uint64_t gpa;
	uint64_t size;
	bool readonly;
	bool dirty_log;
	uint64_t vcpu, weight, cap, slice;
	uint64_t target_mib;
	uint64_t disk;
};

/* What a command acts on: one per VM, owned by its server (or by a test). */
struct control_ctx {
	struct vm *vm;
	struct timespec started; /* CLOCK_MONOTONIC, for "uptime" */
	bool stats_enabled;	 /* whether stats_enable is in effect */
};

/*
 * One command: a function and one line in the table in control/commands.c.
 * fn adds its results to reply (an object already holding "ok":true), or
 * returns -1 with e filled, which becomes {"ok":false,"error":e.msg}.
 */
struct control_command {
	const char *name;
	uint32_t args;	   /* CONTROL_ARG bits it accepts */
	uint32_t required; /* CONTROL_ARG bits it needs */
	int (*fn)(struct control_ctx *ctx, const struct control_args *args,
		  struct json_object *reply, struct errbuf *e);
	const char *summary;
};

extern const struct control_command control_commands[];
extern const unsigned control_ncommands;

/* The name of argument a ("gpa", ...). */
const char *control_arg_name(enum control_arg a);

struct control_request {
	const struct control_command *cmd;
	struct control_args args;
};

/*
 * Parses one request line (without its newline; need not be NUL-terminated)
 * and checks it against the command table: known command, known arguments of
 * the right types, required ones present. Pure: no I/O, no VM, deterministic,
 * so fuzz targets call it directly. Reports read like
 *   unknown command "reboot" (known: status, pause, ...)
 *   "enable": expected true or false, got 1
 */
int control_parse_request(const char *buf, size_t len, struct control_request *req,
			  struct errbuf *e);

/*
 * Parses and runs one request line against ctx and returns the reply line
 * (JSON plus '\n', malloc'd, length in *reply_len), or NULL when out of
 * memory. A request that does not parse is answered without touching
 * ctx->vm, so tests may pass a ctx whose vm is NULL for bad requests.
 */
char *control_execute(struct control_ctx *ctx, const char *line, size_t len, size_t *reply_len);

/*
 * The server: one thread per VM polling the listening socket and up to
 * CONTROL_MAX_CLIENTS clients, so a slow or hostile client never blocks
 * another or a vCPU. Per-client memory is bounded: at most
 * CONTROL_MAX_REQUEST + 1 bytes of request and, while replies are not being
 * read, the client is not read either.
 */
struct control_server;

/*
 * Binds and listens on path (mode 0600), replacing a stale socket no one
 * listens on; refuses a path where a live VM listens or a non-socket file.
 * No thread runs yet: connecting clients wait in the backlog.
 */
struct control_server *control_server_create(struct vm *vm, const char *path, bool stats_enabled,
					     struct errbuf *e);

/* Starts the server thread; call once the VM runs, so the first reply says "running". */
int control_server_start(struct control_server *s, struct errbuf *e);

/* Stops the thread (after a best-effort flush of pending replies), closes
 * every client and removes the socket if it is still the one it created. */
void control_server_destroy(struct control_server *s);

/*
 * The runtime directory where named VMs put their sockets:
 * $KVMLAB_RUNTIME_DIR, else $XDG_RUNTIME_DIR/kvmlab, else /run/kvmlab for
 * root, else /tmp/kvmlab-UID. With create, makes it (mode 0700) and checks
 * that it belongs to this user and no one else may write in it.
 */
int control_runtime_dir(char *buf, size_t size, bool create, struct errbuf *e);

/* "<runtime dir>/<name>.sock", creating the directory. */
int control_default_socket(const char *name, char *buf, size_t size, struct errbuf *e);

/*
 * The client side: connects to path, sends request (one line, the newline is
 * added if missing) and reads one reply line into a malloc'd NUL-terminated
 * string, waiting at most timeout_s for each step. Returns NULL with e filled
 * (ECONNREFUSED/ENOENT in *err_no, so callers can spot a stale socket).
 */
char *control_call(const char *path, const char *request, double timeout_s, int *err_no,
		   struct errbuf *e);

#endif
