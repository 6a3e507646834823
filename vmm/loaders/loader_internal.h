/* What the kernel loaders share: ELF parsing, checked placement in RAM, and the command line. */
#ifndef KVMLAB_LOADER_INTERNAL_H
#define KVMLAB_LOADER_INTERNAL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "kvmlab/loader.h"

#define LOADER_PAGE 4096ull

/* An ELF executable whose header and program-header table were checked to lie in the buffer. */
struct elf_file {
	const uint8_t *data;
	size_t len;
	bool is64;
	uint64_t entry;
	uint64_t phoff;
	unsigned phnum;
};

struct elf_phdr {
	uint32_t type;
	uint64_t offset, paddr, filesz, memsz;
};

/* Each format's signature check (loaders.c lists them). */
bool loader_bzimage_probe(const void *image, size_t len);
bool loader_multiboot_probe(const void *image, size_t len);
bool loader_pvh_probe(const void *image, size_t len);

/* Whether image starts with the ELF magic. */
bool elf_probe(const void *image, size_t len);

/*
 * Checks the ELF header of a little-endian x86 executable (ELF32 for EM_386,
 * ELF64 for EM_X86_64) and that its program headers lie in the buffer. who
 * starts every report ("multiboot", "pvh").
 */
int elf_open(struct elf_file *f, const void *image, size_t len, const char *who, struct errbuf *e);

/* Program header i (< f->phnum), widened to 64 bits. */
void elf_phdr(const struct elf_file *f, unsigned i, struct elf_phdr *out);

/*
 * Checks every PT_LOAD segment before anything is written: its file bytes lie
 * in the image, filesz <= memsz, and [paddr, paddr + memsz) lies in one
 * writable RAM region at or above BOOT_KERNEL_MIN and below 4 GiB. *end is
 * the highest address loaded (bss included).
 */
int elf_check_loads(const struct elf_file *f, const struct gmem *mem, const char *who,
		    uint64_t *end, struct errbuf *e);

/* Whether addr lies inside a loaded segment (an entry point must). */
bool elf_loads_addr(const struct elf_file *f, uint64_t addr);

/* Copies the checked segments and zeroes their bss; 0, or -1 if gmem refused. */
int elf_write_loads(const struct elf_file *f, struct gmem *mem);

/* The descriptor of the first note called name with this type in a PT_NOTE segment. */
bool elf_find_note(const struct elf_file *f, const char *name, uint32_t type, const uint8_t **desc,
		   uint32_t *desc_len);

/* Refuses a write destination that is not inside one writable region. */
int loader_check_dest(const struct gmem *mem, uint64_t gpa, uint64_t len, const char *who,
		      const char *what, struct errbuf *e);

/*
 * Where a module or initrd of len bytes goes: page-aligned, as high as it
 * fits below top, and not below floor (the end of the kernel). A report
 * saying that kernel and module do not fit in RAM otherwise.
 */
int loader_place_high(uint64_t floor, uint64_t top, size_t len, const char *who, uint64_t *gpa,
		      struct errbuf *e);

/* strlen(a->cmdline) (0 for NULL) after checking it is below max bytes. */
int loader_cmdline_len(const struct loader_args *a, size_t max, const char *who, size_t *len,
		       struct errbuf *e);

#endif
