/* Unit tests of the bzImage loader on plain memory: zero page, e820, initrd, and every refusal. */
#include <stdint.h>
#include <stdlib.h>

#include "kvmlab/boot_params.h"
#include "kvmlab/loader.h"
#include "test_ram.h"
#include "unit.h"

#define RAM_SIZE    (64ull << 20)
#define SETUP_SECTS 4
#define KERNEL_OFF  ((SETUP_SECTS + 1) * 512)
#define KERNEL_LEN  0x3000

/* A minimal image with the documented header of protocol 2.15 and KERNEL_LEN code bytes. */
static uint8_t *make_image(size_t *len)
{
	uint8_t *img = calloc(1, KERNEL_OFF + KERNEL_LEN);
	struct boot_setup_header h = {
	    .setup_sects = SETUP_SECTS,
	    .syssize = KERNEL_LEN / 16,
	    .boot_flag = BOOT_FLAG_MAGIC,
	    .jump = {0xeb, 0x6a}, /* the header ends at 0x202 + 0x6a = 0x26c */
	    .header = BOOT_HDR_MAGIC,
	    .version = 0x020f,
	    .loadflags = BOOT_LOADED_HIGH,
	    .initrd_addr_max = 0x37ffffff,
	    .kernel_alignment = 0x200000,
	    .relocatable_kernel = 1,
	    .xloadflags = BOOT_XLF_KERNEL_64,
	    .cmdline_size = 255,
	    .pref_address = 0x1000000,
	    .init_size = 0x400000,
	};

	CHECK(img);
	memcpy(img + BOOT_HDR_OFFSET, &h, sizeof(h));
	for (size_t i = 0; i < KERNEL_LEN; i++)
		img[KERNEL_OFF + i] = (uint8_t)(i * 7 + 1);
	*len = KERNEL_OFF + KERNEL_LEN;
	return img;
}

static struct boot_setup_header *hdr(uint8_t *img)
{
	return (struct boot_setup_header *)(img + BOOT_HDR_OFFSET);
}

TEST(bzimage_loads_kernel_zero_page_cmdline_and_initrd)
{
	static const char initrd[] = "initrd bytes";
	struct loader_args a = {.cmdline = "console=ttyS0 quiet",
				.initrd = initrd,
				.initrd_len = sizeof(initrd),
				.rsdp = 0xe0000};
	struct boot_params bp;
	struct boot_entry out;
	struct errbuf e;
	struct ram r;
	size_t len;
	uint8_t *img = make_image(&len);
	uint64_t initrd_gpa = (RAM_SIZE - sizeof(initrd)) & ~0xfffull;

	ram_init(&r, RAM_SIZE);
	CHECK(loader_bzimage_load_buf(&r.mem, img, len, &a, &out, &e) == 0);
	CHECK_EQ(out.mode, BOOT_LONG64);
	CHECK_EQ(out.rip, 0x1000000 + BOOT_ENTRY64_OFFSET);
	CHECK_EQ(out.rsi, BOOT_INFO_GPA);
	CHECK(memcmp(r.host + 0x1000000, img + KERNEL_OFF, KERNEL_LEN) == 0);
	memcpy(&bp, r.host + BOOT_INFO_GPA, sizeof(bp));
	CHECK_EQ(bp.hdr.header, BOOT_HDR_MAGIC);
	CHECK_EQ(bp.hdr.version, 0x020f);
	CHECK_EQ(bp.hdr.type_of_loader, BOOT_LOADER_UNDEFINED);
	CHECK_EQ(bp.hdr.cmd_line_ptr, BOOT_CMDLINE_GPA);
	CHECK(strcmp((char *)r.host + BOOT_CMDLINE_GPA, a.cmdline) == 0);
	CHECK_EQ(bp.hdr.ramdisk_image, initrd_gpa);
	CHECK_EQ(bp.hdr.ramdisk_size, sizeof(initrd));
	CHECK(memcmp(r.host + initrd_gpa, initrd, sizeof(initrd)) == 0);
	CHECK_EQ(bp.acpi_rsdp_addr, 0xe0000);
	CHECK_EQ(bp.e820_entries, 4);
	CHECK_EQ(bp.e820_table[0].addr, 0);
	CHECK_EQ(bp.e820_table[0].size, BOOT_EBDA_GPA);
	CHECK_EQ(bp.e820_table[0].type, E820_RAM);
	CHECK_EQ(bp.e820_table[1].addr, BOOT_EBDA_GPA);
	CHECK_EQ(bp.e820_table[1].type, E820_RESERVED);
	CHECK_EQ(bp.e820_table[2].addr, BOOT_KERNEL_MIN);
	CHECK_EQ(bp.e820_table[2].size, RAM_SIZE - BOOT_KERNEL_MIN);
	CHECK_EQ(bp.e820_table[2].type, E820_RAM);
	CHECK_EQ(bp.e820_table[3].addr, BOOT_CHIPSET_GPA);
	CHECK_EQ(bp.e820_table[3].type, E820_RESERVED);
	free(img);
	ram_free(&r);
}

TEST(bzimage_before_protocol_2_10_loads_at_1_mib)
{
	struct loader_args a = {0};
	struct boot_entry out;
	struct errbuf e;
	struct ram r;
	size_t len;
	uint8_t *img = make_image(&len);

	hdr(img)->version = 0x0206;
	ram_init(&r, RAM_SIZE);
	CHECK(loader_bzimage_load_buf(&r.mem, img, len, &a, &out, &e) == 0);
	CHECK_EQ(out.rip, 0x100000 + BOOT_ENTRY64_OFFSET);
	CHECK(memcmp(r.host + 0x100000, img + KERNEL_OFF, KERNEL_LEN) == 0);
	free(img);
	ram_free(&r);
}

static void corrupt_magic(uint8_t *img, size_t *len)
{
	(void)len;
	hdr(img)->header = 0x12345678;
}

static void old_protocol(uint8_t *img, size_t *len)
{
	(void)len;
	hdr(img)->version = 0x0204;
}

static void zimage(uint8_t *img, size_t *len)
{
	(void)len;
	hdr(img)->loadflags = 0;
}

static void no_64bit_entry(uint8_t *img, size_t *len)
{
	(void)len;
	hdr(img)->xloadflags = 0;
}

static void truncate_kernel(uint8_t *img, size_t *len)
{
	(void)img;
	*len -= 0x1000;
}

static void truncate_header(uint8_t *img, size_t *len)
{
	(void)img;
	*len = 0x200;
}

static void truncate_setup(uint8_t *img, size_t *len)
{
	hdr(img)->setup_sects = 200;
	(void)len;
}

static void huge_init_size(uint8_t *img, size_t *len)
{
	(void)len;
	hdr(img)->init_size = 0x4000000;
}

static void tiny_cmdline_size(uint8_t *img, size_t *len)
{
	(void)len;
	hdr(img)->cmdline_size = 4;
}

TEST(bzimage_refuses_malformed_images_without_writing_memory)
{
	static const struct {
		void (*mutate)(uint8_t *img, size_t *len);
		const char *message;
	} cases[] = {
	    {truncate_header, "too short to hold a setup header"},
	    {corrupt_magic, "no 'HdrS' signature"},
	    {old_protocol, "boot protocol 2.04 is too old (kvmlab needs 2.06 or newer)"},
	    {zimage, "zImage"},
	    {no_64bit_entry, "no 64-bit entry point"},
	    {truncate_kernel, "image is truncated"},
	    {truncate_setup, "image is truncated"},
	    {huge_init_size, "kernel does not fit in RAM"},
	    {tiny_cmdline_size, "the command line is 5 bytes; this kernel takes at most 4"},
	};
	struct loader_args a = {.cmdline = "quiet"};
	struct boot_entry out;
	struct errbuf e;
	struct ram r;

	ram_init(&r, RAM_SIZE);
	for (unsigned i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		size_t len;
		uint8_t *img = make_image(&len);

		cases[i].mutate(img, &len);
		CHECK(loader_bzimage_load_buf(&r.mem, img, len, &a, &out, &e) == -1);
		CHECK_CONTAINS(e.msg, cases[i].message);
		CHECK(!strncmp(e.msg, "bzImage: ", 9));
		CHECK(ram_untouched(&r));
		free(img);
	}
	ram_free(&r);
}

TEST(bzimage_refuses_an_initrd_that_does_not_fit_above_the_kernel)
{
	size_t big = RAM_SIZE - 0x1000000 - 0x400000 + 0x1000; /* one page too many */
	uint8_t *initrd = calloc(1, big);
	struct loader_args a = {.initrd = initrd, .initrd_len = big};
	struct boot_entry out;
	struct errbuf e;
	struct ram r;
	size_t len;
	uint8_t *img = make_image(&len);

	CHECK(initrd);
	ram_init(&r, RAM_SIZE);
	CHECK(loader_bzimage_load_buf(&r.mem, img, len, &a, &out, &e) == -1);
	CHECK_CONTAINS(e.msg, "kernel and initrd do not fit in RAM");
	CHECK(ram_untouched(&r));
	a.initrd_len = big - 0x1000;
	CHECK(loader_bzimage_load_buf(&r.mem, img, len, &a, &out, &e) == 0);
	free(initrd);
	free(img);
	ram_free(&r);
}

TEST(bzimage_initrd_respects_initrd_addr_max)
{
	static const char initrd[8192];
	struct loader_args a = {.initrd = initrd, .initrd_len = sizeof(initrd)};
	struct boot_params bp;
	struct boot_entry out;
	struct errbuf e;
	struct ram r;
	size_t len;
	uint8_t *img = make_image(&len);

	hdr(img)->initrd_addr_max = 0x2000000 - 1;
	ram_init(&r, RAM_SIZE);
	CHECK(loader_bzimage_load_buf(&r.mem, img, len, &a, &out, &e) == 0);
	memcpy(&bp, r.host + BOOT_INFO_GPA, sizeof(bp));
	CHECK_EQ(bp.hdr.ramdisk_image, 0x2000000 - sizeof(initrd));
	free(img);
	ram_free(&r);
}

TEST(loader_detect_names_each_format_and_refuses_unknown_ones)
{
	struct errbuf e;
	size_t len;
	uint8_t *img = make_image(&len);
	static const uint8_t junk[64] = {1, 2, 3};
	static const uint8_t elf[64] = {0x7f, 'E', 'L', 'F', 2, 1, 1};

	CHECK(strcmp(loader_detect(img, len, &e)->name, "bzimage") == 0);
	CHECK(loader_detect(junk, sizeof(junk), &e) == NULL);
	CHECK_CONTAINS(e.msg, "kernel format not recognised");
	CHECK(loader_detect(elf, sizeof(elf), &e) == NULL);
	CHECK_CONTAINS(e.msg, "neither a multiboot header nor a PVH entry note");
	CHECK(loader_find("pvh", &e) != NULL);
	CHECK(loader_find("uimage", &e) == NULL);
	CHECK_CONTAINS(e.msg, "unknown loader 'uimage' (known: auto, bzimage, multiboot, pvh)");
	free(img);
}
