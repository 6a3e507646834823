/* Unit tests of the multiboot loader on plain memory: ELF32/ELF64, address fields, info, refusals.
 */
#include <elf.h>
#include <stdint.h>
#include <stdlib.h>

#include "kvmlab/boot_params.h"
#include "kvmlab/loader.h"
#include "kvmlab/multiboot.h"
#include "test_ram.h"
#include "unit.h"

#define RAM_SIZE  (64ull << 20)
#define LOAD_GPA  0x200000u
#define CODE_OFF  0x1000u /* the segment's place in the file; the header starts it */
#define FILE_LEN  0x1100u
#define MEM_LEN	  0x2000u /* 0xf00 bytes of bss */
#define ENTRY_GPA (LOAD_GPA + 0x40)

static void put_header(uint8_t *img, uint32_t flags)
{
	struct mb_header h = {.magic = MB_HEADER_MAGIC, .flags = flags};

	h.checksum = -(h.magic + h.flags);
	memcpy(img + CODE_OFF, &h, 12);
}

/* An ELF32 executable of one PT_LOAD segment whose first bytes are a multiboot header. */
static uint8_t *make_elf32(size_t *len)
{
	uint8_t *img = calloc(1, FILE_LEN);
	Elf32_Ehdr eh = {
	    .e_ident = {ELFMAG0, ELFMAG1, ELFMAG2, ELFMAG3, ELFCLASS32, ELFDATA2LSB, EV_CURRENT},
	    .e_type = ET_EXEC,
	    .e_machine = EM_386,
	    .e_version = EV_CURRENT,
	    .e_entry = ENTRY_GPA,
	    .e_phoff = sizeof(Elf32_Ehdr),
	    .e_ehsize = sizeof(Elf32_Ehdr),
	    .e_phentsize = sizeof(Elf32_Phdr),
	    .e_phnum = 1,
	};
	Elf32_Phdr ph = {.p_type = PT_LOAD,
			 .p_offset = CODE_OFF,
			 .p_vaddr = LOAD_GPA,
			 .p_paddr = LOAD_GPA,
			 .p_filesz = FILE_LEN - CODE_OFF,
			 .p_memsz = MEM_LEN,
			 .p_flags = PF_R | PF_X};

	CHECK(img);
	memcpy(img, &eh, sizeof(eh));
	memcpy(img + sizeof(eh), &ph, sizeof(ph));
	for (unsigned i = 12; i < FILE_LEN - CODE_OFF; i++)
		img[CODE_OFF + i] = 0x90;
	put_header(img, MB_HF_PAGE_ALIGN | MB_HF_MEMORY);
	*len = FILE_LEN;
	return img;
}

static Elf32_Phdr *phdr32(uint8_t *img)
{
	return (Elf32_Phdr *)(img + sizeof(Elf32_Ehdr));
}

TEST(multiboot_elf32_gets_info_memory_map_cmdline_and_module)
{
	static const char module[] = "NR_CPUS=1\nMEMSIZE=64\n";
	struct loader_args a = {.cmdline = "arg=1 two",
				.image_name = "x86/test.flat",
				.initrd = module,
				.initrd_len = sizeof(module) - 1,
				.initrd_name = "env"};
	struct boot_entry out;
	struct mb_info mi;
	struct mb_module mod;
	struct mb_mmap_entry mm[8];
	struct errbuf e;
	struct ram r;
	size_t len;
	uint8_t *img = make_elf32(&len);

	ram_init(&r, RAM_SIZE);
	memset(r.host + LOAD_GPA + 0x100, 0xcc, MEM_LEN - 0x100); /* bss must come out zeroed */
	CHECK(loader_multiboot_load_buf(&r.mem, img, len, &a, &out, &e) == 0);
	CHECK_EQ(out.mode, BOOT_PROT32);
	CHECK_EQ(out.rip, ENTRY_GPA);
	CHECK_EQ(out.eax, MB_BOOTLOADER_MAGIC);
	CHECK_EQ(out.ebx, BOOT_INFO_GPA);
	CHECK(memcmp(r.host + LOAD_GPA, img + CODE_OFF, FILE_LEN - CODE_OFF) == 0);
	CHECK_EQ(r.host[LOAD_GPA + FILE_LEN - CODE_OFF], 0);
	CHECK_EQ(r.host[LOAD_GPA + MEM_LEN - 1], 0);
	memcpy(&mi, r.host + out.ebx, sizeof(mi));
	CHECK((mi.flags & (MB_INFO_MEMORY | MB_INFO_CMDLINE | MB_INFO_MODS | MB_INFO_MEM_MAP |
			   MB_INFO_LOADER_NAME)) ==
	      (MB_INFO_MEMORY | MB_INFO_CMDLINE | MB_INFO_MODS | MB_INFO_MEM_MAP |
	       MB_INFO_LOADER_NAME));
	CHECK_EQ(mi.mem_lower, 639);
	CHECK_EQ(mi.mem_upper, (RAM_SIZE - 0x100000) >> 10);
	CHECK(strcmp((char *)r.host + mi.cmdline, "x86/test.flat arg=1 two") == 0);
	CHECK(strcmp((char *)r.host + mi.boot_loader_name, "kvmlab") == 0);
	CHECK_EQ(mi.mods_count, 1);
	memcpy(&mod, r.host + mi.mods_addr, sizeof(mod));
	CHECK_EQ(mod.mod_start, LOAD_GPA + MEM_LEN); /* after the kernel, page-aligned */
	CHECK_EQ(mod.mod_end - mod.mod_start, sizeof(module) - 1);
	CHECK(memcmp(r.host + mod.mod_start, module, sizeof(module) - 1) == 0);
	CHECK(strcmp((char *)r.host + mod.string, "env") == 0);
	CHECK_EQ(mi.mmap_length, 4 * sizeof(struct mb_mmap_entry));
	memcpy(mm, r.host + mi.mmap_addr, mi.mmap_length);
	CHECK_EQ(mm[0].size, 20);
	CHECK_EQ(mm[0].addr, 0);
	CHECK_EQ(mm[0].len, BOOT_EBDA_GPA);
	CHECK_EQ(mm[0].type, 1);
	CHECK_EQ(mm[1].type, 2);
	CHECK_EQ(mm[2].addr, 0x100000);
	CHECK_EQ(mm[2].len, RAM_SIZE - 0x100000);
	CHECK_EQ(mm[3].addr, BOOT_CHIPSET_GPA);
	free(img);
	ram_free(&r);
}

TEST(multiboot_without_cmdline_passes_the_image_name)
{
	struct loader_args a = {0};
	struct boot_entry out;
	struct mb_info mi;
	struct errbuf e;
	struct ram r;
	size_t len;
	uint8_t *img = make_elf32(&len);

	ram_init(&r, RAM_SIZE);
	CHECK(loader_multiboot_load_buf(&r.mem, img, len, &a, &out, &e) == 0);
	memcpy(&mi, r.host + out.ebx, sizeof(mi));
	CHECK(strcmp((char *)r.host + mi.cmdline, "kernel") == 0);
	CHECK_EQ(mi.mods_count, 0);
	free(img);
	ram_free(&r);
}

TEST(multiboot_address_fields_load_a_raw_image)
{
	uint8_t img[0x400] = {0};
	struct mb_header h = {
	    .magic = MB_HEADER_MAGIC,
	    .flags = MB_HF_ADDRESSES,
	    .header_addr = 0x300020, /* the header sits at file offset 0x20 */
	    .load_addr = 0x300000,
	    .load_end_addr = 0x300400,
	    .bss_end_addr = 0x301000,
	    .entry_addr = 0x300100,
	};
	struct loader_args a = {0};
	struct boot_entry out;
	struct errbuf e;
	struct ram r;

	h.checksum = -(h.magic + h.flags);
	memcpy(img + 0x20, &h, sizeof(h));
	img[0x3ff] = 0xab;
	ram_init(&r, RAM_SIZE);
	CHECK(loader_multiboot_load_buf(&r.mem, img, sizeof(img), &a, &out, &e) == 0);
	CHECK_EQ(out.rip, 0x300100);
	CHECK(memcmp(r.host + 0x300000, img, sizeof(img)) == 0);
	/* an entry outside what is loaded is refused */
	h.entry_addr = 0x302000;
	memcpy(img + 0x20, &h, sizeof(h));
	CHECK(loader_multiboot_load_buf(&r.mem, img, sizeof(img), &a, &out, &e) == -1);
	CHECK_CONTAINS(e.msg, "entry 0x302000 lies outside the loaded image");
	ram_free(&r);
}

static void no_header(uint8_t *img, size_t *len)
{
	(void)len;
	memset(img + CODE_OFF, 0, 12);
}

static void bad_checksum(uint8_t *img, size_t *len)
{
	(void)len;
	img[CODE_OFF + 8] ^= 1;
}

static void video_mode(uint8_t *img, size_t *len)
{
	(void)len;
	put_header(img, MB_HF_VIDEO);
}

static void below_1mib(uint8_t *img, size_t *len)
{
	(void)len;
	phdr32(img)->p_paddr = 0x8000;
}

static void truncated_segment(uint8_t *img, size_t *len)
{
	(void)img;
	*len -= 0x10;
}

static void past_ram(uint8_t *img, size_t *len)
{
	(void)len;
	phdr32(img)->p_paddr = (uint32_t)RAM_SIZE - 0x1000;
}

static void wrong_machine(uint8_t *img, size_t *len)
{
	(void)len;
	((Elf32_Ehdr *)img)->e_machine = EM_ARM;
}

static void entry_outside(uint8_t *img, size_t *len)
{
	(void)len;
	((Elf32_Ehdr *)img)->e_entry = 0x900000;
}

static void phdrs_outside(uint8_t *img, size_t *len)
{
	(void)len;
	((Elf32_Ehdr *)img)->e_phoff = 0x10000;
}

TEST(multiboot_refuses_malformed_images_without_writing_memory)
{
	static const struct {
		void (*mutate)(uint8_t *img, size_t *len);
		const char *message;
	} cases[] = {
	    {no_header, "no multiboot header in the image's first 8 KiB"},
	    {bad_checksum, "bad checksum"},
	    {video_mode, "requires features kvmlab lacks (flags 0x4: a video mode)"},
	    {below_1mib, "below 1 MiB"},
	    {truncated_segment, "lies outside the 4336-byte file: truncated?"},
	    {past_ram, "does not fit in guest RAM"},
	    {wrong_machine, "is for machine 40, not i386"},
	    {entry_outside, "ELF entry 0x900000 lies outside the loaded segments"},
	    {phdrs_outside, "program headers lie outside"},
	};
	struct loader_args a = {0};
	struct boot_entry out;
	struct errbuf e;
	struct ram r;

	ram_init(&r, RAM_SIZE);
	for (unsigned i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		size_t len;
		uint8_t *img = make_elf32(&len);

		cases[i].mutate(img, &len);
		CHECK(loader_multiboot_load_buf(&r.mem, img, len, &a, &out, &e) == -1);
		CHECK_CONTAINS(e.msg, cases[i].message);
		CHECK(!strncmp(e.msg, "multiboot: ", 11));
		CHECK(ram_untouched(&r));
		free(img);
	}
	ram_free(&r);
}

TEST(multiboot_refuses_a_module_that_does_not_fit)
{
	size_t big = RAM_SIZE - LOAD_GPA - MEM_LEN + 1;
	uint8_t *module = calloc(1, big);
	struct loader_args a = {.initrd = module, .initrd_len = big};
	struct boot_entry out;
	struct errbuf e;
	struct ram r;
	size_t len;
	uint8_t *img = make_elf32(&len);

	CHECK(module);
	ram_init(&r, RAM_SIZE);
	CHECK(loader_multiboot_load_buf(&r.mem, img, len, &a, &out, &e) == -1);
	CHECK_CONTAINS(e.msg, "kernel and module do not fit in RAM");
	CHECK(ram_untouched(&r));
	free(module);
	free(img);
	ram_free(&r);
}
