/* JSON config files: strict parsing, per-field type checks, relative paths, file loading. */
#include <errno.h>
#include <fcntl.h>
#include <json-c/json.h>
#include <limits.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "config_internal.h"
#include "kvmlab/parse.h"

#define CONFIG_JSON_DEPTH 8 /* a config is one flat object; deeper input is refused early */

static void json_position(const char *text, size_t off, unsigned *line, unsigned *col)
{
	*line = 1;
	*col = 1;
	for (size_t i = 0; i < off; i++) {
		if (text[i] == '\n') {
			++*line;
			*col = 1;
		} else {
			++*col;
		}
	}
}

static size_t json_skip_space(const char *text, size_t len)
{
	size_t i = 0;

	while (i < len && (text[i] == ' ' || text[i] == '\t' || text[i] == '\r' || text[i] == '\n'))
		i++;
	return i;
}

int config_json_parse(const char *text, size_t len, int max_depth, struct json_object **out,
		      struct errbuf *e)
{
	enum json_tokener_error err;
	struct json_tokener *tok;
	struct json_object *v;
	const char *nul;
	unsigned line, col;
	size_t end;

	if (len == 0 || json_skip_space(text, len) == len)
		return err_set(e, "invalid JSON: the text is empty");
	nul = memchr(text, '\0', len);
	if (nul) {
		json_position(text, (size_t)(nul - text), &line, &col);
		return err_set(e, "invalid JSON at line %u, column %u: a NUL byte", line, col);
	}
	if (len > INT_MAX)
		return err_set(e, "invalid JSON: %zu bytes is too long", len);
	tok = json_tokener_new_ex(max_depth);
	if (!tok)
		return err_set(e, "out of memory parsing JSON");
	json_tokener_set_flags(tok, JSON_TOKENER_STRICT | JSON_TOKENER_VALIDATE_UTF8);
	v = json_tokener_parse_ex(tok, text, (int)len);
	err = json_tokener_get_error(tok);
	end = json_tokener_get_parse_end(tok);
	if (!v && err == json_tokener_continue) {
		/* A top-level number could go on; the end of the text ends it. */
		v = json_tokener_parse_ex(tok, "", 1);
		err = v ? json_tokener_success : json_tokener_continue;
	}
	json_tokener_free(tok);
	if (v && err == json_tokener_success &&
	    end + json_skip_space(text + end, len - end) < len) {
		json_object_put(v);
		v = NULL;
		err = json_tokener_error_parse_unexpected;
	}
	if (!v && err == json_tokener_continue)
		return err_set(e, "invalid JSON: the text ends in the middle of a value");
	if (!v) {
		json_position(text, end < len ? end : len, &line, &col);
		return err_set(e, "invalid JSON at line %u, column %u: %s", line, col,
			       err == json_tokener_success ? "not a value"
							   : json_tokener_error_desc(err));
	}
	*out = v;
	return 0;
}

void config_json_repr(struct json_object *v, char *buf, size_t size)
{
	const char *s = json_object_to_json_string_ext(v, JSON_C_TO_STRING_PLAIN |
							      JSON_C_TO_STRING_NOSLASHESCAPE);
	size_t len = strlen(s);

	if (size < 4)
		return;
	if (len < size) {
		memcpy(buf, s, len + 1);
	} else {
		size_t cut = size - 4;

		while (cut > 0 && ((unsigned char)s[cut] & 0xc0) == 0x80)
			cut--; /* never split a UTF-8 sequence */
		memcpy(buf, s, cut);
		memcpy(buf + cut, "...", 4);
	}
}

void config_json_quote(const char *s, char *buf, size_t size)
{
	struct json_object *v = json_object_new_string(s);

	snprintf(buf, size, "\"\"");
	if (v)
		config_json_repr(v, buf, size);
	json_object_put(v);
}

/* Sets one field from its JSON value; what is the quoted key for reports. */
static int config_set_json(struct run_config *rc, enum config_field f, struct json_object *v,
			   struct errbuf *e)
{
	const struct config_field_def *d = &config_fields[f];
	enum json_type t = json_object_get_type(v);
	char what[48], got[48];
	int64_t n;
	double s;

	snprintf(what, sizeof(what), "\"%s\"", d->info.key);
	config_json_repr(v, got, sizeof(got));
	switch (d->kind) {
	case KIND_CPUS:
		n = json_object_get_int64(v);
		if (t != json_type_int || n < 1 || n > VM_MAX_VCPUS)
			return err_set(e, "%s: expected an integer from 1 to %d, got %s", what,
				       VM_MAX_VCPUS, got);
		rc->cpus = (unsigned)n;
		break;
	case KIND_SIZE:
		n = json_object_get_int64(v);
		if (t == json_type_string) {
			uint64_t bytes;
			struct errbuf pe;

			if (parse_size(json_object_get_string(v), &bytes, what, &pe))
				return err_set(
				    e, "%s: expected a size like \"512M\" or \"2G\", got %s", what,
				    got);
			return config_store_mem(rc, bytes, what, e);
		}
		if (t != json_type_int || n < 0 || n == INT64_MAX)
			return err_set(
			    e, "%s: expected a size like \"512M\" or a number of bytes, got %s",
			    what, got);
		return config_store_mem(rc, (uint64_t)n, what, e);
	case KIND_SECONDS:
		s = json_object_get_double(v);
		if ((t != json_type_int && t != json_type_double) || !isfinite(s) || s < 0 ||
		    s > 1e9)
			return err_set(e,
				       "%s: expected a number of seconds (0 for no limit), got %s",
				       what, got);
		rc->timeout_s = s;
		break;
	case KIND_BOOL:
		if (t != json_type_boolean)
			return err_set(e, "%s: expected true or false, got %s", what, got);
		*(bool *)config_slot(rc, f) = json_object_get_boolean(v);
		break;
	case KIND_LIST:
		if (t != json_type_array)
			return err_set(e, "%s: expected an array of strings, got %s", what, got);
		memset(config_slot(rc, f), 0, d->cap); /* a repeated key replaces the list */
		for (size_t i = 0; i < json_object_array_length(v); i++) {
			struct json_object *item = json_object_array_get_idx(v, i);

			if (!json_object_is_type(item, json_type_string)) {
				config_json_repr(item, got, sizeof(got));
				return err_set(e, "%s: expected an array of strings, got %s", what,
					       got);
			}
			if (config_store_string(rc, f, json_object_get_string(item),
						(size_t)json_object_get_string_len(item), what, e))
				return -1;
		}
		break;
	default:
		if (t != json_type_string)
			return err_set(e, "%s: expected a string, got %s", what, got);
		return config_store_string(rc, f, json_object_get_string(v),
					   (size_t)json_object_get_string_len(v), what, e);
	}
	rc->given |= 1u << f;
	return 0;
}

static int config_unknown_key(const char *key, struct errbuf *e)
{
	char known[160] = "", quoted[48];
	size_t used = 0;

	for (unsigned f = 0; f < CONFIG_NFIELDS && used < sizeof(known); f++)
		used += (size_t)snprintf(known + used, sizeof(known) - used, "%s%s", f ? ", " : "",
					 config_fields[f].info.key);
	config_json_quote(key, quoted, sizeof(quoted));
	return err_set(e, "unknown field %s (known: %s)", quoted, known);
}

int config_parse_json(const char *text, size_t len, struct run_config *out, struct errbuf *e)
{
	struct json_object *root;
	char got[48];
	int r = 0;

	run_config_default(out);
	if (config_json_parse(text, len, CONFIG_JSON_DEPTH, &root, e))
		return -1;
	if (!json_object_is_type(root, json_type_object)) {
		config_json_repr(root, got, sizeof(got));
		json_object_put(root);
		return err_set(e, "expected a JSON object of settings, got %s", got);
	}
	json_object_object_foreach(root, key, val)
	{
		unsigned f = 0;

		while (f < CONFIG_NFIELDS && strcmp(key, config_fields[f].info.key))
			f++;
		r = f < CONFIG_NFIELDS ? config_set_json(out, f, val, e)
				       : config_unknown_key(key, e);
		if (r)
			break;
	}
	json_object_put(root);
	return r;
}

/* Reads a whole small regular file into a NUL-terminated malloc'd buffer. */
static char *config_read(const char *path, size_t *len, struct errbuf *e)
{
	struct stat st;
	char *buf = NULL;
	size_t done = 0;
	int fd;

	fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0) {
		err_errno(e, "cannot open");
		return NULL;
	}
	if (fstat(fd, &st))
		err_errno(e, "cannot stat");
	else if (!S_ISREG(st.st_mode))
		err_set(e, "not a regular file");
	else if (st.st_size > CONFIG_FILE_MAX)
		err_set(e, "larger than %u bytes", CONFIG_FILE_MAX);
	else if (!(buf = malloc((size_t)st.st_size + 1)))
		err_set(e, "out of memory");
	while (buf && done < (size_t)st.st_size) {
		ssize_t n = read(fd, buf + done, (size_t)st.st_size - done);

		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0) {
			if (n < 0)
				err_errno(e, "cannot read");
			else
				err_set(e, "shrank while being read");
			free(buf);
			buf = NULL;
		} else {
			done += (size_t)n;
		}
	}
	close(fd);
	if (buf) {
		buf[done] = '\0';
		*len = done;
	}
	return buf;
}

/* Joins a relative entry of a repeatable field to the config file's directory, in place. */
static int config_resolve_list(struct run_config *rc, enum config_field f, const char *path,
			       int dirlen, struct errbuf *e)
{
	const struct config_field_def *d = &config_fields[f];
	char joined[CONFIG_PATH_MAX + 8];
	char *slot = config_slot(rc, f);

	for (size_t i = 0; i < d->cap / d->item && slot[i * d->item]; i++) {
		char *item = slot + i * d->item;
		int n;

		if (item[0] == '/')
			continue;
		n = snprintf(joined, sizeof(joined), "%.*s/%s", dirlen, path, item);
		if (n < 0 || (size_t)n >= d->item || (size_t)n >= sizeof(joined))
			return err_set(e, "\"%s\": longer than %zu bytes", d->info.key,
				       d->item - 1);
		memcpy(item, joined, (size_t)n + 1);
	}
	return 0;
}

/* Takes relative paths in a config file from the file's directory. */
static int config_resolve_paths(struct run_config *rc, const char *path, struct errbuf *e)
{
	const char *slash = strrchr(path, '/');
	int dirlen = slash ? (int)(slash - path) : 0;
	char joined[CONFIG_PATH_MAX + 8], what[48];

	if (!slash)
		return 0;
	for (unsigned f = 0; f < CONFIG_NFIELDS; f++) {
		const struct config_field_def *d = &config_fields[f];
		const char *value = config_slot(rc, f);
		int n;

		if (d->kind == KIND_LIST && d->relative_to_file && (rc->given & (1u << f))) {
			if (config_resolve_list(rc, f, path, dirlen, e))
				return -1;
			continue;
		}
		if (!d->relative_to_file || !(rc->given & (1u << f)) || value[0] == '/')
			continue;
		n = snprintf(joined, sizeof(joined), "%.*s/%s", dirlen, path, value);
		snprintf(what, sizeof(what), "\"%s\"", d->info.key);
		if (n >= (int)sizeof(joined))
			return err_set(e, "%s: longer than %zu bytes", what, d->cap - 1);
		if (config_store_string(rc, f, joined, (size_t)n, what, e))
			return -1;
	}
	return 0;
}

int config_load_file(const char *path, struct run_config *out, struct errbuf *e)
{
	struct errbuf inner;
	size_t len;
	char *text;
	int r;

	text = config_read(path, &len, &inner);
	if (!text)
		return err_set(e, "config %s: %s", path, inner.msg);
	r = config_parse_json(text, len, out, &inner) || config_resolve_paths(out, path, &inner);
	free(text);
	return r ? err_set(e, "config %s: %s", path, inner.msg) : 0;
}
