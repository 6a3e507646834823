/* Reports whether the guest's CPUID shows SVM (0x80000001 ECX[2]) and VMX (1 ECX[5]). */
#include "lib/guest.h"

int guest_main(unsigned ncpus)
{
	uint32_t a, b, c, d, svm, vmx;

	(void)ncpus;
	cpuid(0x80000001, 0, &a, &b, &c, &d);
	svm = (c >> 2) & 1;
	cpuid(1, 0, &a, &b, &c, &d);
	vmx = (c >> 5) & 1;
	guest_printf("svm=%u vmx=%u\n", svm, vmx);
	GUEST_SYNC_ARGS(3, svm, vmx, 0);
	GUEST_DONE();
}
