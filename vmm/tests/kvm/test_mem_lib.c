/* Helpers for the memory KVM tests: the mem_touch guest's mailbox, host memory probes, sysfs knobs.
 */
#include <errno.h>
#include <fcntl.h>
#include <unistd.h>

#include "test_mem_lib.h"

static bool memtest_hook(void *opaque, struct machine *m, const struct ucall_abi *uc)
{
	struct memtest *t = opaque;
	struct mem_cmd next = {.op = MEM_OP_DONE};

	if (uc->cmd != UCALL_SYNC)
		return false;
	CHECK_EQ(uc->args[0], t->stages);
	if (uc->args[0] == 0)
		CHECK_EQ(uc->args[2], sizeof(struct mem_cmd)); /* the guest speaks this layout */
	t->step(t, uc->args[0], uc->args[2], &next);
	CHECK(gmem_write(&m->mem, uc->args[1], &next, sizeof(next)) == 0);
	pthread_mutex_lock(&t->lock);
	t->stages++;
	pthread_cond_broadcast(&t->cond);
	pthread_mutex_unlock(&t->lock);
	return false;
}

struct vm *memtest_vm(struct memtest *t, const struct vm_config *cfg, memtest_step_fn step,
		      void *opaque)
{
	memset(t, 0, sizeof(*t));
	pthread_mutex_init(&t->lock, NULL);
	pthread_cond_init(&t->cond, NULL);
	t->step = step;
	t->opaque = opaque;
	t->vm = kvmtest_vm("mem_touch", cfg);
	ucall_set_hook(&t->vm->m, memtest_hook, t);
	return t->vm;
}

void memtest_wait_syncs(struct memtest *t, uint64_t n)
{
	pthread_mutex_lock(&t->lock);
	while (t->stages < n && !machine_stopping(&t->vm->m))
		pthread_cond_wait(&t->cond, &t->lock);
	pthread_mutex_unlock(&t->lock);
	CHECK(t->stages >= n);
}

void memtest_run(struct memtest *t, double timeout_s)
{
	kvmtest_run(t->vm, timeout_s);
	CHECK_STOP(t->vm, STOP_GUEST_DONE);
}

void mask_set(uint64_t *mask, const unsigned *pages, unsigned n)
{
	for (unsigned i = 0; i < n; i++)
		mask[pages[i] / 64] |= 1ull << (pages[i] % 64);
}

uint8_t *guest_host(struct vm *vm, uint64_t gpa, uint64_t len)
{
	uint8_t *p = gmem_ptr(&vm->m.mem, gpa, len, false);

	CHECK(p != NULL);
	return p;
}

void smaps_find(const void *addr, struct smaps_vma *out)
{
	FILE *f = fopen("/proc/self/smaps", "r");
	char line[512];
	bool in = false, found = false;

	CHECK(f != NULL);
	memset(out, 0, sizeof(*out));
	while (fgets(line, sizeof(line), f)) {
		unsigned long long start, end, kb;

		/* A mapping's header starts "start-end perms ..."; its fields start "Name:". */
		if (sscanf(line, "%llx-%llx ", &start, &end) == 2) {
			if (found)
				break;
			in = (uintptr_t)addr >= start && (uintptr_t)addr < end;
			if (in) {
				found = true;
				out->start = start;
				out->end = end;
			}
			continue;
		}
		if (!in)
			continue;
		if (sscanf(line, "Rss: %llu kB", &kb) == 1)
			out->rss_kb = kb;
		else if (sscanf(line, "AnonHugePages: %llu kB", &kb) == 1)
			out->anon_huge_kb = kb;
		else if (!strncmp(line, "VmFlags:", 8))
			snprintf(out->vmflags, sizeof(out->vmflags), "%.150s", line + 8);
	}
	fclose(f);
	CHECK(found);
}

uint64_t pagemap_pfn(const void *addr)
{
	int fd = open("/proc/self/pagemap", O_RDONLY);
	uint64_t entry = 0;

	CHECK(fd >= 0);
	CHECK(pread(fd, &entry, sizeof(entry), (off_t)((uintptr_t)addr / 4096 * 8)) ==
	      sizeof(entry));
	close(fd);
	if (!(entry >> 63)) /* not present */
		return 0;
	return entry & ((1ull << 55) - 1);
}

long meminfo(const char *field)
{
	FILE *f = fopen("/proc/meminfo", "r");
	size_t len = strlen(field);
	char line[256];
	long v = -1;

	CHECK(f != NULL);
	while (fgets(line, sizeof(line), f))
		if (!strncmp(line, field, len) && line[len] == ':')
			v = strtol(line + len + 1, NULL, 10);
	fclose(f);
	CHECK(v >= 0);
	return v;
}

long knob_read_long(const char *path)
{
	FILE *f = fopen(path, "r");
	long v;

	CHECK(f != NULL);
	CHECK(fscanf(f, "%ld", &v) == 1);
	fclose(f);
	return v;
}

#define MAX_KNOBS 8

static struct knob {
	char path[128];
	char old[128];
} knobs[MAX_KNOBS];
static unsigned nknobs;

static void knob_write(const char *path, const char *value)
{
	int fd = open(path, O_WRONLY);
	ssize_t n;

	if (fd < 0) {
		fprintf(stderr,
			"cannot open %s for writing (tests that tune the host run as "
			"root): %s\n",
			path, strerror(errno));
		exit(1);
	}
	n = write(fd, value, strlen(value));
	close(fd);
	if (n != (ssize_t)strlen(value)) {
		fprintf(stderr, "cannot write '%s' to %s: %s\n", value, path, strerror(errno));
		exit(1);
	}
}

static void knobs_restore(void)
{
	while (nknobs > 0) {
		struct knob *k = &knobs[--nknobs];
		int fd = open(k->path, O_WRONLY);

		if (fd >= 0) {
			if (write(fd, k->old, strlen(k->old)) < 0)
				fprintf(stderr, "could not restore %s to %s\n", k->path, k->old);
			close(fd);
		}
	}
}

/* "always [madvise] never" is saved as "madvise": the file takes the word back. */
static void knob_current(const char *path, char *buf, size_t len)
{
	FILE *f = fopen(path, "r");
	char line[128] = "", *open_br, *close_br;

	CHECK(f != NULL);
	CHECK(fgets(line, sizeof(line), f) != NULL);
	fclose(f);
	line[strcspn(line, "\n")] = '\0';
	open_br = strchr(line, '[');
	close_br = open_br ? strchr(open_br, ']') : NULL;
	if (open_br && close_br) {
		*close_br = '\0';
		snprintf(buf, len, "%s", open_br + 1);
	} else {
		snprintf(buf, len, "%s", line);
	}
}

void knob_set(const char *path, const char *value)
{
	struct knob *k;

	CHECK(nknobs < MAX_KNOBS);
	k = &knobs[nknobs];
	snprintf(k->path, sizeof(k->path), "%s", path);
	knob_current(path, k->old, sizeof(k->old));
	if (nknobs++ == 0)
		atexit(knobs_restore);
	knob_write(path, value);
}
