/* The replay driver: a plain main() that runs a fuzz target over corpus files (the test suite's).
 */
#include "drivers.h"

int main(int argc, char **argv)
{
	return fuzz_replay_main(argc, argv);
}
