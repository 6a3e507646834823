"""bench/: the Google Benchmark binary's JSON and context, and callgrind's instructions per exit."""
import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from conftest import ROOT, build_dir

PIO_BENCHES = ("pio_exit/bare", "pio_exit/dispatch", "pio_exit/ratio")
X86_BENCHES = ("x86/decode_vs_zydis", "x86/emulate")  # bench/x86_decode.c, harness/tests/test_x86.py
INSTRUCTIONS = ROOT / "bench" / "instructions_per_exit"


def is_sanitized(build: Path) -> bool:
    cache = build / "CMakeCache.txt"
    return not cache.exists() or "CMAKE_BUILD_TYPE:STRING=Debug" in cache.read_text()


def release_build() -> Path:
    """Callgrind needs a build without sanitizers: the build under test if it is one."""
    build = build_dir()
    return ROOT / "build" / "release" if is_sanitized(build) else build


@pytest.fixture(scope="session")
def bench_bin() -> Path:
    path = build_dir() / "bench" / "kvmlab_bench"
    assert path.exists(), f"{path} is missing: build first (ci/build)"
    return path


def run_bench(bench_bin, tmp_path, *args):
    out_file = tmp_path / "bench.json"
    out = subprocess.run([str(bench_bin), "--benchmark_filter=^pio_exit/",
                          "--benchmark_min_time=0.01", f"--benchmark_out={out_file}",
                          "--benchmark_out_format=json", *args],
                         capture_output=True, text=True, timeout=300)
    report = json.loads(out_file.read_text()) if out_file.exists() else None
    return out, report


def run_errors(report) -> str:
    """The error messages of failed runs, for assertion reports."""
    runs = report["benchmarks"] if report else []
    return "; ".join(f"{b['name']}: {b['error_message']}" for b in runs if b.get("error_occurred"))


def cpu_has_hypervisor_flag() -> bool:
    with open("/proc/cpuinfo") as f:
        return any(line.startswith("flags") and "hypervisor" in line.split(":", 1)[1].split()
                   for line in f)


@pytest.mark.kvm
def test_pio_benchmarks_report_positive_times_and_the_host_context(bench_bin, tmp_path):
    out, report = run_bench(bench_bin, tmp_path)
    assert out.returncode == 0, run_errors(report) or out.stderr[-2000:]
    ctx = report["context"]
    assert ctx["kernel"] == os.uname().release
    assert ctx["cpu_model"] not in ("", "unknown")
    assert ctx["kvm_nested"] == ("true" if cpu_has_hypervisor_flag() else "false")
    assert ctx["kvm_api_version"] == "12"
    modules = ctx["kvm_modules"].split(",")
    assert "kvm" in modules
    params = {k for k in ctx if k.startswith("kvm_param.kvm.")}
    assert params == {f"kvm_param.kvm.{p}" for p in os.listdir("/sys/module/kvm/parameters")}
    assert ctx["mem_policy"] == "anon" and ctx["sched"] == "os"
    assert ctx["kvmlab_asan"] == ("true" if is_sanitized(build_dir()) else "false")

    runs = {b["name"]: b for b in report["benchmarks"]}
    assert sorted(runs) == sorted(PIO_BENCHES)
    for b in runs.values():
        assert not b.get("error_occurred"), b.get("error_message")
        assert b["iterations"] > 0 and b["real_time"] > 0 and b["cpu_time"] > 0
        assert b["time_unit"] == "ns"
    ratio = runs["pio_exit/ratio"]
    assert ratio["dispatch_ns"] > 0 and ratio["bare_ns"] > 0
    assert ratio["ratio"] == pytest.approx(ratio["dispatch_ns"] / ratio["bare_ns"])


@pytest.mark.kvm
def test_a_benchmark_that_cannot_run_fails_the_run_with_the_reason(bench_bin, tmp_path):
    out, report = run_bench(bench_bin, tmp_path, f"--kvmlab_guests={tmp_path}/nowhere")
    assert out.returncode == 1
    runs = report["benchmarks"]
    assert sorted(b["name"] for b in runs) == sorted(PIO_BENCHES)
    for b in runs:
        assert b["error_occurred"] and f"{tmp_path}/nowhere/bench_pio.bin" in b["error_message"]


def test_bench_options_and_listing(bench_bin):
    out = subprocess.run([str(bench_bin), "--kvmlab_list"], capture_output=True, text=True,
                         timeout=60)
    assert out.returncode == 0, out.stderr
    assert [line.split()[0] for line in out.stdout.splitlines()] == sorted(PIO_BENCHES +
                                                                          X86_BENCHES)
    out = subprocess.run([str(bench_bin), "--kvmlab_bogus=1"], capture_output=True, text=True,
                         timeout=60)
    assert out.returncode == 2 and "--kvmlab_bogus" in out.stderr


def instructions_per_exit(*args):
    return subprocess.run([sys.executable, str(INSTRUCTIONS), *map(str, args)],
                          capture_output=True, text=True, timeout=600)


@pytest.mark.kvm
def test_callgrind_counts_instructions_per_exit_and_dispatch_costs_more_than_bare(tmp_path):
    build = release_build()
    out_file = tmp_path / "instructions.json"
    out = instructions_per_exit("--build", build, "--small", 1000, "--large", 2000,
                                "--out", out_file)
    assert out.returncode == 0, out.stderr
    print(out.stdout)
    report = json.loads(out_file.read_text())
    assert report["context"]["kernel"] == os.uname().release
    assert report["context"]["kvmlab_asan"] == "false"
    runs = {b["name"]: b for b in report["benchmarks"]}
    assert sorted(runs) == ["pio_exit_instructions/bare", "pio_exit_instructions/dispatch"]
    for mode, b in runs.items():
        per_exit = (b["instructions_large"] - b["instructions_small"]) / 1000
        assert b["instructions_per_exit"] == per_exit == b["real_time"]
        assert per_exit > 0, mode
        assert f"{per_exit:.1f} instructions per exit" in out.stdout
    dispatch = runs["pio_exit_instructions/dispatch"]["instructions_per_exit"]
    bare = runs["pio_exit_instructions/bare"]["instructions_per_exit"]
    assert dispatch > bare


def test_callgrind_script_refuses_a_sanitizer_build(tmp_path):
    fake = tmp_path / "bench" / "pio_count"
    fake.parent.mkdir()
    fake.write_bytes(b"\x7fELF...__asan_init...")
    out = instructions_per_exit("--build", tmp_path)
    assert out.returncode == 2
    assert "ASan" in out.stderr
