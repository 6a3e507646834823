/* Unit tests of control-API requests: parsing, argument checks, error replies, limits. */
#include <stdint.h>
#include <stdlib.h>

#include "kvmlab/control.h"
#include "unit.h"

static int parse(const char *line, struct control_request *req, struct errbuf *e)
{
	return control_parse_request(line, strlen(line), req, e);
}

static void check_refused(const char *line, const char *want)
{
	struct control_request req;
	struct errbuf e = {"(no report)"};

	if (parse(line, &req, &e) != -1) {
		fprintf(stderr, "request accepted: %s\n", line);
		exit(1);
	}
	CHECK(req.cmd == NULL);
	CHECK_CONTAINS(e.msg, want);
}

TEST(control_parses_each_command)
{
	struct control_request req;
	struct errbuf e;

	for (unsigned i = 0; i < control_ncommands; i++) {
		char line[128];

		if (control_commands[i].required)
			continue;
		snprintf(line, sizeof(line), " {\"cmd\": \"%s\"} \r", control_commands[i].name);
		CHECK(parse(line, &req, &e) == 0);
		CHECK(req.cmd == &control_commands[i]);
		CHECK_EQ(req.args.given, 0);
	}
	CHECK(parse("{\"cmd\":\"stats\",\"enable\":true}", &req, &e) == 0);
	CHECK(!strcmp(req.cmd->name, "stats"));
	CHECK(req.args.given == CONTROL_ARG(CONTROL_ARG_ENABLE) && req.args.enable);
	CHECK(parse("{\"enable\":false,\"cmd\":\"stats\"}", &req, &e) == 0);
	CHECK(!req.args.enable);
}

TEST(control_mem_args_take_integers_hex_and_sizes)
{
	struct control_request req;
	struct errbuf e;

	CHECK(parse("{\"cmd\":\"mem-add\",\"gpa\":\"4G\",\"size\":\"64M\",\"readonly\":true}", &req,
		    &e) == 0);
	CHECK_EQ(req.args.gpa, 4ull << 30);
	CHECK_EQ(req.args.size, 64ull << 20);
	CHECK(req.args.readonly && !req.args.dirty_log);
	CHECK(parse("{\"cmd\":\"mem-add\",\"gpa\":\"0x100000000\",\"size\":2097152}", &req, &e) ==
	      0);
	CHECK_EQ(req.args.gpa, 0x100000000ull);
	CHECK_EQ(req.args.size, 2ull << 20);
	CHECK(parse("{\"cmd\":\"mem-remove\",\"gpa\":0}", &req, &e) == 0);
	CHECK_EQ(req.args.gpa, 0);
}

TEST(control_malformed_json_is_refused)
{
	check_refused("{\"cmd\":\"status\"", "invalid JSON: the text ends in the middle");
	check_refused("{cmd:status}", "invalid JSON at line 1, column 2");
	check_refused("{\"cmd\":\"status\"} {\"cmd\":\"stop\"}",
		      "invalid JSON at line 1, column 18");
	check_refused("", "invalid JSON: the text is empty");
	check_refused("\x01\x02\xff\xfe garbage", "invalid JSON");
	check_refused("{\"cmd\":\"\xc3\"}", "invalid utf-8");
	check_refused("[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[", "nesting too deep");
	check_refused("[\"status\"]", "a request is a JSON object like {\"cmd\":\"status\"}, got");
	check_refused("42", "a request is a JSON object");
}

TEST(control_unknown_commands_and_arguments_are_named)
{
	check_refused("{\"cmd\":\"reboot\"}", "unknown command \"reboot\" (known: status, pause,");
	check_refused("{\"command\":\"status\"}", "missing \"cmd\"");
	check_refused("{\"cmd\":\"status\",\"verbose\":true}",
		      "status: unknown argument \"verbose\" (takes: none)");
	check_refused("{\"cmd\":\"stats\",\"gpa\":1}",
		      "stats: unknown argument \"gpa\" (takes: enable)");
	check_refused("{\"cmd\":\"mem-add\",\"gpa\":\"4G\"}", "mem-add: missing argument \"size\"");
	check_refused("{\"cmd\":\"mem-remove\"}", "mem-remove: missing argument \"gpa\"");
}

TEST(control_wrong_argument_types_are_refused)
{
	check_refused("{\"cmd\":5}", "\"cmd\": expected a command name, got 5");
	check_refused("{\"cmd\":null}", "\"cmd\": expected a command name, got null");
	check_refused("{\"cmd\":\"stats\",\"enable\":1}",
		      "\"enable\": expected true or false, got 1");
	check_refused("{\"cmd\":\"stats\",\"enable\":\"yes\"}",
		      "\"enable\": expected true or false");
	check_refused("{\"cmd\":\"mem-add\",\"gpa\":-1,\"size\":4096}",
		      "\"gpa\": expected a non-negative integer");
	check_refused("{\"cmd\":\"mem-add\",\"gpa\":1.5,\"size\":4096}", "\"gpa\": expected");
	check_refused("{\"cmd\":\"mem-add\",\"gpa\":\"0x\",\"size\":4096}", "\"gpa\": expected");
	check_refused("{\"cmd\":\"mem-add\",\"gpa\":\"0x-1\",\"size\":4096}", "\"gpa\": expected");
	check_refused("{\"cmd\":\"mem-add\",\"gpa\":0,\"size\":\"0x1g\"}", "\"size\": expected");
	check_refused("{\"cmd\":\"mem-add\",\"gpa\":0,\"size\":99999999999999999999}",
		      "\"size\": expected");
	check_refused("{\"cmd\":\"mem-add\",\"gpa\":0,\"size\":\"64Q\"}", "\"size\": expected");
}

TEST(control_oversized_requests_are_refused)
{
	size_t len = CONTROL_MAX_REQUEST + 1;
	struct control_request req;
	char *big = malloc(len);
	struct errbuf e;

	CHECK(big != NULL);
	memset(big, ' ', len);
	memcpy(big, "{\"cmd\":\"status\"}", 16);
	CHECK(control_parse_request(big, len, &req, &e) == -1);
	CHECK_CONTAINS(e.msg, "request longer than 65536 bytes");
	/* Exactly at the limit is still a request. */
	CHECK(control_parse_request(big, len - 1, &req, &e) == 0);
	free(big);
}

TEST(control_error_replies_are_one_json_line)
{
	struct control_ctx ctx = {.vm = NULL};
	size_t len;
	char *reply;

	reply = control_execute(&ctx, "{\"cmd\":\"nope\"}", 14, &len);
	CHECK(reply != NULL);
	CHECK_EQ(len, strlen(reply));
	CHECK(!strncmp(reply, "{\"ok\":false,\"error\":\"unknown command \\\"nope\\\"", 45));
	CHECK(reply[len - 1] == '\n' && !memchr(reply, '\n', len - 1));
	free(reply);
	reply = control_execute(&ctx, "\0\0\0", 3, &len);
	CHECK(reply != NULL);
	CHECK_CONTAINS(reply, "\"ok\":false");
	CHECK_CONTAINS(reply, "NUL byte");
	free(reply);
}

TEST(control_help_lists_every_command_without_a_vm)
{
	struct control_ctx ctx = {.vm = NULL};
	size_t len;
	char *reply = control_execute(&ctx, "{\"cmd\":\"help\"}", 14, &len);

	CHECK(reply != NULL);
	CHECK(!strncmp(reply, "{\"ok\":true,\"commands\":[", 23));
	for (unsigned i = 0; i < control_ncommands; i++) {
		char want[64];

		snprintf(want, sizeof(want), "{\"cmd\":\"%s\",", control_commands[i].name);
		CHECK_CONTAINS(reply, want);
	}
	CHECK_CONTAINS(reply, "\"args\":[\"gpa\",\"size\",\"readonly\",\"dirty_log\"]");
	free(reply);
}
