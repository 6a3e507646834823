/* Per instruction form: who finishes it on device memory, KVM or kvmlab; checked against RAM. */
#include "lib/guest.h"

/*
 * For every form: run it on RAM, then on the device (the 4 KiB test device
 * vmm/tests/kvm/test_x86_emulate.c attaches at DEV), from the same registers
 * and memory contents, and require identical registers, flags, vector/x87
 * state and memory: the in-guest oracle. Stages (GUEST_SYNC) let the host
 * count the exits of each run: for form n, stage 4n+1 is the set-up (its
 * SYNC carries whether the form runs: its CPU feature is there), 4n+2 the
 * RAM run, 4n+3 the device run and 4n+4 the comparison.
 * Some forms reach the device through a 4 KiB mapping at 4 GiB (the
 * emulator must walk the guest's page tables: an emulation failure gives no
 * physical address), some through an FS base, one across a page boundary.
 */
#define DEV	    0xd0100000ull
#define VIRT	    0x100000000ull /* 4 GiB: [DEV page][RAM page] through 4 KiB PTEs */
#define SPAN	    256		   /* bytes each form may touch, from its pointer */
#define MSR_FS_BASE 0xc0000100u

struct vstate {
	uint64_t gpr[8]; /* rax rbx rcx rdx rsi rdi r10 r11 */
	uint64_t rflags;
	uint64_t k1;
	uint8_t pad[48];
	uint8_t vec[4][64]; /* offset 128: zmm0-3 (or ymm/xmm) */
	uint8_t src[64];    /* offset 384: a 64-byte aligned RAM source (MOVDIR64B) */
} __attribute__((aligned(64)));

typedef void (*form_fn)(volatile uint8_t *p, struct vstate *s);

enum need {
	N_NONE = 0,
	N_SSE41 = 1u << 0,
	N_AVX = 1u << 1,
	N_AVX512 = 1u << 2,
	N_MOVDIR64B = 1u << 3,
};

enum where {
	W_PLAIN, /* p points at the device (or RAM) directly */
	W_PAGED, /* through the 4 KiB mapping at VIRT */
	W_CROSS, /* the last 16 bytes of the device page, then RAM: a page-crossing access */
	W_FS,	 /* FS-relative: p is an offset, FS base points at the buffer */
};

/* Loads rax..r11 and RFLAGS from the state, runs body with p in r8 and s in r9, stores back. */
#define FORM(fname, body)                                                                          \
	static void fname(volatile uint8_t *p, struct vstate *s)                                   \
	{                                                                                          \
		register volatile uint8_t *r8 __asm__("r8") = p;                                   \
		register struct vstate *r9 __asm__("r9") = s;                                      \
		__asm__ volatile("mov 0(%%r9), %%rax\n\tmov 8(%%r9), %%rbx\n\t"                    \
				 "mov 16(%%r9), %%rcx\n\tmov 24(%%r9), %%rdx\n\t"                  \
				 "mov 32(%%r9), %%rsi\n\tmov 40(%%r9), %%rdi\n\t"                  \
				 "mov 48(%%r9), %%r10\n\tmov 56(%%r9), %%r11\n\t"                  \
				 "push 64(%%r9)\n\tpopfq\n\t" body "\n\t"                          \
				 "pushfq\n\tpop 64(%%r9)\n\tcld\n\t"                               \
				 "mov %%rax, 0(%%r9)\n\tmov %%rbx, 8(%%r9)\n\t"                    \
				 "mov %%rcx, 16(%%r9)\n\tmov %%rdx, 24(%%r9)\n\t"                  \
				 "mov %%rsi, 32(%%r9)\n\tmov %%rdi, 40(%%r9)\n\t"                  \
				 "mov %%r10, 48(%%r9)\n\tmov %%r11, 56(%%r9)"                      \
				 : "+r"(r8), "+r"(r9)                                              \
				 :                                                                 \
				 : "rax", "rbx", "rcx", "rdx", "rsi", "rdi", "r10", "r11",         \
				   "memory", "cc");                                                \
	}

/* ---- integer ---- */
FORM(f_mov_st, "mov %%rbx, 8(%%r8)")
FORM(f_mov_ld, "mov 8(%%r8), %%rbx")
FORM(f_mov_imm, "movl $0x89abcdef, 12(%%r8)\n\tmovw $0x1234, 20(%%r8)\n\tmovb $0x56, 23(%%r8)")
FORM(f_mov_b,
     "push %%rdx\n\tmov %%r8, %%rdx\n\tmov %%bh, 3(%%rdx)\n\tmov 5(%%rdx), %%ch\n\tpop %%rdx")
FORM(f_movzx, "movzbl 7(%%r8), %%ebx\n\tmovzwq 9(%%r8), %%rcx")
FORM(f_movsx, "movsbq 7(%%r8), %%rbx\n\tmovswl 9(%%r8), %%ecx\n\tmovslq 11(%%r8), %%rdx")
FORM(f_add, "add %%rbx, 16(%%r8)\n\tadd 24(%%r8), %%ecx")
FORM(f_adc_sbb, "adc %%rbx, 16(%%r8)\n\tsbb 24(%%r8), %%cx")
FORM(f_logic, "and %%rbx, 16(%%r8)\n\tor %%ecx, 20(%%r8)\n\txor 24(%%r8), %%rdx")
FORM(f_sub_cmp, "sub %%rbx, 16(%%r8)\n\tcmp 24(%%r8), %%rcx")
FORM(f_grp1, "addq $-5, 32(%%r8)\n\tandl $0x0f0f0f0f, 40(%%r8)\n\tcmpb $7, 44(%%r8)")
FORM(f_test, "test %%rbx, 48(%%r8)\n\ttestl $0x80000001, 56(%%r8)")
FORM(f_unary, "notq 64(%%r8)\n\tnegl 72(%%r8)\n\tincw 76(%%r8)\n\tdecb 78(%%r8)")
FORM(f_xchg, "xchg %%rbx, 80(%%r8)")
FORM(f_cmpxchg, "lock cmpxchg %%rbx, 88(%%r8)\n\tmov 88(%%r8), %%rax\n\tcmpxchg %%ecx, 88(%%r8)")
FORM(f_xadd, "lock xadd %%rbx, 96(%%r8)")
FORM(f_bt, "and $0x3ff, %%rcx\n\tbt %%rcx, 104(%%r8)\n\tbtsq $13, 104(%%r8)\n\t"
	   "lock btr %%rcx, 104(%%r8)\n\tbtcq $62, 104(%%r8)")
FORM(f_movnti, "movnti %%rbx, 112(%%r8)")
FORM(f_moffs, "mov %%r8, %%rax\n\tmovabs %%rax, 0xd0100040\n\tmovabs 0xd0100048, %%eax")
/* ---- strings ---- */
FORM(f_rep_movsb, "lea 128(%%r8), %%rdi\n\tlea 16(%%r8), %%rsi\n\tmov $37, %%ecx\n\trep movsb\n\t"
		  "sub %%r8, %%rsi\n\tsub %%r8, %%rdi")
FORM(f_rep_stosq, "lea 128(%%r8), %%rdi\n\tmov $9, %%ecx\n\trep stosq\n\tsub %%r8, %%rdi")
FORM(f_std_movsw, "std\n\tlea 200(%%r8), %%rdi\n\tlea 100(%%r8), %%rsi\n\tmov $11, %%ecx\n\t"
		  "rep movsw\n\tsub %%r8, %%rsi\n\tsub %%r8, %%rdi")
FORM(f_lods, "lea 40(%%r8), %%rsi\n\tlodsq\n\tlodsl\n\tsub %%r8, %%rsi")
FORM(f_repe_cmpsb, "lea 16(%%r8), %%rsi\n\tlea 16(%%r8), %%rdi\n\tmov $20, %%ecx\n\trepe cmpsb\n\t"
		   "sub %%r8, %%rsi\n\tsub %%r8, %%rdi")
FORM(f_repne_scasb, "lea 8(%%r8), %%rdi\n\tmov $64, %%ecx\n\tmovb 30(%%r8), %%al\n\t"
		    "repne scasb\n\tsub %%r8, %%rdi")
/* ---- SSE ---- */
FORM(f_movdqu, "movdqu 128(%%r9), %%xmm0\n\tmovdqu %%xmm0, 3(%%r8)\n\tmovdqu 19(%%r8), %%xmm1\n\t"
	       "movdqu %%xmm1, 192(%%r9)")
FORM(f_movaps, "movaps (%%r8), %%xmm1\n\tmovaps %%xmm1, 192(%%r9)\n\tmovaps 128(%%r9), %%xmm0\n\t"
	       "movaps %%xmm0, 32(%%r8)")
FORM(f_movd_q, "movd 128(%%r9), %%xmm0\n\tmovd %%xmm0, 4(%%r8)\n\tmovq 8(%%r8), %%xmm1\n\t"
	       "movq %%xmm1, 24(%%r8)\n\tmovq 40(%%r8), %%rbx\n\tmovq %%rbx, %%xmm2\n\t"
	       "movdqu %%xmm1, 192(%%r9)\n\tmovdqu %%xmm2, 256(%%r9)")
FORM(f_movss_sd, "movss 4(%%r8), %%xmm1\n\tmovsd 8(%%r8), %%xmm2\n\tmovss %%xmm1, 20(%%r8)\n\t"
		 "movsd %%xmm2, 28(%%r8)\n\tmovdqu %%xmm1, 192(%%r9)\n\tmovdqu %%xmm2, 256(%%r9)")
FORM(f_movnt, "movdqu 128(%%r9), %%xmm0\n\tmovntdq %%xmm0, 64(%%r8)\n\tmovntps %%xmm0, 80(%%r8)")
FORM(f_movq_mmx, "movq 8(%%r8), %%mm0\n\tmovq %%mm0, 40(%%r8)\n\tmovd %%mm0, %%ebx\n\tfninit")
FORM(f_movntdqa, "movntdqa 16(%%r8), %%xmm1\n\tmovdqu %%xmm1, 192(%%r9)")
/* ---- AVX, AVX-512, MOVDIR64B ---- */
FORM(f_vmovdqu, "vmovdqu 128(%%r9), %%ymm0\n\tvmovdqu %%ymm0, 5(%%r8)\n\t"
		"vmovdqu 37(%%r8), %%ymm1\n\tvmovdqu %%ymm1, 192(%%r9)")
FORM(f_vmovdqa, "vmovdqa (%%r8), %%ymm1\n\tvmovdqa %%ymm1, 192(%%r9)\n\t"
		"vmovdqa 128(%%r9), %%ymm0\n\tvmovdqa %%ymm0, 64(%%r8)")
FORM(f_vmovx,
     "vmovups 13(%%r8), %%xmm2\n\tvmovapd 32(%%r8), %%ymm1\n\tvmovq 8(%%r8), %%xmm3\n\t"
     "vmovd %%xmm3, 100(%%r8)\n\tvmovdqu %%ymm1, 192(%%r9)\n\tvmovdqu %%ymm2, 256(%%r9)\n\t"
     "vmovdqu %%ymm3, 320(%%r9)")
FORM(f_vmovntdqa, "vmovntdqa 32(%%r8), %%ymm1\n\tvmovdqu %%ymm1, 192(%%r9)")
FORM(f_evex, "vmovdqu64 128(%%r9), %%zmm0\n\tvmovdqu32 %%zmm0, 64(%%r8)\n\t"
	     "vmovdqu8 3(%%r8), %%zmm1\n\tvmovdqu64 %%zmm1, 192(%%r9)")
FORM(f_movdir64b, "lea 384(%%r9), %%rsi\n\tmovdir64b (%%rsi), %%r8")
/* ---- x87 ---- */
FORM(f_x87, "fninit\n\tfldl 8(%%r8)\n\tflds 16(%%r8)\n\tfldt 32(%%r8)\n\tfstpl 48(%%r8)\n\t"
	    "fstps 56(%%r8)\n\tfstl 64(%%r8)\n\tfstpt 80(%%r8)")
FORM(f_movdqu_fs, "movdqu 128(%%r9), %%xmm0\n\tmovdqu %%xmm0, %%fs:3(%%r8)\n\t"
		  "movdqu %%fs:19(%%r8), %%xmm1\n\tmovdqu %%xmm1, 192(%%r9)")

struct form {
	const char *name;
	form_fn fn;
	unsigned need;
	unsigned where;
	unsigned align; /* the pointer's alignment */
};

static const struct form forms[] = {
    {"mov r/m64, r64 (89)", f_mov_st, N_NONE, W_PLAIN, 8},
    {"mov r64, r/m64 (8b)", f_mov_ld, N_NONE, W_PLAIN, 8},
    {"mov r/m, imm (c6/c7)", f_mov_imm, N_NONE, W_PLAIN, 8},
    {"mov r/m8 (ah), r8", f_mov_b, N_NONE, W_PLAIN, 8},
    {"movzx", f_movzx, N_NONE, W_PLAIN, 8},
    {"movsx, movsxd", f_movsx, N_NONE, W_PLAIN, 8},
    {"add", f_add, N_NONE, W_PLAIN, 8},
    {"adc, sbb", f_adc_sbb, N_NONE, W_PLAIN, 8},
    {"and, or, xor", f_logic, N_NONE, W_PLAIN, 8},
    {"sub, cmp", f_sub_cmp, N_NONE, W_PLAIN, 8},
    {"add/and/cmp imm (80/81/83)", f_grp1, N_NONE, W_PLAIN, 8},
    {"test", f_test, N_NONE, W_PLAIN, 8},
    {"not, neg, inc, dec", f_unary, N_NONE, W_PLAIN, 8},
    {"xchg", f_xchg, N_NONE, W_PLAIN, 8},
    {"cmpxchg (lock)", f_cmpxchg, N_NONE, W_PLAIN, 8},
    {"xadd (lock)", f_xadd, N_NONE, W_PLAIN, 8},
    {"bt, bts, btr, btc", f_bt, N_NONE, W_PLAIN, 8},
    {"movnti", f_movnti, N_NONE, W_PLAIN, 8},
    {"mov moffs (a1/a3)", f_moffs, N_NONE, W_PLAIN, 8},
    {"rep movsb", f_rep_movsb, N_NONE, W_PLAIN, 8},
    {"rep stosq", f_rep_stosq, N_NONE, W_PLAIN, 8},
    {"std; rep movsw", f_std_movsw, N_NONE, W_PLAIN, 8},
    {"lodsq, lodsd", f_lods, N_NONE, W_PLAIN, 8},
    {"repe cmpsb", f_repe_cmpsb, N_NONE, W_PLAIN, 8},
    {"repne scasb", f_repne_scasb, N_NONE, W_PLAIN, 8},
    {"movdqu (sse)", f_movdqu, N_NONE, W_PLAIN, 16},
    {"movaps (sse)", f_movaps, N_NONE, W_PLAIN, 16},
    {"movd, movq (sse)", f_movd_q, N_NONE, W_PLAIN, 16},
    {"movss, movsd", f_movss_sd, N_NONE, W_PLAIN, 16},
    {"movntdq, movntps", f_movnt, N_NONE, W_PLAIN, 16},
    {"movq (mmx)", f_movq_mmx, N_NONE, W_PLAIN, 16},
    {"movntdqa (sse4.1)", f_movntdqa, N_SSE41, W_PLAIN, 16},
    {"vmovdqu ymm", f_vmovdqu, N_AVX, W_PLAIN, 32},
    {"vmovdqa ymm", f_vmovdqa, N_AVX, W_PLAIN, 32},
    {"vmovups/vmovapd/vmovq/vmovd", f_vmovx, N_AVX, W_PLAIN, 32},
    {"vmovntdqa ymm", f_vmovntdqa, N_AVX, W_PLAIN, 32},
    {"evex vmovdqu32/8 zmm", f_evex, N_AVX512, W_PLAIN, 64},
    {"movdir64b", f_movdir64b, N_MOVDIR64B, W_PLAIN, 64},
    {"fld/fst/fstp m32/m64/m80", f_x87, N_NONE, W_PLAIN, 16},
    {"movdqu, through 4 KiB paging", f_movdqu, N_NONE, W_PAGED, 16},
    {"vmovdqu ymm, through 4 KiB paging", f_vmovdqu, N_AVX, W_PAGED, 32},
    {"fld/fst m64, through 4 KiB paging", f_x87, N_NONE, W_PAGED, 16},
    {"vmovdqu ymm, across a page boundary", f_vmovdqu, N_AVX, W_CROSS, 0},
    {"movdqu, fs: segment base", f_movdqu_fs, N_NONE, W_FS, 16},
};

#define NFORMS (sizeof(forms) / sizeof(forms[0]))

static uint8_t ram[2][4096] __attribute__((aligned(4096)));
static uint8_t xram[4096] __attribute__((aligned(4096))); /* VIRT + 4 KiB maps here */
static uint64_t pd[512] __attribute__((aligned(4096)));
static uint64_t pt[512] __attribute__((aligned(4096)));
static uint8_t cmpbuf[SPAN + 64];
static struct vstate s0, sr, sm;
static volatile bool saw_ud;
static uint64_t rng; /* seeded in guest_main: no writable data in the image */

static uint64_t next(void)
{
	rng ^= rng << 13;
	rng ^= rng >> 7;
	rng ^= rng << 17;
	return rng;
}

static void on_ud(struct guest_frame *f)
{
	saw_ud = true;
	f->rip += 4;
}

static bool avx_usable(unsigned xcr0)
{
	uint32_t a, b, c, d;
	uint64_t cr4;

	__asm__ volatile("mov %%cr4, %0" : "=r"(cr4));
	__asm__ volatile("mov %0, %%cr4" : : "r"(cr4 | (1ull << 18)));
	__asm__ volatile("xsetbv" : : "a"(xcr0), "d"(0), "c"(0));
	/* A VM exit before probing: some nested setups (QEMU's TCG under KVM) let XSETBV
	 * through unintercepted and restore the hypervisor's XCR0 at the next entry. */
	cpuid(1, 0, &a, &b, &c, &d);
	saw_ud = false;
	guest_set_irq_handler(6, on_ud);
	__asm__ volatile(".byte 0xc5, 0xfe, 0x6f, 0x00" : : "a"(ram) : "memory"); /* vmovdqu */
	guest_set_irq_handler(6, NULL);
	return !saw_ud;
}

static unsigned features(void)
{
	uint32_t a, b, c, d, a7, b7, c7, d7;
	unsigned f = 0;

	cpuid(1, 0, &a, &b, &c, &d);
	cpuid(7, 0, &a7, &b7, &c7, &d7);
	if ((c >> 19) & 1)
		f |= N_SSE41;
	if (((c >> 26) & 1) && ((c >> 28) & 1)) {
		bool avx512 = ((b7 >> 16) & 1) && ((b7 >> 30) & 1) && ((b7 >> 31) & 1);

		if (avx512 && avx_usable(0xe7))
			f |= N_AVX | N_AVX512;
		else if (avx_usable(7))
			f |= N_AVX;
	}
	if ((c7 >> 28) & 1)
		f |= N_MOVDIR64B;
	return f;
}

/* VIRT -> [the device page][xram], with 4 KiB pages. */
static void map_virt(void)
{
	uint64_t cr3, *pml4, *pdpt;

	__asm__ volatile("mov %%cr3, %0" : "=r"(cr3));
	pml4 = (uint64_t *)(cr3 & ~0xfffull);
	pdpt = (uint64_t *)(pml4[0] & ~0xfffull);
	pdpt[4] = (uint64_t)(uintptr_t)pd | 3;
	pd[0] = (uint64_t)(uintptr_t)pt | 3;
	pt[0] = DEV | 3;
	pt[1] = (uint64_t)(uintptr_t)xram | 3;
	__asm__ volatile("mov %0, %%cr3" : : "r"(cr3) : "memory");
}

static void wrmsr(uint32_t msr, uint64_t v)
{
	__asm__ volatile("wrmsr" : : "c"(msr), "a"((uint32_t)v), "d"((uint32_t)(v >> 32)));
}

/* Copies between RAM and a buffer that may be the device, 8 bytes at a time. */
static void copy_out(volatile uint8_t *dst, const uint8_t *src, unsigned n)
{
	for (unsigned i = 0; i < n; i += 8)
		*(volatile uint64_t *)(dst + i) = *(const uint64_t *)(src + i);
}

static void copy_in(uint8_t *dst, const volatile uint8_t *src, unsigned n)
{
	for (unsigned i = 0; i < n; i += 8)
		*(uint64_t *)(dst + i) = *(const volatile uint64_t *)(src + i);
}

static void run(const struct form *f, volatile uint8_t *base, struct vstate *s)
{
	*s = s0;
	if (f->where == W_FS) {
		wrmsr(MSR_FS_BASE, (uint64_t)(uintptr_t)base - 0x100);
		f->fn((volatile uint8_t *)0x100, s);
		wrmsr(MSR_FS_BASE, 0);
	} else {
		f->fn(base, s);
	}
}

int guest_main(unsigned ncpus)
{
	unsigned have;

	(void)ncpus;
	rng = 0x9e3779b97f4a7c15ull;
	have = features();
	map_virt();
	for (unsigned i = 0; i < NFORMS; i++) {
		const struct form *f = &forms[i];
		volatile uint8_t *dev, *mem;
		uint8_t init[SPAN];
		bool ok = (f->need & have) == f->need;
		unsigned at = f->align ? (unsigned)(next() % 4) * f->align : 0;

		GUEST_SYNC_ARGS(4 * i + 1, ok, i, 0); /* set-up */
		GUEST_PRINT(f->name);
		if (!ok)
			continue;
		/* The same bytes in RAM and on the device; the same registers. */
		for (unsigned k = 0; k < SPAN; k += 8)
			*(uint64_t *)(init + k) = next();
		for (unsigned k = 0; k < 8; k++)
			s0.gpr[k] = next();
		s0.rflags = 0x2 | (next() & 0x8d5);
		s0.k1 = next();
		for (unsigned k = 0; k < 4 * 64; k += 8)
			*(uint64_t *)(&s0.vec[0][0] + k) = next();
		for (unsigned k = 0; k < 64; k += 8)
			*(uint64_t *)(s0.src + k) = next();
		*(uint64_t *)(init + 8) =
		    0x400921fb54442d18ull; /* doubles and an m80 for the x87 */
		*(uint32_t *)(init + 16) = 0x3f9d70a4u;
		*(uint64_t *)(init + 32) = 0xc90fdaa22168c235ull;
		*(uint64_t *)(init + 40) = 0x4000;
		switch (f->where) {
		case W_PAGED:
			dev = (volatile uint8_t *)VIRT + at;
			mem = (volatile uint8_t *)ram[0] + at;
			break;
		case W_CROSS: /* 16 bytes at the end of the device page, then xram */
			dev = (volatile uint8_t *)VIRT + 4096 - 16;
			mem = (volatile uint8_t *)ram[1] - 16;
			break;
		default:
			dev = (volatile uint8_t *)DEV + at;
			mem = (volatile uint8_t *)ram[0] + at;
			break;
		}
		if (f->fn == f_moffs) { /* fixed device addresses: a RAM copy cannot share them */
			dev = (volatile uint8_t *)DEV;
			mem = NULL;
		}
		copy_out(dev, init, SPAN);
		if (mem)
			copy_out(mem, init, SPAN);
		if (f->where == W_PAGED) { /* the device run must set accessed and dirty again */
			pt[0] &= ~0x60ull;
			__asm__ volatile("invlpg (%0)" : : "r"(VIRT) : "memory");
		}
		GUEST_SYNC(4 * i + 2); /* exits from here to the next SYNC: the RAM run */
		if (mem)
			run(f, mem, &sr);
		GUEST_SYNC(4 * i + 3); /* ... and the device run */
		run(f, dev, &sm);
		GUEST_SYNC(4 * i + 4); /* the comparison */
		if (!mem)
			continue;
		/* The in-guest oracle: registers, flags, vector/x87 state and memory agree. */
		for (unsigned k = 0; k < 8; k++)
			GUEST_ASSERT_EQ(sm.gpr[k], sr.gpr[k]);
		GUEST_ASSERT_EQ(sm.rflags & 0xcd5, sr.rflags & 0xcd5);
		for (unsigned k = 0; k < sizeof(sr.vec); k++)
			GUEST_ASSERT_EQ((&sm.vec[0][0])[k], (&sr.vec[0][0])[k]);
		copy_in(cmpbuf, dev, SPAN);
		for (unsigned k = 0; k < SPAN; k++)
			GUEST_ASSERT_EQ(cmpbuf[k], ((volatile uint8_t *)mem)[k]);
		if (f->where == W_PAGED) /* accessed and dirty, as the CPU's walk sets them */
			GUEST_ASSERT_EQ(pt[0] & 0x60, 0x60);
	}
	GUEST_SYNC(4 * NFORMS + 1);
	GUEST_DONE();
}
