/* What the fuzz drivers (replay, AFL++) share: running a target over files and directories. */
#ifndef KVMLAB_FUZZ_DRIVERS_H
#define KVMLAB_FUZZ_DRIVERS_H

#include "fuzz.h"

/* main() of the replay driver: [-v] FILE|DIR...; 0 when every input ran, 2 on unreadable
 * paths. A target that fails a check aborts the process, as under any engine. */
int fuzz_replay_main(int argc, char **argv);

#endif
