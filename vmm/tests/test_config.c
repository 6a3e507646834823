/* Unit tests of run configurations: JSON files, command-line flags, merging, and reports. */
#include <stdint.h>
#include <stdlib.h>
#include <unistd.h>

#include "../config/config_internal.h"
#include "kvmlab/config.h"
#include "unit.h"

static int parse(const char *json, struct run_config *rc, struct errbuf *e)
{
	return config_parse_json(json, strlen(json), rc, e);
}

/* Parses json expecting failure; checks the one-line report holds want. */
static void check_refused(const char *json, const char *want)
{
	struct run_config rc;
	struct errbuf e = {"(no report)"};

	if (parse(json, &rc, &e) != -1) {
		fprintf(stderr, "config accepted: %s\n", json);
		exit(1);
	}
	CHECK_CONTAINS(e.msg, want);
	CHECK(!strchr(e.msg, '\n'));
}

TEST(config_every_field_from_json)
{
	static const char json[] =
	    "{\"guest\": \"/g/spin.bin\", \"cpus\": 3, \"mem\": \"128M\", \"mem_policy\": "
	    "\"thp\", \"sched\": \"os\", \"name\": \"vm-1.a_b\", \"api_sock\": \"/run/x.sock\", "
	    "\"timeout\": 2.5, \"strict\": true, \"irqchip\": false, \"keep_virt\": true, "
	    "\"stats\": true, \"kvm_device\": \"/dev/kvm2\"}";
	struct run_config rc;
	struct vm_config vc;
	struct errbuf e;

	CHECK(parse(json, &rc, &e) == 0);
	CHECK(!strcmp(rc.guest, "/g/spin.bin"));
	CHECK_EQ(rc.cpus, 3);
	CHECK_EQ(rc.mem_size, 128ull << 20);
	CHECK(!strcmp(rc.mem_policy, "thp") && !strcmp(rc.sched, "os"));
	CHECK(!strcmp(rc.name, "vm-1.a_b") && !strcmp(rc.api_sock, "/run/x.sock"));
	CHECK(rc.timeout_s == 2.5);
	CHECK(rc.strict && !rc.irqchip && rc.keep_virt && rc.stats);
	for (unsigned f = 0; f <= CONFIG_KVM_DEVICE; f++)
		CHECK(rc.given & (1u << f));
	run_config_vm(&rc, &vc);
	CHECK_EQ(vc.ncpus, 3);
	CHECK_EQ(vc.mem_size, 128ull << 20);
	CHECK(!strcmp(vc.kvm_path, "/dev/kvm2") && !strcmp(vc.mem_policy, "thp"));
	CHECK(!strcmp(vc.name, "vm-1.a_b") && vc.strict && !vc.irqchip && vc.keep_virt);
}

/* A valid, non-default value of field f: as JSON text, and as its flag would take it. */
static void sample_value(unsigned f, char json[80], char arg[64], bool *flag_value)
{
	const struct config_field_def *d = &config_fields[f];
	struct run_config dflt;

	run_config_default(&dflt);
	*flag_value = true;
	switch (d->kind) {
	case KIND_CPUS:
		snprintf(arg, 64, "3");
		break;
	case KIND_SIZE:
		snprintf(arg, 64, "8M");
		break;
	case KIND_SECONDS:
		snprintf(arg, 64, "2.5");
		break;
	case KIND_BOOL:
		*flag_value = !*(bool *)((char *)&dflt + d->offset);
		snprintf(arg, 64, "%s", *flag_value ? "true" : "false");
		break;
	case KIND_SOCK:
		snprintf(arg, 64, "/s/%s.sock", d->info.key);
		break;
	default:
		snprintf(arg, 64, "%s%s", d->kind == KIND_PATH ? "/p/" : "v", d->info.key);
		break;
	}
	if (d->kind == KIND_LIST) /* a repeatable flag given once is a one-item JSON list */
		snprintf(json, 80, "[\"%s\"]", arg);
	else if (d->kind == KIND_CPUS || d->kind == KIND_SECONDS || d->kind == KIND_BOOL)
		snprintf(json, 80, "%s", arg);
	else
		snprintf(json, 80, "\"%s\"", arg);
}

/* The promise that every flag has a JSON key doing the same, for fields added later too. */
TEST(config_every_flag_and_its_json_key_agree)
{
	for (unsigned f = 0; f < CONFIG_NFIELDS; f++) {
		struct run_config from_json, from_flag, dflt;
		char json[80], arg[64], text[192];
		struct errbuf e;
		bool value;

		sample_value(f, json, arg, &value);
		snprintf(text, sizeof(text), "{\"%s\": %s}", config_fields[f].info.key, json);
		if (config_parse_json(text, strlen(text), &from_json, &e)) {
			fprintf(stderr, "%s: %s\n", text, e.msg);
			exit(1);
		}
		run_config_default(&from_flag);
		if (config_set_arg(&from_flag, f, arg, value, &e)) {
			fprintf(stderr, "--%s %s: %s\n", config_fields[f].info.flag, arg, e.msg);
			exit(1);
		}
		run_config_default(&dflt);
		CHECK_EQ(from_json.given, 1u << f);
		CHECK(memcmp(&from_json, &from_flag, sizeof(from_json)) == 0);
		from_json.given = 0;
		CHECK(memcmp(&from_json, &dflt, sizeof(dflt)) != 0); /* the value took effect */
	}
}

TEST(config_defaults_and_numeric_forms)
{
	struct run_config rc;
	struct vm_config vc;
	struct errbuf e;

	CHECK(parse(" {}\n", &rc, &e) == 0);
	CHECK_EQ(rc.given, 0);
	CHECK_EQ(rc.cpus, 1);
	CHECK_EQ(rc.mem_size, 64ull << 20);
	CHECK(rc.irqchip && !rc.strict && rc.timeout_s == 0 && !strcmp(rc.kvm_device, "/dev/kvm"));
	run_config_vm(&rc, &vc);
	CHECK(vc.name == NULL && vc.mem_policy == NULL);
	CHECK(parse("{\"mem\": 4194304, \"timeout\": 7}", &rc, &e) == 0);
	CHECK_EQ(rc.mem_size, 4ull << 20);
	CHECK(rc.timeout_s == 7);
	CHECK(run_config_check(&rc, &e) == -1);
	CHECK_CONTAINS(e.msg, "no guest given");
}

/* Kernel boots default to thp (whole 2 MiB pages only); flat guests and explicit choices do not. */
TEST(config_kernel_boots_default_to_thp)
{
	struct run_config rc;
	struct vm_config vc;
	struct errbuf e;

	CHECK(parse("{\"kernel\": \"/k/vmlinuz\", \"mem\": \"256M\"}", &rc, &e) == 0);
	run_config_vm(&rc, &vc);
	CHECK(vc.mem_policy && !strcmp(vc.mem_policy, RUN_KERNEL_MEM_POLICY));
	CHECK(!strcmp(RUN_KERNEL_MEM_POLICY, "thp"));
	CHECK(parse("{\"kernel\": \"/k/vmlinuz\", \"mem\": \"255M\"}", &rc, &e) == 0);
	run_config_vm(&rc, &vc);
	CHECK(vc.mem_policy == NULL); /* not whole huge pages: anon */
	CHECK(parse("{\"kernel\": \"/k/vmlinuz\", \"mem_policy\": \"anon\"}", &rc, &e) == 0);
	run_config_vm(&rc, &vc);
	CHECK(!strcmp(vc.mem_policy, "anon"));
	CHECK(parse("{\"guest\": \"/g/hello.bin\", \"mem\": \"256M\"}", &rc, &e) == 0);
	run_config_vm(&rc, &vc);
	CHECK(vc.mem_policy == NULL);
}

TEST(config_bad_values_name_the_field)
{
	check_refused("{\"cpus\": \"four\"}",
		      "\"cpus\": expected an integer from 1 to 256, got \"four\"");
	check_refused("{\"cpus\": 0}", "\"cpus\": expected an integer from 1 to 256, got 0");
	check_refused("{\"cpus\": 257}", "\"cpus\": expected an integer");
	check_refused("{\"cpus\": 2.0}", "\"cpus\": expected an integer");
	check_refused("{\"cpus\": 99999999999999999999}", "\"cpus\": expected an integer");
	check_refused("{\"mem\": \"12Q\"}", "\"mem\": expected a size like \"512M\"");
	check_refused("{\"mem\": \"1M\"}", "\"mem\": must be a multiple of 4 KiB and at least 2M");
	check_refused("{\"mem\": 4097}", "\"mem\": must be a multiple of 4 KiB");
	check_refused("{\"mem\": -4096}", "\"mem\": expected a size");
	check_refused("{\"mem\": true}", "\"mem\": expected a size");
	check_refused("{\"timeout\": -1}", "\"timeout\": expected a number of seconds");
	check_refused("{\"timeout\": \"10\"}", "\"timeout\": expected a number of seconds");
	check_refused("{\"timeout\": NaN}", "\"timeout\": expected a number of seconds");
	check_refused("{\"strict\": 1}", "\"strict\": expected true or false, got 1");
	check_refused("{\"irqchip\": \"no\"}", "\"irqchip\": expected true or false");
	check_refused("{\"keep_virt\": null}", "\"keep_virt\": expected true or false, got null");
	check_refused("{\"stats\": []}", "\"stats\": expected true or false, got []");
	check_refused("{\"guest\": 5}", "\"guest\": expected a string, got 5");
	check_refused("{\"guest\": \"\"}", "\"guest\": must not be empty");
	check_refused("{\"guest\": \"a\\u0000b\"}", "\"guest\": must not contain a NUL");
	check_refused("{\"mem_policy\": \"\"}", "\"mem_policy\": must not be empty");
	check_refused("{\"sched\": {}}", "\"sched\": expected a string, got {}");
	check_refused("{\"kvm_device\": false}", "\"kvm_device\": expected a string");
	check_refused("{\"name\": \"my vm\"}", "\"name\": 'my vm' may hold only letters");
	check_refused("{\"name\": \".hidden\"}", "\"name\": '.hidden' must start with a letter");
	check_refused("{\"name\": \"../x\"}", "\"name\"");
	check_refused("{\"name\": "
		      "\"aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa\"}",
		      "\"name\": longer than 64 characters");
	check_refused("{\"api_sock\": \"/tmp/"
		      "xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx"
		      "xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx.sock\"}",
		      "a Unix socket path holds at most 107");
}

TEST(config_unknown_fields_and_bad_json_are_named)
{
	check_refused("{\"cpus\": 1, \"cpu\": 2}", "unknown field \"cpu\" (known: guest, cpus,");
	check_refused("{\"--cpus\": 1}", "unknown field \"--cpus\"");
	check_refused("{\"cmd\": \"status\"}", "unknown field \"cmd\"");
	check_refused("{\"cpus\": 1,\n \"mem\": }", "invalid JSON at line 2, column 9");
	check_refused("{\"cpus\": 1,}", "invalid JSON at line 1, column 12");
	check_refused("{\"cpus\": 1", "invalid JSON: the text ends in the middle of a value");
	check_refused("", "invalid JSON: the text is empty");
	check_refused("  \n ", "invalid JSON: the text is empty");
	check_refused("{} {}", "invalid JSON at line 1, column 4");
	check_refused("[1, 2]", "expected a JSON object of settings, got [1,2]");
	check_refused("\"guest\"", "expected a JSON object of settings");
	check_refused("{\"a\": [[[[[[[[[[1]]]]]]]]]]}", "nesting too deep");
	check_refused("{\"guest\": \"\xff\"}", "invalid utf-8");
}

TEST(config_parse_is_bounded_by_len_and_refuses_nul)
{
	static const char text[] = "{\"cpus\": 2}garbage";
	struct run_config rc;
	struct errbuf e;

	CHECK(config_parse_json(text, 11, &rc, &e) == 0);
	CHECK_EQ(rc.cpus, 2);
	CHECK(config_parse_json("{\"cpus\": 2}\0{}", 14, &rc, &e) == -1);
	CHECK_CONTAINS(e.msg, "NUL byte");
}

TEST(config_flags_use_the_same_checks)
{
	struct run_config rc;
	struct errbuf e;

	run_config_default(&rc);
	CHECK(config_set_arg(&rc, CONFIG_CPUS, "4", true, &e) == 0 && rc.cpus == 4);
	CHECK(config_set_arg(&rc, CONFIG_CPUS, "0", true, &e) == -1);
	CHECK_CONTAINS(e.msg, "--cpus: 0 is out of range");
	CHECK(config_set_arg(&rc, CONFIG_MEM, "1M", true, &e) == -1);
	CHECK_CONTAINS(e.msg, "--mem: must be a multiple of 4 KiB and at least 2M");
	CHECK(config_set_arg(&rc, CONFIG_NAME, "a b", true, &e) == -1);
	CHECK_CONTAINS(e.msg, "--name: 'a b' may hold only");
	CHECK(config_set_arg(&rc, CONFIG_MEM_POLICY, "", true, &e) == -1);
	CHECK_CONTAINS(e.msg, "--mem-policy: must not be empty");
	CHECK(config_set_arg(&rc, CONFIG_IRQCHIP, NULL, false, &e) == 0 && !rc.irqchip);
	CHECK_EQ(rc.given, (1u << CONFIG_CPUS) | (1u << CONFIG_IRQCHIP));
	/* Every field has both spellings, and booleans a way back. */
	for (unsigned f = 0; f < CONFIG_NFIELDS; f++) {
		const struct config_field_info *i = config_field_info(f);

		CHECK(i->key && i->flag && i->help);
		CHECK((i->metavar == NULL) == (i->no_flag != NULL));
	}
}

TEST(config_flags_override_the_file)
{
	struct run_config file, flags;
	struct errbuf e;

	CHECK(parse("{\"guest\": \"g.bin\", \"cpus\": 2, \"strict\": true, \"name\": \"a\"}", &file,
		    &e) == 0);
	run_config_default(&flags);
	CHECK(config_set_arg(&flags, CONFIG_CPUS, "4", true, &e) == 0);
	CHECK(config_set_arg(&flags, CONFIG_STRICT, NULL, false, &e) == 0);
	run_config_merge(&file, &flags);
	CHECK_EQ(file.cpus, 4);
	CHECK(!file.strict);
	CHECK(!strcmp(file.guest, "g.bin") && !strcmp(file.name, "a"));
	CHECK_EQ(file.mem_size, 64ull << 20);
}

TEST(config_file_paths_are_relative_to_the_file)
{
	char dir[] = "/tmp/kvmlab-config-XXXXXX", path[64], missing[80];
	struct run_config rc;
	struct errbuf e;
	FILE *f;

	CHECK(mkdtemp(dir) != NULL);
	snprintf(path, sizeof(path), "%s/vm.json", dir);
	f = fopen(path, "w");
	CHECK(f != NULL);
	fputs("{\"guest\": \"g.bin\", \"api_sock\": \"/abs.sock\", \"cpus\": \"four\"}", f);
	fclose(f);
	CHECK(config_load_file(path, &rc, &e) == -1);
	CHECK(!strncmp(e.msg, "config ", 7));
	CHECK_CONTAINS(e.msg, "vm.json: \"cpus\": expected an integer from 1 to 256, got \"four\"");
	f = fopen(path, "w");
	fputs("{\"guest\": \"g.bin\", \"api_sock\": \"/abs.sock\"}", f);
	fclose(f);
	CHECK(config_load_file(path, &rc, &e) == 0);
	CHECK(!strncmp(rc.guest, dir, strlen(dir)) && !strcmp(rc.guest + strlen(dir), "/g.bin"));
	CHECK(!strcmp(rc.api_sock, "/abs.sock"));
	unlink(path);
	snprintf(missing, sizeof(missing), "%s/none.json", dir);
	CHECK(config_load_file(missing, &rc, &e) == -1);
	CHECK_CONTAINS(e.msg, "none.json: cannot open: No such file or directory");
	CHECK(config_load_file(dir, &rc, &e) == -1);
	CHECK_CONTAINS(e.msg, "not a regular file");
	rmdir(dir);
}
