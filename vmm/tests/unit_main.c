/* Runs one named unit test (or lists them) so that pytest reports each test on its own. */
#include "unit.h"

static struct unit_test *tests;

void unit_register(struct unit_test *t)
{
	t->next = tests;
	tests = t;
}

int main(int argc, char **argv)
{
	if (argc == 2 && !strcmp(argv[1], "--list")) {
		for (struct unit_test *t = tests; t; t = t->next)
			printf("%s\n", t->name);
		return 0;
	}
	if (argc != 2) {
		fprintf(stderr, "usage: %s --list | TEST\n", argv[0]);
		return 2;
	}
	for (struct unit_test *t = tests; t; t = t->next) {
		if (!strcmp(t->name, argv[1])) {
			t->fn();
			printf("ok %s\n", t->name);
			return 0;
		}
	}
	fprintf(stderr, "no test named %s\n", argv[1]);
	return 2;
}
