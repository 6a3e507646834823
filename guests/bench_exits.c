/* Benchmark guest: repeats one kind of exit in batches timed with RDTSC (bench/exit_latency.c). */
#include "lib/guest.h"

/* Keep in step with bench/exit_vm.h. */
#define CFG_PORT  0x5c0 /* inl: the kind; +4 batch size; +8, +12, +16 touch gpa, pages, stride */
#define OP_PORT	  0x5f0 /* userspace PIO device; also the irqfd acknowledgement */
#define MMIO_BASE 0xe0000000ull /* userspace MMIO device */
#define OP_MMIO	  (MMIO_BASE + 0x00)
#define REPORT	  (MMIO_BASE + 0x08)   /* 8-byte write: TSC cycles of the batch just run */
#define EMU_MMIO  (MMIO_BASE + 0x10)   /* x87 store: KVM cannot emulate it, kvmlab does */
#define IOEVENTFD (MMIO_BASE + 0x1000) /* a 4-byte write of 1 signals an eventfd in KVM */
#define IOAPIC	  0xfec00000ull
#define IRQ_GSI	  20 /* an IOAPIC-only pin: no PIC behind it */
#define IRQ_VEC	  0x40
#define TIMER_VEC 0x41

enum kind {
	KIND_PIO = 0,
	KIND_MMIO = 1,
	KIND_EMULATE = 2,
	KIND_CPUID = 3,
	KIND_IOEVENTFD = 4,
	KIND_HLT_TIMER = 5,
	KIND_IRQFD = 6,
	KIND_TOUCH = 7, /* write one byte per page of a region the host names (memory benchmarks) */
};

static volatile uint64_t timer_fired_tsc;
static const double one = 1.0;

static void report(uint64_t cycles)
{
	*(volatile uint64_t *)REPORT = cycles;
}

static void on_timer(struct guest_frame *f)
{
	(void)f;
	timer_fired_tsc = rdtsc();
	lapic_eoi();
}

static void on_irq(struct guest_frame *f)
{
	(void)f;
	lapic_eoi();
	outb(OP_PORT, 1); /* the host times from its eventfd write to this exit */
}

static void ioapic_route(unsigned gsi, uint8_t vector)
{
	volatile uint32_t *sel = (volatile uint32_t *)IOAPIC,
			  *win = (volatile uint32_t *)(IOAPIC + 0x10);

	*sel = 0x11 + 2 * gsi;
	*win = 0; /* destination: APIC ID 0 */
	*sel = 0x10 + 2 * gsi;
	*win = vector; /* fixed, physical, edge, active high, unmasked */
}

/* One batch of n exits of kind k; returns its TSC cycles (for HLT: the summed wake-up
 * delay after each timer's due time). */
static uint64_t batch(enum kind k, uint32_t n)
{
	uint64_t t0 = rdtsc(), late = 0;
	uint32_t a, b, c, d;

	switch (k) {
	case KIND_PIO:
		for (uint32_t i = 0; i < n; i++)
			outb(OP_PORT, 0);
		break;
	case KIND_MMIO:
		for (uint32_t i = 0; i < n; i++)
			*(volatile uint32_t *)OP_MMIO = i;
		break;
	case KIND_EMULATE:
		for (uint32_t i = 0; i < n; i++) /* FST keeps ST0: no x87 stack to refill */
			__asm__ volatile("fstl (%0)" : : "r"(EMU_MMIO) : "memory");
		break;
	case KIND_CPUID:
		for (uint32_t i = 0; i < n; i++)
			cpuid(0, 0, &a, &b, &c, &d);
		break;
	case KIND_IOEVENTFD:
		for (uint32_t i = 0; i < n; i++)
			*(volatile uint32_t *)IOEVENTFD = 1;
		break;
	case KIND_HLT_TIMER:
		for (uint32_t i = 0; i < n; i++) {
			uint64_t due;

			timer_fired_tsc = 0;
			__asm__ volatile("cli");
			due = lapic_timer_start(TIMER_VEC, 10000, false); /* 10 us */
			while (!timer_fired_tsc)
				__asm__ volatile("sti; hlt; cli" ::: "memory");
			late += timer_fired_tsc - due;
		}
		return late;
	case KIND_TOUCH: {
		/* Asked each batch: between batches the host may replace the region. */
		uint64_t gpa = inl(CFG_PORT + 8), pages = inl(CFG_PORT + 12);
		uint64_t stride = inl(CFG_PORT + 16);

		t0 = rdtsc();
		for (uint64_t p = 0; p < pages; p += stride)
			*(volatile uint8_t *)(uintptr_t)(gpa + p * 4096) = (uint8_t)p;
		break;
	}
	case KIND_IRQFD:
		report(0); /* routed and ready: an edge sent before this would be lost */
		for (;;)
			__asm__ volatile("sti; hlt; cli" ::: "memory");
	}
	return rdtsc() - t0;
}

int guest_main(unsigned ncpus)
{
	enum kind k = (enum kind)inl(CFG_PORT);
	uint32_t n = inl(CFG_PORT + 4);

	(void)ncpus;
	if (k == KIND_HLT_TIMER || k == KIND_IRQFD) {
		lapic_enable();
		guest_set_irq_handler(TIMER_VEC, on_timer);
		guest_set_irq_handler(IRQ_VEC, on_irq);
		if (k == KIND_IRQFD)
			ioapic_route(IRQ_GSI, IRQ_VEC);
	}
	if (k == KIND_EMULATE) /* ST0 = 1.0, loaded from RAM once */
		__asm__ volatile("fninit\n\tfldl %0" : : "m"(one));
	for (;;)
		report(batch(k, n));
}
