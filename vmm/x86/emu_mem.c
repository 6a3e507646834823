/* Guest memory for the emulator: segmentation, the page-table walk, alignment, split accesses. */
#include "emu_internal.h"

#define PTE_P  (1ull << 0)
#define PTE_W  (1ull << 1)
#define PTE_U  (1ull << 2)
#define PTE_A  (1ull << 5)
#define PTE_D  (1ull << 6)
#define PTE_PS (1ull << 7)
#define PTE_NX (1ull << 63)

#define PF_P	(1u << 0)
#define PF_W	(1u << 1)
#define PF_U	(1u << 2)
#define PF_RSVD (1u << 3)
#define PF_I	(1u << 4)
#define PF_PK	(1u << 5)

#define PAGE_SIZE 4096ull

static int seg_fault(struct x86_emu *e, unsigned seg)
{
	return emu_fault(e, seg == X86_SEG_SS ? X86_EXC_SS : X86_EXC_GP, true, 0);
}

static bool canonical(const struct x86_cpu *c, uint64_t la)
{
	unsigned sh = 64 - ((c->cr4 & CR4_LA57) ? 57 : 48);

	return (uint64_t)((int64_t)(la << sh) >> sh) == la;
}

/*
 * Segmentation (SDM vol. 3, 5.3 and 5.4): in 64-bit mode only FS and GS add
 * a base and the address must be canonical; elsewhere the segment must be
 * usable, of a type allowing the access, and the whole access inside its
 * limit (expand-down segments invert the check). Real and virtual-8086 mode
 * check the limit only.
 */
int emu_linear(struct x86_emu *e, unsigned seg, uint64_t ea, unsigned len, unsigned acc,
	       uint64_t *la)
{
	const struct x86_cpu *c = e->cpu;
	const struct x86_segment *s = &c->seg[seg];
	enum x86_mode mode = x86_cpu_mode(c);
	uint64_t last = ea + len - 1;

	if (mode == X86_MODE_64) {
		*la = ea + (seg == X86_SEG_FS || seg == X86_SEG_GS ? s->base : 0);
		if (!canonical(c, *la) || !canonical(c, *la + len - 1))
			return seg_fault(e, seg);
		return OK;
	}
	if (mode != X86_MODE_REAL) {
		if (s->unusable || !s->present)
			return seg_fault(e, seg);
		if ((acc & X86_ACC_WRITE) && ((s->type & X86_SEG_CODE) || !(s->type & X86_SEG_RW)))
			return seg_fault(e, seg);
		if (!(acc & X86_ACC_WRITE) && (s->type & X86_SEG_CODE) && !(s->type & X86_SEG_RW))
			return seg_fault(e, seg);
	}
	if (!(s->type & X86_SEG_CODE) && (s->type & X86_SEG_DOWN) && mode != X86_MODE_REAL) {
		uint64_t upper = s->db ? 0xffffffffull : 0xffffull;

		if (ea <= s->limit || last > upper)
			return seg_fault(e, seg);
	} else if (last > s->limit) {
		return seg_fault(e, seg);
	}
	*la = (s->base + ea) & 0xffffffffull;
	return OK;
}

static uint64_t phys_mask(const struct x86_cpu *c)
{
	unsigned bits = c->maxphyaddr ? c->maxphyaddr : 52;

	return ((1ull << bits) - 1) & ~(PAGE_SIZE - 1);
}

static int read_entry(struct x86_emu *e, uint64_t gpa, unsigned size, uint64_t *v)
{
	*v = 0;
	if (e->ops->read(e->opaque, gpa, v, size))
		return emu_error(e, "reading a guest page table failed");
	return OK;
}

/* Sets bits in a paging-structure entry, atomically when the embedder can. */
static int set_entry_bits(struct x86_emu *e, uint64_t gpa, unsigned size, uint64_t old,
			  uint64_t bits)
{
	if (size == 8 && e->ops->cmpxchg) {
		for (;;) {
			int r = e->ops->cmpxchg(e->opaque, gpa, &old, old | bits);

			if (r == 1)
				return OK;
			if (r < 0)
				break;
			if ((old & bits) == bits)
				return OK;
		}
	}
	old |= bits;
	if (e->ops->write(e->opaque, gpa, &old, size))
		return emu_error(e, "updating a guest page table failed");
	return OK;
}

struct walk {
	uint64_t gpa[5];
	uint64_t val[5];
	unsigned n, size;
};

static int page_fault(struct x86_emu *e, uint64_t la, uint32_t error)
{
	emu_fault(e, X86_EXC_PF, true, error);
	e->fault.cr2 = la;
	return FAULT;
}

enum x86_emu_result x86_translate(struct x86_emu *e, uint64_t la, unsigned acc, uint64_t *gpa)
{
	const struct x86_cpu *c = e->cpu;
	bool user = emu_cpl(c) == 3, write = acc & X86_ACC_WRITE, fetch = acc & X86_ACC_FETCH;
	bool nxe = c->efer & EFER_NXE;
	uint64_t pmask = phys_mask(c), table, rsvd_hi, leaf = 0, page_mask = PAGE_SIZE - 1;
	uint64_t allow_w = 1, allow_u = 1, nx = 0;
	uint32_t err = (write ? PF_W : 0) | (user ? PF_U : 0) |
		       (fetch && (nxe || (c->cr4 & CR4_SMEP)) ? PF_I : 0);
	struct walk w = {.n = 0};
	int levels, r;

	if (!(c->cr0 & CR0_PG)) {
		*gpa = la;
		return X86_EMU_OK;
	}
	rsvd_hi = ~pmask & 0x000ffffffffff000ull;
	if (!nxe)
		rsvd_hi |= PTE_NX;
	if (c->efer & EFER_LMA) {
		levels = (c->cr4 & CR4_LA57) ? 5 : 4;
		table = c->cr3 & pmask;
		w.size = 8;
	} else if (c->cr4 & CR4_PAE) {
		uint64_t pdpte;

		w.size = 8;
		if ((r = read_entry(e, (c->cr3 & 0xffffffe0ull) + ((la >> 30) & 3) * 8, 8, &pdpte)))
			return (enum x86_emu_result)r;
		if (!(pdpte & PTE_P))
			return (enum x86_emu_result)page_fault(e, la, err);
		if (pdpte & ((rsvd_hi | PTE_NX) | 0x1e6ull))
			return (enum x86_emu_result)page_fault(e, la, err | PF_P | PF_RSVD);
		table = pdpte & pmask;
		levels = 2;
	} else {
		levels = 2;
		table = c->cr3 & 0xfffff000ull;
		w.size = 4;
		rsvd_hi = 0;
	}
	for (int level = levels; level >= 1; level--) {
		unsigned shift = 12 + 9 * (level - 1);
		uint64_t idx =
		    w.size == 8 ? (la >> shift) & 0x1ff : (la >> (12 + 10 * (level - 1))) & 0x3ff;
		uint64_t pte, rsvd = rsvd_hi;

		w.gpa[w.n] = table + idx * w.size;
		if ((r = read_entry(e, w.gpa[w.n], w.size, &pte)))
			return (enum x86_emu_result)r;
		w.val[w.n++] = pte;
		if (!(pte & PTE_P))
			return (enum x86_emu_result)page_fault(e, la, err);
		if (w.size == 8 && level >= 4)
			rsvd |= PTE_PS; /* no 512 GiB (or larger) pages */
		if ((pte & PTE_PS) && level == 3 && w.size == 8)
			rsvd |= 0x3fffe000ull; /* 1 GiB page: bits 29:13 */
		if ((pte & PTE_PS) && level == 2 && w.size == 8)
			rsvd |= 0x1fe000ull; /* 2 MiB page: bits 20:13 */
		if ((pte & PTE_PS) && level == 2 && w.size == 4 && (c->cr4 & CR4_PSE))
			rsvd |= 1ull << 21; /* 4 MiB page: bit 21 */
		if (pte & rsvd)
			return (enum x86_emu_result)page_fault(e, la, err | PF_P | PF_RSVD);
		allow_w &= (pte & PTE_W) ? 1 : 0;
		allow_u &= (pte & PTE_U) ? 1 : 0;
		nx |= (w.size == 8 && (pte & PTE_NX)) ? 1 : 0;
		if (level == 1 ||
		    ((pte & PTE_PS) && level <= 3 && (w.size == 8 || (c->cr4 & CR4_PSE)))) {
			leaf = pte;
			page_mask =
			    (1ull << (w.size == 8 ? shift : 12u + 10u * (unsigned)(level - 1))) - 1;
			break;
		}
		table = pte & (w.size == 8 ? pmask : 0xfffff000ull);
	}

	/* Access rights (SDM vol. 3, 4.6). */
	if (user && !allow_u)
		return (enum x86_emu_result)page_fault(e, la, err | PF_P);
	if (fetch) {
		if (nx && nxe)
			return (enum x86_emu_result)page_fault(e, la, err | PF_P);
		if (!user && allow_u && (c->cr4 & CR4_SMEP))
			return (enum x86_emu_result)page_fault(e, la, err | PF_P);
	} else {
		if (write && !allow_w && (user || (c->cr0 & CR0_WP)))
			return (enum x86_emu_result)page_fault(e, la, err | PF_P);
		if (!user && allow_u && (c->cr4 & CR4_SMAP) && !(c->rflags & RFLAGS_AC))
			return (enum x86_emu_result)page_fault(e, la, err | PF_P);
		if (allow_u && (c->cr4 & CR4_PKE) && w.size == 8 && (c->efer & EFER_LMA)) {
			unsigned key = (unsigned)(leaf >> 59) & 15;
			uint32_t pkru;

			if ((r = emu_fpu(e)))
				return (enum x86_emu_result)r;
			pkru = e->fpu.pkru >> (2 * key);
			if ((pkru & 1) || (write && (pkru & 2) && (user || (c->cr0 & CR0_WP))))
				return (enum x86_emu_result)page_fault(e, la, err | PF_P | PF_PK);
		}
	}

	/* Accessed bits on every level, dirty on the leaf for writes. */
	for (unsigned i = 0; i < w.n; i++) {
		uint64_t bits = (w.val[i] & PTE_A) ? 0 : PTE_A;

		if (i == w.n - 1 && write && !(w.val[i] & PTE_D))
			bits |= PTE_D;
		if (bits && (r = set_entry_bits(e, w.gpa[i], w.size, w.val[i], bits)))
			return (enum x86_emu_result)r;
	}
	if (w.size == 4 && page_mask == 0x3fffff)
		*gpa = (leaf & 0xffc00000ull) | ((leaf & 0x1fe000ull) << 19) | (la & page_mask);
	else
		*gpa =
		    (leaf & (w.size == 8 ? pmask : 0xfffff000ull) & ~page_mask) | (la & page_mask);
	return X86_EMU_OK;
}

/*
 * Alignment checking (#AC): CPL 3 with CR0.AM and RFLAGS.AC, for data
 * misaligned to its size, capped at 16 bytes (vector moves of 16 to 64
 * bytes check 16; an x87 m80 checks 8). Masked EVEX moves are not checked;
 * MOVDIR64B's 64-byte store has its own #GP rule. Measured on the host CPU
 * (AMD Zen 4) by the host oracle; see docs/x86-emulation.md.
 */
bool emu_ac_enabled(const struct x86_emu *e)
{
	const struct x86_cpu *c = e->cpu;

	return emu_cpl(c) == 3 && (c->cr0 & CR0_AM) && (c->rflags & RFLAGS_AC);
}

static bool misaligned_ac(const struct x86_emu *e, uint64_t la, unsigned len)
{
	if (!emu_ac_enabled(e))
		return false;
	if (e->insn.enc == X86_ENC_EVEX && e->insn.evex_aaa) /* checked per element size */
		return false;
	if (e->insn.mnemonic == X86_MN_MOVDIR64B)
		return false;
	if (len == 10)
		len = 8;
	if (len > 16)
		len = 16;
	return len > 1 && (la & (len - 1));
}

int emu_prepare(struct x86_emu *e, unsigned seg, uint64_t ea, unsigned len, unsigned acc,
		unsigned align, struct emu_xlat *x)
{
	uint64_t la = 0, first;
	int r;

	if ((r = emu_linear(e, seg, ea, len, acc, &la)))
		return r;
	if (align > 1 && (la & (align - 1)))
		return emu_gp0(e);
	if (misaligned_ac(e, la, len))
		return emu_fault(e, X86_EXC_AC, true, 0);
	x->la = la;
	first = PAGE_SIZE - (la & (PAGE_SIZE - 1));
	x->n = len > first ? 2 : 1;
	x->len[0] = x->n == 2 ? (unsigned)first : len;
	x->len[1] = len - x->len[0];
	if ((r = x86_translate(e, la, acc, &x->gpa[0])))
		return r;
	if (x->n == 2) {
		uint64_t la2 = la + first;

		if (x86_cpu_mode(e->cpu) != X86_MODE_64)
			la2 &= 0xffffffffull;
		if ((r = x86_translate(e, la2, acc, &x->gpa[1])))
			return r;
	}
	return OK;
}

/* Devices see accesses of at most 8 bytes, as from KVM's own emulator. */
int emu_xread(struct x86_emu *e, const struct emu_xlat *x, void *buf)
{
	uint8_t *p = buf;

	for (unsigned i = 0; i < x->n; i++)
		for (unsigned off = 0; off < x->len[i];) {
			unsigned n = x->len[i] - off > 8 ? 8 : x->len[i] - off;

			if (e->ops->read(e->opaque, x->gpa[i] + off, p, n))
				return emu_error(e, "a guest memory read failed");
			p += n;
			off += n;
		}
	return OK;
}

int emu_xwrite(struct x86_emu *e, const struct emu_xlat *x, const void *buf, bool whole)
{
	const uint8_t *p = buf;

	for (unsigned i = 0; i < x->n; i++)
		for (unsigned off = 0; off < x->len[i];) {
			unsigned n = whole || x->len[i] - off <= 8 ? x->len[i] - off : 8;

			if (e->ops->write(e->opaque, x->gpa[i] + off, p, n))
				return emu_error(e, "a guest memory write failed");
			p += n;
			off += n;
		}
	return OK;
}

int emu_read(struct x86_emu *e, unsigned seg, uint64_t ea, void *buf, unsigned len)
{
	struct emu_xlat x;
	int r = emu_prepare(e, seg, ea, len, X86_ACC_READ, 0, &x);

	return r ? r : emu_xread(e, &x, buf);
}

int emu_write(struct x86_emu *e, unsigned seg, uint64_t ea, const void *buf, unsigned len)
{
	struct emu_xlat x;
	int r = emu_prepare(e, seg, ea, len, X86_ACC_WRITE, 0, &x);

	return r ? r : emu_xwrite(e, &x, buf, false);
}

size_t x86_fetch(struct x86_emu *e, uint64_t rip, uint8_t *buf, size_t len)
{
	const struct x86_cpu *c = e->cpu;
	enum x86_mode mode = x86_cpu_mode(c);
	size_t got = 0;

	if (len > X86_MAX_INSN_LEN)
		len = X86_MAX_INSN_LEN;
	while (got < len) {
		uint64_t la = mode == X86_MODE_64
				  ? rip + got
				  : (c->seg[X86_SEG_CS].base + rip + got) & 0xffffffffull;
		uint64_t gpa;
		size_t n = PAGE_SIZE - (la & (PAGE_SIZE - 1));

		if (n > len - got)
			n = len - got;
		if (n > 8)
			n = 8;
		if (x86_translate(e, la, X86_ACC_FETCH, &gpa) != X86_EMU_OK)
			break;
		if (e->ops->read(e->opaque, gpa, buf + got, (unsigned)n))
			break;
		got += n;
	}
	return got;
}

static bool range_hits(struct x86_emu *e, unsigned seg, uint64_t ea, unsigned len, uint64_t gpa)
{
	uint64_t la = 0, pa = 0;

	if (emu_linear(e, seg, ea, len ? len : 1, X86_ACC_READ, &la) ||
	    x86_translate(e, la, X86_ACC_READ, &pa))
		return false;
	/* The access may start on the previous page and cross into gpa's. */
	return gpa >= pa - (la & (PAGE_SIZE - 1)) && gpa - pa < (len ? len : 1) + PAGE_SIZE;
}

bool x86_insn_touches(struct x86_emu *e, const struct x86_insn *in, uint64_t rip, uint64_t gpa)
{
	uint64_t saved = e->cpu->rip;
	bool hit = false;
	unsigned size = 64;

	e->cpu->rip = rip;
	e->insn = *in;
	if (in->has_mem) {
		for (unsigned i = 0; i < in->nops; i++)
			if (in->ops[i].kind == X86_OPK_MEM)
				size = in->ops[i].size;
		hit = range_hits(e, in->mem.seg, emu_ea(e, in), size, gpa);
	} else if (in->mnemonic >= X86_MN_MOVS && in->mnemonic <= X86_MN_SCAS) {
		unsigned sz = in->opcode & 1 ? in->opsize : 1, asz = in->addrsize;

		hit = range_hits(e, X86_SEG_ES, emu_gpr_read(e, 7, asz, false), sz, gpa) ||
		      range_hits(e, in->seg != X86_SEG_NONE ? in->seg : X86_SEG_DS,
				 emu_gpr_read(e, 6, asz, false), sz, gpa);
	}
	e->cpu->rip = saved;
	return hit;
}
