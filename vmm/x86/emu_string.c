/* String instructions: MOVS, STOS, LODS, CMPS, SCAS with REP/REPE/REPNE, DF, address size. */
#include "emu_internal.h"

#define RCX 1
#define RSI 6
#define RDI 7

/*
 * One iteration at a time, committing rSI, rDI and rCX after each, so a
 * fault in iteration n leaves the registers as the CPU does: n iterations
 * done and RIP still at the instruction (SDM vol. 2, REP/REPE/REPNE).
 */
int emu_string(struct x86_emu *e, const struct x86_insn *in)
{
	unsigned size = (in->opcode & 1) ? in->opsize : 1, asz = in->addrsize;
	unsigned src_seg = in->seg != X86_SEG_NONE ? in->seg : X86_SEG_DS;
	bool rep = in->pfx & (X86_PFX_REP | X86_PFX_REPNE);
	bool cmp = in->mnemonic == X86_MN_CMPS || in->mnemonic == X86_MN_SCAS;
	uint64_t delta = (e->cpu->rflags & RFLAGS_DF) ? -(uint64_t)size : size;
	uint64_t done = 0;
	int r;

	for (;;) {
		uint64_t si = emu_gpr_read(e, RSI, asz, false),
			 di = emu_gpr_read(e, RDI, asz, false);
		uint64_t a = 0, b = 0;

		if (rep && emu_gpr_read(e, RCX, asz, false) == 0)
			return OK;
		if (e->max_rep && done == e->max_rep)
			return X86_EMU_PARTIAL;
		switch (in->mnemonic) {
		case X86_MN_MOVS:
			if ((r = emu_read(e, src_seg, si, &a, size)) ||
			    (r = emu_write(e, X86_SEG_ES, di, &a, size)))
				return r;
			break;
		case X86_MN_STOS:
			a = emu_gpr_read(e, 0, size, false);
			if ((r = emu_write(e, X86_SEG_ES, di, &a, size)))
				return r;
			break;
		case X86_MN_LODS:
			if ((r = emu_read(e, src_seg, si, &a, size)))
				return r;
			emu_gpr_write(e, 0, size, false, a);
			break;
		case X86_MN_CMPS:
			if ((r = emu_read(e, src_seg, si, &a, size)) ||
			    (r = emu_read(e, X86_SEG_ES, di, &b, size)))
				return r;
			break;
		default: /* SCAS */
			a = emu_gpr_read(e, 0, size, false);
			if ((r = emu_read(e, X86_SEG_ES, di, &b, size)))
				return r;
			break;
		}
		if (cmp) {
			uint64_t m = size_mask(size), res = (a - b) & m,
				 sign = 1ull << (8 * size - 1);
			uint64_t f = emu_flags_szp(res, size);

			if (a < b)
				f |= RFLAGS_CF;
			if ((a ^ b) & (a ^ res) & sign)
				f |= RFLAGS_OF;
			f |= (a ^ b ^ res) & RFLAGS_AF;
			e->cpu->rflags = (e->cpu->rflags & ~RFLAGS_ARITH) | f;
		}
		if (in->mnemonic != X86_MN_STOS && in->mnemonic != X86_MN_SCAS)
			emu_gpr_write(e, RSI, asz, false, si + delta);
		if (in->mnemonic != X86_MN_LODS)
			emu_gpr_write(e, RDI, asz, false, di + delta);
		done++;
		if (!rep)
			return OK;
		emu_gpr_write(e, RCX, asz, false, emu_gpr_read(e, RCX, asz, false) - 1);
		if (cmp && (in->pfx & X86_PFX_REP) && !(e->cpu->rflags & RFLAGS_ZF))
			return OK;
		if (cmp && (in->pfx & X86_PFX_REPNE) && (e->cpu->rflags & RFLAGS_ZF))
			return OK;
	}
}
