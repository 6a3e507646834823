/* `kvmlab ctl`: send one control-API request to a running VM and print its reply. */
#include <errno.h>
#include <getopt.h>
#include <json-c/json.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/un.h>

#include "cli.h"
#include "kvmlab/config.h"
#include "kvmlab/control.h"
#include "kvmlab/parse.h"

#define CTL_REFUSED 1 /* the VM answered {"ok":false,...} */

static const char ctl_usage[] =
    "usage: kvmlab ctl [--timeout S] SOCKET|NAME COMMAND [{JSON}|KEY=VALUE ...]\n"
    "  sends {\"cmd\":COMMAND, ...} to a VM's control socket and prints the reply line.\n"
    "  NAME (no '/') means <runtime dir>/NAME.sock; VALUE is JSON if it parses, else a string:\n"
    "    kvmlab ctl vm1 status\n"
    "    kvmlab ctl vm1 stats enable=true\n"
    "    kvmlab ctl /tmp/vm.sock mem-add gpa=4G size=64M\n"
    "  exit status: 0 ok:true, 1 ok:false, 2 bad usage, 4 no answer from the VM\n"
    "  --timeout S  wait at most S seconds for the VM (default 10)\n";

/* KEY=VALUE, or a JSON object whose keys are all added. */
static int ctl_add_arg(struct json_object *req, const char *arg, struct errbuf *e)
{
	const char *eq = strchr(arg, '=');
	struct json_object *v = NULL;
	struct errbuf ignored;
	char key[128];

	if (arg[0] == '{') {
		if (config_json_parse(arg, strlen(arg), CONTROL_JSON_DEPTH, &v, e))
			return -1;
		if (!json_object_is_type(v, json_type_object)) {
			json_object_put(v);
			return err_set(e, "'%s' is not a JSON object", arg);
		}
		json_object_object_foreach(v, k, val)
		    json_object_object_add(req, k, json_object_get(val));
		json_object_put(v);
		return 0;
	}
	if (!eq || eq == arg || (size_t)(eq - arg) >= sizeof(key))
		return err_set(e, "argument '%s' is neither KEY=VALUE nor a JSON object", arg);
	snprintf(key, sizeof(key), "%.*s", (int)(eq - arg), arg);
	if (config_json_parse(eq + 1, strlen(eq + 1), CONTROL_JSON_DEPTH, &v, &ignored))
		v = json_object_new_string(eq + 1);
	json_object_object_add(req, key, v);
	return 0;
}

static int ctl_socket_path(const char *target, char *buf, size_t size, struct errbuf *e)
{
	if (strchr(target, '/')) {
		if ((size_t)snprintf(buf, size, "%s", target) >= size)
			return err_set(e, "%s: longer than a Unix socket path may be", target);
		return 0;
	}
	if (control_runtime_dir(buf, size, false, e))
		return -1;
	if ((size_t)snprintf(buf + strlen(buf), size - strlen(buf), "/%s.sock", target) >=
	    size - strlen(buf))
		return err_set(e, "the socket path for VM %s is too long", target);
	return 0;
}

/* Prints the reply and turns its "ok" into the exit status. */
static int ctl_report(const char *reply)
{
	struct json_object *r, *ok, *msg = NULL;
	struct errbuf e;
	int status;

	printf("%s\n", reply);
	fflush(stdout);
	if (config_json_parse(reply, strlen(reply), 64, &r, &e)) {
		fprintf(stderr, "kvmlab: the VM's reply is not JSON: %s\n", e.msg);
		return CLI_HOST_ERROR;
	}
	if (json_object_object_get_ex(r, "ok", &ok) && json_object_get_boolean(ok)) {
		status = CLI_OK;
	} else {
		json_object_object_get_ex(r, "error", &msg);
		fprintf(stderr, "kvmlab: %s\n",
			msg ? json_object_get_string(msg) : "request refused");
		status = CTL_REFUSED;
	}
	json_object_put(r);
	return status;
}

int cmd_ctl(int argc, char **argv)
{
	static const struct option opts[] = {
	    {"timeout", required_argument, NULL, 't'},
	    {"help", no_argument, NULL, 'h'},
	    {0},
	};
	char path[sizeof(((struct sockaddr_un *)0)->sun_path) + 1];
	struct json_object *req;
	double timeout_s = 10;
	struct errbuf e;
	char *reply;
	int opt, err_no, status;

	opterr = 0;
	while ((opt = getopt_long(argc, argv, "+h", opts, NULL)) != -1) {
		if (opt == 'h') {
			fputs(ctl_usage, stdout);
			return CLI_OK;
		}
		if (opt != 't')
			err_set(&e, "unknown or incomplete option '%s' (see 'kvmlab ctl --help')",
				argv[optind - 1]);
		if (opt != 't' || parse_seconds(optarg, &timeout_s, "--timeout", &e)) {
			fprintf(stderr, "kvmlab: %s\n", e.msg);
			return CLI_USAGE;
		}
	}
	if (argc - optind < 2) {
		fprintf(stderr,
			"kvmlab: ctl needs a socket and a command (see 'kvmlab ctl --help')\n");
		return CLI_USAGE;
	}
	if (ctl_socket_path(argv[optind], path, sizeof(path), &e)) {
		fprintf(stderr, "kvmlab: %s\n", e.msg);
		return CLI_USAGE;
	}
	req = json_object_new_object();
	json_object_object_add(req, "cmd", json_object_new_string(argv[optind + 1]));
	for (int i = optind + 2; i < argc; i++) {
		if (ctl_add_arg(req, argv[i], &e)) {
			fprintf(stderr, "kvmlab: %s\n", e.msg);
			json_object_put(req);
			return CLI_USAGE;
		}
	}
	reply = control_call(path, json_object_to_json_string_ext(req, JSON_C_TO_STRING_PLAIN),
			     timeout_s, &err_no, &e);
	json_object_put(req);
	if (!reply) {
		fprintf(stderr, "kvmlab: %s\n", e.msg);
		return CLI_HOST_ERROR;
	}
	status = ctl_report(reply);
	free(reply);
	return status;
}
