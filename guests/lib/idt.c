/* The guest's IDT: every vector enters guest_interrupt; unhandled exceptions are reported by ucall. */
#include "guest.h"

#define IDT_VECTORS  256
#define STUB_SIZE    16
#define GATE_INTR_64 0x8e /* present, DPL 0, 64-bit interrupt gate */
#define SEL_CODE64   0x10 /* kvmlab's boot GDT (vmm/include/kvmlab/x86.h) */

struct idt_gate {
	uint16_t offset_low;
	uint16_t selector;
	uint8_t ist;
	uint8_t type;
	uint16_t offset_mid;
	uint32_t offset_high;
	uint32_t reserved;
} __attribute__((packed));

extern char isr_stubs[];

static struct idt_gate idt[IDT_VECTORS] __attribute__((aligned(16)));
static guest_irq_fn handlers[IDT_VECTORS];

void guest_interrupt(struct guest_frame *f);

void guest_idt_init(void)
{
	for (unsigned v = 0; v < IDT_VECTORS; v++) {
		uint64_t addr = (uint64_t)(uintptr_t)(isr_stubs + v * STUB_SIZE);

		idt[v] = (struct idt_gate){
			.offset_low = (uint16_t)addr,
			.selector = SEL_CODE64,
			.type = GATE_INTR_64,
			.offset_mid = (uint16_t)(addr >> 16),
			.offset_high = (uint32_t)(addr >> 32),
		};
	}
}

void guest_idt_load(void)
{
	struct {
		uint16_t limit;
		uint64_t base;
	} __attribute__((packed)) desc = {sizeof(idt) - 1, (uint64_t)(uintptr_t)idt};

	__asm__ volatile("lidt %0" : : "m"(desc));
}

void guest_set_irq_handler(uint8_t vector, guest_irq_fn fn)
{
	handlers[vector] = fn;
}

void guest_interrupt(struct guest_frame *f)
{
	uint64_t cr2;

	if (handlers[f->vector]) {
		handlers[f->vector](f);
		return;
	}
	__asm__ volatile("mov %%cr2, %0" : "=r"(cr2));
	/* The first unhandled exception or interrupt is the report; the host stops the VM. */
	ucall(UCALL_FAULT, __FILE__, __LINE__, "unhandled exception", 4, f->vector, f->error_code,
	      f->rip, cr2);
	cpu_halt_forever();
}
