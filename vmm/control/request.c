/* Control API requests: strict parsing of one JSON line, checked against the command table. */
#include <errno.h>
#include <json-c/json.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "kvmlab/config.h"
#include "kvmlab/control.h"
#include "kvmlab/parse.h"

enum arg_kind {
	ARG_BOOL,
	ARG_U64, /* a non-negative integer, "0x..." or a size string like "4G" */
};

static const struct {
	const char *name;
	enum arg_kind kind;
	size_t offset;
} control_arg_defs[CONTROL_NARGS] = {
    [CONTROL_ARG_ENABLE] = {"enable", ARG_BOOL, offsetof(struct control_args, enable)},
    [CONTROL_ARG_GPA] = {"gpa", ARG_U64, offsetof(struct control_args, gpa)},
    [CONTROL_ARG_SIZE] = {"size", ARG_U64, offsetof(struct control_args, size)},
    [CONTROL_ARG_READONLY] = {"readonly", ARG_BOOL, offsetof(struct control_args, readonly)},
    [CONTROL_ARG_DIRTY_LOG] = {"dirty_log", ARG_BOOL, offsetof(struct control_args, dirty_log)},
    [CONTROL_ARG_VCPU] = {"vcpu", ARG_U64, offsetof(struct control_args, vcpu)},
    [CONTROL_ARG_WEIGHT] = {"weight", ARG_U64, offsetof(struct control_args, weight)},
    [CONTROL_ARG_CAP] = {"cap", ARG_U64, offsetof(struct control_args, cap)},
    [CONTROL_ARG_SLICE] = {"slice", ARG_U64, offsetof(struct control_args, slice)},
    [CONTROL_ARG_TARGET_MIB] = {"target_mib", ARG_U64, offsetof(struct control_args, target_mib)},
    [CONTROL_ARG_DISK] = {"disk", ARG_U64, offsetof(struct control_args, disk)},
};

const char *control_arg_name(enum control_arg a)
{
	return (unsigned)a < CONTROL_NARGS ? control_arg_defs[a].name : NULL;
}

/* "a, b, c" for the commands or for one command's arguments, for reports. */
static void control_list(char *buf, size_t size, const struct control_command *cmd)
{
	size_t used = 0;
	unsigned n = cmd ? CONTROL_NARGS : control_ncommands;

	buf[0] = '\0';
	for (unsigned i = 0; i < n && used < size; i++) {
		const char *name = cmd ? control_arg_defs[i].name : control_commands[i].name;

		if (cmd && !(cmd->args & CONTROL_ARG(i)))
			continue;
		used += (size_t)snprintf(buf + used, size - used, "%s%s", used ? ", " : "", name);
	}
	if (!buf[0])
		snprintf(buf, size, "none");
}

static int control_parse_u64(struct json_object *v, uint64_t *out)
{
	const char *s = json_object_get_string(v);
	struct errbuf ignored;
	char *end;

	if (json_object_is_type(v, json_type_int)) {
		int64_t n = json_object_get_int64(v);

		/* json-c saturates out-of-range integers to INT64_MAX: refuse that too. */
		if (n < 0 || n == INT64_MAX)
			return -1;
		*out = (uint64_t)n;
		return 0;
	}
	if (!json_object_is_type(v, json_type_string))
		return -1;
	if (s[0] == '0' && (s[1] == 'x' || s[1] == 'X')) {
		if (!s[2] || s[2] == '-' || s[2] == '+' || s[2] == ' ')
			return -1;
		errno = 0;
		*out = strtoull(s + 2, &end, 16);
		return errno || *end ? -1 : 0;
	}
	return parse_size(s, out, "", &ignored);
}

static int control_parse_arg(const struct control_command *cmd, const char *key,
			     struct json_object *v, struct control_args *args, struct errbuf *e)
{
	char got[48], known[96], quoted[48];
	unsigned a = 0;

	while (a < CONTROL_NARGS && strcmp(key, control_arg_defs[a].name))
		a++;
	if (a == CONTROL_NARGS || !(cmd->args & CONTROL_ARG(a))) {
		control_list(known, sizeof(known), cmd);
		config_json_quote(key, quoted, sizeof(quoted));
		return err_set(e, "%s: unknown argument %s (takes: %s)", cmd->name, quoted, known);
	}
	config_json_repr(v, got, sizeof(got));
	if (control_arg_defs[a].kind == ARG_BOOL) {
		if (!json_object_is_type(v, json_type_boolean))
			return err_set(e, "\"%s\": expected true or false, got %s", key, got);
		*(bool *)((char *)args + control_arg_defs[a].offset) = json_object_get_boolean(v);
	} else if (control_parse_u64(v, (uint64_t *)((char *)args + control_arg_defs[a].offset))) {
		return err_set(e,
			       "\"%s\": expected a non-negative integer, \"0x...\" or a size like "
			       "\"64M\", got %s",
			       key, got);
	}
	args->given |= CONTROL_ARG(a);
	return 0;
}

static int control_parse_object(struct json_object *root, struct control_request *req,
				struct errbuf *e)
{
	struct json_object *cmd;
	char got[48], known[160];
	const char *name;
	unsigned i;

	config_json_repr(root, got, sizeof(got));
	if (!json_object_is_type(root, json_type_object))
		return err_set(e, "a request is a JSON object like {\"cmd\":\"status\"}, got %s",
			       got);
	if (!json_object_object_get_ex(root, "cmd", &cmd))
		return err_set(e, "missing \"cmd\": a request looks like {\"cmd\":\"status\"}");
	config_json_repr(cmd, got, sizeof(got));
	if (!json_object_is_type(cmd, json_type_string))
		return err_set(e, "\"cmd\": expected a command name, got %s", got);
	name = json_object_get_string(cmd);
	for (i = 0; i < control_ncommands && strcmp(name, control_commands[i].name); i++)
		;
	if (i == control_ncommands) {
		control_list(known, sizeof(known), NULL);
		return err_set(e, "unknown command %s (known: %s)", got, known);
	}
	req->cmd = &control_commands[i];
	json_object_object_foreach(root, key, v)
	{
		if (strcmp(key, "cmd") && control_parse_arg(req->cmd, key, v, &req->args, e))
			return -1;
	}
	for (unsigned a = 0; a < CONTROL_NARGS; a++)
		if ((req->cmd->required & CONTROL_ARG(a)) && !(req->args.given & CONTROL_ARG(a)))
			return err_set(e, "%s: missing argument \"%s\"", req->cmd->name,
				       control_arg_defs[a].name);
	return 0;
}

int control_parse_request(const char *buf, size_t len, struct control_request *req,
			  struct errbuf *e)
{
	struct json_object *root;
	int r;

	memset(req, 0, sizeof(*req));
	if (len > CONTROL_MAX_REQUEST)
		return err_set(e, "request longer than %u bytes", CONTROL_MAX_REQUEST);
	if (config_json_parse(buf, len, CONTROL_JSON_DEPTH, &root, e))
		return -1;
	r = control_parse_object(root, req, e);
	json_object_put(root);
	if (r)
		req->cmd = NULL;
	return r;
}

/* Cuts s before the first byte that does not continue valid UTF-8: a report that
 * was truncated in the middle of a character must not make the reply invalid. */
static void control_utf8_trim(char *s)
{
	for (size_t i = 0; s[i];) {
		unsigned char c = (unsigned char)s[i];
		size_t n = c < 0x80		? 1
			   : (c & 0xe0) == 0xc0 ? 2
			   : (c & 0xf0) == 0xe0 ? 3
			   : (c & 0xf8) == 0xf0 ? 4
						: 0;

		for (size_t k = 1; k < n; k++)
			if (((unsigned char)s[i + k] & 0xc0) != 0x80)
				n = 0;
		if (!n) {
			s[i] = '\0';
			return;
		}
		i += n;
	}
}

char *control_execute(struct control_ctx *ctx, const char *line, size_t len, size_t *reply_len)
{
	struct control_request req;
	struct json_object *reply;
	struct errbuf e;
	const char *text;
	char *out = NULL;

	reply = json_object_new_object();
	if (!reply)
		return NULL;
	json_object_object_add(reply, "ok", json_object_new_boolean(1));
	if (control_parse_request(line, len, &req, &e) || req.cmd->fn(ctx, &req.args, reply, &e)) {
		json_object_put(reply);
		reply = json_object_new_object();
		if (!reply)
			return NULL;
		json_object_object_add(reply, "ok", json_object_new_boolean(0));
		control_utf8_trim(e.msg);
		json_object_object_add(reply, "error", json_object_new_string(e.msg));
	}
	text = json_object_to_json_string_ext(reply, JSON_C_TO_STRING_PLAIN |
							 JSON_C_TO_STRING_NOSLASHESCAPE);
	if (text) {
		*reply_len = strlen(text) + 1;
		out = malloc(*reply_len + 1);
		if (out) {
			memcpy(out, text, *reply_len - 1);
			out[*reply_len - 1] = '\n';
			out[*reply_len] = '\0';
		}
	}
	json_object_put(reply);
	return out;
}
