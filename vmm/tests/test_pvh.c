/* Unit tests of the PVH loader on plain memory: the entry note, hvm_start_info, refusals. */
#include <elf.h>
#include <stdint.h>
#include <stdlib.h>

#include "kvmlab/boot_params.h"
#include "kvmlab/loader.h"
#include "kvmlab/pvh.h"
#include "test_ram.h"
#include "unit.h"

#define RAM_SIZE  (64ull << 20)
#define LOAD_GPA  0x1000000ull
#define CODE_OFF  0x1000u
#define CODE_LEN  0x800u
#define NOTE_OFF  0x400u
#define ENTRY_GPA (LOAD_GPA + 0x50)
#define FILE_LEN  (CODE_OFF + CODE_LEN)

/* Appends a note (name padded to 4, descriptor padded to 4); returns the new offset. */
static size_t put_note(uint8_t *img, size_t off, const char *name, uint32_t type, const void *desc,
		       uint32_t desc_len)
{
	uint32_t h[3] = {(uint32_t)strlen(name) + 1, desc_len, type};

	memcpy(img + off, h, sizeof(h));
	off += sizeof(h);
	memcpy(img + off, name, h[0]);
	off += (h[0] + 3) & ~3u;
	memcpy(img + off, desc, desc_len);
	return off + ((desc_len + 3) & ~3u);
}

/* An ELF64 vmlinux look-alike: one PT_LOAD at 16 MiB and a PT_NOTE with a GNU note
 * before the Xen PHYS32_ENTRY note (desc_len 8 as Linux writes it, or 4). */
static uint8_t *make_elf64(size_t *len, uint32_t desc_len)
{
	uint8_t *img = calloc(1, FILE_LEN);
	uint64_t entry = ENTRY_GPA;
	static const uint8_t build_id[20] = {1, 2, 3};
	size_t end;
	Elf64_Ehdr eh = {
	    .e_ident = {ELFMAG0, ELFMAG1, ELFMAG2, ELFMAG3, ELFCLASS64, ELFDATA2LSB, EV_CURRENT},
	    .e_type = ET_EXEC,
	    .e_machine = EM_X86_64,
	    .e_version = EV_CURRENT,
	    .e_entry = 0xffffffff81000000ull, /* virtual: PVH does not use it */
	    .e_phoff = sizeof(Elf64_Ehdr),
	    .e_ehsize = sizeof(Elf64_Ehdr),
	    .e_phentsize = sizeof(Elf64_Phdr),
	    .e_phnum = 2,
	};
	Elf64_Phdr ph[2] = {
	    {.p_type = PT_LOAD,
	     .p_offset = CODE_OFF,
	     .p_vaddr = 0xffffffff81000000ull,
	     .p_paddr = LOAD_GPA,
	     .p_filesz = CODE_LEN,
	     .p_memsz = CODE_LEN + 0x1000},
	    {.p_type = PT_NOTE, .p_offset = NOTE_OFF},
	};

	CHECK(img);
	end = put_note(img, NOTE_OFF, "GNU", 3, build_id, sizeof(build_id));
	end = put_note(img, end, PVH_NOTE_NAME, PVH_NOTE_PHYS32_ENTRY, &entry, desc_len);
	ph[1].p_filesz = ph[1].p_memsz = end - NOTE_OFF;
	memcpy(img, &eh, sizeof(eh));
	memcpy(img + sizeof(eh), ph, sizeof(ph));
	for (unsigned i = 0; i < CODE_LEN; i++)
		img[CODE_OFF + i] = (uint8_t)(i ^ 0x5a);
	*len = FILE_LEN;
	return img;
}

TEST(pvh_enters_at_the_note_with_start_info_memmap_cmdline_and_module)
{
	static const char initrd[] = "an initramfs";
	struct loader_args a = {.cmdline = "console=ttyS0",
				.initrd = initrd,
				.initrd_len = sizeof(initrd),
				.rsdp = 0xe0000};
	struct pvh_start_info si;
	struct pvh_module mod;
	struct pvh_memmap_entry mm[4];
	struct boot_entry out;
	struct errbuf e;
	struct ram r;
	size_t len;
	uint8_t *img = make_elf64(&len, 8);
	struct errbuf probe;

	CHECK(strcmp(loader_detect(img, len, &probe)->name, "pvh") == 0);
	ram_init(&r, RAM_SIZE);
	CHECK(loader_pvh_load_buf(&r.mem, img, len, &a, &out, &e) == 0);
	CHECK_EQ(out.mode, BOOT_PROT32);
	CHECK_EQ(out.rip, ENTRY_GPA);
	CHECK_EQ(out.ebx, BOOT_INFO_GPA);
	CHECK(memcmp(r.host + LOAD_GPA, img + CODE_OFF, CODE_LEN) == 0);
	memcpy(&si, r.host + out.ebx, sizeof(si));
	CHECK_EQ(si.magic, PVH_START_MAGIC);
	CHECK_EQ(si.version, 1);
	CHECK_EQ(si.rsdp_paddr, 0xe0000);
	CHECK(strcmp((char *)r.host + si.cmdline_paddr, "console=ttyS0") == 0);
	CHECK_EQ(si.nr_modules, 1);
	memcpy(&mod, r.host + si.modlist_paddr, sizeof(mod));
	CHECK_EQ(mod.paddr, (RAM_SIZE - sizeof(initrd)) & ~0xfffull);
	CHECK_EQ(mod.size, sizeof(initrd));
	CHECK(memcmp(r.host + mod.paddr, initrd, sizeof(initrd)) == 0);
	CHECK_EQ(si.memmap_entries, 4);
	memcpy(mm, r.host + si.memmap_paddr, sizeof(mm));
	CHECK_EQ(mm[0].type, E820_RAM);
	CHECK_EQ(mm[1].addr, BOOT_EBDA_GPA);
	CHECK_EQ(mm[1].type, E820_RESERVED);
	CHECK_EQ(mm[2].addr + mm[2].size, RAM_SIZE);
	free(img);
	ram_free(&r);
}

TEST(pvh_takes_a_four_byte_entry_note)
{
	struct loader_args a = {0};
	struct boot_entry out;
	struct errbuf e;
	struct ram r;
	size_t len;
	uint8_t *img = make_elf64(&len, 4);

	ram_init(&r, RAM_SIZE);
	CHECK(loader_pvh_load_buf(&r.mem, img, len, &a, &out, &e) == 0);
	CHECK_EQ(out.rip, ENTRY_GPA);
	free(img);
	ram_free(&r);
}

static Elf64_Phdr *phdrs(uint8_t *img)
{
	return (Elf64_Phdr *)(img + sizeof(Elf64_Ehdr));
}

static void no_note(uint8_t *img, size_t *len)
{
	(void)len;
	phdrs(img)[1].p_type = PT_NULL;
}

static void entry_outside(uint8_t *img, size_t *len)
{
	(void)len;
	phdrs(img)[0].p_paddr = 0x2000000; /* the entry at 16 MiB + 0x50 is no longer loaded */
}

static void truncated_code(uint8_t *img, size_t *len)
{
	(void)img;
	*len -= 0x100;
}

static void not_elf(uint8_t *img, size_t *len)
{
	(void)len;
	img[1] = 'X';
}

static void huge_segment(uint8_t *img, size_t *len)
{
	(void)len;
	phdrs(img)[0].p_memsz = 0xffffffffffff0000ull;
}

static void elf32_for_x86_64(uint8_t *img, size_t *len)
{
	(void)len;
	((Elf64_Ehdr *)img)->e_machine = EM_386;
}

TEST(pvh_refuses_malformed_images_without_writing_memory)
{
	static const struct {
		void (*mutate)(uint8_t *img, size_t *len);
		const char *message;
	} cases[] = {
	    {no_note, "has no PVH entry note (\"Xen\", type 18)"},
	    {entry_outside, "the PVH entry 0x1000050 lies outside the loaded segments"},
	    {truncated_code, "truncated?"},
	    {not_elf, "not an ELF file"},
	    {huge_segment, "reaches past 4 GiB"},
	    {elf32_for_x86_64, "is for machine 3, not x86-64"},
	};
	struct loader_args a = {0};
	struct boot_entry out;
	struct errbuf e;
	struct ram r;

	ram_init(&r, RAM_SIZE);
	for (unsigned i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		size_t len;
		uint8_t *img = make_elf64(&len, 8);

		cases[i].mutate(img, &len);
		CHECK(loader_pvh_load_buf(&r.mem, img, len, &a, &out, &e) == -1);
		CHECK_CONTAINS(e.msg, cases[i].message);
		CHECK(!strncmp(e.msg, "pvh: ", 5));
		CHECK(ram_untouched(&r));
		free(img);
	}
	ram_free(&r);
}

TEST(pvh_refuses_an_initrd_that_does_not_fit)
{
	size_t big = RAM_SIZE - LOAD_GPA; /* overlaps the kernel */
	uint8_t *initrd = calloc(1, big);
	struct loader_args a = {.initrd = initrd, .initrd_len = big};
	struct boot_entry out;
	struct errbuf e;
	struct ram r;
	size_t len;
	uint8_t *img = make_elf64(&len, 8);

	CHECK(initrd);
	ram_init(&r, RAM_SIZE);
	CHECK(loader_pvh_load_buf(&r.mem, img, len, &a, &out, &e) == -1);
	CHECK_CONTAINS(e.msg, "kernel and initrd do not fit in RAM");
	CHECK(ram_untouched(&r));
	free(initrd);
	free(img);
	ram_free(&r);
}
