/* The run settings: their table, defaults, validation, and the command-line setter. */
#include <ctype.h>
#include <stddef.h>
#include <stdio.h>
#include <string.h>

#include "config_internal.h"
#include "kvmlab/loader.h"
#include "kvmlab/mem.h"
#include "kvmlab/parse.h"

#define FIELD(id, k, fl, nofl, mv, kd, member, rel, hlp)                                           \
	[id] = {.info = {.key = k, .flag = fl, .no_flag = nofl, .metavar = mv, .help = hlp},       \
		.kind = kd,                                                                        \
		.offset = offsetof(struct run_config, member),                                     \
		.cap = sizeof(((struct run_config *)0)->member),                                   \
		.relative_to_file = rel}
#define FIELD_LIST(id, k, fl, mv, member, rel, hlp)                                                \
	[id] = {.info = {.key = k, .flag = fl, .metavar = mv, .help = hlp},                        \
		.kind = KIND_LIST,                                                                 \
		.offset = offsetof(struct run_config, member),                                     \
		.cap = sizeof(((struct run_config *)0)->member),                                   \
		.item = sizeof(((struct run_config *)0)->member[0]),                               \
		.relative_to_file = rel}

/* clang-format off */
const struct config_field_def config_fields[CONFIG_NFIELDS] = {
	FIELD(CONFIG_GUEST, "guest", "guest", NULL, "FILE", KIND_PATH, guest, true,
	      "flat 64-bit test guest, loaded and entered at 0x100000"),
	FIELD(CONFIG_CPUS, "cpus", "cpus", NULL, "N", KIND_CPUS, cpus, false,
	      "vCPUs (default 1)"),
	FIELD(CONFIG_MEM, "mem", "mem", NULL, "SIZE", KIND_SIZE, mem_size, false,
	      "guest RAM, with K/M/G suffix (default 64M)"),
	FIELD(CONFIG_MEM_POLICY, "mem_policy", "mem-policy", NULL, "SPEC", KIND_STRING, mem_policy,
	      false, "memory policy NAME[:k=v,...] (default anon; --kernel: thp)"),
	FIELD(CONFIG_SCHED, "sched", "sched", NULL, "SPEC", KIND_STRING, sched, false,
	      "vCPU scheduler NAME[:k=v,...] (default os)"),
	FIELD(CONFIG_NAME, "name", "name", NULL, "NAME", KIND_NAME, name, false,
	      "VM name for `kvmlab ls`; implies a socket in the runtime directory"),
	FIELD(CONFIG_API_SOCK, "api_sock", "api-sock", NULL, "PATH", KIND_SOCK, api_sock, true,
	      "serve the control API on this Unix socket"),
	FIELD(CONFIG_TIMEOUT, "timeout", "timeout", NULL, "S", KIND_SECONDS, timeout_s, false,
	      "stop the guest after S seconds (exit status 124; 0 = never)"),
	FIELD(CONFIG_STRICT, "strict", "strict", "no-strict", NULL, KIND_BOOL, strict, false,
	      "unclaimed port or MMIO accesses stop the guest"),
	FIELD(CONFIG_IRQCHIP, "irqchip", "irqchip", "no-irqchip", NULL, KIND_BOOL, irqchip, false,
	      "in-kernel LAPIC/IOAPIC/PIC/PIT (default on; without, HLT stops the guest)"),
	FIELD(CONFIG_KEEP_VIRT, "keep_virt", "keep-virt", "no-keep-virt", NULL, KIND_BOOL,
	      keep_virt, false, "leave SVM/VMX visible in the guest's CPUID"),
	FIELD(CONFIG_STATS, "stats", "stats", "no-stats", NULL, KIND_BOOL, stats, false,
	      "count exits from the start (read with `kvmlab ctl SOCK stats`)"),
	FIELD(CONFIG_KVM_DEVICE, "kvm_device", "kvm-device", NULL, "PATH", KIND_PATH, kvm_device,
	      true, "the KVM device (default /dev/kvm)"),
	FIELD(CONFIG_KERNEL, "kernel", "kernel", NULL, "FILE", KIND_PATH, kernel, true,
	      "boot a kernel: bzImage, multiboot ELF or PVH ELF (instead of --guest)"),
	FIELD(CONFIG_INITRD, "initrd", "initrd", NULL, "FILE", KIND_PATH, initrd, true,
	      "the kernel's initrd (multiboot: its module)"),
	FIELD(CONFIG_CMDLINE, "cmdline", "cmdline", NULL, "STR", KIND_STRING, cmdline, false,
	      "kernel command line (Linux: after kvmlab's console=ttyS0 ...)"),
	FIELD(CONFIG_LOADER, "loader", "loader", NULL, "NAME", KIND_STRING, loader, false,
	      "auto (default), bzimage, multiboot or pvh"),
	FIELD(CONFIG_TRACE_EXITS, "trace_exits", "trace-exits", "no-trace-exits", NULL, KIND_BOOL,
	      trace_exits, false, "print every exit, and the instruction behind MMIO, on stderr"),
	FIELD_LIST(CONFIG_DISKS, "disks", "disk", "FILE[,ro]", disks, true,
		   "virtio-blk raw disk image, repeatable: the first is /dev/vda (docs/virtio.md)"),
	FIELD_LIST(CONFIG_NET, "net", "net", "SPEC", net, false,
		   "virtio-net device, repeatable: tap=NAME or sock=PATH"),
	FIELD(CONFIG_RNG, "rng", "rng", "no-rng", NULL, KIND_BOOL, rng, false,
	      "virtio-rng from the host's getrandom on kernel boots (default on)"),
	FIELD(CONFIG_SECCOMP, "seccomp", "seccomp", "no-seccomp", NULL, KIND_BOOL, seccomp, false,
	      "per-thread seccomp filters (default on; off only for debugging)"),
	FIELD(CONFIG_JAIL, "jail", "jail", NULL, "DIR", KIND_PATH, jail, true,
	      "run in new namespaces, pivoted into DIR holding only the VM's files"),
};
/* clang-format on */

const struct config_field_info *config_field_info(enum config_field f)
{
	return (unsigned)f < CONFIG_NFIELDS ? &config_fields[f].info : NULL;
}

void run_config_default(struct run_config *rc)
{
	struct vm_config d;

	vm_config_default(&d);
	memset(rc, 0, sizeof(*rc));
	rc->cpus = d.ncpus;
	rc->mem_size = d.mem_size;
	rc->irqchip = d.irqchip;
	rc->strict = d.strict;
	rc->keep_virt = d.keep_virt;
	rc->rng = true;
	rc->seccomp = true;
	snprintf(rc->kvm_device, sizeof(rc->kvm_device), "%s", d.kvm_path);
}

static int config_check_name(const char *s, size_t len, const char *what, struct errbuf *e)
{
	if (len > CONFIG_NAME_MAX)
		return err_set(e, "%s: longer than %d characters", what, CONFIG_NAME_MAX);
	if (!isalnum((unsigned char)s[0]))
		return err_set(e, "%s: '%.64s' must start with a letter or digit", what, s);
	for (size_t i = 0; i < len; i++)
		if (!isalnum((unsigned char)s[i]) && !strchr("._-", s[i]))
			return err_set(
			    e, "%s: '%.64s' may hold only letters, digits, '.', '_' and '-'", what,
			    s);
	return 0;
}

/* Appends to a repeatable field; what names it in reports. */
static int config_list_append(struct run_config *rc, enum config_field f, const char *s,
			      size_t len, const char *what, struct errbuf *e)
{
	const struct config_field_def *d = &config_fields[f];
	char *slot = config_slot(rc, f);
	size_t n = d->cap / d->item, i = 0;

	if (len >= d->item)
		return err_set(e, "%s: longer than %zu bytes", what, d->item - 1);
	while (i < n && slot[i * d->item])
		i++;
	if (i == n)
		return err_set(e, "%s: at most %zu may be given", what, n);
	memcpy(slot + i * d->item, s, len);
	slot[i * d->item + len] = '\0';
	rc->given |= 1u << f;
	return 0;
}

int config_store_string(struct run_config *rc, enum config_field f, const char *s, size_t len,
			const char *what, struct errbuf *e)
{
	const struct config_field_def *d = &config_fields[f];

	if (len == 0)
		return err_set(e, "%s: must not be empty", what);
	if (memchr(s, '\0', len))
		return err_set(e, "%s: must not contain a NUL character", what);
	if (d->kind == KIND_NAME && config_check_name(s, len, what, e))
		return -1;
	if (d->kind == KIND_SOCK && len >= d->cap)
		return err_set(e,
			       "%s: '%.40s...' is %zu bytes; a Unix socket path holds at most %zu",
			       what, s, len, d->cap - 1);
	if (d->kind == KIND_LIST)
		return config_list_append(rc, f, s, len, what, e);
	if (len >= d->cap)
		return err_set(e, "%s: longer than %zu bytes", what, d->cap - 1);
	memcpy(config_slot(rc, f), s, len);
	((char *)config_slot(rc, f))[len] = '\0';
	rc->given |= 1u << f;
	return 0;
}

int config_store_mem(struct run_config *rc, uint64_t bytes, const char *what, struct errbuf *e)
{
	if (bytes < (2ull << 20) || bytes % 4096)
		return err_set(e, "%s: must be a multiple of 4 KiB and at least 2M", what);
	rc->mem_size = bytes;
	rc->given |= 1u << CONFIG_MEM;
	return 0;
}

int config_set_arg(struct run_config *rc, enum config_field f, const char *arg, bool value,
		   struct errbuf *e)
{
	const struct config_field_def *d = &config_fields[f];
	char what[48];
	uint64_t n;

	snprintf(what, sizeof(what), "--%s", d->info.flag);
	switch (d->kind) {
	case KIND_CPUS:
		if (parse_uint(arg, 1, VM_MAX_VCPUS, &n, what, e))
			return -1;
		rc->cpus = (unsigned)n;
		break;
	case KIND_SIZE:
		return parse_size(arg, &n, what, e) ? -1 : config_store_mem(rc, n, what, e);
	case KIND_SECONDS:
		if (parse_seconds(arg, &rc->timeout_s, what, e))
			return -1;
		break;
	case KIND_BOOL:
		*(bool *)config_slot(rc, f) = value;
		break;
	default:
		return config_store_string(rc, f, arg, strlen(arg), what, e);
	}
	rc->given |= 1u << f;
	return 0;
}

void run_config_merge(struct run_config *dst, const struct run_config *src)
{
	for (unsigned f = 0; f < CONFIG_NFIELDS; f++) {
		const struct config_field_def *d = &config_fields[f];

		if (src->given & (1u << f)) {
			memcpy(config_slot(dst, f), (const char *)src + d->offset, d->cap);
			dst->given |= 1u << f;
		}
	}
}

int run_config_check(const struct run_config *rc, struct errbuf *e)
{
	const uint32_t kernel_only =
		(1u << CONFIG_INITRD) | (1u << CONFIG_CMDLINE) | (1u << CONFIG_LOADER);

	if (!rc->guest[0] && !rc->kernel[0])
		return err_set(e, "no guest given: use --guest FILE or --kernel FILE (or \"guest\" "
				  "or \"kernel\" in a --config file)");
	if (rc->guest[0] && rc->kernel[0])
		return err_set(e, "give --guest (a flat test guest) or --kernel, not both");
	if (!rc->kernel[0] && (rc->given & kernel_only))
		return err_set(e, "--initrd, --cmdline and --loader go with --kernel");
	if (rc->loader[0] && strcmp(rc->loader, "auto") && !loader_find(rc->loader, e))
		return -1;
	return 0;
}

/* Kernel boots default to thp: a booting Linux touches ~100 MiB, and at 4 KiB every page is a
 * nested page fault (~27,000 exits, most of a boot's; docs/boot-benchmark.md). Flat test guests
 * keep anon (NULL), as do kernels whose RAM is not whole huge pages. */
static const char *run_config_default_policy(const struct run_config *rc)
{
	struct errbuf ignored;
	const struct mem_policy_ops *thp = mem_policy_find(RUN_KERNEL_MEM_POLICY, &ignored);

	if (!rc->kernel[0] || !thp || rc->mem_size % thp->page_size)
		return NULL;
	return RUN_KERNEL_MEM_POLICY;
}

void run_config_vm(const struct run_config *rc, struct vm_config *out)
{
	vm_config_default(out);
	out->name = rc->name[0] ? rc->name : NULL;
	out->kvm_path = rc->kvm_device;
	out->mem_policy = rc->mem_policy[0] ? rc->mem_policy : run_config_default_policy(rc);
	out->sched = rc->sched[0] ? rc->sched : NULL;
	out->mem_size = rc->mem_size;
	out->ncpus = rc->cpus;
	out->irqchip = rc->irqchip;
	out->strict = rc->strict;
	out->keep_virt = rc->keep_virt;
}
