/* Guest image loaders: put an image into guest memory through the checked accessor. */
#ifndef KVMLAB_LOADER_H
#define KVMLAB_LOADER_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "err.h"
#include "gmem.h"

/* Where flat test guests are loaded and entered. */
#define FLAT_LOAD_GPA 0x100000ull

/* Copies a flat binary to gpa; refuses an empty image or one that does not fit. */
int loader_flat_load_buf(struct gmem *mem, const void *image, size_t len, uint64_t gpa,
			 struct errbuf *e);

/*
 * Reads a whole image file into a malloc'd buffer the caller frees. A file
 * larger than limit is refused before it is read, so an oversized image is
 * reported without touching guest memory; a missing, unreadable, empty or
 * non-regular file is reported with its path.
 */
void *loader_read_image(const char *path, size_t limit, size_t *len, struct errbuf *e);

/* ---- kernels: Linux bzImage, multiboot v1, ELF with a PVH entry (docs/linux-guest.md) ---- */

/*
 * What kvmlab hands a kernel lives below 1 MiB, next to the boot GDT and page
 * tables (x86.h, 0x1000-0x7fff); the ACPI tables sit in the BIOS area
 * (acpi.h). No kernel or module byte may land below BOOT_KERNEL_MIN.
 */
#define BOOT_INFO_GPA	  0x8000ull  /* zero page, multiboot info or hvm_start_info */
#define BOOT_MAP_GPA	  0x9000ull  /* memory map (multiboot, PVH) */
#define BOOT_CMDLINE_GPA  0x20000ull /* the kernel command line */
#define BOOT_CMDLINE_MAX  0x10000ull /* bytes, including the NUL */
#define BOOT_STRINGS_GPA  0x30000ull /* module names, the loader's name */
#define BOOT_STRINGS_MAX  0x1000ull
#define BOOT_EBDA_GPA	  0x9fc00ull  /* from here to 1 MiB: reserved in the memory map */
#define BOOT_KERNEL_MIN	  0x100000ull
#define BOOT_CHIPSET_GPA  0xfec00000ull /* IOAPIC, LAPIC, KVM's pages: reserved up to 4 GiB */
#define BOOT_MAX_MAP	  128 /* memory-map entries any loader passes */

/* How the boot vCPU enters the kernel (vm_setup_boot_entry in x86.h). */
enum boot_cpu_mode {
	BOOT_LONG64, /* Linux 64-bit boot protocol: kvmlab's identity map, CS 0x10, DS 0x18 */
	BOOT_PROT32, /* flat 32-bit protected mode, paging off: multiboot and PVH */
};

struct boot_entry {
	enum boot_cpu_mode mode;
	uint64_t rip;
	uint64_t rsi; /* BOOT_LONG64: the zero page */
	uint32_t eax; /* multiboot: MB_BOOTLOADER_MAGIC */
	uint32_t ebx; /* multiboot: the info; PVH: the start_info */
};

/* What goes with a kernel. Buffers are the caller's and only read. */
struct loader_args {
	const char *cmdline;	 /* NUL-terminated; NULL: empty */
	const char *image_name;	 /* first word of a multiboot command line; NULL: "kernel" */
	const void *initrd;	 /* bzImage initrd, or module 0 (multiboot, PVH); NULL: none */
	size_t initrd_len;
	const char *initrd_name; /* the multiboot module's string; NULL: "initrd" */
	uint64_t rsdp;		 /* guest-physical ACPI RSDP to pass on; 0: none */
};

/*
 * The loaders. Each parses image (len bytes, any content: fuzz targets feed
 * them raw bytes) and validates everything (headers, sizes, where each piece
 * goes in mem's RAM) before it writes a byte, so a refused image leaves guest
 * memory untouched; then it writes the kernel, initrd, boot information and
 * memory map through gmem and fills out. Reports are one line naming the
 * problem, e.g. "bzImage: boot protocol 2.04 is too old (kvmlab needs 2.06 or newer)".
 * Need no KVM: mem may be plain memory.
 */
typedef int (*loader_fn)(struct gmem *mem, const void *image, size_t len,
			 const struct loader_args *a, struct boot_entry *out, struct errbuf *e);

int loader_bzimage_load_buf(struct gmem *mem, const void *image, size_t len,
			    const struct loader_args *a, struct boot_entry *out, struct errbuf *e);
int loader_multiboot_load_buf(struct gmem *mem, const void *image, size_t len,
			      const struct loader_args *a, struct boot_entry *out,
			      struct errbuf *e);
int loader_pvh_load_buf(struct gmem *mem, const void *image, size_t len,
			const struct loader_args *a, struct boot_entry *out, struct errbuf *e);

struct loader_type {
	const char *name; /* "bzimage", "multiboot", "pvh": the --loader value */
	/* Whether image carries this format's signature (nothing else is checked). */
	bool (*probe)(const void *image, size_t len);
	loader_fn load;
	bool is_linux; /* boots Linux: gets kvmlab's default command line */
};

/* The loaders in detection order, NULL-terminated (vmm/loaders/loaders.c). */
extern const struct loader_type *const loader_types[];

/* The loader called name; NULL with a report listing the names otherwise. */
const struct loader_type *loader_find(const char *name, struct errbuf *e);

/* The first loader whose probe accepts image; NULL with a report otherwise. */
const struct loader_type *loader_detect(const void *image, size_t len, struct errbuf *e);

struct boot_e820_entry;

/*
 * The memory map every kernel gets, sorted by address: each writable gmem
 * region as RAM except [BOOT_EBDA_GPA, 1 MiB), which is reserved (EBDA, VGA
 * hole, BIOS area with the ACPI tables), read-only regions as reserved, and
 * [BOOT_CHIPSET_GPA, 4 GiB) reserved; the rest of the MMIO hole is a gap for
 * devices. Returns the number of entries written (at most max).
 */
unsigned loader_e820(const struct gmem *mem, struct boot_e820_entry *out, unsigned max);

/* The end of the RAM region holding BOOT_KERNEL_MIN (RAM below the MMIO hole); 0 if none. */
uint64_t loader_low_ram_end(const struct gmem *mem);

#endif
