/* Scans all of RAM for a canary the VMM keeps in its heap; the canary never enters guest RAM. */
#include "lib/guest.h"

#define PARAM_CANARY_XOR 0 /* canary ^ key: the canary never enters guest memory */
#define PARAM_KEY	 1 /* must follow PARAM_CANARY_XOR */
#define PARAM_RAM	 2 /* RAM size; 0: probe for it */

#define VALUE_HITS  0
#define VALUE_FIRST 1

int guest_main(unsigned ncpus)
{
	struct results_abi *r = results_init();
	uint64_t top = results_param(PARAM_RAM, 0), first, hits;

	(void)ncpus;
	if (!top)
		top = guest_ram_top();
	hits = guest_scan_hidden(0, top, &r->param[PARAM_CANARY_XOR], &first);
	r->value[VALUE_HITS] = hits;
	r->value[VALUE_FIRST] = first;
	guest_printf("iso_canary: scanned 0x0-0x%llx: %llu hits (first at 0x%llx)\n",
		     (unsigned long long)top, (unsigned long long)hits, (unsigned long long)first);
	GUEST_DONE();
}
