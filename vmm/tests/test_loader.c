/* Unit tests of the flat loader and image reading: fits, empty, oversized, missing. */
#include <stdint.h>
#include <unistd.h>

#include "kvmlab/loader.h"
#include "unit.h"

static uint8_t ram[2 << 20];

static void one_region(struct gmem *m)
{
	struct errbuf e;

	memset(m, 0, sizeof(*m));
	CHECK(gmem_add(m, 0, sizeof(ram), ram, 0, &e) == 0);
}

TEST(flat_load_copies_the_image)
{
	struct gmem m;
	struct errbuf e;
	static const uint8_t image[] = {0xf4, 0x90, 0xeb, 0xfe};

	one_region(&m);
	CHECK(loader_flat_load_buf(&m, image, sizeof(image), FLAT_LOAD_GPA, &e) == 0);
	CHECK(memcmp(ram + FLAT_LOAD_GPA, image, sizeof(image)) == 0);
}

TEST(flat_load_refuses_empty_and_oversized)
{
	struct gmem m;
	struct errbuf e;
	static uint8_t big[(1 << 20) + 1];

	one_region(&m);
	CHECK(loader_flat_load_buf(&m, big, 0, FLAT_LOAD_GPA, &e) == -1);
	CHECK_CONTAINS(e.msg, "empty");
	CHECK(loader_flat_load_buf(&m, big, sizeof(big), FLAT_LOAD_GPA, &e) == -1);
	CHECK_CONTAINS(e.msg, "does not fit");
	CHECK(loader_flat_load_buf(&m, big, 1, 4 << 20, &e) == -1);
}

TEST(read_image_reports_missing_empty_and_oversized_files)
{
	struct errbuf e;
	char path[] = "/tmp/kvmlab-unit-XXXXXX";
	size_t len;
	int fd = mkstemp(path);
	void *img;

	CHECK(fd >= 0);
	CHECK(loader_read_image(path, 100, &len, &e) == NULL);
	CHECK_CONTAINS(e.msg, "is empty");
	CHECK(write(fd, "abcdef", 6) == 6);
	CHECK(loader_read_image(path, 5, &len, &e) == NULL);
	CHECK_CONTAINS(e.msg, "does not fit");
	img = loader_read_image(path, 6, &len, &e);
	CHECK(img != NULL);
	CHECK_EQ(len, 6);
	CHECK(memcmp(img, "abcdef", 6) == 0);
	free(img);
	close(fd);
	unlink(path);
	CHECK(loader_read_image(path, 100, &len, &e) == NULL);
	CHECK_CONTAINS(e.msg, "No such file");
	CHECK(loader_read_image("/tmp", 100, &len, &e) == NULL);
	CHECK_CONTAINS(e.msg, "not a regular file");
}
