#!/bin/bash -eu
# ClusterFuzzLite's build entry point: kvmlab's OSS-Fuzz build script does the work.
exec "$SRC/kvmlab/fuzz/build.sh"
