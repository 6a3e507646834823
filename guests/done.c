/* Reports a few SYNC stages, then success through ucall DONE (kvmlab exits 0). */
#include "lib/guest.h"

int guest_main(unsigned ncpus)
{
	for (uint64_t stage = 1; stage <= 3; stage++)
		GUEST_SYNC(stage);
	GUEST_PRINT("all stages reached");
	GUEST_ASSERT(ncpus >= 1);
	GUEST_DONE();
}
