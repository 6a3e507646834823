"""Fuzzing (host-only): every target replays its corpus under ASan+UBSan and runs briefly under
libFuzzer without a crash; a planted bug is found; the AFL++, coverage and OSS-Fuzz builds work."""
import configparser
import json
import os
import re
import shutil
import subprocess
import zipfile
from pathlib import Path

import pytest

from conftest import ROOT, build_dir

TARGETS = sorted(p.stem for p in (ROOT / "fuzz" / "targets").glob("*.c"))
CORPORA = ROOT / "corpora"
PY = "/usr/bin/python3"
SMOKE_SECONDS = 3


def run(cmd, timeout=300, **kw):
    return subprocess.run(list(map(str, cmd)), capture_output=True, text=True, errors="replace",
                          timeout=timeout, **kw)


def tail(out, n=40):
    return "\n".join((out.stdout + out.stderr).splitlines()[-n:])


def corpus_inputs(target):
    return [p for p in (CORPORA / target).rglob("*") if p.is_file() and not p.name.startswith(".")]


def max_len(target):
    cp = configparser.ConfigParser()
    cp.read(ROOT / "fuzz" / "options" / f"{target}.options")
    return cp.get("libfuzzer", "max_len", fallback="1024")


def test_seeds_and_dicts_are_the_generators_output():
    out = run([PY, ROOT / "fuzz" / "gen_seeds.py", "--check"])
    assert out.returncode == 0, tail(out)


@pytest.mark.parametrize("target", TARGETS)
def test_corpus_replays_clean_under_sanitizers(target):
    """The ordinary build's replay driver (ASan+UBSan in build/debug) over seeds, fuzzer-found
    inputs and regressions/: a crash found once stays fixed."""
    replay = build_dir() / "fuzz" / f"{target}_replay"
    assert replay.exists(), f"{replay} is missing: build first (ci/build)"
    inputs = corpus_inputs(target)
    assert any(p.name.startswith("seed-") for p in inputs), \
        f"corpora/{target} has no generated seeds: add them to fuzz/gen_seeds.py"
    out = run([replay, "-v", CORPORA / target])
    assert out.returncode == 0, tail(out)
    assert f"replayed {len(inputs)} inputs" in out.stdout


@pytest.fixture(scope="session")
def libfuzzer_dir():
    out = run([PY, ROOT / "ci" / "fuzz", "--build-only"], timeout=900)
    assert out.returncode == 0, tail(out)
    return ROOT / "build" / "fuzz-libfuzzer"


@pytest.mark.parametrize("target", TARGETS)
def test_libfuzzer_smoke(target, libfuzzer_dir, tmp_path):
    """A few seconds of libFuzzer from the checked-in corpus: no crash, and it really ran."""
    cmd = [libfuzzer_dir / f"{target}_fuzzer", f"-max_total_time={SMOKE_SECONDS}",
           f"-max_len={max_len(target)}", "-print_final_stats=1", "-timeout=10",
           f"-artifact_prefix={tmp_path}/", tmp_path / "new", CORPORA / target]
    dict_file = ROOT / "fuzz" / "dicts" / f"{target}.dict"
    if dict_file.exists():
        cmd.insert(1, f"-dict={dict_file}")
    (tmp_path / "new").mkdir()
    out = run(cmd, timeout=SMOKE_SECONDS + 120)
    assert out.returncode == 0, tail(out)
    assert not list(tmp_path.glob("crash-*")), tail(out)
    execs = int(re.search(r"stat::number_of_executed_units:\s+(\d+)", out.stderr).group(1))
    assert execs > 1000, f"only {execs} executions in {SMOKE_SECONDS} s"


@pytest.fixture(scope="module")
def planted_fuzzer(libfuzzer_dir):
    """The UART target over a UART compiled with the test-only KVMLAB_PLANTED_BUG
    (vmm/devices/uart16550.c): one extra object in the libFuzzer build."""
    out = run(["cmake", "--build", libfuzzer_dir, "--target", "uart_planted_fuzzer"], timeout=900)
    assert out.returncode == 0, tail(out)
    return libfuzzer_dir / "uart_planted_fuzzer"


def test_planted_bug_is_found_and_reproduces(planted_fuzzer, libfuzzer_dir, tmp_path):
    """The harness can fail: a crash behind SCR := 0xc3, MCR := 0x1d, LCR := 0x1b (three
    separate port writes no seed contains) is found by libFuzzer from the generated seeds."""
    seeds = tmp_path / "seeds"
    seeds.mkdir()
    for p in (CORPORA / "uart").glob("seed-*"):
        shutil.copy(p, seeds / p.name)
    clean = run([planted_fuzzer, "-runs=0", seeds])
    assert clean.returncode == 0, "a seed already reaches the planted bug:\n" + tail(clean)

    (tmp_path / "new").mkdir()
    hunt = run([planted_fuzzer, "-max_total_time=120", "-print_final_stats=1",
                f"-max_len={max_len('uart')}", f"-artifact_prefix={tmp_path}/",
                tmp_path / "new", seeds], timeout=300)
    crashes = list(tmp_path.glob("crash-*"))
    assert hunt.returncode != 0 and len(crashes) == 1, "not found in 120 s:\n" + tail(hunt)
    assert "uart16550: planted bug reached" in hunt.stderr
    took = re.findall(r"^#(\d+)", hunt.stderr, re.M)
    print(f"planted bug found after {took[-1] if took else '?'} executions")

    again = run([planted_fuzzer, crashes[0]])
    assert again.returncode != 0 and "planted bug reached" in again.stderr, tail(again)
    # Only the test build has the bug: the ordinary fuzzer and replay driver run the input.
    normal = run([libfuzzer_dir / "uart_fuzzer", crashes[0]])
    assert normal.returncode == 0, tail(normal)
    replay = run([build_dir() / "fuzz" / "uart_replay", crashes[0]])
    assert replay.returncode == 0, tail(replay)


def test_ci_fuzz_runs_and_reports(libfuzzer_dir, tmp_path):
    """ci/fuzz itself: a short run prints the table and writes build/fuzz/stats.json."""
    out = run([PY, ROOT / "ci" / "fuzz", "--seconds", "2", "--no-merge", "debugexit", "parse"],
              timeout=300)
    assert out.returncode == 0, tail(out)
    rows = {ln.split()[0]: ln.split() for ln in out.stdout.splitlines()
            if ln.split() and ln.split()[0] in ("debugexit", "parse")}
    assert set(rows) == {"debugexit", "parse"}, out.stdout
    stats = json.loads((ROOT / "build" / "fuzz" / "stats.json").read_text())
    for t in ("debugexit", "parse"):
        s = stats["targets"][t]
        assert s["execs"] > 1000 and s["exec_per_sec"] > 0 and s["crashes"] == 0, s


def test_afl_persistent_build_fuzzes(tmp_path):
    """The AFL++ build (afl-clang-fast, persistent mode over shared memory) runs under afl-fuzz."""
    out = run([PY, ROOT / "ci" / "fuzz", "--build-only", "--engine", "afl", "uart"], timeout=900)
    assert out.returncode == 0, tail(out)
    afl = ROOT / "build" / "fuzz-afl" / "uart_afl"
    replay = run([afl, CORPORA / "uart"])  # with arguments it replays files
    assert replay.returncode == 0, tail(replay)
    seeds = tmp_path / "in"
    seeds.mkdir()
    for p in corpus_inputs("uart"):
        shutil.copy(p, seeds / p.name)
    env = dict(os.environ, AFL_SKIP_CPUFREQ="1", AFL_NO_UI="1", AFL_NO_AFFINITY="1",
               AFL_I_DONT_CARE_ABOUT_MISSING_CRASHES="1", AFL_NO_WARN_INSTABILITY="1")
    out = run(["afl-fuzz", "-i", seeds, "-o", tmp_path / "out", "-V", "3", "-m", "none",
               "-G", max_len("uart"), "-M", "main", "--", afl], timeout=120, env=env)
    stats = dict(ln.split(":", 1) for ln in
                 (tmp_path / "out" / "main" / "fuzzer_stats").read_text().splitlines())
    stats = {k.strip(): v.strip() for k, v in stats.items()}
    assert out.returncode == 0, tail(out)
    assert int(stats["execs_done"]) > 1000 and int(stats["saved_crashes"]) == 0, stats


def test_coverage_report(tmp_path):
    """ci/fuzz --coverage: llvm-cov HTML over the corpus; the UART's code is covered."""
    out = run([PY, ROOT / "ci" / "fuzz", "--coverage", "uart"], timeout=900)
    assert out.returncode == 0, tail(out)
    assert (ROOT / "build" / "fuzz" / "coverage" / "html" / "index.html").exists()
    line = next(ln for ln in out.stdout.splitlines() if "uart16550.c" in ln)
    lines_cover = float(re.findall(r"([\d.]+)%", line)[2])  # regions, functions, lines
    assert lines_cover > 80, line


def test_oss_fuzz_build(tmp_path):
    """fuzz/build.sh with OSS-Fuzz's environment (libFuzzer + ASan, as its base-builder sets
    it, minus -stdlib=libc++, which Debian's clang lacks): every fuzzer, options file, dict
    and seed zip lands in $OUT, and every fuzzer runs its seeds."""
    flags = ("-O1 -fno-omit-frame-pointer -gline-tables-only "
             "-DFUZZING_BUILD_MODE_UNSAFE_FOR_PRODUCTION -fsanitize=address "
             "-fsanitize-address-use-after-scope -fsanitize=fuzzer-no-link")
    dirs = {k: tmp_path / k.lower() for k in ("OUT", "WORK", "SRC")}
    for d in dirs.values():
        d.mkdir()
    env = dict(os.environ, CC="clang-14", CXX="clang++-14", CFLAGS=flags, CXXFLAGS=flags,
               LIB_FUZZING_ENGINE="-fsanitize=fuzzer", SANITIZER="address",
               FUZZING_ENGINE="libfuzzer", **{k: str(v) for k, v in dirs.items()})
    out = run(["bash", ROOT / "fuzz" / "build.sh"], timeout=900, env=env, cwd=dirs["SRC"])
    assert out.returncode == 0, tail(out)
    o = dirs["OUT"]
    for t in TARGETS:
        fuzzer = o / f"{t}_fuzzer"
        assert os.access(fuzzer, os.X_OK), f"{fuzzer} missing"
        cp = configparser.ConfigParser()
        cp.read(o / f"{t}_fuzzer.options")
        assert cp.getint("libfuzzer", "max_len") > 0
        if (ROOT / "fuzz" / "dicts" / f"{t}.dict").exists():
            assert (o / f"{t}_fuzzer.dict").exists()
            assert cp.get("libfuzzer", "dict") == f"{t}_fuzzer.dict"
        seeds = tmp_path / "seeds" / t
        with zipfile.ZipFile(o / f"{t}_fuzzer_seed_corpus.zip") as z:
            assert len(z.namelist()) == len(corpus_inputs(t))
            z.extractall(seeds)
        ran = run([fuzzer, "-runs=500", f"-max_len={cp.get('libfuzzer', 'max_len')}", seeds],
                  timeout=120)
        assert ran.returncode == 0, tail(ran)
