/* `kvmlab switch PATH`: an unprivileged Ethernet switch for VMs started with --net sock=PATH. */
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <sys/signalfd.h>
#include <unistd.h>

#include "cli.h"
#include "kvmlab/netback.h"

static void switch_usage(FILE *out)
{
	fputs("usage: kvmlab switch PATH\n"
	      "Listens on the Unix socket PATH and forwards Ethernet frames between the VMs\n"
	      "started with --net sock=PATH (learning MACs, flooding broadcasts and unknown\n"
	      "destinations). Runs until SIGINT or SIGTERM, then prints its counters.\n"
	      "Without a switch, the first VM on PATH listens and the second connects to it.\n",
	      out);
}

int cmd_switch(int argc, char **argv)
{
	struct netswitch_stats st;
	struct netswitch *sw;
	struct errbuf e;
	sigset_t set;
	int stop, r;

	if (argc == 2 && (!strcmp(argv[1], "--help") || !strcmp(argv[1], "-h"))) {
		switch_usage(stdout);
		return CLI_OK;
	}
	if (argc != 2 || argv[1][0] == '-') {
		switch_usage(stderr);
		return CLI_USAGE;
	}
	sigemptyset(&set);
	sigaddset(&set, SIGINT);
	sigaddset(&set, SIGTERM);
	sigaddset(&set, SIGHUP);
	sigprocmask(SIG_BLOCK, &set, NULL);
	stop = signalfd(-1, &set, SFD_CLOEXEC);
	if (stop < 0) {
		perror("kvmlab switch: signalfd");
		return CLI_HOST_ERROR;
	}
	sw = netswitch_create(argv[1], &e);
	if (!sw) {
		fprintf(stderr, "kvmlab switch: %s\n", e.msg);
		close(stop);
		return CLI_HOST_ERROR;
	}
	fprintf(stderr, "kvmlab switch: listening on %s\n", argv[1]);
	while ((r = netswitch_poll(sw, -1, stop, &e)) == 0)
		;
	netswitch_stats(sw, &st);
	netswitch_destroy(sw);
	close(stop);
	if (r < 0) {
		fprintf(stderr, "kvmlab switch: %s\n", e.msg);
		return CLI_HOST_ERROR;
	}
	fprintf(stderr,
		"kvmlab switch: frames=%llu forwarded=%llu flooded=%llu filtered=%llu "
		"dropped=%llu ports=%u macs=%u\n",
		(unsigned long long)st.frames, (unsigned long long)st.forwarded,
		(unsigned long long)st.flooded, (unsigned long long)st.filtered,
		(unsigned long long)st.dropped, st.ports, st.macs);
	return CLI_OK;
}
