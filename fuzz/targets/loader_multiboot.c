/* Fuzz target: the multiboot v1 loader (ELF and address-field images, info, memory map, module). */
#include <stdio.h>
#include <string.h>

#include "kernel.h"
#include "kvmlab/multiboot.h"

/* A success leaves the info the entry registers point at: the image's name and arguments as
 * the command line, the module with its name, a memory map that fits its page. */
static void multiboot_check(const struct fuzz_kernel *k, const uint8_t *img, size_t len,
			    const struct boot_entry *be)
{
	(void)img; /* the image only matters to the bzImage checks */
	(void)len;
	const struct mb_info *info = gmem_ptr(&k->g, BOOT_INFO_GPA, sizeof(*info), false);
	const char *name = k->a.image_name ? k->a.image_name : "kernel";
	const char *args = fuzz_kernel_cmdline(k), *cmdline;
	const struct mb_module *mod;
	char want[BOOT_CMDLINE_MAX];

	FUZZ_CHECK(be->mode == BOOT_PROT32 && be->eax == MB_BOOTLOADER_MAGIC &&
		       be->ebx == BOOT_INFO_GPA && info,
		   "entry registers eax 0x%x ebx 0x%x", be->eax, be->ebx);
	snprintf(want, sizeof(want), "%s%s%s", name, *args ? " " : "", args);
	cmdline = fuzz_kernel_str(k, info->cmdline);
	FUZZ_CHECK(cmdline && !strcmp(cmdline, want), "command line differs");
	FUZZ_CHECK(info->mmap_length && info->mmap_length <= 4096 &&
		       gmem_ptr(&k->g, info->mmap_addr, info->mmap_length, false),
		   "memory map of %u bytes at 0x%x", info->mmap_length, info->mmap_addr);
	if (!k->a.initrd || !k->a.initrd_len) {
		FUZZ_CHECK(info->mods_count == 0, "%u modules from nowhere", info->mods_count);
		return;
	}
	mod = gmem_ptr(&k->g, info->mods_addr, sizeof(*mod), false);
	FUZZ_CHECK(info->mods_count == 1 && mod, "%u modules", info->mods_count);
	FUZZ_CHECK(mod->mod_end - mod->mod_start == k->a.initrd_len && !(mod->mod_start & 0xfff) &&
		       fuzz_kernel_holds(k, mod->mod_start, k->a.initrd, k->a.initrd_len),
		   "module not at 0x%x-0x%x", mod->mod_start, mod->mod_end);
	name = fuzz_kernel_str(k, mod->string);
	FUZZ_CHECK(name && !strcmp(name, k->a.initrd_name ? k->a.initrd_name : "initrd"),
		   "module string differs");
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	return fuzz_kernel_run(data, size, loader_multiboot_load_buf, multiboot_check);
}
