#!/bin/bash -eu
# OSS-Fuzz / ClusterFuzzLite build: every fuzz target as $OUT/<target>_fuzzer with its .options,
# .dict and seed corpus zip. Reads OSS-Fuzz's environment: CC, CXX, CFLAGS, CXXFLAGS,
# LIB_FUZZING_ENGINE (e.g. -fsanitize=fuzzer), OUT, SRC and WORK.
root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
build="$WORK/kvmlab-fuzz"
default_max_len=1024 # as in ci/fuzz

# CMake takes CFLAGS/CXXFLAGS from the environment; the engine's link flags are passed on.
cmake -S "$root/fuzz" -B "$build" -DKVMLAB_FUZZ_ENGINE=oss-fuzz \
	-DKVMLAB_FUZZ_LINK="$LIB_FUZZING_ENGINE" -DCMAKE_C_COMPILER="$CC" -DCMAKE_CXX_COMPILER="$CXX"
cmake --build "$build" -j"$(nproc)"

mkdir -p "$OUT"
for src in "$root"/fuzz/targets/*.c; do
	t=$(basename "$src" .c)
	f="$OUT/${t}_fuzzer"
	cp "$build/${t}_fuzzer" "$f"
	if [ -f "$root/fuzz/options/$t.options" ]; then
		cp "$root/fuzz/options/$t.options" "$f.options"
	else
		printf '[libfuzzer]\nmax_len = %d\n' "$default_max_len" >"$f.options"
	fi
	if [ -f "$root/fuzz/dicts/$t.dict" ]; then
		cp "$root/fuzz/dicts/$t.dict" "$f.dict"
		printf 'dict = %s\n' "${t}_fuzzer.dict" >>"$f.options"
	fi
	# Seeds and regression inputs, flattened (regressions/ names start with "crash-").
	python3 - "$root/corpora/$t" "${f}_seed_corpus.zip" <<'PY'
import sys, zipfile
from pathlib import Path
src, dst = Path(sys.argv[1]), sys.argv[2]
with zipfile.ZipFile(dst, "w", zipfile.ZIP_DEFLATED) as z:
    for p in sorted(src.rglob("*")) if src.exists() else []:
        if p.is_file() and not p.name.startswith("."):
            z.write(p, p.name)
PY
done
echo "fuzz/build.sh: $(ls "$root"/fuzz/targets/*.c | wc -l) fuzzers in $OUT"
