/* Fuzz target: JSON run configurations (config_parse_json), raw text or generated objects. */
#include <math.h>
#include <stdio.h>
#include <string.h>

#include "json.h"
#include "kvmlab/config.h"

#define MODE_RAW 0x01 /* first byte: the rest is the text itself (with the dictionary's help) */

static enum fuzz_json_kind field_kind(enum config_field f)
{
	const struct config_field_info *fi = config_field_info(f);

	if (fi->no_flag)
		return FJ_BOOL;
	if (!strcmp(fi->metavar, "N"))
		return FJ_INT;
	if (!strcmp(fi->metavar, "SIZE"))
		return FJ_U64;
	if (!strcmp(fi->metavar, "S"))
		return FJ_SECONDS;
	return FJ_STRING;
}

/* An object of known keys with values of their kinds; rarely unknown keys or wrong types. */
static void config_generate(struct fuzz_in *in, struct fuzz_json *j)
{
	const char *keys[CONFIG_NFIELDS];

	for (unsigned f = 0; f < CONFIG_NFIELDS; f++)
		keys[f] = config_field_info(f)->key;
	fuzz_json_add(j, "{");
	for (bool first = true; fuzz_more(in); first = false) {
		int f;

		fuzz_json_add(j, first ? "" : ",");
		f = fuzz_json_name(j, in, keys, CONFIG_NFIELDS);
		fuzz_json_add(j, ":");
		fuzz_json_value(j, in, f < 0 ? FJ_STRING : field_kind((enum config_field)f));
	}
	fuzz_json_add(j, "}");
}

/* A field's value as a command-line argument, for the flags-and-JSON-agree check. */
static bool config_as_arg(const struct run_config *rc, enum config_field f, char *buf, size_t size)
{
	switch (field_kind(f)) {
	case FJ_INT:
		snprintf(buf, size, "%u", rc->cpus);
		return true;
	case FJ_U64:
		snprintf(buf, size, "%llu", (unsigned long long)rc->mem_size);
		return true;
	case FJ_SECONDS: /* the flag's strtod refuses subnormals, JSON allows them: skip those */
		snprintf(buf, size, "%.17g", rc->timeout_s);
		return rc->timeout_s == 0 || rc->timeout_s >= 1e-6;
	default: /* booleans take no argument; strings come from config_string */
		return false;
	}
}

static const char *config_string(const struct run_config *rc, enum config_field f)
{
	switch (f) {
	case CONFIG_GUEST:
		return rc->guest;
	case CONFIG_MEM_POLICY:
		return rc->mem_policy;
	case CONFIG_SCHED:
		return rc->sched;
	case CONFIG_NAME:
		return rc->name;
	case CONFIG_API_SOCK:
		return rc->api_sock;
	case CONFIG_KVM_DEVICE:
		return rc->kvm_device;
	default:
		return NULL;
	}
}

/* What a successful parse promises: every value within its field's rules, and the command
 * line accepting the same value for the same field ("one table behind both"). */
static void config_check(const struct run_config *rc)
{
	char arg[CONFIG_PATH_MAX + 32];
	struct run_config again;
	struct errbuf e;

	FUZZ_CHECK(rc->cpus >= 1 && rc->cpus <= VM_MAX_VCPUS, "cpus %u", rc->cpus);
	FUZZ_CHECK(rc->mem_size >= (2u << 20) && rc->mem_size % 4096 == 0, "mem %llu",
		   (unsigned long long)rc->mem_size);
	FUZZ_CHECK(isfinite(rc->timeout_s) && rc->timeout_s >= 0 && rc->timeout_s <= 1e9,
		   "timeout %g", rc->timeout_s);
	FUZZ_CHECK(rc->given < (1u << CONFIG_NFIELDS), "given 0x%x", rc->given);
	run_config_default(&again);
	for (unsigned f = 0; f < CONFIG_NFIELDS; f++) {
		const char *s = config_string(rc, f);

		if (!(rc->given & (1u << f)))
			continue;
		if (s)
			FUZZ_CHECK(s[0], "field %s given but empty", config_field_info(f)->key);
		if (s)
			snprintf(arg, sizeof(arg), "%s", s);
		else if (!config_as_arg(rc, f, arg, sizeof(arg)))
			continue;
		FUZZ_CHECK(config_set_arg(&again, f, arg, false, &e) == 0,
			   "JSON accepted \"%s\" = '%.80s' but --%s refuses it: %s",
			   config_field_info(f)->key, arg, config_field_info(f)->flag, e.msg);
	}
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct fuzz_json j; /* not zeroed: 16 KiB per input would cost more than the parse */
	struct run_config rc;
	struct fuzz_in in;
	struct errbuf e;
	const char *text;
	size_t len;
	int r;

	fuzz_in_init(&in, data, size);
	if (fuzz_u8(&in) & MODE_RAW) {
		text = (const char *)fuzz_rest(&in, &len);
	} else {
		j.len = 0;
		config_generate(&in, &j);
		text = j.text;
		len = j.len;
	}
	r = config_parse_json(text, len, &rc, &e);
	FUZZ_CHECK(r == 0 || r == -1, "returned %d", r);
	if (r)
		FUZZ_CHECK(memchr(e.msg, '\0', sizeof(e.msg)) && e.msg[0], "empty report");
	else
		config_check(&rc);
	return 0;
}
