/* ELF executables for the multiboot and PVH loaders: header checks, segments, notes. */
#include <elf.h>
#include <string.h>

#include "loader_internal.h"

#define FOUR_GIB (4ull << 30)

bool elf_probe(const void *image, size_t len)
{
	return len >= SELFMAG && memcmp(image, ELFMAG, SELFMAG) == 0;
}

int elf_open(struct elf_file *f, const void *image, size_t len, const char *who, struct errbuf *e)
{
	const uint8_t *d = image;
	unsigned phentsize;
	uint16_t type, machine;

	if (!elf_probe(image, len))
		return err_set(e, "%s: not an ELF file (no \\x7fELF magic)", who);
	if (len < EI_NIDENT || (d[EI_CLASS] != ELFCLASS32 && d[EI_CLASS] != ELFCLASS64))
		return err_set(e, "%s: ELF file is truncated or has an unknown class", who);
	if (d[EI_DATA] != ELFDATA2LSB)
		return err_set(e, "%s: ELF file is not little-endian", who);
	memset(f, 0, sizeof(*f));
	f->data = d;
	f->len = len;
	f->is64 = d[EI_CLASS] == ELFCLASS64;
	if (f->is64) {
		Elf64_Ehdr h;

		if (len < sizeof(h))
			return err_set(e, "%s: ELF file is truncated: %zu bytes", who, len);
		memcpy(&h, d, sizeof(h));
		type = h.e_type, machine = h.e_machine, phentsize = h.e_phentsize;
		f->entry = h.e_entry, f->phoff = h.e_phoff, f->phnum = h.e_phnum;
		if (machine != EM_X86_64)
			return err_set(e, "%s: ELF64 file is for machine %u, not x86-64", who,
				       machine);
	} else {
		Elf32_Ehdr h;

		if (len < sizeof(h))
			return err_set(e, "%s: ELF file is truncated: %zu bytes", who, len);
		memcpy(&h, d, sizeof(h));
		type = h.e_type, machine = h.e_machine, phentsize = h.e_phentsize;
		f->entry = h.e_entry, f->phoff = h.e_phoff, f->phnum = h.e_phnum;
		if (machine != EM_386)
			return err_set(e, "%s: ELF32 file is for machine %u, not i386", who,
				       machine);
	}
	if (type != ET_EXEC)
		return err_set(e, "%s: ELF file is of type %u, not an executable", who, type);
	if (phentsize != (f->is64 ? sizeof(Elf64_Phdr) : sizeof(Elf32_Phdr)))
		return err_set(e, "%s: ELF program headers are %u bytes, expected %zu", who,
			       phentsize, f->is64 ? sizeof(Elf64_Phdr) : sizeof(Elf32_Phdr));
	if (f->phnum == 0 || f->phnum == PN_XNUM)
		return err_set(e, "%s: ELF file has no program headers", who);
	if (f->phoff > len || (uint64_t)f->phnum * phentsize > len - f->phoff)
		return err_set(e, "%s: ELF program headers lie outside the %zu-byte file", who,
			       len);
	return 0;
}

void elf_phdr(const struct elf_file *f, unsigned i, struct elf_phdr *out)
{
	if (f->is64) {
		Elf64_Phdr p;

		memcpy(&p, f->data + f->phoff + (uint64_t)i * sizeof(p), sizeof(p));
		*out = (struct elf_phdr){p.p_type, p.p_offset, p.p_paddr, p.p_filesz, p.p_memsz};
	} else {
		Elf32_Phdr p;

		memcpy(&p, f->data + f->phoff + (uint64_t)i * sizeof(p), sizeof(p));
		*out = (struct elf_phdr){p.p_type, p.p_offset, p.p_paddr, p.p_filesz, p.p_memsz};
	}
}

static bool elf_in_file(const struct elf_file *f, uint64_t offset, uint64_t size)
{
	return offset <= f->len && size <= f->len - offset;
}

int elf_check_loads(const struct elf_file *f, const struct gmem *mem, const char *who,
		    uint64_t *end, struct errbuf *e)
{
	unsigned loads = 0;

	*end = 0;
	for (unsigned i = 0; i < f->phnum; i++) {
		struct elf_phdr p;

		elf_phdr(f, i, &p);
		if (p.type != PT_LOAD || p.memsz == 0)
			continue;
		loads++;
		if (!elf_in_file(f, p.offset, p.filesz))
			return err_set(
			    e,
			    "%s: ELF segment %u (0x%llx bytes at file offset 0x%llx) lies "
			    "outside the %zu-byte file: truncated?",
			    who, i, (unsigned long long)p.filesz, (unsigned long long)p.offset,
			    f->len);
		if (p.filesz > p.memsz)
			return err_set(e, "%s: ELF segment %u has more file bytes than memory", who,
				       i);
		if (p.paddr < BOOT_KERNEL_MIN)
			return err_set(
			    e,
			    "%s: ELF segment %u loads at 0x%llx, below 1 MiB where kvmlab "
			    "keeps its boot tables",
			    who, i, (unsigned long long)p.paddr);
		if (p.paddr >= FOUR_GIB || p.memsz > FOUR_GIB - p.paddr)
			return err_set(e, "%s: ELF segment %u at 0x%llx reaches past 4 GiB", who, i,
				       (unsigned long long)p.paddr);
		if (!gmem_ptr(mem, p.paddr, p.memsz, true))
			return err_set(
			    e, "%s: ELF segment %u (0x%llx-0x%llx) does not fit in guest RAM", who,
			    i, (unsigned long long)p.paddr,
			    (unsigned long long)(p.paddr + p.memsz - 1));
		if (p.paddr + p.memsz > *end)
			*end = p.paddr + p.memsz;
	}
	if (!loads)
		return err_set(e, "%s: ELF file has no loadable segment", who);
	return 0;
}

bool elf_loads_addr(const struct elf_file *f, uint64_t addr)
{
	for (unsigned i = 0; i < f->phnum; i++) {
		struct elf_phdr p;

		elf_phdr(f, i, &p);
		if (p.type == PT_LOAD && addr >= p.paddr && addr - p.paddr < p.memsz)
			return true;
	}
	return false;
}

int elf_write_loads(const struct elf_file *f, struct gmem *mem)
{
	for (unsigned i = 0; i < f->phnum; i++) {
		struct elf_phdr p;
		uint8_t *dst;

		elf_phdr(f, i, &p);
		if (p.type != PT_LOAD || p.memsz == 0)
			continue;
		dst = gmem_ptr(mem, p.paddr, p.memsz, true);
		if (!dst)
			return -1;
		memcpy(dst, f->data + p.offset, p.filesz);
		memset(dst + p.filesz, 0, p.memsz - p.filesz);
	}
	return 0;
}

static uint64_t align4(uint64_t n)
{
	return (n + 3) & ~3ull;
}

/* Walks the notes in [off, off + size) of the file. */
static bool elf_scan_notes(const struct elf_file *f, uint64_t off, uint64_t size, const char *name,
			   uint32_t type, const uint8_t **desc, uint32_t *desc_len)
{
	size_t name_len = strlen(name) + 1;
	uint64_t end = off + size;

	while (end - off >= 12) {
		uint32_t hdr[3]; /* namesz, descsz, type */
		uint64_t name_off = off + 12, desc_off, next;

		memcpy(hdr, f->data + off, sizeof(hdr));
		desc_off = name_off + align4(hdr[0]);
		next = desc_off + align4(hdr[1]);
		if (desc_off > end || next > end)
			return false;
		if (hdr[2] == type && hdr[0] == name_len &&
		    memcmp(f->data + name_off, name, name_len) == 0) {
			*desc = f->data + desc_off;
			*desc_len = hdr[1];
			return true;
		}
		off = next;
	}
	return false;
}

bool elf_find_note(const struct elf_file *f, const char *name, uint32_t type, const uint8_t **desc,
		   uint32_t *desc_len)
{
	for (unsigned i = 0; i < f->phnum; i++) {
		struct elf_phdr p;

		elf_phdr(f, i, &p);
		if (p.type == PT_NOTE && elf_in_file(f, p.offset, p.filesz) &&
		    elf_scan_notes(f, p.offset, p.filesz, name, type, desc, desc_len))
			return true;
	}
	return false;
}

int loader_check_dest(const struct gmem *mem, uint64_t gpa, uint64_t len, const char *who,
		      const char *what, struct errbuf *e)
{
	if (len && !gmem_ptr(mem, gpa, len, true))
		return err_set(e, "%s: the %s (0x%llx bytes at 0x%llx) does not fit in guest RAM",
			       who, what, (unsigned long long)len, (unsigned long long)gpa);
	return 0;
}

int loader_place_high(uint64_t floor, uint64_t top, size_t len, const char *who, uint64_t *gpa,
		      struct errbuf *e)
{
	uint64_t start = top >= len ? (top - len) & ~(LOADER_PAGE - 1) : 0;

	if (top < len || start < floor)
		return err_set(e,
			       "%s: kernel and initrd do not fit in RAM: the kernel ends at 0x%llx "
			       "and the %zu-byte initrd must end below 0x%llx",
			       who, (unsigned long long)floor, len, (unsigned long long)top);
	*gpa = start;
	return 0;
}

int loader_cmdline_len(const struct loader_args *a, size_t max, const char *who, size_t *len,
		       struct errbuf *e)
{
	*len = a->cmdline ? strlen(a->cmdline) : 0;
	if (max > BOOT_CMDLINE_MAX)
		max = BOOT_CMDLINE_MAX;
	if (*len >= max)
		return err_set(e,
			       "%s: the command line is %zu bytes; this kernel takes at most %zu",
			       who, *len, max - 1);
	return 0;
}
