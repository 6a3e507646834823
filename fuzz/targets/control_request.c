/* Fuzz target: control-API request lines (control_parse_request, and the error reply to them). */
#include <json-c/json.h>
#include <stdlib.h>
#include <string.h>

#include "json.h"
#include "kvmlab/config.h"
#include "kvmlab/control.h"

#define MODE_RAW 0x01 /* first byte: the rest is the line itself (with the dictionary's help) */

/* {"cmd":NAME, args...}: a known command with arguments it takes, of either argument type;
 * rarely an unknown command or argument, a missing or non-string "cmd". */
static void request_generate(struct fuzz_in *in, struct fuzz_json *j)
{
	const char *cmds[64], *args[CONTROL_NARGS + 1];
	unsigned ncmds = control_ncommands < 64 ? control_ncommands : 64;
	uint8_t how = fuzz_u8(in);
	int c;

	for (unsigned i = 0; i < ncmds; i++)
		cmds[i] = control_commands[i].name;
	for (unsigned a = 0; a < CONTROL_NARGS; a++)
		args[a] = control_arg_name(a);
	args[CONTROL_NARGS] = "cmd";
	fuzz_json_add(j, "{");
	if ((how & 0x0f) == 0x0f) { /* rare: "cmd" of another type, or none at all */
		c = -1;
		if (how & 0x10) {
			fuzz_json_add(j, "\"cmd\":");
			fuzz_json_value(j, in, FJ_U64);
		}
	} else {
		fuzz_json_add(j, "\"cmd\":");
		c = fuzz_json_name(j, in, cmds, ncmds);
	}
	while (fuzz_more(in)) {
		uint8_t pick = fuzz_u8(in);
		uint32_t takes = c >= 0 ? control_commands[c].args : 0;
		unsigned a = pick % (CONTROL_NARGS + 1);

		/* Mostly an argument the command takes; for a command without arguments, and
		 * for pick 0xff, any argument, "cmd" again, or a made-up key. */
		if (takes && pick != 0xff)
			for (a %= CONTROL_NARGS; !(takes & CONTROL_ARG(a));
			     a = (a + 1) % CONTROL_NARGS)
				;
		fuzz_json_add(j, ",");
		if (pick == 0xff) {
			fuzz_json_string(j, in);
		} else {
			fuzz_json_add(j, "\"");
			fuzz_json_add(j, args[a]);
			fuzz_json_add(j, "\"");
		}
		fuzz_json_add(j, ":");
		fuzz_json_value(j, in, pick & 0x80 ? FJ_BOOL : FJ_U64);
	}
	fuzz_json_add(j, "}");
}

/* The reply to a refused request: one line of valid JSON, {"ok":false,"error":"..."}. */
static void reply_check(const char *line, size_t len)
{
	struct control_ctx ctx = {.vm = NULL}; /* a refused request never touches the VM */
	struct json_object *reply;
	struct errbuf e;
	size_t rlen;
	char *out = control_execute(&ctx, line, len, &rlen);

	FUZZ_CHECK(out && rlen > 1 && out[rlen - 1] == '\n', "reply is not a line");
	FUZZ_CHECK(!memchr(out, '\n', rlen - 1), "reply has a newline inside: %s", out);
	FUZZ_CHECK(config_json_parse(out, rlen - 1, 4, &reply, &e) == 0, "reply %.*s: %s",
		   (int)rlen, out, e.msg);
	json_object_put(reply);
	FUZZ_CHECK(!strncmp(out, "{\"ok\":false,\"error\":\"", 21), "reply %.*s", (int)rlen, out);
	free(out);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct fuzz_json j; /* not zeroed: 16 KiB per input would cost more than the parse */
	struct control_request req;
	struct fuzz_in in;
	struct errbuf e;
	const char *line;
	size_t len;
	int r;

	fuzz_in_init(&in, data, size);
	if (fuzz_u8(&in) & MODE_RAW) {
		line = (const char *)fuzz_rest(&in, &len);
	} else {
		j.len = 0;
		request_generate(&in, &j);
		line = j.text;
		len = j.len;
	}
	r = control_parse_request(line, len, &req, &e);
	if (r) {
		FUZZ_CHECK(r == -1 && !req.cmd, "refused with %d, cmd %p", r, (void *)req.cmd);
		FUZZ_CHECK(memchr(e.msg, '\0', sizeof(e.msg)) && e.msg[0], "empty report");
		reply_check(line, len);
		return 0;
	}
	FUZZ_CHECK(req.cmd >= control_commands && req.cmd < control_commands + control_ncommands,
		   "cmd outside the table");
	FUZZ_CHECK(!(req.args.given & ~req.cmd->args), "%s given arguments 0x%x it does not take",
		   req.cmd->name, req.args.given);
	FUZZ_CHECK(!(req.cmd->required & ~req.args.given), "%s missing required arguments",
		   req.cmd->name);
	return 0;
}
