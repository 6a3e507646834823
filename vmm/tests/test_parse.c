/* Unit tests of size, integer and duration parsing. */
#include <stdint.h>

#include "kvmlab/parse.h"
#include "unit.h"

TEST(parse_size_accepts_suffixes)
{
	struct errbuf e;
	uint64_t v;

	CHECK(parse_size("4096", &v, "x", &e) == 0 && v == 4096);
	CHECK(parse_size("64M", &v, "x", &e) == 0 && v == 64ull << 20);
	CHECK(parse_size("2g", &v, "x", &e) == 0 && v == 2ull << 30);
	CHECK(parse_size("512KiB", &v, "x", &e) == 0 && v == 512ull << 10);
	CHECK(parse_size("1GB", &v, "x", &e) == 0 && v == 1ull << 30);
}

TEST(parse_size_refuses_junk_and_overflow)
{
	struct errbuf e;
	uint64_t v;

	CHECK(parse_size("", &v, "--mem", &e) == -1);
	CHECK_CONTAINS(e.msg, "--mem");
	CHECK(parse_size("-1M", &v, "--mem", &e) == -1);
	CHECK(parse_size("12Q", &v, "--mem", &e) == -1);
	CHECK(parse_size("1MM", &v, "--mem", &e) == -1);
	CHECK(parse_size("99999999999999999999", &v, "--mem", &e) == -1);
	CHECK(parse_size("17179869184G", &v, "--mem", &e) == -1);
}

TEST(parse_uint_and_seconds_bounds)
{
	struct errbuf e;
	uint64_t v;
	double s;

	CHECK(parse_uint("4", 1, 8, &v, "--cpus", &e) == 0 && v == 4);
	CHECK(parse_uint("0", 1, 8, &v, "--cpus", &e) == -1);
	CHECK_CONTAINS(e.msg, "out of range");
	CHECK(parse_uint("4x", 1, 8, &v, "--cpus", &e) == -1);
	CHECK(parse_seconds("0.5", &s, "--timeout", &e) == 0 && s == 0.5);
	CHECK(parse_seconds("-1", &s, "--timeout", &e) == -1);
	CHECK(parse_seconds("nan", &s, "--timeout", &e) == -1);
}
