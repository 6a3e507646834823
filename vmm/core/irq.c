/* Devices' interrupt lines into KVM's in-kernel PIC and IOAPIC, and the PC's GSI routing. */
#include <errno.h>
#include <linux/kvm.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>

#include "kvmlab/boot.h"
#include "kvmlab/kvm.h"
#include "vm_internal.h"

#define IOAPIC_PINS 24
#define PIC_IRQS    16

void vm_irq_line(void *opaque, uint32_t gsi, bool level)
{
	struct vm *vm = opaque;
	struct kvm_irq_level l = {.irq = gsi, .level = level};

	if (ioctl(vm->vm_fd, KVM_IRQ_LINE, &l) < 0)
		machine_stop(&vm->m, STOP_HOST_ERROR, 0,
			     "KVM_IRQ_LINE failed while setting GSI %u to %d: %s", gsi, level,
			     strerror(errno));
}

static void route(struct kvm_irq_routing *r, uint32_t gsi, uint32_t chip, uint32_t pin)
{
	r->entries[r->nr++] = (struct kvm_irq_routing_entry){
	    .gsi = gsi,
	    .type = KVM_IRQ_ROUTING_IRQCHIP,
	    .u.irqchip = {.irqchip = chip, .pin = pin},
	};
}

int vm_irq_routing_pc(struct vm *vm, struct errbuf *e)
{
	size_t max = PIC_IRQS + IOAPIC_PINS;
	struct kvm_irq_routing *r = calloc(1, sizeof(*r) + max * sizeof(r->entries[0]));
	int ret;

	if (!r)
		return err_set(e, "out of memory building the interrupt routing");
	/* IRQ 2 is the PICs' cascade and, on the IOAPIC, the PIT's pin. */
	for (uint32_t gsi = 0; gsi < PIC_IRQS; gsi++)
		if (gsi != 2)
			route(r, gsi, gsi < 8 ? KVM_IRQCHIP_PIC_MASTER : KVM_IRQCHIP_PIC_SLAVE,
			      gsi % 8);
	for (uint32_t gsi = 0; gsi < IOAPIC_PINS; gsi++)
		if (gsi != 2)
			route(r, gsi, KVM_IRQCHIP_IOAPIC, gsi == 0 ? 2 : gsi);
	ret = KVM_IOCTL(vm->vm_fd, KVM_SET_GSI_ROUTING, r, e, "routing IRQ 0 to IOAPIC pin 2");
	free(r);
	return ret < 0 ? -1 : 0;
}
