/* A multiboot v1 test guest: prints its boot information and what QEMU-style test devices answer.
 */
#include "lib/guest.h"
#include "kvmlab/multiboot.h"

/*
 * Built as multiboot.elf with its entry at multiboot_entry (guests/CMakeLists.txt),
 * and booted with `kvmlab run --kernel multiboot.elf`: the 32-bit stub below
 * keeps EAX/EBX, maps the first GiB, enters long mode and joins the runtime's
 * _start as vCPU 0 of 1. guest_main then prints one line per fact for the test.
 */

#define MB_FLAGS (MB_HF_PAGE_ALIGN | MB_HF_MEMORY)

uint32_t mb_magic, mb_info;

__asm__(".section .text.entry, \"ax\"\n"
	".balign 4\n"
	"mb_header:\n"
	"	.long 0x1badb002, 3, -(0x1badb002 + 3)\n"
	".code32\n"
	".global multiboot_entry\n"
	"multiboot_entry:\n"
	"	movl %eax, mb_magic\n"
	"	movl %ebx, mb_info\n"
	/* The first GiB in 2 MiB pages: PML4[0] -> PDPT, PDPT[0] -> PD. */
	"	movl $mb_pd, %edi\n"
	"	movl $0x83, %eax\n" /* present, writable, 2 MiB */
	"	movl $512, %ecx\n"
	"1:	movl %eax, (%edi)\n"
	"	addl $0x200000, %eax\n"
	"	addl $8, %edi\n"
	"	loop 1b\n"
	"	movl $mb_pd + 3, mb_pdpt\n"
	"	movl $mb_pdpt + 3, mb_pml4\n"
	"	movl $mb_pml4, %eax\n"
	"	movl %eax, %cr3\n"
	"	movl %cr4, %eax\n"
	"	orl $0x20, %eax\n" /* PAE */
	"	movl %eax, %cr4\n"
	"	movl $0xc0000080, %ecx\n" /* EFER.LME */
	"	rdmsr\n"
	"	orl $0x100, %eax\n"
	"	wrmsr\n"
	"	movl %cr0, %eax\n"
	"	orl $0x80000001, %eax\n" /* PG, PE */
	"	movl %eax, %cr0\n"
	"	lgdt mb_gdt_desc\n"
	"	ljmp $0x08, $mb_long\n"
	".code64\n"
	"mb_long:\n"
	"	movl $0x10, %eax\n"
	"	movl %eax, %ds\n"
	"	movl %eax, %es\n"
	"	movl %eax, %ss\n"
	"	xorl %edi, %edi\n" /* vCPU 0 */
	"	movl $1, %esi\n"   /* of 1: the others wait for a SIPI nobody sends */
	"	jmp _start\n"
	".section .rodata\n"
	".balign 8\n"
	"mb_gdt:\n"
	"	.quad 0, 0x00af9a000000ffff, 0x00cf92000000ffff\n"
	"mb_gdt_desc:\n"
	"	.word 23\n"
	"	.long mb_gdt\n"
	".section .bss\n"
	".balign 4096\n"
	"mb_pml4: .skip 4096\n"
	"mb_pdpt: .skip 4096\n"
	"mb_pd: .skip 4096\n"
	".text\n");

static inline void outw(uint16_t port, uint16_t v)
{
	__asm__ volatile("outw %0, %1" : : "a"(v), "Nd"(port));
}

static void print_module(const struct mb_module *m)
{
	const char *p = (const char *)(uintptr_t)m->mod_start;
	uint32_t len = m->mod_end - m->mod_start;

	guest_printf("module: '%s' %u bytes, first line '", (const char *)(uintptr_t)m->string,
		     len);
	for (uint32_t i = 0; i < len && i < 72 && p[i] != '\n'; i++)
		serial_putc(p[i]);
	guest_printf("'\n");
}

static void print_info(const struct mb_info *mi)
{
	guest_printf("magic: 0x%x\n", mb_magic);
	guest_printf("flags: 0x%x\n", mi->flags);
	guest_printf("mem: lower %u KiB, upper %u KiB\n", mi->mem_lower, mi->mem_upper);
	guest_printf("cmdline: '%s'\n", (const char *)(uintptr_t)mi->cmdline);
	guest_printf("loader: '%s'\n", (const char *)(uintptr_t)mi->boot_loader_name);
	for (uint32_t off = 0; off < mi->mmap_length;) {
		const struct mb_mmap_entry *e =
		    (const struct mb_mmap_entry *)(uintptr_t)(mi->mmap_addr + off);

		guest_printf("mmap: 0x%llx-0x%llx type %u\n", (unsigned long long)e->addr,
			     (unsigned long long)(e->addr + e->len - 1), e->type);
		off += e->size + sizeof(e->size);
	}
	guest_printf("modules: %u\n", mi->mods_count);
	for (uint32_t i = 0; i < mi->mods_count; i++)
		print_module((const struct mb_module *)(uintptr_t)mi->mods_addr + i);
}

static uint64_t fwcfg_read(uint16_t key, unsigned bytes)
{
	uint64_t v = 0;

	outw(0x510, key);
	for (unsigned i = 0; i < bytes; i++)
		v |= (uint64_t)inb(0x511) << (8 * i);
	return v;
}

/* The ACPI PM timer's port, found the way kvm-unit-tests do: RSDP scan, RSDT, FACP. */
static uint16_t pm_timer_port(void)
{
	for (uintptr_t a = 0xe0000; a < 0x100000; a += 16) {
		const uint32_t *rsdt;
		uint32_t n;

		if (*(const uint64_t *)a != 0x2052545020445352ull) /* "RSD PTR " */
			continue;
		rsdt = (const uint32_t *)(uintptr_t) * (const uint32_t *)(a + 16);
		n = (rsdt[1] - 36) / 4;
		for (uint32_t i = 0; i < n; i++) {
			const uint32_t *t = (const uint32_t *)(uintptr_t)rsdt[9 + i];

			if (t[0] == 0x50434146) /* "FACP" */
				return (uint16_t)t[76 / 4];
		}
	}
	return 0;
}

static void print_devices(void)
{
	uint64_t sig = fwcfg_read(0x0000, 4);
	uint16_t pm = pm_timer_port();
	uint32_t t0, t1;

	guest_printf("fw_cfg: signature '%c%c%c%c' cpus %u ram %llu MiB\n", (char)sig,
		     (char)(sig >> 8), (char)(sig >> 16), (char)(sig >> 24),
		     (unsigned)fwcfg_read(0x05, 2),
		     (unsigned long long)(fwcfg_read(0x03, 8) >> 20));
	outl(0xcf8, 0x80000000u); /* bus 0, device 0, function 0, register 0 */
	guest_printf("pci: 0x%x\n", inl(0xcfc));
	t0 = inl(pm) & 0xffffff;
	for (volatile int i = 0; i < 100000; i++)
		;
	t1 = inl(pm) & 0xffffff;
	guest_printf("pm-timer: port 0x%x %s\n", pm, pm && t1 != t0 ? "advancing" : "stuck");
}

int guest_main(unsigned ncpus)
{
	(void)ncpus;
	if (mb_magic != MB_BOOTLOADER_MAGIC) {
		guest_printf("magic: 0x%x (not multiboot)\n", mb_magic);
		return 1;
	}
	print_info((const struct mb_info *)(uintptr_t)mb_info);
	print_devices();
	return 0;
}
