/* AFL++ driver: persistent mode over the shared-memory test case; with arguments, replays files. */
#include <stdlib.h>
#include <string.h>
#include <unistd.h> /* __AFL_FUZZ_TESTCASE_LEN reads stdin outside afl-fuzz */

#include "drivers.h"

__AFL_FUZZ_INIT();

int main(int argc, char **argv)
{
	const unsigned char *shm;

	if (argc > 1)
		return fuzz_replay_main(argc, argv);
	__AFL_INIT();
	shm = __AFL_FUZZ_TESTCASE_BUF;
	while (__AFL_LOOP(100000)) {
		size_t len = (size_t)__AFL_FUZZ_TESTCASE_LEN;
		/* An exactly sized copy: the shared buffer is larger than the input, so a read
		 * past its end would go unnoticed there. */
		uint8_t *buf = malloc(len ? len : 1);

		if (!buf)
			abort();
		memcpy(buf, shm, len);
		LLVMFuzzerTestOneInput(buf, len);
		free(buf);
	}
	return 0;
}
