/* Fuzz target: the PVH loader (ELF with the Xen PHYS32_ENTRY note, hvm_start_info, module). */
#include <string.h>

#include "kernel.h"
#include "kvmlab/pvh.h"

/* A success leaves the start info EBX points at: command line, module and memory map. */
static void pvh_check(const struct fuzz_kernel *k, const uint8_t *img, size_t len,
		      const struct boot_entry *be)
{
	(void)img; /* the image only matters to the bzImage checks */
	(void)len;
	const struct pvh_start_info *si = gmem_ptr(&k->g, BOOT_INFO_GPA, sizeof(*si), false);
	const struct pvh_module *mod;
	const char *cmdline;

	FUZZ_CHECK(be->mode == BOOT_PROT32 && be->ebx == BOOT_INFO_GPA && si &&
		       si->magic == PVH_START_MAGIC,
		   "no start info at ebx 0x%x", be->ebx);
	cmdline = fuzz_kernel_str(k, si->cmdline_paddr);
	FUZZ_CHECK(cmdline && !strcmp(cmdline, fuzz_kernel_cmdline(k)), "command line differs");
	FUZZ_CHECK(si->rsdp_paddr == k->a.rsdp, "RSDP 0x%llx", (unsigned long long)si->rsdp_paddr);
	FUZZ_CHECK(si->memmap_entries && si->memmap_entries <= BOOT_MAX_MAP &&
		       gmem_ptr(&k->g, si->memmap_paddr,
				si->memmap_entries * sizeof(struct pvh_memmap_entry), false),
		   "memory map of %u entries", si->memmap_entries);
	if (!k->a.initrd || !k->a.initrd_len) {
		FUZZ_CHECK(si->nr_modules == 0, "%u modules from nowhere", si->nr_modules);
		return;
	}
	mod = gmem_ptr(&k->g, si->modlist_paddr, sizeof(*mod), false);
	FUZZ_CHECK(si->nr_modules == 1 && mod && mod->size == k->a.initrd_len &&
		       fuzz_kernel_holds(k, mod->paddr, k->a.initrd, k->a.initrd_len),
		   "module not where the list says");
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	return fuzz_kernel_run(data, size, loader_pvh_load_buf, pvh_check);
}
