/* `kvmlab info`: the facts a test log needs about the KVM it ran on. */
#include <getopt.h>
#include <linux/kvm.h>
#include <stdbool.h>
#include <stdio.h>
#include <string.h>
#include <sys/utsname.h>
#include <unistd.h>

#include "cli.h"
#include "kvmlab/kvm.h"

/* The CPU vendor, and whether this host itself runs under a hypervisor (KVM nested). */
static void print_cpu_facts(void)
{
	char line[4096], vendor[64];
	bool have_vendor = false, have_flags = false;
	FILE *f = fopen("/proc/cpuinfo", "r");

	if (!f)
		return;
	while (fgets(line, sizeof(line), f) && !(have_vendor && have_flags)) {
		if (!have_vendor && sscanf(line, "vendor_id : %63s", vendor) == 1) {
			printf("cpu_vendor=%s\n", vendor);
			have_vendor = true;
		} else if (!have_flags && !strncmp(line, "flags", 5)) {
			printf("host_is_guest=%s\n", strstr(line, " hypervisor") ? "yes" : "no");
			have_flags = true;
		}
	}
	fclose(f);
}

int cmd_info(int argc, char **argv)
{
	static const struct option opts[] = {
		{"kvm-device", required_argument, NULL, 'k'},
		{"help", no_argument, NULL, 'h'},
		{0},
	};
	const char *kvm_path = "/dev/kvm";
	struct errbuf e;
	struct utsname u;
	unsigned version;
	int opt, fd;

	while ((opt = getopt_long(argc, argv, "h", opts, NULL)) != -1) {
		if (opt == 'k') {
			kvm_path = optarg;
		} else {
			fprintf(opt == 'h' ? stdout : stderr,
				"usage: kvmlab info [--kvm-device PATH]\n");
			return opt == 'h' ? CLI_OK : CLI_USAGE;
		}
	}
	uname(&u);
	printf("kernel=%s %s\n", u.sysname, u.release);
	print_cpu_facts();
	fd = kvm_open(kvm_path, &version, &e);
	if (fd < 0) {
		fflush(stdout);
		fprintf(stderr, "kvmlab: %s\n", e.msg);
		return CLI_HOST_ERROR;
	}
	printf("kvm_api_version=%u\n", version);
	printf("max_vcpus=%d\n", kvm_cap(fd, KVM_CAP_MAX_VCPUS, &e));
	close(fd);
	return CLI_OK;
}
