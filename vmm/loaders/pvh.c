/* PVH loader: an ELF kernel (e.g. vmlinux) entered at its XEN_ELFNOTE_PHYS32_ENTRY with
 * hvm_start_info. */
#include <string.h>

#include "kvmlab/boot_params.h"
#include "kvmlab/pvh.h"
#include "loader_internal.h"

#define WHO "pvh"

#define PVH_MODULES_GPA (BOOT_INFO_GPA + 0x100) /* after struct pvh_start_info */

/* The entry the note names, if the image is an ELF file that has one. */
static bool pvh_entry(const struct elf_file *f, uint64_t *entry)
{
	const uint8_t *desc;
	uint32_t desc_len;
	uint32_t e32;

	if (!elf_find_note(f, PVH_NOTE_NAME, PVH_NOTE_PHYS32_ENTRY, &desc, &desc_len))
		return false;
	if (desc_len == 8) {
		memcpy(entry, desc, 8);
	} else if (desc_len == 4) {
		memcpy(&e32, desc, 4);
		*entry = e32;
	} else {
		return false;
	}
	return true;
}

bool loader_pvh_probe(const void *image, size_t len)
{
	struct elf_file f;
	struct errbuf ignored;
	uint64_t entry;

	return elf_open(&f, image, len, WHO, &ignored) == 0 && pvh_entry(&f, &entry);
}

int loader_pvh_load_buf(struct gmem *mem, const void *image, size_t len,
			const struct loader_args *a, struct boot_entry *out, struct errbuf *e)
{
	struct boot_e820_entry map[BOOT_MAX_MAP];
	struct pvh_memmap_entry mm[BOOT_MAX_MAP];
	struct pvh_module mod = {0};
	struct pvh_start_info si;
	uint64_t entry, kernel_end, module_gpa = 0;
	static const char nul;
	struct elf_file f;
	size_t cmdline_len;
	unsigned n;

	if (elf_open(&f, image, len, WHO, e))
		return -1;
	if (!pvh_entry(&f, &entry))
		return err_set(e, WHO ": ELF file has no PVH entry note (\"Xen\", type 18)");
	if (elf_check_loads(&f, mem, WHO, &kernel_end, e))
		return -1;
	if (!elf_loads_addr(&f, entry))
		return err_set(e, WHO ": the PVH entry 0x%llx lies outside the loaded segments",
			       (unsigned long long)entry);
	if (loader_cmdline_len(a, BOOT_CMDLINE_MAX, WHO, &cmdline_len, e) ||
	    loader_check_dest(mem, BOOT_INFO_GPA, LOADER_PAGE, WHO, "start info", e) ||
	    loader_check_dest(mem, BOOT_MAP_GPA, sizeof(mm), WHO, "memory map", e) ||
	    loader_check_dest(mem, BOOT_CMDLINE_GPA, cmdline_len + 1, WHO, "command line", e))
		return -1;
	if (a->initrd && a->initrd_len &&
	    loader_place_high(kernel_end, loader_low_ram_end(mem), a->initrd_len, WHO, &module_gpa,
			      e))
		return -1;

	n = loader_e820(mem, map, BOOT_MAX_MAP);
	for (unsigned i = 0; i < n; i++)
		mm[i] = (struct pvh_memmap_entry){
		    .addr = map[i].addr, .size = map[i].size, .type = map[i].type};
	si = (struct pvh_start_info){
	    .magic = PVH_START_MAGIC,
	    .version = PVH_START_VERSION,
	    .cmdline_paddr = BOOT_CMDLINE_GPA,
	    .rsdp_paddr = a->rsdp,
	    .memmap_paddr = BOOT_MAP_GPA,
	    .memmap_entries = n,
	};
	if (module_gpa) {
		si.nr_modules = 1;
		si.modlist_paddr = PVH_MODULES_GPA;
		mod = (struct pvh_module){.paddr = module_gpa, .size = a->initrd_len};
	}
	if (elf_write_loads(&f, mem) || gmem_write(mem, BOOT_MAP_GPA, mm, n * sizeof(mm[0])) ||
	    gmem_write(mem, BOOT_CMDLINE_GPA, cmdline_len ? a->cmdline : &nul, cmdline_len + 1) ||
	    (module_gpa && (gmem_write(mem, PVH_MODULES_GPA, &mod, sizeof(mod)) ||
			    gmem_write(mem, module_gpa, a->initrd, a->initrd_len))) ||
	    gmem_write(mem, BOOT_INFO_GPA, &si, sizeof(si)))
		return err_set(e, WHO ": guest RAM refused a checked write");
	*out =
	    (struct boot_entry){.mode = BOOT_PROT32, .rip = entry, .ebx = (uint32_t)BOOT_INFO_GPA};
	return 0;
}
