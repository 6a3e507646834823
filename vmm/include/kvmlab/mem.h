/* Guest memory regions and memory policies: how guest RAM is backed, added, removed and tracked. */
#ifndef KVMLAB_MEM_H
#define KVMLAB_MEM_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "bus.h"
#include "err.h"
#include "gmem.h"

struct vm;
struct machine;

/* ---- layout ---- */

/*
 * vm_create turns cfg.mem_size into RAM at guest-physical 0 up to the MMIO
 * hole at 3 GiB, and the rest from 4 GiB on. The hole holds device MMIO
 * ranges, the IOAPIC (0xfec00000) and local APIC (0xfee00000), KVM's TSS and
 * identity map (0xfffbc000-0xfffbffff), and ROMs a user adds there.
 */
#define MEM_LOW_RAM_END	   (3ull << 30)
#define MEM_HIGH_RAM_START (4ull << 30)
#define MEM_PAGE_SIZE	   4096ull
#define MEM_MAX_REGIONS	   GMEM_MAX_REGIONS /* RAM, ROMs and hot-added regions together */

struct mem_range {
	uint64_t gpa;
	uint64_t size;
};

/* Splits mem_size bytes of RAM around the MMIO hole; returns the number of
 * ranges (1, or 2 when RAM reaches past 3 GiB). */
unsigned mem_ram_ranges(uint64_t mem_size, struct mem_range out[2]);

enum mem_region_flags {
	MEM_REGION_READONLY =
	    1u << 0, /* ROM: guest writes exit to the MMIO bus, memory unchanged */
	MEM_REGION_DIRTY_LOG = 1u << 1, /* track dirty pages (KVM_MEM_LOG_DIRTY_PAGES) */
};

/*
 * Whether a new region [gpa, gpa + size) may join the existing ones: size is
 * non-zero, gpa and size are multiples of align, nothing wraps, and it
 * overlaps no existing range, no range claimed on mmio (unless the region is
 * read-only: a ROM may sit under a device that takes its writes) and none of
 * the fixed addresses in the hole listed above. -1 with a report naming the
 * conflict otherwise. Pure: memory.c and the unit tests share it.
 */
int mem_region_check(const struct mem_range *taken, unsigned ntaken, const struct bus *mmio,
		     uint64_t gpa, uint64_t size, uint32_t flags, uint64_t align, struct errbuf *e);

/* ---- regions of a VM ---- */

/*
 * Adds a region of guest memory at gpa, backed by the VM's memory policy;
 * allowed before start and while the VM runs or is paused (memslot hot-add).
 * size and gpa are 4 KiB aligned (the policy may require more, e.g. 2 MiB for
 * hugetlb). Refuses overlaps with RAM, other regions and claimed MMIO ranges.
 * The new memory reads as zeroes; gmem_load fills a ROM. It is published to
 * gmem before KVM gets its slot, so devices see it no later than the guest.
 * If KVM refuses the slot, the range stays reserved (in gmem, not in the
 * guest) until vm_mem_region_remove: a device may already hold a pointer.
 * May be called from a vCPU thread.
 */
int vm_mem_region_add(struct vm *vm, uint64_t gpa, uint64_t size, uint32_t flags, struct errbuf *e);

/*
 * Removes the region that starts at gpa (added with vm_mem_region_add; the
 * RAM from cfg.mem_size stays). On a running VM it pauses the VM, deletes the
 * KVM slot and the gmem entry, resumes, then frees the backing, so no vCPU or
 * device callback can hold a pointer into it; afterwards the guest's accesses
 * there are MMIO exits. Refused on a vCPU thread of a running VM (it would
 * wait for itself). The caller must not pause or resume the VM concurrently.
 */
int vm_mem_region_remove(struct vm *vm, uint64_t gpa, struct errbuf *e);

struct mem_region_info {
	uint64_t gpa;
	uint64_t size;
	uint32_t flags;	    /* enum mem_region_flags */
	uint32_t slot;	    /* KVM memory slot */
	bool ram;	    /* part of cfg.mem_size (not removable) */
	int fd;		    /* the backing file (memfd policy), or -1 */
	uint64_t fd_offset; /* offset of gpa in fd */
};

/* Copies up to max regions, in slot order, into out; returns how many exist. */
unsigned vm_mem_regions(struct vm *vm, struct mem_region_info *out, unsigned max);

/*
 * The file descriptor behind the region holding gpa (policies with a file,
 * e.g. memfd), with *offset set to gpa's offset in it, so another process
 * (vhost-user, a snapshotter) can map the same memory. The VM keeps owning
 * the fd: dup it to keep it past vm_destroy. -1 with a report otherwise.
 */
int vm_mem_fd(struct vm *vm, uint64_t gpa, uint64_t *offset, struct errbuf *e);

/*
 * Gives [gpa, gpa + len) back to the host (virtio-balloon inflate, free page
 * reporting): afterwards it reads as zeroes, or, under uffd, faults to the
 * handler again. gpa and len must be multiples of the policy's page size
 * (anon: 4 KiB; thp: 2 MiB, so a huge page is never split; hugetlb: its huge
 * page size) and lie inside one writable region.
 */
int vm_mem_discard(struct vm *vm, uint64_t gpa, uint64_t len, struct errbuf *e);

/* ---- dirty-page tracking ---- */

/*
 * Per region, KVM records which 4 KiB pages the guest writes while logging
 * is on. Two mechanisms, chosen per VM when it is created:
 *  - the bitmap (default): KVM_GET_DIRTY_LOG, and KVM_CLEAR_DIRTY_LOG when
 *    KVM_CAP_MANUAL_DIRTY_LOG_PROTECT2 is there;
 *  - the dirty ring (policy option dirty_ring=ENTRIES, e.g. "anon:dirty_ring=4096"):
 *    per-vCPU rings of dirtied pages (KVM_CAP_DIRTY_LOG_RING[_ACQ_REL]),
 *    harvested into per-region bitmaps by vm_dirty_ring_harvest, by
 *    vm_dirty_log_get, and on KVM_EXIT_DIRTY_RING_FULL. KVM does not offer
 *    the bitmap on a VM with rings.
 * Writes by devices through gmem are not tracked by KVM.
 */
enum mem_dirty_mode {
	MEM_DIRTY_BITMAP,
	MEM_DIRTY_RING,
};

/* Words of bitmap for a region of size bytes: bit i of word i / 64 is page i. */
#define MEM_DIRTY_BITMAP_WORDS(size) (((size) / MEM_PAGE_SIZE + 63) / 64)

/* Turns logging on or off for the region that starts at gpa; allowed while the
 * VM runs. Turning it on starts from an empty log. */
int vm_dirty_log_enable(struct vm *vm, uint64_t gpa, bool on, struct errbuf *e);

/*
 * Fills bitmap (nwords >= MEM_DIRTY_BITMAP_WORDS(region size)) with the
 * pages of the region starting at gpa written since logging was turned on or
 * since the last call, and clears them (re-protects them in KVM) before
 * returning: copy dirty pages after this returns and no write is lost.
 */
int vm_dirty_log_get(struct vm *vm, uint64_t gpa, uint64_t *bitmap, size_t nwords,
		     struct errbuf *e);

enum mem_dirty_mode vm_dirty_log_mode(struct vm *vm);

/* Collects every vCPU's dirty-ring entries into the regions' bitmaps and lets
 * KVM reuse the ring slots; returns the number of entries collected. -1 in
 * bitmap mode. */
long vm_dirty_ring_harvest(struct vm *vm, struct errbuf *e);

/* ---- demand paging (uffd policy) ---- */

enum mem_fault_result {
	MEM_FAULT_ZERO = 0,   /* map a zero page */
	MEM_FAULT_FILLED = 1, /* map the contents the handler wrote to page */
};

/*
 * A researcher's page-fault handler. fault() supplies the first contents of
 * the page at gpa, touched for the first time (or again after a discard) by
 * the guest or by the host through gmem. It runs on the VM's fault thread, one
 * fault at a time, and the toucher waits until it returns. page (page_size
 * bytes, zeroed) is where it writes contents. Returning -1 with e filled stops
 * the VM with STOP_HOST_ERROR (the page is then zero-filled so the vCPU can
 * leave). It must not call the VM's memory functions.
 */
struct mem_fault_ops {
	int (*fault)(void *opaque, uint64_t gpa, bool write, void *page, uint64_t page_size,
		     struct errbuf *e);
	void *opaque;
};

/* Installs ops (copied; NULL restores zero-fill) on the VM's policy; refused
 * with a report when the policy does no demand paging. Allowed at any time. */
int vm_mem_set_fault_handler(struct vm *vm, const struct mem_fault_ops *ops, struct errbuf *e);

/* ---- memory policies ---- */

/*
 * A policy spec is "NAME[:KEY=VALUE,...]", e.g. "hugetlb:size=1G". Parsing
 * splits it in place into name and options; each option must be taken by the
 * policy (or, for dirty_ring, by the VM), so a misspelt key is an error, not
 * silently ignored.
 */
#define MEM_SPEC_MAX	   128
#define MEM_OPTS_MAX	   8
#define MEM_DIRTY_RING_MAX (1u << 20) /* entries; KVM may allow fewer */

struct mem_opts {
	char buf[MEM_SPEC_MAX];
	const char *name;
	unsigned n;
	bool vm_opts; /* the VM's own options were taken (for reports) */
	struct mem_opt {
		const char *key;
		const char *val;
		bool taken;
	} opt[MEM_OPTS_MAX];
};

/* NULL or "" means the default policy (anon). Refuses an empty name or key, a
 * missing '=', duplicate keys, and specs over MEM_SPEC_MAX - 1 characters or
 * MEM_OPTS_MAX options. */
int mem_spec_parse(const char *spec, struct mem_opts *o, struct errbuf *e);

/* Takes the options every VM accepts whatever its policy: dirty_ring=ENTRIES
 * (0 when absent; a power of two is checked against KVM at vm_create). */
int mem_opts_take_vm(struct mem_opts *o, uint32_t *ring_entries, struct errbuf *e);

/* Whether a VM could be created with spec as cfg.mem_policy, as far as the
 * host allows without KVM (name, options, e.g. THP or huge pages present):
 * for command lines and config files to report a bad spec as bad input. */
int mem_spec_check(const char *spec, struct errbuf *e);

/* The value of key (marked taken), or NULL when absent. */
const char *mem_opt_take(struct mem_opts *o, const char *key);

/*
 * The memory of one region as a policy provides it. host is aligned to the
 * policy's page size. Policies work in offsets into the backing; gpa is only
 * for reports and fault handlers.
 */
struct mem_backing {
	uint8_t *host;
	uint64_t size;
	uint64_t gpa;
	int fd;		    /* the file mapped at host, or -1 */
	uint64_t fd_offset; /* offset of host[0] in fd */
	void *priv;	    /* the policy's per-region state */
};

struct mem_policy;

/*
 * A memory policy: one file in vmm/mem/ defining `const struct
 * mem_policy_ops mem_policy_NAME` plus one line in vmm/mem/policies.c.
 * Hooks marked optional may be NULL. Every hook that can fail fills e.
 */
struct mem_policy_ops {
	const char *name;
	const char *help;    /* one line: what the memory is like */
	const char *options; /* "key=..., ..." it takes, or NULL */
	uint64_t page_size;  /* region alignment and discard unit; init may change it */
	/* optional: a smaller unit discard also takes (thp: 4 KiB, splitting a huge page;
	 * its memory returns to the host when the kernel splits it); 0: page_size */
	uint64_t discard_min;
	/* optional: take options, set up per-VM state in p->priv */
	int (*init)(struct mem_policy *p, struct mem_opts *o, struct errbuf *e);
	/* optional: undo init (after every backing was freed) */
	void (*fini)(struct mem_policy *p);
	/* map b->size bytes (a multiple of page size): set b->host, b->fd, b->fd_offset */
	int (*alloc)(struct mem_policy *p, struct mem_backing *b, struct errbuf *e);
	/* optional: runs after alloc, before the guest or a loader can touch the
	 * memory (populate, register for faults, mark mergeable) */
	int (*prepare)(struct mem_policy *p, struct mem_backing *b, struct errbuf *e);
	/* optional (NULL: the policy cannot give memory back): drop the pages of
	 * [off, off + len), both page-size multiples, so they read as zeroes */
	int (*discard)(struct mem_policy *p, struct mem_backing *b, uint64_t off, uint64_t len,
		       struct errbuf *e);
	/* unmap and release everything alloc and prepare made */
	void (*free)(struct mem_policy *p, struct mem_backing *b);
	/* optional: demand-paging policies install a fault handler (ops NULL: default) */
	int (*set_fault_handler)(struct mem_policy *p, const struct mem_fault_ops *ops,
				 struct errbuf *e);
};

/* A policy instance: one per VM, shared by all its regions. */
struct mem_policy {
	const struct mem_policy_ops *ops;
	uint64_t page_size;
	struct machine *machine; /* where policy threads report failures; may be NULL */
	void *priv;
};

/* Every policy, NULL-terminated (vmm/mem/policies.c). */
extern const struct mem_policy_ops *const mem_policies[];

/* The policy called name, or NULL with a report listing the valid names. */
const struct mem_policy_ops *mem_policy_find(const char *name, struct errbuf *e);

/* "anon, prefault, ..." into buf. */
void mem_policy_names(char *buf, size_t len);

/*
 * Sets up policy o->name with its options. Fails on an unknown name, an
 * option the policy did not take (the report lists the ones it takes) or a
 * failing init. machine may be NULL (no VM: unit tests, tools).
 */
int mem_policy_init(struct mem_policy *p, struct mem_opts *o, struct machine *machine,
		    struct errbuf *e);

/* mem_spec_parse + mem_policy_init without a machine; NULL spec means "anon". */
int mem_policy_open(struct mem_policy *p, const char *spec, struct errbuf *e);

/* Undoes init; every backing must be freed first. */
void mem_policy_close(struct mem_policy *p);

/* Allocates and prepares size bytes for a region at gpa; checks that size is
 * a non-zero multiple of the page size. On failure nothing is left mapped. */
int mem_backing_alloc(struct mem_policy *p, struct mem_backing *b, uint64_t gpa, uint64_t size,
		      struct errbuf *e);

/* Checks bounds and alignment, then calls the policy's discard. */
int mem_backing_discard(struct mem_policy *p, struct mem_backing *b, uint64_t off, uint64_t len,
			struct errbuf *e);

void mem_backing_free(struct mem_policy *p, struct mem_backing *b);

/* Installs a fault handler on a policy that does demand paging. */
int mem_policy_set_fault_handler(struct mem_policy *p, const struct mem_fault_ops *ops,
				 struct errbuf *e);

#endif
