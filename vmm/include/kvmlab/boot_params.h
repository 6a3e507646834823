/* Linux x86 boot protocol: the setup header and the zero page (struct boot_params), per boot.rst.
 */
#ifndef KVMLAB_BOOT_PARAMS_H
#define KVMLAB_BOOT_PARAMS_H

#include <assert.h>
#include <stddef.h>
#include <stdint.h>

/*
 * Written from Documentation/arch/x86/boot.rst and zero-page.rst; only the
 * fields kvmlab reads or fills are named, the rest is padding, and every
 * named field's offset is checked below against the documented one.
 */

#define BOOT_HDR_OFFSET	    0x1f1 /* the setup header's place in the image and in the zero page */
#define BOOT_HDR_MAGIC	    0x53726448u /* "HdrS" at 0x202 */
#define BOOT_FLAG_MAGIC	    0xaa55
#define BOOT_MIN_VERSION    0x0206
#define BOOT_ENTRY64_OFFSET 0x200 /* startup_64 relative to the protected-mode kernel */

/* loadflags */
#define BOOT_LOADED_HIGH   0x01 /* protected-mode code loads at 0x100000: a bzImage */
#define BOOT_KEEP_SEGMENTS 0x40
#define BOOT_CAN_USE_HEAP  0x80

/* xloadflags (protocol 2.12) */
#define BOOT_XLF_KERNEL_64 0x01 /* has the 64-bit entry at +0x200 */

#define BOOT_LOADER_UNDEFINED 0xff /* type_of_loader for a boot loader with no assigned id */

struct boot_setup_header {
	uint8_t setup_sects;		/* 0x1f1 */
	uint16_t root_flags;		/* 0x1f2 */
	uint32_t syssize;		/* 0x1f4 */
	uint16_t ram_size;		/* 0x1f8 */
	uint16_t vid_mode;		/* 0x1fa */
	uint16_t root_dev;		/* 0x1fc */
	uint16_t boot_flag;		/* 0x1fe */
	uint8_t jump[2];		/* 0x200; jump[1] + 0x202 is where the header ends */
	uint32_t header;		/* 0x202 */
	uint16_t version;		/* 0x206 */
	uint32_t realmode_swtch;	/* 0x208 */
	uint16_t start_sys_seg;		/* 0x20c */
	uint16_t kernel_version;	/* 0x20e */
	uint8_t type_of_loader;		/* 0x210 */
	uint8_t loadflags;		/* 0x211 */
	uint16_t setup_move_size;	/* 0x212 */
	uint32_t code32_start;		/* 0x214 */
	uint32_t ramdisk_image;		/* 0x218 */
	uint32_t ramdisk_size;		/* 0x21c */
	uint32_t bootsect_kludge;	/* 0x220 */
	uint16_t heap_end_ptr;		/* 0x224 */
	uint8_t ext_loader_ver;		/* 0x226 */
	uint8_t ext_loader_type;	/* 0x227 */
	uint32_t cmd_line_ptr;		/* 0x228 */
	uint32_t initrd_addr_max;	/* 0x22c */
	uint32_t kernel_alignment;	/* 0x230 */
	uint8_t relocatable_kernel;	/* 0x234 */
	uint8_t min_alignment;		/* 0x235 */
	uint16_t xloadflags;		/* 0x236 */
	uint32_t cmdline_size;		/* 0x238 */
	uint32_t hardware_subarch;	/* 0x23c */
	uint64_t hardware_subarch_data; /* 0x240 */
	uint32_t payload_offset;	/* 0x248 */
	uint32_t payload_length;	/* 0x24c */
	uint64_t setup_data;		/* 0x250 */
	uint64_t pref_address;		/* 0x258 */
	uint32_t init_size;		/* 0x260 */
	uint32_t handover_offset;	/* 0x264 */
	uint32_t kernel_info_offset;	/* 0x268 */
} __attribute__((packed));

#define BOOT_E820_MAX 128 /* entries the zero page holds */

enum boot_e820_type {
	E820_RAM = 1,
	E820_RESERVED = 2,
	E820_ACPI = 3,
	E820_NVS = 4,
	E820_UNUSABLE = 5,
};

struct boot_e820_entry {
	uint64_t addr;
	uint64_t size;
	uint32_t type;
} __attribute__((packed));

struct boot_params {
	uint8_t screen_info[0x40]; /* 0x000 */
	uint8_t pad0[0x70 - 0x40]; /* apm_bios_info, tboot_addr, ist_info */
	uint64_t acpi_rsdp_addr;   /* 0x070 (protocol 2.14; older kernels ignore it) */
	uint8_t pad1[0xc0 - 0x78];
	uint32_t ext_ramdisk_image; /* 0x0c0 */
	uint32_t ext_ramdisk_size;  /* 0x0c4 */
	uint32_t ext_cmd_line_ptr;  /* 0x0c8 */
	uint8_t pad2[0x1e8 - 0xcc];
	uint8_t e820_entries; /* 0x1e8 */
	uint8_t pad3[BOOT_HDR_OFFSET - 0x1e9];
	struct boot_setup_header hdr; /* 0x1f1 */
	uint8_t pad4[0x2d0 - BOOT_HDR_OFFSET - sizeof(struct boot_setup_header)];
	struct boot_e820_entry e820_table[BOOT_E820_MAX]; /* 0x2d0 */
	uint8_t pad5[0x1000 - 0x2d0 - BOOT_E820_MAX * sizeof(struct boot_e820_entry)];
} __attribute__((packed));

static_assert(offsetof(struct boot_setup_header, header) == 0x202 - BOOT_HDR_OFFSET, "HdrS");
static_assert(offsetof(struct boot_setup_header, cmd_line_ptr) == 0x228 - BOOT_HDR_OFFSET,
	      "cmd_line_ptr");
static_assert(offsetof(struct boot_setup_header, pref_address) == 0x258 - BOOT_HDR_OFFSET,
	      "pref_address");
static_assert(sizeof(struct boot_setup_header) == 0x26c - BOOT_HDR_OFFSET, "setup header");
static_assert(offsetof(struct boot_params, acpi_rsdp_addr) == 0x070, "acpi_rsdp_addr");
static_assert(offsetof(struct boot_params, ext_ramdisk_image) == 0x0c0, "ext_ramdisk_image");
static_assert(offsetof(struct boot_params, e820_entries) == 0x1e8, "e820_entries");
static_assert(offsetof(struct boot_params, hdr) == BOOT_HDR_OFFSET, "hdr");
static_assert(offsetof(struct boot_params, e820_table) == 0x2d0, "e820_table");
static_assert(sizeof(struct boot_params) == 0x1000, "zero page");

#endif
