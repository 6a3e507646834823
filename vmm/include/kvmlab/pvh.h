/* The PVH boot ABI: the ELF note naming the 32-bit entry and struct hvm_start_info. */
#ifndef KVMLAB_PVH_H
#define KVMLAB_PVH_H

#include <assert.h>
#include <stdint.h>

/*
 * Written from Xen's public/arch-x86/hvm/start_info.h description and Linux's
 * Documentation/arch/x86/pvh (no Xen headers copied). The guest is entered in
 * 32-bit protected mode without paging, EBX holding the start_info address.
 */

#define PVH_NOTE_NAME	      "Xen"
#define PVH_NOTE_PHYS32_ENTRY 18 /* XEN_ELFNOTE_PHYS32_ENTRY: 4- or 8-byte physical entry */
#define PVH_START_MAGIC	      0x336ec578u
#define PVH_START_VERSION     1 /* with the memory map */

struct pvh_start_info {
	uint32_t magic;
	uint32_t version;
	uint32_t flags;
	uint32_t nr_modules;
	uint64_t modlist_paddr;
	uint64_t cmdline_paddr;
	uint64_t rsdp_paddr;
	uint64_t memmap_paddr;	 /* version 1 */
	uint32_t memmap_entries; /* version 1 */
	uint32_t reserved;
};

struct pvh_module {
	uint64_t paddr;
	uint64_t size;
	uint64_t cmdline_paddr;
	uint64_t reserved;
};

/* Types are the e820 ones (1 RAM, 2 reserved, 3 ACPI, ...). */
struct pvh_memmap_entry {
	uint64_t addr;
	uint64_t size;
	uint32_t type;
	uint32_t reserved;
};

static_assert(sizeof(struct pvh_start_info) == 56, "hvm_start_info");
static_assert(sizeof(struct pvh_module) == 32, "hvm_modlist_entry");
static_assert(sizeof(struct pvh_memmap_entry) == 24, "hvm_memmap_table_entry");

#endif
