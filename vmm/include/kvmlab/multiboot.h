/* Multiboot (version 0.6.96) header and boot information, shared by the loader and test guests. */
#ifndef KVMLAB_MULTIBOOT_H
#define KVMLAB_MULTIBOOT_H

#include <stdint.h>

/* Written from the Multiboot Specification 0.6.96; only the parts kvmlab provides. */

#define MB_HEADER_MAGIC	    0x1badb002u
#define MB_BOOTLOADER_MAGIC 0x2badb002u /* in EAX at entry */
#define MB_SEARCH_LEN	    8192 /* the header lies 4-byte aligned in the image's first 8 KiB */

/* Header flags: bits 0-15 are requirements a loader must meet or refuse the image. */
#define MB_HF_PAGE_ALIGN 0x00000001u /* modules page-aligned */
#define MB_HF_MEMORY	 0x00000002u /* mem_* and mmap_* in the info */
#define MB_HF_VIDEO	 0x00000004u /* a video mode (kvmlab has no display: refused) */
#define MB_HF_ADDRESSES	 0x00010000u /* the load address fields below are valid */

struct mb_header {
	uint32_t magic;
	uint32_t flags;
	uint32_t checksum; /* magic + flags + checksum == 0 */
	/* valid with MB_HF_ADDRESSES */
	uint32_t header_addr;
	uint32_t load_addr;
	uint32_t load_end_addr; /* 0: load to the end of the file */
	uint32_t bss_end_addr;	/* 0: no bss */
	uint32_t entry_addr;
};

/* Info flags: which fields of struct mb_info are valid. */
#define MB_INFO_MEMORY	    0x00000001u
#define MB_INFO_CMDLINE	    0x00000004u
#define MB_INFO_MODS	    0x00000008u
#define MB_INFO_MEM_MAP	    0x00000040u
#define MB_INFO_LOADER_NAME 0x00000200u

struct mb_info {
	uint32_t flags;
	uint32_t mem_lower; /* KiB of RAM from 0 */
	uint32_t mem_upper; /* KiB of RAM from 1 MiB up to the first hole */
	uint32_t boot_device;
	uint32_t cmdline;
	uint32_t mods_count;
	uint32_t mods_addr;
	uint32_t syms[4];
	uint32_t mmap_length; /* bytes */
	uint32_t mmap_addr;
	uint32_t drives_length;
	uint32_t drives_addr;
	uint32_t config_table;
	uint32_t boot_loader_name;
};

struct mb_module {
	uint32_t mod_start;
	uint32_t mod_end; /* one past the last byte */
	uint32_t string;
	uint32_t reserved;
};

/* One memory-map entry; size counts the bytes after itself (20) and entries follow each other. */
struct mb_mmap_entry {
	uint32_t size;
	uint64_t addr;
	uint64_t len;
	uint32_t type; /* 1 available, 3 ACPI, 4 preserve on hibernation, anything else reserved */
} __attribute__((packed));

#endif
