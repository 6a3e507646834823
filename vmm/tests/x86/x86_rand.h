/* A small seeded PRNG (xorshift64*) for the x86 oracles and fuzz seeds: same seed, same cases. */
#ifndef KVMLAB_X86_RAND_H
#define KVMLAB_X86_RAND_H

#include <stddef.h>
#include <stdint.h>

struct x86_rand {
	uint64_t s;
};

static inline void x86_rand_seed(struct x86_rand *r, uint64_t seed)
{
	r->s = seed * 0x9e3779b97f4a7c15ull + 0x2545f4914f6cdd1dull;
	if (!r->s)
		r->s = 1;
}

static inline uint64_t x86_rand_u64(struct x86_rand *r)
{
	r->s ^= r->s >> 12;
	r->s ^= r->s << 25;
	r->s ^= r->s >> 27;
	return r->s * 0x2545f4914f6cdd1dull;
}

static inline uint32_t x86_rand_u32(struct x86_rand *r)
{
	return (uint32_t)(x86_rand_u64(r) >> 32);
}

/* A number below n (n > 0). */
static inline uint64_t x86_rand_below(struct x86_rand *r, uint64_t n)
{
	return x86_rand_u64(r) % n;
}

static inline void x86_rand_bytes(struct x86_rand *r, uint8_t *p, size_t n)
{
	while (n >= 8) {
		uint64_t v = x86_rand_u64(r);

		__builtin_memcpy(p, &v, 8);
		p += 8;
		n -= 8;
	}
	while (n--)
		*p++ = (uint8_t)(x86_rand_u64(r) >> 56);
}

#endif
