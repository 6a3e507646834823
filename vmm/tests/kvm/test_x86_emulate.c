/* KVM tests of the emulator in the VMM: VEX moves to a device, the table, the guest oracle. */
#include <linux/kvm.h>
#include <stdatomic.h>
#include <string.h>
#include <sys/utsname.h>

#include "kvmlab/kvm.h"
#include "kvmlab/x86_exits.h"
#include "kvmtest.h"

#define DEV_GPA	 0xd0100000ull
#define DEV_SIZE 0x1000

/* A device that behaves like memory: what is written reads back, at any offset and width. */
struct ram_dev {
	pthread_mutex_t lock;
	uint8_t bytes[DEV_SIZE];
	_Atomic uint64_t accesses, wide; /* all accesses; those wider than 8 bytes */
};

static void ram_dev_access(void *opaque, uint64_t off, uint8_t *data, uint32_t len, bool write)
{
	struct ram_dev *d = opaque;

	atomic_fetch_add(&d->accesses, 1);
	if (len > 8)
		atomic_fetch_add(&d->wide, 1);
	if (off >= DEV_SIZE || len > DEV_SIZE - off)
		return;
	pthread_mutex_lock(&d->lock);
	if (write)
		memcpy(d->bytes + off, data, len);
	else
		memcpy(data, d->bytes + off, len);
	pthread_mutex_unlock(&d->lock);
}

static void ram_dev_attach(struct vm *vm, struct ram_dev *d)
{
	struct errbuf e;

	memset(d, 0, sizeof(*d));
	pthread_mutex_init(&d->lock, NULL);
	CHECK(bus_register(&vm->m.mmio, DEV_GPA, DEV_SIZE, "x86-test-ram", ram_dev_access, d, &e) ==
	      0);
}

/* Counts MMIO and emulation-failure exits by the guest's current SYNC stage. */
#define MAX_STAGES 256

struct exit_census {
	struct exit_handler mmio, internal;
	const struct exit_handler *inner_mmio, *inner_internal;
	_Atomic unsigned stage;
	_Atomic uint64_t mmio_exits[MAX_STAGES], emu_failures[MAX_STAGES];
	struct ucall_log log;
};

static enum exit_action census_mmio(struct vcpu *v, void *opaque)
{
	struct exit_census *c = opaque;

	atomic_fetch_add(&c->mmio_exits[atomic_load(&c->stage) % MAX_STAGES], 1);
	return c->inner_mmio->fn(v, c->inner_mmio->opaque);
}

static enum exit_action census_internal(struct vcpu *v, void *opaque)
{
	struct exit_census *c = opaque;

	if (v->run->internal.suberror == KVM_INTERNAL_ERROR_EMULATION)
		atomic_fetch_add(&c->emu_failures[atomic_load(&c->stage) % MAX_STAGES], 1);
	return c->inner_internal->fn(v, c->inner_internal->opaque);
}

static bool census_ucall(void *opaque, struct machine *m, const struct ucall_abi *uc)
{
	struct exit_census *c = opaque;

	(void)m;
	if (uc->cmd == UCALL_SYNC)
		atomic_store(&c->stage, (unsigned)uc->args[0]);
	pthread_mutex_lock(&c->log.lock);
	if (c->log.n < KVMTEST_MAX_UCALLS)
		c->log.calls[c->log.n++] = *uc;
	pthread_mutex_unlock(&c->log.lock);
	return false;
}

static void census_attach(struct vm *vm, struct exit_census *c)
{
	memset(c, 0, sizeof(*c));
	pthread_mutex_init(&c->log.lock, NULL);
	c->mmio = (struct exit_handler){census_mmio, c, "census"};
	c->internal = (struct exit_handler){census_internal, c, "census"};
	c->inner_mmio = exit_table_set(&vm->exits, KVM_EXIT_MMIO, &c->mmio);
	c->inner_internal = exit_table_set(&vm->exits, KVM_EXIT_INTERNAL_ERROR, &c->internal);
	ucall_set_hook(&vm->m, census_ucall, c);
}

/* The running kernel's version as major * 1000 + minor. */
static unsigned kernel_version(void)
{
	struct utsname u;
	unsigned major = 0, minor = 0;

	uname(&u);
	sscanf(u.release, "%u.%u", &major, &minor);
	return major * 1000 + minor;
}

/*
 * XCR0 = x87 | SSE | AVX from the start. The guest sets it too (XSETBV), but
 * under QEMU's TCG (harness/kvmbox) that XSETBV can slip past KVM, which then
 * restores its own idea of XCR0 at every entry and AVX raises #UD.
 */
static void preset_xcr0(struct vm *vm)
{
	struct kvm_xcrs x = {.nr_xcrs = 1, .xcrs = {{.xcr = 0, .value = 7}}};
	struct errbuf e;

	if (KVM_IOCTL(vm->vcpus[0].fd, KVM_SET_XCRS, &x, &e, "presetting XCR0"))
		fprintf(stderr, "(XCR0 not preset: %s)\n", e.msg);
}

/* The SYNC args of stage n, or NULL. */
static const struct ucall_abi *stage_call(const struct exit_census *c, unsigned n)
{
	for (unsigned i = 0; i < c->log.n; i++)
		if (c->log.calls[i].cmd == UCALL_SYNC && c->log.calls[i].args[0] == n)
			return &c->log.calls[i];
	return NULL;
}

/*
 * guests/x86_avx_mmio.c: VEX vmovdqu of 32 bytes to and from the device
 * (stage 2), x87 FLD/FSTP of m64 and m80 (stage 3) and SSE4.1 MOVNTDQA
 * (stage 4) on it. Whoever finishes each instruction, the bytes must be
 * right; where KVM cannot (kernels up to 6.1 for all three; later ones per
 * docs/x86-emulation.md), the emulation-failure exits must be there and
 * handled by kvmlab. Some nested setups leave AVX unusable in a guest (VEX
 * raises #UD): the guest reports it and the test says so; the x87 and
 * SSE4.1 stages still prove the userspace path.
 */
TEST(x86_avx_vmovdqu_to_mmio)
{
	enum { PROBE = 1, VEX = 2, X87 = 3, SSE41 = 4 };
	static struct ram_dev dev;
	static struct exit_census census;
	struct x86_emulate_exit_stats st;
	struct vm *vm = kvmtest_vm("x86_avx_mmio", NULL);
	const struct ucall_abi *vex, *sse41;
	unsigned kv = kernel_version();
	bool old_kernel = kv <= 6001;

	ram_dev_attach(vm, &dev);
	CHECK(x86_emulate_exit_stats(vm, &st) == 0);
	census_attach(vm, &census);
	preset_xcr0(vm);
	if (getenv("X86_TRACE")) {
		struct errbuf e;

		CHECK(x86_trace_exits_enable(vm, 2, &e) == 0);
	}
	kvmtest_run(vm, 120);
	CHECK_STOP(vm, STOP_GUEST_DONE);
	vex = stage_call(&census, VEX);
	sse41 = stage_call(&census, SSE41);
	CHECK(vex != NULL && sse41 != NULL);
	fprintf(stderr, "kernel %u.%u, KVM_CAP_EXIT_ON_EMULATION_FAILURE %s\n", kv / 1000,
		kv % 1000, st.cap_enabled ? "on" : "absent");
	for (unsigned s = VEX; s <= SSE41; s++)
		fprintf(
		    stderr,
		    "  stage %s: %llu emulation-failure exits (kvmlab), %llu MMIO exits (KVM)\n",
		    s == VEX   ? "vmovdqu ymm"
		    : s == X87 ? "x87 fld/fstp m64/m80"
			       : "movntdqa",
		    (unsigned long long)atomic_load(&census.emu_failures[s]),
		    (unsigned long long)atomic_load(&census.mmio_exits[s]));
	if (vex->args[1]) {
		uint64_t f = atomic_load(&census.emu_failures[VEX]);

		for (unsigned i = 0; i < 32; i++)
			CHECK_EQ(dev.bytes[i], (uint8_t)(0xa5 ^ (i * 37)));
		fprintf(stderr, "  vmovdqu ymm to MMIO was finished by %s\n",
			f ? "kvmlab's emulator (userspace)" : "KVM");
		CHECK(f >= 2 || atomic_load(&census.mmio_exits[VEX]) >= 8);
		if (old_kernel)
			CHECK(f >= 2);
	} else {
		fprintf(stderr, "  AVX is unusable in guests on this host (VEX raised #UD): "
				"vmovdqu ymm to MMIO not exercised here\n");
	}
	/* x87 to MMIO: no KVM emulates it (measured: docs/x86-emulation.md). */
	CHECK(atomic_load(&census.emu_failures[X87]) >= 5); /* the five device accesses */
	if (sse41->args[1] && old_kernel)
		CHECK(atomic_load(&census.emu_failures[SSE41]) >= 1);
	CHECK(atomic_load(&dev.wide) == 0); /* kvmlab splits to 8-byte accesses, as KVM does */
	CHECK(x86_emulate_exit_stats(vm, &st) == -1); /* the census wraps the handler now */
	vm_destroy(vm);
}

/*
 * guests/x86_mmio_table.c: every form on RAM and then on the device, the
 * guest comparing the two (registers, flags, vector state, memory, and the
 * accessed/dirty bits of the 4 KiB mapping); here, who finished each device
 * access: KVM (MMIO exits) or kvmlab (emulation-failure exits). Prints the
 * table docs/x86-emulation.md keeps.
 */
TEST(x86_mmio_table)
{
	static struct ram_dev dev;
	static struct exit_census census;
	struct vm *vm = kvmtest_vm("x86_mmio_table", NULL);
	unsigned forms = 0, ran = 0, kvmlab = 0;
	bool old_kernel = kernel_version() <= 6001;

	ram_dev_attach(vm, &dev);
	census_attach(vm, &census);
	preset_xcr0(vm);
	kvmtest_run(vm, 600);
	CHECK_STOP(vm, STOP_GUEST_DONE);
	fprintf(stderr, "| form | device run: MMIO exits (KVM) | device run: emulation failures "
			"(kvmlab) | finished by | RAM run: emulation failures |\n"
			"|---|---|---|---|---|\n");
	for (unsigned i = 0; i < census.log.n; i++) {
		const struct ucall_abi *uc = &census.log.calls[i], *name = uc + 1;
		unsigned n, ram, dev_st;
		uint64_t ram_exits, mmio, emu;

		if (uc->cmd != UCALL_SYNC || uc->nargs < 3 || i + 1 >= census.log.n ||
		    name->cmd != UCALL_PRINT)
			continue;
		n = (unsigned)uc->args[2];
		ram = 4 * n + 2;
		dev_st = 4 * n + 3;
		CHECK(dev_st < MAX_STAGES);
		forms++;
		if (!uc->args[1]) {
			fprintf(stderr,
				"| %s | - | - | - | not run: the guest CPU lacks it or it is "
				"unusable in this VM |\n",
				name->msg);
			continue;
		}
		ran++;
		/* Emulation failures on RAM mean the instruction did not run natively at all in
		 * this VM (a nested-virtualization quirk of the host), not that it touched MMIO. */
		ram_exits = atomic_load(&census.emu_failures[ram]);
		mmio = atomic_load(&census.mmio_exits[dev_st]);
		emu = atomic_load(&census.emu_failures[dev_st]);
		fprintf(stderr, "| %s | %llu | %llu | %s | %llu |\n", name->msg,
			(unsigned long long)mmio, (unsigned long long)emu,
			emu ? (mmio ? "KVM and kvmlab" : "kvmlab") : "KVM",
			(unsigned long long)ram_exits);
		/* Every device run reached the host one way or the other. */
		CHECK(mmio + emu >= 1);
		if (emu)
			kvmlab++;
		/* Kernels up to 6.1 cannot emulate x87, VEX or MOVNTDQA on MMIO. */
		if (old_kernel && (strstr(name->msg, "fld") || strstr(name->msg, "vmov") ||
				   strstr(name->msg, "movntdqa")))
			CHECK(emu >= 1);
	}
	fprintf(stderr, "%u forms, %u run, %u needed kvmlab's emulator (kernel %u.%u)\n", forms,
		ran, kvmlab, kernel_version() / 1000, kernel_version() % 1000);
	CHECK(forms >= 40);
	CHECK(kvmlab >= 1);
	vm_destroy(vm);
}
