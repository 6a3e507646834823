/* A failing GUEST_ASSERT_EQ: the host reports this file, the line and both values. */
#include "lib/guest.h"

int guest_main(unsigned ncpus)
{
	GUEST_ASSERT_EQ(ncpus + 1, 3);
	GUEST_DONE();
}
