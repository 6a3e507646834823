/* Fuzz target: the x86 decoder and formatter on arbitrary bytes, in every mode, as a stream. */
#include <string.h>

#include "fuzz.h"
#include "kvmlab/x86_decode.h"

/*
 * Input: a control byte (bits 0-1 the mode, bit 2 X86_DECODE_AMD), then code.
 * The code is decoded as a linear sweep, as a disassembler would, and every
 * instruction is checked against the decoder's contract: a length within
 * the bytes and 15, the same result from exactly those bytes, TRUNCATED from
 * one byte fewer, operands that name real registers, and text that fits.
 */
static void check_one(const uint8_t *p, size_t n, enum x86_mode mode, unsigned flags)
{
	struct x86_insn in, again;
	int r = x86_decode(p, n, mode, flags, &in);
	char text[160];

	FUZZ_CHECK(r == X86_DECODE_OK || r == X86_DECODE_INVALID || r == X86_DECODE_TRUNCATED ||
		       r == X86_DECODE_TOO_LONG,
		   "status %d", r);
	if (r == X86_DECODE_TRUNCATED)
		FUZZ_CHECK(n < X86_MAX_INSN_LEN, "truncated with %zu bytes", n);
	if (r != X86_DECODE_OK)
		return;
	FUZZ_CHECK(in.len >= 1 && in.len <= n && in.len <= X86_MAX_INSN_LEN, "length %u of %zu",
		   in.len, n);
	FUZZ_CHECK(x86_decode(p, in.len, mode, flags, &again) == X86_DECODE_OK &&
		       again.len == in.len && again.mnemonic == in.mnemonic,
		   "decoding exactly %u bytes changed the result", in.len);
	FUZZ_CHECK(x86_decode(p, in.len - 1u, mode, flags, &again) == X86_DECODE_TRUNCATED,
		   "one byte short of %u bytes did not say truncated", in.len);
	FUZZ_CHECK(in.nops <= X86_MAX_OPERANDS && in.mnemonic < X86_MN_COUNT, "operands");
	FUZZ_CHECK(in.mnemonic != X86_MN_OTHER || in.nops == 0, "operands outside the subset");
	for (unsigned i = 0; i < in.nops; i++) {
		const struct x86_operand *op = &in.ops[i];

		FUZZ_CHECK(op->kind >= X86_OPK_REG && op->kind <= X86_OPK_IMM, "operand kind");
		FUZZ_CHECK(op->kind != X86_OPK_MEM || in.has_mem, "memory operand without address");
		FUZZ_CHECK(op->kind != X86_OPK_REG || op->reg < 32, "register %u", op->reg);
		FUZZ_CHECK(op->size >= 1 && op->size <= 64, "operand size %u", op->size);
	}
	if (in.has_mem) {
		FUZZ_CHECK(in.mem.base == X86_REG_NONE || in.mem.base <= X86_REG_RIP, "base");
		FUZZ_CHECK(in.mem.index == X86_REG_NONE || in.mem.index < 32, "index");
		FUZZ_CHECK(in.mem.seg <= X86_SEG_GS, "segment %u", in.mem.seg);
		FUZZ_CHECK(in.mem.base != X86_REG_RIP || mode == X86_MODE_64, "RIP outside 64-bit");
	}
	FUZZ_CHECK(in.disp_off + in.disp_size <= in.len && in.imm_off + in.imm_size <= in.len,
		   "fields beyond the instruction");
	FUZZ_CHECK(memcmp(in.bytes, p, in.len) == 0, "bytes copy");
	FUZZ_CHECK(x86_format(&in, text, sizeof(text)) >= 0 && strlen(text) < sizeof(text), "text");
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct fuzz_in in;
	const uint8_t *code;
	size_t len, off = 0;
	unsigned ctl;

	fuzz_in_init(&in, data, size);
	ctl = fuzz_u8(&in);
	code = fuzz_rest(&in, &len);
	while (off < len) {
		enum x86_mode mode = (enum x86_mode)(ctl & 3);
		unsigned flags = (ctl & 4) ? X86_DECODE_AMD : 0;
		struct x86_insn one;

		check_one(code + off, len - off, mode, flags);
		off += x86_decode(code + off, len - off, mode, flags, &one) == X86_DECODE_OK
			   ? one.len
			   : 1;
	}
	return 0;
}
