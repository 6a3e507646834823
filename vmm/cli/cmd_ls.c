/* `kvmlab ls`: list the running VMs whose sockets are in the runtime directory. */
#include <dirent.h>
#include <errno.h>
#include <getopt.h>
#include <json-c/json.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "cli.h"
#include "kvmlab/config.h"
#include "kvmlab/control.h"

#define LS_TIMEOUT_S                                                                               \
	2.0 /* a VM that does not answer a status request in time is "unresponsive"                \
	     */

static const char ls_usage[] =
    "usage: kvmlab ls [--json]\n"
    "  lists the VMs with a socket in the runtime directory ($KVMLAB_RUNTIME_DIR,\n"
    "  else $XDG_RUNTIME_DIR/kvmlab, else /run/kvmlab as root, else\n"
    "  /tmp/kvmlab-UID); removes sockets no VM listens on any more.\n"
    "  --json  one JSON array of status replies, each with its \"socket\"\n";

static int ls_by_name(const struct dirent **a, const struct dirent **b)
{
	return strcmp((*a)->d_name, (*b)->d_name);
}

static int ls_socket_file(const struct dirent *d)
{
	size_t len = strlen(d->d_name);

	return len > 5 && !strcmp(d->d_name + len - 5, ".sock");
}

static void ls_size(uint64_t bytes, char *buf, size_t size)
{
	static const char units[] = "KMGT";
	int u = -1;

	while (u < 3 && bytes >= 1024 && bytes % 1024 == 0) {
		bytes /= 1024;
		u++;
	}
	if (u < 0)
		snprintf(buf, size, "%llu", (unsigned long long)bytes);
	else
		snprintf(buf, size, "%llu%c", (unsigned long long)bytes, units[u]);
}

static const char *ls_str(struct json_object *o, const char *key, const char *dflt)
{
	struct json_object *v;

	return json_object_object_get_ex(o, key, &v) && json_object_is_type(v, json_type_string)
		   ? json_object_get_string(v)
		   : dflt;
}

static uint64_t ls_num(struct json_object *o, const char *key)
{
	struct json_object *v;

	return json_object_object_get_ex(o, key, &v) ? json_object_get_uint64(v) : 0;
}

static void ls_print_row(const char *file, struct json_object *st)
{
	char stem[CONFIG_NAME_MAX + 8], mem[32];
	struct json_object *v;

	snprintf(stem, sizeof(stem), "%.*s", (int)(strlen(file) - 5), file);
	if (!st) {
		printf("%-20s %-12s %5s %8s %8s %10s\n", stem, "unresponsive", "-", "-", "-", "-");
		return;
	}
	ls_size(ls_num(st, "memory"), mem, sizeof(mem));
	printf("%-20s %-12s %5llu %8s %8llu %9.1fs\n", ls_str(st, "name", stem),
	       ls_str(st, "state", "?"), (unsigned long long)ls_num(st, "vcpus"), mem,
	       (unsigned long long)ls_num(st, "pid"),
	       json_object_object_get_ex(st, "uptime", &v) ? json_object_get_double(v) : 0.0);
}

/* Asks one socket for its status; NULL for a stale or unresponsive one. */
static struct json_object *ls_status(const char *path, bool *stale)
{
	struct json_object *st = NULL, *ok;
	struct errbuf e;
	char *reply;
	int err_no;

	reply = control_call(path, "{\"cmd\":\"status\"}", LS_TIMEOUT_S, &err_no, &e);
	*stale = !reply && (err_no == ECONNREFUSED || err_no == ENOENT);
	if (reply && config_json_parse(reply, strlen(reply), 64, &st, &e) == 0 &&
	    !(json_object_object_get_ex(st, "ok", &ok) && json_object_get_boolean(ok))) {
		json_object_put(st);
		st = NULL;
	}
	free(reply);
	return st;
}

int cmd_ls(int argc, char **argv)
{
	char dir[CONFIG_SOCK_MAX], path[CONFIG_SOCK_MAX + 256];
	struct json_object *all = json_object_new_array();
	struct dirent **ents = NULL;
	bool json = false;
	struct errbuf e;
	int n;

	for (int i = 1; i < argc; i++) {
		if (!strcmp(argv[i], "--json")) {
			json = true;
		} else {
			bool help = !strcmp(argv[i], "--help") || !strcmp(argv[i], "-h");

			fputs(ls_usage, help ? stdout : stderr);
			json_object_put(all);
			return help ? CLI_OK : CLI_USAGE;
		}
	}
	if (control_runtime_dir(dir, sizeof(dir), false, &e)) {
		fprintf(stderr, "kvmlab: %s\n", e.msg);
		json_object_put(all);
		return CLI_USAGE;
	}
	n = scandir(dir, &ents, ls_socket_file, ls_by_name);
	if (n < 0 && errno != ENOENT) {
		fprintf(stderr, "kvmlab: cannot list the runtime directory %s: %s\n", dir,
			strerror(errno));
		json_object_put(all);
		return CLI_HOST_ERROR;
	}
	if (!json)
		printf("%-20s %-12s %5s %8s %8s %10s\n", "NAME", "STATE", "VCPUS", "MEMORY", "PID",
		       "UPTIME");
	for (int i = 0; i < n; i++) {
		struct json_object *st;
		struct stat sb;
		bool stale;

		snprintf(path, sizeof(path), "%s/%s", dir, ents[i]->d_name);
		free(ents[i]);
		if (lstat(path, &sb) || !S_ISSOCK(sb.st_mode))
			continue;
		st = ls_status(path, &stale);
		if (stale) {
			unlink(path); /* its VM died without removing it */
			continue;
		}
		if (json) {
			if (st)
				json_object_object_del(st, "ok");
			else
				json_object_object_add(st = json_object_new_object(), "state",
						       json_object_new_string("unresponsive"));
			json_object_object_add(st, "socket", json_object_new_string(path));
			json_object_array_add(all, st);
			continue;
		}
		ls_print_row(strrchr(path, '/') + 1, st);
		json_object_put(st);
	}
	free(ents);
	if (json)
		printf("%s\n", json_object_to_json_string_ext(
				   all, JSON_C_TO_STRING_PLAIN | JSON_C_TO_STRING_NOSLASHESCAPE));
	json_object_put(all);
	return CLI_OK;
}
