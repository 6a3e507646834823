/* Fuzz targets of the kernel loaders: guest RAM layouts, loader arguments, shared invariants. */
#ifndef KVMLAB_FUZZ_KERNEL_H
#define KVMLAB_FUZZ_KERNEL_H

#include "fuzz.h"
#include "kvmlab/loader.h"

#define FUZZ_KERNEL_REGIONS 4
#define FUZZ_KERNEL_FILL    0x5a /* every RAM byte before the load */

/*
 * What a loader target hands its loader: guest RAM on plain memory and the
 * arguments, both decoded from the input's head. All of it is rebuilt per input.
 *
 * Input head (the image is whatever follows; see fuzz/gen_seeds.py fk_head):
 *   byte 0, layout: bits 0-2 shape (0-3 one RAM region from 0; 4-5 low RAM
 *     [0, 0xA0000) and RAM from 1 MiB; 6 the same with the BIOS area
 *     [0xE0000, 1 MiB) as a read-only region; 7 the rare shapes, bits 3-4:
 *     no low RAM, too little low RAM, read-only RAM from 1 MiB, or an extra
 *     region at 4 GiB), bit 7: 1 MiB more RAM from 1 MiB;
 *   byte 1: RAM from 1 MiB is (1 + byte) * 4 KiB (plus 1 MiB with bit 7 above);
 *   byte 2, arguments: bit 0 a command line (length byte, bytes), bit 1 an
 *     initrd (16-bit length % 8192 + 1, bytes), bit 2 an image name, bit 3 an
 *     initrd name (length byte % 16, bytes each); bits 4-7 all ones (1 in 16):
 *     a rare variant byte follows: 0 a command line longer than any kernel
 *     takes, 1 an initrd length beyond all RAM (the buffer is smaller: a loader
 *     that reads it before refusing trips ASan), 2 an arbitrary RSDP address.
 */
struct fuzz_kernel {
	struct gmem g;
	struct loader_args a;
	uint64_t ram_bytes; /* all regions together */
	char *cmdline;	    /* owned: NULL or a.cmdline */
	uint8_t *initrd;    /* owned: NULL or a.initrd */
	char names[2][16];
};

/* Decodes the head of the input into k (guest RAM filled with FUZZ_KERNEL_FILL). */
void fuzz_kernel_setup(struct fuzz_in *in, struct fuzz_kernel *k);

/*
 * What every loader promises, whatever the image: a refusal (rc -1) comes with
 * a one-line report and leaves every byte of guest RAM as it was; a success
 * (rc 0) enters the kernel in writable guest RAM, leaves read-only regions
 * alone and writes below 1 MiB only the boot structures' pages (loader.h:
 * BOOT_INFO_GPA and BOOT_MAP_GPA, BOOT_CMDLINE_GPA to the end of the strings).
 */
void fuzz_kernel_check(const struct fuzz_kernel *k, int rc, const struct boot_entry *be,
		       const struct errbuf *e);

/* The NUL-terminated string at gpa in guest RAM, or NULL if it runs out of its region. */
const char *fuzz_kernel_str(const struct fuzz_kernel *k, uint64_t gpa);

/* Whether [gpa, gpa + len) holds exactly data. */
bool fuzz_kernel_holds(const struct fuzz_kernel *k, uint64_t gpa, const void *data, size_t len);

/* The command line the loader was given ("" for none). */
static inline const char *fuzz_kernel_cmdline(const struct fuzz_kernel *k)
{
	return k->a.cmdline ? k->a.cmdline : "";
}

void fuzz_kernel_free(struct fuzz_kernel *k);

/* A loader's own checks of a successful load of img (len bytes). */
typedef void (*fuzz_kernel_check_fn)(const struct fuzz_kernel *k, const uint8_t *img, size_t len,
				     const struct boot_entry *be);

/* The whole of a loader target: k from the input's head, load on the rest of it,
 * fuzz_kernel_check, then check when the load succeeded. Returns 0 for libFuzzer. */
int fuzz_kernel_run(const uint8_t *data, size_t size, loader_fn load, fuzz_kernel_check_fn check);

#endif
