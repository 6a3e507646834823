/* A minimal unit-test registry: TEST() bodies, CHECK() assertions, one binary pytest drives. */
#ifndef KVMLAB_UNIT_H
#define KVMLAB_UNIT_H

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

struct unit_test {
	const char *name;
	void (*fn)(void);
	struct unit_test *next;
};

void unit_register(struct unit_test *t);

#define TEST(name)                                                                          \
	static void test_##name(void);                                                      \
	static struct unit_test unit_##name = {#name, test_##name, NULL};                   \
	__attribute__((constructor)) static void unit_register_##name(void)                \
	{                                                                                   \
		unit_register(&unit_##name);                                                \
	}                                                                                   \
	static void test_##name(void)

/* A failed check ends the test process with the file, line and expression. */
#define CHECK(cond)                                                                         \
	do {                                                                                \
		if (!(cond)) {                                                              \
			fprintf(stderr, "%s:%d: CHECK failed: %s\n", __FILE__, __LINE__,     \
				#cond);                                                     \
			exit(1);                                                            \
		}                                                                           \
	} while (0)

#define CHECK_EQ(a, b)                                                                      \
	do {                                                                                \
		unsigned long long a_ = (unsigned long long)(a);                            \
		unsigned long long b_ = (unsigned long long)(b);                            \
		if (a_ != b_) {                                                             \
			fprintf(stderr, "%s:%d: CHECK_EQ failed: %s == %s (0x%llx != 0x%llx)\n", \
				__FILE__, __LINE__, #a, #b, a_, b_);                        \
			exit(1);                                                            \
		}                                                                           \
	} while (0)

#define CHECK_CONTAINS(haystack, needle)                                                    \
	do {                                                                                \
		if (!strstr((haystack), (needle))) {                                        \
			fprintf(stderr, "%s:%d: '%s' does not contain '%s'\n", __FILE__,     \
				__LINE__, (haystack), (needle));                            \
			exit(1);                                                            \
		}                                                                           \
	} while (0)

#endif
