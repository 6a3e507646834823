/* The kvmlab command: dispatches to one subcommand per file, git style. */
#include <stdio.h>
#include <string.h>

#include "cli.h"

static const struct cli_command commands[] = {
	{"run", "run a guest", cmd_run},
	{"info", "print the host's KVM API version, kernel and limits", cmd_info},
	{"ctl", "send one control-API request to a running VM", cmd_ctl},
	{"ls", "list the running VMs in the runtime directory", cmd_ls},
	{"switch", "connect VMs' --net sock=PATH backends through a learning switch", cmd_switch},
	{"bench", "run the benchmark suite; Google Benchmark JSON with the host's context", cmd_bench},
};

static void usage(FILE *out)
{
	fprintf(out, "usage: kvmlab COMMAND [OPTIONS]\n\ncommands:\n");
	for (size_t i = 0; i < sizeof(commands) / sizeof(commands[0]); i++)
		fprintf(out, "  %-8s %s\n", commands[i].name, commands[i].summary);
	fprintf(out, "\n'kvmlab COMMAND --help' describes each command's options.\n");
}

int main(int argc, char **argv)
{
	if (argc < 2) {
		usage(stderr);
		return CLI_USAGE;
	}
	if (!strcmp(argv[1], "--help") || !strcmp(argv[1], "-h") || !strcmp(argv[1], "help")) {
		usage(stdout);
		return CLI_OK;
	}
	for (size_t i = 0; i < sizeof(commands) / sizeof(commands[0]); i++)
		if (!strcmp(argv[1], commands[i].name))
			return commands[i].main(argc - 1, argv + 1);
	fprintf(stderr, "kvmlab: unknown command '%s' (see 'kvmlab --help')\n", argv[1]);
	return CLI_USAGE;
}
