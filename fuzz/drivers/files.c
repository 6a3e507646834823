/* Running a fuzz target over input files and directories: the replay and reproduce path. */
#include <dirent.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "drivers.h"

struct replay {
	bool verbose;
	unsigned inputs;
};

/* Reads the whole file into a buffer of exactly its size, so a target reading past the end
 * of its input is caught by the sanitizer. */
static int replay_file(struct replay *r, const char *path)
{
	FILE *f = fopen(path, "rb");
	uint8_t *buf = NULL;
	long size;

	if (!f || fseek(f, 0, SEEK_END) || (size = ftell(f)) < 0 || fseek(f, 0, SEEK_SET)) {
		fprintf(stderr, "replay: cannot read %s: %s\n", path, strerror(errno));
		goto fail;
	}
	buf = malloc(size ? (size_t)size : 1);
	if (!buf || fread(buf, 1, (size_t)size, f) != (size_t)size) {
		fprintf(stderr, "replay: cannot read %s\n", path);
		goto fail;
	}
	fclose(f);
	if (r->verbose)
		fprintf(stderr, "replay: %s (%ld bytes)\n", path, size);
	LLVMFuzzerTestOneInput(buf, (size_t)size);
	free(buf);
	r->inputs++;
	return 0;
fail:
	if (f)
		fclose(f);
	free(buf);
	return -1;
}

/* Files in name order, recursing into subdirectories (regressions/); dot files skipped. */
static int replay_path(struct replay *r, const char *path)
{
	struct dirent **names;
	struct stat st;
	int n, rc = 0;

	if (stat(path, &st)) {
		fprintf(stderr, "replay: %s: %s\n", path, strerror(errno));
		return -1;
	}
	if (!S_ISDIR(st.st_mode))
		return replay_file(r, path);
	n = scandir(path, &names, NULL, alphasort);
	if (n < 0) {
		fprintf(stderr, "replay: cannot list %s: %s\n", path, strerror(errno));
		return -1;
	}
	for (int i = 0; i < n; i++) {
		char *child;

		if (names[i]->d_name[0] != '.' &&
		    asprintf(&child, "%s/%s", path, names[i]->d_name) > 0) {
			rc |= replay_path(r, child);
			free(child);
		}
		free(names[i]);
	}
	free(names);
	return rc;
}

int fuzz_replay_main(int argc, char **argv)
{
	struct replay r = {0};
	int first = 1, rc = 0;

	if (argc > 1 && !strcmp(argv[1], "-v")) {
		r.verbose = true;
		first = 2;
	}
	if (first >= argc) {
		fprintf(stderr,
			"usage: %s [-v] FILE|DIR...\n"
			"Runs each input (directories recursively) through the fuzz target.\n",
			argv[0]);
		return 2;
	}
	for (int i = first; i < argc; i++)
		rc |= replay_path(&r, argv[i]);
	printf("replayed %u inputs\n", r.inputs);
	return rc ? 2 : 0;
}
