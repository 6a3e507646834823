/* Memory test guest: at each SYNC the host fills a mailbox saying which pages to touch and how. */
#include "lib/guest.h"

/* Keep in step with struct mem_cmd in vmm/tests/kvm/test_mem_lib.h (stage 0 reports its size). */
enum mem_op {
	MEM_OP_DONE = 0,
	MEM_OP_WRITE = 1,      /* page p: first qword = value + p */
	MEM_OP_READ = 2,       /* result = sum over pages of their first qword */
	MEM_OP_WAIT_NE = 3,    /* spin until the u32 at gpa != value; result = what was read */
	MEM_OP_WRITE_READ = 4, /* write value at gpa, result = the qword read back */
	MEM_OP_MAP_HIGH = 5,   /* identity-map 4 GiB .. 5 GiB with 2 MiB pages */
};

struct mem_cmd {
	uint64_t op;
	uint64_t gpa;
	uint64_t stride;  /* bytes between pages; 0 means 4 KiB */
	uint64_t count;	  /* pages 0 .. count-1, or, when 0, the pages set in mask */
	uint64_t mask[4]; /* up to 256 pages */
	uint64_t value;
};

static volatile struct mem_cmd cmd;
static uint64_t pd_high[512] __attribute__((aligned(4096)));

static bool page_selected(uint64_t p)
{
	if (cmd.count)
		return p < cmd.count;
	return p < 256 && (cmd.mask[p / 64] >> (p % 64)) & 1;
}

static uint64_t pages_limit(void)
{
	return cmd.count ? cmd.count : 256;
}

static volatile uint64_t *page_at(uint64_t p)
{
	return (volatile uint64_t *)(uintptr_t)(cmd.gpa + p * (cmd.stride ? cmd.stride : 4096));
}

static void map_high(void)
{
	uint64_t cr3, *pml4, *pdpt;

	__asm__ volatile("mov %%cr3, %0" : "=r"(cr3));
	pml4 = (uint64_t *)(uintptr_t)(cr3 & ~0xfffull);
	pdpt = (uint64_t *)(uintptr_t)(pml4[0] & ~0xfffull);
	for (uint64_t i = 0; i < 512; i++)
		pd_high[i] = ((4ull << 30) + (i << 21)) | 0x83; /* present, writable, 2 MiB */
	pdpt[4] = (uint64_t)(uintptr_t)pd_high | 0x3;
	__asm__ volatile("mov %0, %%cr3" : : "r"(cr3) : "memory");
}

static uint64_t run(void)
{
	uint64_t result = 0, n = pages_limit();

	switch (cmd.op) {
	case MEM_OP_WRITE:
		for (uint64_t p = 0; p < n; p++)
			if (page_selected(p))
				*page_at(p) = cmd.value + p;
		break;
	case MEM_OP_READ:
		for (uint64_t p = 0; p < n; p++)
			if (page_selected(p))
				result += *page_at(p);
		break;
	case MEM_OP_WAIT_NE:
		while ((result = *(volatile uint32_t *)(uintptr_t)cmd.gpa) == (uint32_t)cmd.value)
			cpu_relax();
		break;
	case MEM_OP_WRITE_READ:
		*(volatile uint64_t *)(uintptr_t)cmd.gpa = cmd.value;
		result = *(volatile uint64_t *)(uintptr_t)cmd.gpa;
		break;
	case MEM_OP_MAP_HIGH:
		map_high();
		break;
	default:
		GUEST_ASSERT_EQ(cmd.op, MEM_OP_DONE);
	}
	return result;
}

int guest_main(unsigned ncpus)
{
	uint64_t result = sizeof(struct mem_cmd);

	(void)ncpus;
	for (uint64_t stage = 0;; stage++) {
		GUEST_SYNC_ARGS(stage, (uint64_t)(uintptr_t)&cmd, result, 0);
		if (cmd.op == MEM_OP_DONE)
			GUEST_DONE();
		result = run();
	}
}
