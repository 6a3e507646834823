/* Multiboot v1 loader (kvm-unit-tests style): ELF or address-field images, info, memory map,
 * modules. */
#include <string.h>

#include "kvmlab/boot_params.h"
#include "kvmlab/multiboot.h"
#include "loader_internal.h"

#define WHO "multiboot"

#define MB_SUPPORTED_REQUIREMENTS (MB_HF_PAGE_ALIGN | MB_HF_MEMORY)
#define MB_MODULES_GPA		  (BOOT_INFO_GPA + 0x800) /* after struct mb_info */
#define MB_LOADER_NAME		  "kvmlab"

/* Offset of the first 4-byte aligned header magic in the first 8 KiB, or -1. */
static long mb_find_magic(const uint8_t *d, size_t len)
{
	size_t limit = len < MB_SEARCH_LEN ? len : MB_SEARCH_LEN;

	for (size_t off = 0; off + 12 <= limit; off += 4) {
		uint32_t magic;

		memcpy(&magic, d + off, sizeof(magic));
		if (magic == MB_HEADER_MAGIC)
			return (long)off;
	}
	return -1;
}

bool loader_multiboot_probe(const void *image, size_t len)
{
	return mb_find_magic(image, len) >= 0;
}

struct mb_plan {
	struct mb_header h;
	uint64_t entry;
	uint64_t kernel_end; /* highest loaded byte + 1, bss included */
	/* with MB_HF_ADDRESSES: the file bytes to copy */
	uint64_t file_off, load, load_len, bss_end;
	struct elf_file elf;
	bool is_elf;
	uint64_t module_gpa;
	size_t cmdline_len, image_name_len, initrd_name_len;
};

static int mb_check_header(struct mb_plan *p, const uint8_t *d, size_t len, long *hdr_off,
			   struct errbuf *e)
{
	*hdr_off = mb_find_magic(d, len);
	if (*hdr_off < 0)
		return err_set(e, WHO ": no multiboot header in the image's first 8 KiB");
	memset(&p->h, 0, sizeof(p->h));
	memcpy(&p->h, d + *hdr_off, 12);
	if (p->h.magic + p->h.flags + p->h.checksum != 0)
		return err_set(e, WHO ": header at offset 0x%lx has a bad checksum", *hdr_off);
	if (p->h.flags & 0xffff & ~MB_SUPPORTED_REQUIREMENTS)
		return err_set(e, WHO ": image requires features kvmlab lacks (flags 0x%x%s)",
			       p->h.flags & 0xffff & ~MB_SUPPORTED_REQUIREMENTS,
			       (p->h.flags & MB_HF_VIDEO) ? ": a video mode" : "");
	return 0;
}

/* The a.out-kludge layout: header_addr etc. say where the file's bytes go. */
static int mb_plan_addresses(struct mb_plan *p, const uint8_t *d, size_t len, long hdr_off,
			     const struct gmem *mem, struct errbuf *e)
{
	const struct mb_header *h = &p->h;
	uint64_t end;

	if ((size_t)hdr_off + sizeof(*h) > len)
		return err_set(e, WHO ": image is truncated inside its multiboot header");
	memcpy(&p->h, d + hdr_off, sizeof(p->h));
	if (h->load_addr > h->header_addr || h->header_addr - h->load_addr > (uint64_t)hdr_off)
		return err_set(e,
			       WHO ": header_addr 0x%x and load_addr 0x%x do not match the "
				   "header's place in the file",
			       h->header_addr, h->load_addr);
	if (h->load_end_addr && h->load_end_addr < h->load_addr)
		return err_set(e, WHO ": load_end_addr 0x%x is below load_addr 0x%x",
			       h->load_end_addr, h->load_addr);
	p->file_off = (uint64_t)hdr_off - (h->header_addr - h->load_addr);
	p->load = h->load_addr;
	p->load_len =
	    h->load_end_addr ? (uint64_t)h->load_end_addr - h->load_addr : len - p->file_off;
	if (p->load_len > len - p->file_off)
		return err_set(e,
			       WHO ": image is truncated: the header loads 0x%llx bytes, the "
				   "file holds 0x%llx",
			       (unsigned long long)p->load_len,
			       (unsigned long long)(len - p->file_off));
	end = p->load + p->load_len;
	p->bss_end = h->bss_end_addr > end ? h->bss_end_addr : end;
	if (p->load < BOOT_KERNEL_MIN)
		return err_set(e, WHO ": image loads at 0x%llx, below 1 MiB",
			       (unsigned long long)p->load);
	if (p->bss_end == p->load || !gmem_ptr(mem, p->load, p->bss_end - p->load, true))
		return err_set(e, WHO ": image (0x%llx-0x%llx) does not fit in guest RAM",
			       (unsigned long long)p->load, (unsigned long long)(p->bss_end - 1));
	if (h->entry_addr < p->load || h->entry_addr >= p->bss_end)
		return err_set(e, WHO ": entry 0x%x lies outside the loaded image", h->entry_addr);
	p->entry = h->entry_addr;
	p->kernel_end = p->bss_end;
	return 0;
}

static int mb_plan_elf(struct mb_plan *p, const uint8_t *d, size_t len, const struct gmem *mem,
		       struct errbuf *e)
{
	if (elf_open(&p->elf, d, len, WHO, e) ||
	    elf_check_loads(&p->elf, mem, WHO, &p->kernel_end, e))
		return -1;
	if (!elf_loads_addr(&p->elf, p->elf.entry))
		return err_set(e, WHO ": ELF entry 0x%llx lies outside the loaded segments",
			       (unsigned long long)p->elf.entry);
	p->entry = p->elf.entry;
	p->is_elf = true;
	return 0;
}

static int mb_plan_info(struct mb_plan *p, const struct gmem *mem, const struct loader_args *a,
			struct errbuf *e)
{
	uint64_t low_end = loader_low_ram_end(mem);
	const char *image_name = a->image_name ? a->image_name : "kernel";
	const char *initrd_name = a->initrd_name ? a->initrd_name : "initrd";

	p->image_name_len = strlen(image_name);
	p->initrd_name_len = strlen(initrd_name);
	if (low_end < BOOT_KERNEL_MIN)
		return err_set(e, WHO ": guest RAM does not reach 1 MiB");
	if (p->image_name_len >= BOOT_CMDLINE_MAX / 2)
		return err_set(e, WHO ": the image's name is too long");
	if (loader_cmdline_len(a, BOOT_CMDLINE_MAX - p->image_name_len - 1, WHO, &p->cmdline_len,
			       e))
		return -1;
	if (p->initrd_name_len + sizeof(MB_LOADER_NAME) + 1 > BOOT_STRINGS_MAX)
		return err_set(e, WHO ": the module's name is too long");
	if (loader_check_dest(mem, BOOT_INFO_GPA, LOADER_PAGE, WHO, "multiboot info", e) ||
	    loader_check_dest(mem, BOOT_MAP_GPA, LOADER_PAGE, WHO, "memory map", e) ||
	    loader_check_dest(mem, BOOT_CMDLINE_GPA, BOOT_CMDLINE_MAX, WHO, "command line", e) ||
	    loader_check_dest(mem, BOOT_STRINGS_GPA, BOOT_STRINGS_MAX, WHO, "strings", e))
		return -1;
	p->module_gpa = 0;
	if (a->initrd && a->initrd_len) {
		/* Right after the kernel, page-aligned, as QEMU places it. */
		uint64_t start = (p->kernel_end + LOADER_PAGE - 1) & ~(LOADER_PAGE - 1);

		if (start > low_end || a->initrd_len > low_end - start)
			return err_set(e,
				       WHO ": kernel and module do not fit in RAM: the %zu-byte "
					   "module would end past 0x%llx",
				       a->initrd_len, (unsigned long long)low_end);
		p->module_gpa = start;
	}
	return 0;
}

/* Writes info, memory map and strings (all destinations checked in mb_plan_info). */
static int mb_write_info(const struct mb_plan *p, struct gmem *mem, const struct loader_args *a)
{
	const char *image_name = a->image_name ? a->image_name : "kernel";
	const char *initrd_name = a->initrd_name ? a->initrd_name : "initrd";
	struct boot_e820_entry map[BOOT_MAX_MAP];
	struct mb_mmap_entry mm[BOOT_MAX_MAP];
	unsigned n = loader_e820(mem, map, BOOT_MAX_MAP);
	uint64_t low_end = loader_low_ram_end(mem);
	uint64_t strings = BOOT_STRINGS_GPA;
	char *cmdline = gmem_ptr(mem, BOOT_CMDLINE_GPA, BOOT_CMDLINE_MAX, true);
	struct mb_module mod = {0};
	struct mb_info info = {
	    .flags = MB_INFO_MEMORY | MB_INFO_CMDLINE | MB_INFO_MODS | MB_INFO_MEM_MAP |
		     MB_INFO_LOADER_NAME,
	    .mem_lower = BOOT_EBDA_GPA >> 10,
	    .mem_upper = (uint32_t)((low_end - BOOT_KERNEL_MIN) >> 10),
	    .cmdline = (uint32_t)BOOT_CMDLINE_GPA,
	    .mods_addr = (uint32_t)MB_MODULES_GPA,
	    .mmap_length = n * sizeof(struct mb_mmap_entry),
	    .mmap_addr = (uint32_t)BOOT_MAP_GPA,
	    .boot_loader_name = (uint32_t)strings,
	};

	if (!cmdline || n * sizeof(struct mb_mmap_entry) > LOADER_PAGE)
		return -1;
	for (unsigned i = 0; i < n; i++)
		mm[i] = (struct mb_mmap_entry){.size = sizeof(mm[i]) - sizeof(mm[i].size),
					       .addr = map[i].addr,
					       .len = map[i].size,
					       .type = map[i].type};
	/* QEMU's convention: the image's name, then its arguments. */
	memcpy(cmdline, image_name, p->image_name_len);
	cmdline[p->image_name_len] = ' ';
	memcpy(cmdline + p->image_name_len + 1, a->cmdline ? a->cmdline : "", p->cmdline_len);
	cmdline[p->image_name_len + (p->cmdline_len ? 1 + p->cmdline_len : 0)] = '\0';
	if (gmem_write(mem, strings, MB_LOADER_NAME, sizeof(MB_LOADER_NAME)))
		return -1;
	strings += sizeof(MB_LOADER_NAME);
	if (p->module_gpa) {
		info.mods_count = 1;
		mod = (struct mb_module){.mod_start = (uint32_t)p->module_gpa,
					 .mod_end = (uint32_t)(p->module_gpa + a->initrd_len),
					 .string = (uint32_t)strings};
		if (gmem_write(mem, strings, initrd_name, p->initrd_name_len + 1) ||
		    gmem_write(mem, MB_MODULES_GPA, &mod, sizeof(mod)) ||
		    gmem_write(mem, p->module_gpa, a->initrd, a->initrd_len))
			return -1;
	}
	return gmem_write(mem, BOOT_MAP_GPA, mm, n * sizeof(mm[0])) ||
	       gmem_write(mem, BOOT_INFO_GPA, &info, sizeof(info));
}

int loader_multiboot_load_buf(struct gmem *mem, const void *image, size_t len,
			      const struct loader_args *a, struct boot_entry *out, struct errbuf *e)
{
	const uint8_t *d = image;
	struct mb_plan p = {0};
	long hdr_off;
	int r;

	if (mb_check_header(&p, d, len, &hdr_off, e))
		return -1;
	r = (p.h.flags & MB_HF_ADDRESSES) ? mb_plan_addresses(&p, d, len, hdr_off, mem, e)
					  : mb_plan_elf(&p, d, len, mem, e);
	if (r || mb_plan_info(&p, mem, a, e))
		return -1;
	if (p.is_elf) {
		r = elf_write_loads(&p.elf, mem);
	} else {
		uint8_t *dst = gmem_ptr(mem, p.load, p.bss_end - p.load, true);

		r = dst ? 0 : -1;
		if (dst) {
			memcpy(dst, d + p.file_off, p.load_len);
			memset(dst + p.load_len, 0, p.bss_end - p.load - p.load_len);
		}
	}
	if (r || mb_write_info(&p, mem, a))
		return err_set(e, WHO ": guest RAM refused a checked write");
	*out = (struct boot_entry){.mode = BOOT_PROT32,
				   .rip = p.entry,
				   .eax = MB_BOOTLOADER_MAGIC,
				   .ebx = (uint32_t)BOOT_INFO_GPA};
	return 0;
}
