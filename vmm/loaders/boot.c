/* Kernel boot on a VM: choose the loader, build the command line, load, write ACPI, set up the
 * entry. */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "kvmlab/acpi.h"
#include "kvmlab/boot.h"
#include "kvmlab/vm.h"

/* Appends to buf; false once it no longer fits. */
static bool cmdline_add(char *buf, size_t len, size_t *used, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));

static bool cmdline_add(char *buf, size_t len, size_t *used, const char *fmt, ...)
{
	va_list ap;
	int n;

	if (*used >= len)
		return false;
	va_start(ap, fmt);
	n = vsnprintf(buf + *used, len - *used, fmt, ap);
	va_end(ap);
	if (n < 0 || (size_t)n >= len - *used)
		return false;
	*used += (size_t)n;
	return true;
}

int boot_cmdline(const struct machine *m, const struct loader_type *t, const char *user, char *buf,
		 size_t len, struct errbuf *e)
{
	const struct acpi_virtio_mmio *v;
	unsigned nv = acpi_virtio_mmio_list(m, &v);
	size_t used = 0;
	bool ok = true;

	buf[0] = '\0';
	if (t->is_linux) {
		ok = cmdline_add(buf, len, &used, "%s", BOOT_LINUX_CMDLINE);
		/* For kernels built with CONFIG_VIRTIO_MMIO_CMDLINE_DEVICES; others use the DSDT.
		 */
		for (unsigned i = 0; ok && i < nv; i++)
			ok = cmdline_add(buf, len, &used, " virtio_mmio.device=%llu@0x%llx:%u",
					 (unsigned long long)v[i].size,
					 (unsigned long long)v[i].base, v[i].gsi);
	}
	if (ok && user && *user)
		ok = cmdline_add(buf, len, &used, "%s%s", used ? " " : "", user);
	if (!ok)
		return err_set(e, "the kernel command line would be longer than %zu bytes",
			       len - 1);
	return 0;
}

/* Prefixes e's report with what it was about. */
static int boot_refuse(struct errbuf *e, const char *what)
{
	char msg[ERR_MSG_LEN];

	snprintf(msg, sizeof(msg), "%s", e->msg);
	err_set(e, "%s: %s", what, msg);
	return -2;
}

int vm_boot_kernel(struct vm *vm, const struct kernel_boot *kb, struct errbuf *e)
{
	const char *name = kb->kernel_name ? kb->kernel_name : "kernel";
	const struct loader_type *t;
	struct boot_entry entry;
	struct loader_args a;
	uint64_t rsdp;
	char *cmdline;
	int r = -2;

	/* Without an in-kernel LAPIC nothing holds the other vCPUs until the kernel sends SIPI. */
	if (vm->nvcpus > 1 && !vm->cfg.irqchip) {
		err_set(e,
			"a kernel on %u vCPUs needs the in-kernel irqchip to start the others "
			"(drop --no-irqchip)",
			vm->nvcpus);
		return -2;
	}
	if (!kb->loader || !strcmp(kb->loader, "auto"))
		t = loader_detect(kb->kernel, kb->kernel_len, e);
	else
		t = loader_find(kb->loader, e);
	if (!t)
		return boot_refuse(e, name);
	cmdline = malloc(BOOT_CMDLINE_MAX);
	if (!cmdline)
		return err_set(e, "out of memory building the kernel command line");
	if (boot_cmdline(&vm->m, t, kb->cmdline, cmdline, BOOT_CMDLINE_MAX, e))
		goto out;
	a = (struct loader_args){
	    .cmdline = cmdline,
	    .image_name = name,
	    .initrd = kb->initrd,
	    .initrd_len = kb->initrd_len,
	    .initrd_name = kb->initrd_name,
	    .rsdp = ACPI_AREA_GPA,
	};
	/* The loader checks everything before it writes; the tables go in after it. */
	if (t->load(&vm->m.mem, kb->kernel, kb->kernel_len, &a, &entry, e)) {
		boot_refuse(e, name);
		goto out;
	}
	r = -1;
	if (acpi_write_tables(&vm->m, &rsdp, e) || (vm->cfg.irqchip && vm_irq_routing_pc(vm, e)) ||
	    vm_setup_boot_entry(vm, &entry, e))
		goto out;
	r = 0;
out:
	free(cmdline);
	return r;
}
