/* Linux bzImage loader: 64-bit boot protocol (2.06+), zero page, e820, command line, initrd. */
#include <stddef.h>
#include <string.h>

#include "kvmlab/boot_params.h"
#include "loader_internal.h"

#define WHO "bzImage"

/* Where the protected-mode kernel goes when the header names no preference. */
#define BZ_DEFAULT_LOAD 0x100000ull

bool loader_bzimage_probe(const void *image, size_t len)
{
	uint32_t magic;

	if (len < 0x206)
		return false;
	memcpy(&magic, (const uint8_t *)image + 0x202, sizeof(magic));
	return magic == BOOT_HDR_MAGIC;
}

/* Everything the header says, checked; what goes where. */
struct bz_plan {
	struct boot_setup_header h;
	size_t hdr_len;	     /* bytes of setup header the image carries (from 0x1f1) */
	uint64_t kernel_off; /* protected-mode kernel in the file */
	uint64_t kernel_size;
	uint64_t load; /* where it goes */
	uint64_t need; /* bytes from load it needs (init_size) */
	uint64_t initrd_gpa;
	size_t cmdline_len;
};

static int bz_check_header(struct bz_plan *p, const uint8_t *d, size_t len, struct errbuf *e)
{
	struct boot_setup_header *h = &p->h;
	unsigned setup_sects;

	if (len < BOOT_HDR_OFFSET + sizeof(*h))
		return err_set(e, WHO ": image is %zu bytes, too short to hold a setup header",
			       len);
	memcpy(h, d + BOOT_HDR_OFFSET, sizeof(*h));
	if (h->header != BOOT_HDR_MAGIC)
		return err_set(e, WHO ": no 'HdrS' signature at 0x202: not a Linux bzImage");
	if (h->version < BOOT_MIN_VERSION)
		return err_set(
		    e, WHO ": boot protocol %u.%02u is too old (kvmlab needs 2.06 or newer)",
		    h->version >> 8, h->version & 0xff);
	if (!(h->loadflags & BOOT_LOADED_HIGH))
		return err_set(e, WHO ": a zImage loaded below 1 MiB is not supported");
	if (h->version >= 0x020c && !(h->xloadflags & BOOT_XLF_KERNEL_64))
		return err_set(e, WHO ": kernel has no 64-bit entry point (xloadflags 0x%x)",
			       h->xloadflags);
	p->hdr_len = 0x202 + (size_t)h->jump[1] - BOOT_HDR_OFFSET;
	/* The zero page gets the image's header up to its end: it must hold what was checked
	 * here, or the kernel would read zeros (found by fuzzing). */
	if (p->hdr_len < offsetof(struct boot_setup_header, hardware_subarch))
		return err_set(e, WHO ": setup header ends at 0x%zx, before protocol 2.06's fields",
			       p->hdr_len + BOOT_HDR_OFFSET);
	if (p->hdr_len > sizeof(*h))
		p->hdr_len = sizeof(*h);
	setup_sects = h->setup_sects ? h->setup_sects : 4;
	p->kernel_off = (uint64_t)(setup_sects + 1) * 512;
	if (p->kernel_off >= len)
		return err_set(e,
			       WHO ": image is truncated: %zu bytes, but the setup code alone "
				   "takes %llu",
			       len, (unsigned long long)p->kernel_off);
	p->kernel_size = len - p->kernel_off;
	if ((uint64_t)h->syssize * 16 > p->kernel_size)
		return err_set(e,
			       WHO ": image is truncated: the header promises a %llu-byte kernel, "
				   "the file holds %llu",
			       (unsigned long long)h->syssize * 16,
			       (unsigned long long)p->kernel_size);
	return 0;
}

static int bz_plan_memory(struct bz_plan *p, const struct gmem *mem, const struct loader_args *a,
			  struct errbuf *e)
{
	const struct boot_setup_header *h = &p->h;
	uint64_t low_end = loader_low_ram_end(mem), top;

	p->load = BZ_DEFAULT_LOAD;
	p->need = p->kernel_size;
	if (h->version >= 0x020a) {
		p->load = h->pref_address;
		if (h->init_size > p->need)
			p->need = h->init_size;
	}
	if (p->load < BOOT_KERNEL_MIN || p->load >= (4ull << 30))
		return err_set(e, WHO ": preferred load address 0x%llx is outside 1 MiB-4 GiB",
			       (unsigned long long)p->load);
	if (p->load + p->need > low_end)
		return err_set(
		    e,
		    WHO ": kernel does not fit in RAM: it needs 0x%llx-0x%llx (init_size "
			"0x%llx) but RAM below the MMIO hole ends at 0x%llx; give more --mem",
		    (unsigned long long)p->load, (unsigned long long)(p->load + p->need - 1),
		    (unsigned long long)p->need, (unsigned long long)low_end);
	if (loader_cmdline_len(a, h->cmdline_size + 1ull, WHO, &p->cmdline_len, e) ||
	    loader_check_dest(mem, BOOT_INFO_GPA, sizeof(struct boot_params), WHO, "zero page",
			      e) ||
	    loader_check_dest(mem, BOOT_CMDLINE_GPA, p->cmdline_len + 1, WHO, "command line", e))
		return -1;
	p->initrd_gpa = 0;
	if (a->initrd && a->initrd_len) {
		top = (uint64_t)h->initrd_addr_max + 1;
		if (top > low_end)
			top = low_end;
		if (a->initrd_len > UINT32_MAX)
			return err_set(e, WHO ": the initrd is larger than 4 GiB");
		if (loader_place_high(p->load + p->need, top, a->initrd_len, WHO, &p->initrd_gpa,
				      e))
			return -1;
	}
	return 0;
}

static void bz_fill_zero_page(const struct bz_plan *p, const uint8_t *d, const struct gmem *mem,
			      const struct loader_args *a, struct boot_params *bp)
{
	memset(bp, 0, sizeof(*bp));
	memcpy(&bp->hdr, d + BOOT_HDR_OFFSET, p->hdr_len);
	bp->hdr.type_of_loader = BOOT_LOADER_UNDEFINED;
	bp->hdr.cmd_line_ptr = (uint32_t)BOOT_CMDLINE_GPA;
	bp->hdr.code32_start = (uint32_t)p->load;
	/* Whatever the image's header holds here would read as an initrd (found by fuzzing). */
	bp->hdr.ramdisk_image = 0;
	bp->hdr.ramdisk_size = 0;
	if (p->initrd_gpa) {
		bp->hdr.ramdisk_image = (uint32_t)p->initrd_gpa;
		bp->hdr.ramdisk_size = (uint32_t)a->initrd_len;
	}
	bp->acpi_rsdp_addr = a->rsdp;
	bp->e820_entries = (uint8_t)loader_e820(mem, bp->e820_table, BOOT_E820_MAX);
}

int loader_bzimage_load_buf(struct gmem *mem, const void *image, size_t len,
			    const struct loader_args *a, struct boot_entry *out, struct errbuf *e)
{
	const uint8_t *d = image;
	static const char nul;
	struct boot_params bp;
	struct bz_plan p;

	if (bz_check_header(&p, d, len, e) || bz_plan_memory(&p, mem, a, e))
		return -1;
	bz_fill_zero_page(&p, d, mem, a, &bp);
	/* Every destination was checked above: these cannot fail short of a bug. */
	if (gmem_write(mem, p.load, d + p.kernel_off, p.kernel_size) ||
	    gmem_write(mem, BOOT_INFO_GPA, &bp, sizeof(bp)) ||
	    gmem_write(mem, BOOT_CMDLINE_GPA, p.cmdline_len ? a->cmdline : &nul,
		       p.cmdline_len + 1) ||
	    (p.initrd_gpa && gmem_write(mem, p.initrd_gpa, a->initrd, a->initrd_len)))
		return err_set(e, WHO ": guest RAM refused a checked write");
	*out = (struct boot_entry){
	    .mode = BOOT_LONG64, .rip = p.load + BOOT_ENTRY64_OFFSET, .rsi = BOOT_INFO_GPA};
	return 0;
}
