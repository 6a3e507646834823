/* Fuzz target: the Linux bzImage loader (setup header, zero page, command line, initrd). */
#include <string.h>

#include "kernel.h"
#include "kvmlab/boot_params.h"

/* A success put the protected-mode kernel where the zero page says, with the command line and
 * initrd it points at, and enters at the kernel's 64-bit entry. */
static void bzimage_check(const struct fuzz_kernel *k, const uint8_t *img, size_t len,
			  const struct boot_entry *be)
{
	const struct boot_params *bp = gmem_ptr(&k->g, BOOT_INFO_GPA, sizeof(*bp), false);
	unsigned setup_sects = img[BOOT_HDR_OFFSET] ? img[BOOT_HDR_OFFSET] : 4;
	size_t kernel_off = (setup_sects + 1) * 512ull;
	const char *cmdline;

	FUZZ_CHECK(bp && bp->hdr.header == BOOT_HDR_MAGIC, "no zero page at 0x%llx",
		   (unsigned long long)BOOT_INFO_GPA);
	FUZZ_CHECK(be->mode == BOOT_LONG64 && be->rsi == BOOT_INFO_GPA &&
		       be->rip == bp->hdr.code32_start + BOOT_ENTRY64_OFFSET,
		   "entry 0x%llx, kernel at 0x%x", (unsigned long long)be->rip,
		   bp->hdr.code32_start);
	FUZZ_CHECK(kernel_off < len && fuzz_kernel_holds(k, bp->hdr.code32_start, img + kernel_off,
							 len - kernel_off),
		   "kernel not at 0x%x", bp->hdr.code32_start);
	cmdline = fuzz_kernel_str(k, bp->hdr.cmd_line_ptr);
	FUZZ_CHECK(cmdline && !strcmp(cmdline, fuzz_kernel_cmdline(k)), "command line differs");
	if (!k->a.initrd || !k->a.initrd_len) {
		FUZZ_CHECK(!bp->hdr.ramdisk_image && !bp->hdr.ramdisk_size, "initrd from nowhere");
		return;
	}
	FUZZ_CHECK(bp->hdr.ramdisk_size == k->a.initrd_len &&
		       fuzz_kernel_holds(k, bp->hdr.ramdisk_image, k->a.initrd, k->a.initrd_len),
		   "initrd not at 0x%x", bp->hdr.ramdisk_image);
	FUZZ_CHECK(bp->hdr.ramdisk_image >= bp->hdr.code32_start + (uint64_t)(len - kernel_off),
		   "initrd at 0x%x overlaps the kernel", bp->hdr.ramdisk_image);
	FUZZ_CHECK((uint64_t)bp->hdr.ramdisk_image + k->a.initrd_len - 1 <= bp->hdr.initrd_addr_max,
		   "initrd ends above initrd_addr_max 0x%x", bp->hdr.initrd_addr_max);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	return fuzz_kernel_run(data, size, loader_bzimage_load_buf, bzimage_check);
}
