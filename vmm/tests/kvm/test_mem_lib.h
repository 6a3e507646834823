/* Helpers for the memory KVM tests: the mem_touch guest's mailbox, host memory probes, sysfs knobs.
 */
#ifndef KVMLAB_TEST_MEM_LIB_H
#define KVMLAB_TEST_MEM_LIB_H

#include <stdint.h>

#include "kvmlab/mem.h"
#include "kvmtest.h"

/* The mailbox of guests/mem_touch.c (same layout; the guest reports its size at stage 0). */
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

struct memtest;

/*
 * Called on the vCPU thread at each SYNC: stage counts from 0, result is what
 * the previous command returned (stage 0: none). Fills *next; leaving it
 * zeroed ends the guest (MEM_OP_DONE).
 */
typedef void (*memtest_step_fn)(struct memtest *t, uint64_t stage, uint64_t result,
				struct mem_cmd *next);

struct memtest {
	struct vm *vm;
	memtest_step_fn step;
	void *opaque;
	pthread_mutex_t lock;
	pthread_cond_t cond;
	uint64_t stages; /* SYNCs seen so far */
	bool paused_in_hook;
};

/* A VM running mem_touch with cfg (NULL: defaults) and step driving it. */
struct vm *memtest_vm(struct memtest *t, const struct vm_config *cfg, memtest_step_fn step,
		      void *opaque);

/* Blocks until the guest has made at least n SYNCs. */
void memtest_wait_syncs(struct memtest *t, uint64_t n);

/* Starts the VM and waits for DONE (failing the test otherwise). */
void memtest_run(struct memtest *t, double timeout_s);

/* Sets page bits in a command's mask or a dirty bitmap. */
void mask_set(uint64_t *mask, const unsigned *pages, unsigned n);

/* The host address of guest memory (through the checked accessor). */
uint8_t *guest_host(struct vm *vm, uint64_t gpa, uint64_t len);

/* /proc/self/smaps fields of the mapping that holds addr. */
struct smaps_vma {
	uint64_t start, end;
	uint64_t rss_kb;
	uint64_t anon_huge_kb;
	char vmflags[160];
};
void smaps_find(const void *addr, struct smaps_vma *out);

/* Physical frame of the page at addr (/proc/self/pagemap; needs root), 0 if not present. */
uint64_t pagemap_pfn(const void *addr);

/* A number from a /proc/meminfo line, e.g. meminfo("HugePages_Free"). */
long meminfo(const char *field);

/* Reads a sysfs or procfs file holding one number or word. */
long knob_read_long(const char *path);

/* Writes value to path and restores the old contents at exit, even after a failed CHECK. */
void knob_set(const char *path, const char *value);

#endif
