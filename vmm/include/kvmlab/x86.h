/* x86 boot state for test guests: identity page tables, GDT and long-mode registers. */
#ifndef KVMLAB_X86_H
#define KVMLAB_X86_H

#include <stdint.h>

#include "err.h"
#include "gmem.h"

/* Guest-physical layout kvmlab reserves below 1 MiB for flat guests. */
#define X86_GDT_GPA	   0x1000ull
#define X86_PML4_GPA	   0x2000ull
#define X86_PDPT_GPA	   0x3000ull
#define X86_PD_GPA	   0x4000ull /* four pages: 2 MiB pages for the low 4 GiB */
#define X86_BOOT_AREA_END  0x8000ull
#define X86_IDENTITY_LIMIT (4ull << 30)

/* Selectors of the GDT x86_write_boot_tables builds. Code at 0x10 and data at
 * 0x18 are what Linux's 64-bit boot protocol asks for (__BOOT_CS, __BOOT_DS). */
#define X86_SEL_CODE32 0x08
#define X86_SEL_CODE64 0x10
#define X86_SEL_DATA   0x18
#define X86_SEL_TSS    0x20

/* Writes the GDT and the identity-mapping page tables into guest memory. */
int x86_write_boot_tables(struct gmem *mem, struct errbuf *e);

struct kvm_sregs;
/* Sets sregs for 64-bit mode using the tables above (paging, PAE, LME/LMA). */
void x86_sregs_long_mode(struct kvm_sregs *s);

/* Sets sregs for flat 32-bit protected mode (CS 0x08, data 0x18), paging off:
 * how multiboot and PVH kernels are entered. */
void x86_sregs_protected_mode(struct kvm_sregs *s);

#endif
