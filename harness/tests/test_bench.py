"""bench/: the Google Benchmark binary's JSON and context, and callgrind's instructions per exit."""
import json
import os
import random
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from conftest import ROOT, build_dir

PIO_BENCHES = ("pio_exit/bare", "pio_exit/dispatch", "pio_exit/ratio")
X86_BENCHES = ("x86/decode_vs_zydis", "x86/emulate")  # bench/x86_decode.c, harness/tests/test_x86.py
EXIT_BENCHES = tuple(f"exit_latency/{k}" for k in
                     ("pio", "mmio", "emulate", "cpuid", "ioeventfd", "hlt_timer"))
MEM_BENCHES = ("memslot/region_add_delete", "memslot/ioctl_add_move_delete", "mem/first_touch",
               "mem/dirty_log_get")
KVM_BENCHES = PIO_BENCHES + EXIT_BENCHES + ("irq_latency/irqfd",) + MEM_BENCHES
HOST_BENCHES = X86_BENCHES + ("bus/pio_lookup", "bus/mmio_lookup", "virtq/pop_push")
INSTRUCTIONS = ROOT / "bench" / "instructions_per_exit"
COMPARE = ROOT / "bench" / "compare"
HISTORY = ROOT / "bench" / "history"
DASHBOARD = ROOT / "bench" / "dashboard"


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
    flavor = ("pvm" if "kvm_pvm" in modules else "amd" if "kvm_amd" in modules
              else "intel" if "kvm_intel" in modules else "unknown")
    assert ctx["kvm_flavor"] == flavor
    assert ctx["kvm_environment"] == ("pvm" if flavor == "pvm" else
                                      "nested" if cpu_has_hypervisor_flag() else "bare-metal")
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


def listed(bench_bin, *args):
    """{name: "kvm" | "host"} from --kvmlab_list (lines naming an unavailable instance start
    with blanks)."""
    out = subprocess.run([str(bench_bin), "--kvmlab_list", *args], capture_output=True,
                         text=True, timeout=60)
    assert out.returncode == 0, out.stderr
    return {line.split()[0]: line.split()[1] for line in out.stdout.splitlines()
            if line and not line[0].isspace()}


def test_bench_options_and_listing(bench_bin):
    names = listed(bench_bin)
    assert list(names) == sorted(KVM_BENCHES + HOST_BENCHES)
    assert {n for n, kind in names.items() if kind == "host"} == set(HOST_BENCHES)
    assert list(listed(bench_bin, "--kvmlab_select=host")) == sorted(HOST_BENCHES)
    assert list(listed(bench_bin, "--kvmlab_select=kvm")) == sorted(KVM_BENCHES)
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


# ---- the whole suite, one short iteration each, so none of them rots ----

def run_select(bench_bin, tmp_path, select, *args, timeout=900):
    out_file = tmp_path / f"{select}.json"
    out = subprocess.run([str(bench_bin), f"--kvmlab_select={select}",
                          "--benchmark_min_time=0.01", f"--benchmark_out={out_file}",
                          "--benchmark_out_format=json", *args],
                         capture_output=True, text=True, timeout=timeout)
    report = json.loads(out_file.read_text()) if out_file.exists() else None
    assert out.returncode == 0, run_errors(report) or out.stderr[-3000:]
    return report, out


def by_family(report):
    """{family: [runs]}: 'x/y/8' and 'x/y/64' both under 'x/y'."""
    families = {}
    for b in report["benchmarks"]:
        name = b["name"]
        family = next((f for f in KVM_BENCHES + HOST_BENCHES
                       if name == f or name.startswith(f + "/")), name)
        families.setdefault(family, []).append(b)
    return families


@pytest.mark.kvm
def test_every_kvm_benchmark_runs_and_proves_its_path(bench_bin, tmp_path):
    report, out = run_select(bench_bin, tmp_path, "kvm")
    fams = by_family(report)
    unavailable = [line for line in out.stderr.splitlines() if "not run:" in line]
    assert sorted(fams) == sorted(KVM_BENCHES), out.stderr
    for b in report["benchmarks"]:
        assert not b.get("error_occurred"), (b["name"], b.get("error_message"))
        assert b["iterations"] > 0 and b["real_time"] > 0, b["name"]
    for b in fams["exit_latency/pio"] + fams["exit_latency/mmio"] + fams["exit_latency/emulate"]:
        # userspace exits: both clocks saw every exit; the guest's RDTSC figure and the
        # host's around KVM_RUN measure the same round trip, so they agree within reason
        assert b["host_ns"] > 0 and b["guest_ns"] > 0 and b["batch"] == 64
        assert 0.2 < b["guest_ns"] / b["host_ns"] < 5, b
    for name in ("cpuid", "ioeventfd", "hlt_timer"):
        (b,) = fams[f"exit_latency/{name}"]
        assert b["guest_ns"] > 0 and b["host_ns"] > 0, b
    assert fams["irq_latency/irqfd"][0]["round_trip_ns"] > 0
    for b in fams["memslot/ioctl_add_move_delete"]:
        assert b["add_ns"] > 0 and b["move_ns"] > 0 and b["delete_ns"] > 0
    assert [b["name"] for b in fams["memslot/region_add_delete"]] == [
        "memslot/region_add_delete/2", "memslot/region_add_delete/64",
        "memslot/region_add_delete/1024"]
    touch = {b["name"]: b for b in fams["mem/first_touch"]}
    assert {"mem/first_touch/0", "mem/first_touch/1"} <= set(touch)  # anon, prefault
    assert len(touch) + len(unavailable) == 4, unavailable  # thp, hugetlb: run or say why
    for b in touch.values():
        assert b["guest_ns_per_page"] > 0 and b["label"].split(",")[0] in (
            "anon", "prefault", "thp", "hugetlb")
    for b in fams["mem/dirty_log_get"]:
        assert b["dirty_pages"] == 1024


def test_host_only_benchmarks_run_natively_without_kvm(bench_bin, tmp_path):
    report, _ = run_select(bench_bin, tmp_path, "host", "--benchmark_filter=^(bus|virtq)/")
    runs = {b["name"]: b for b in report["benchmarks"]}
    assert sorted(runs) == sorted(
        [f"bus/pio_lookup/{n}" for n in (1, 16, 255, 1024)] +
        [f"bus/mmio_lookup/{n}" for n in (1, 16, 256, 4096)] +
        [f"virtq/pop_push/{n}" for n in (1, 3, 16)])
    # the port index holds up to 255 ranges; past that the lookup is a binary search
    assert runs["bus/pio_lookup/255"]["label"] == "direct index"
    assert runs["bus/pio_lookup/1024"]["label"] == "binary search"
    for n in (1, 3, 16):
        assert runs[f"virtq/pop_push/{n}"]["items_per_second"] > 0
        assert runs[f"virtq/pop_push/{n}"]["chains"] == 256 // n


# ---- kvmlab bench ----

@pytest.mark.kvm
def test_kvmlab_bench_merges_both_parts_into_json_compare_py_accepts(kvmlab, tmp_path):
    out_file = tmp_path / "run.json"
    out = kvmlab("bench", "--filter", "^(exit_latency/pio|bus/pio_lookup/1)$",
                 "--repetitions", 3, "--min-time", "0.01", "--out", out_file, timeout=600)
    assert out.returncode == 0, out.stderr[-3000:]
    report = json.loads(out_file.read_text())
    reps = [b["name"] for b in report["benchmarks"] if b["run_type"] == "iteration"]
    assert sorted(reps) == ["bus/pio_lookup/1"] * 3 + ["exit_latency/pio"] * 3
    ctx = report["context"]
    assert ctx["kvm_runner"] == "native" and ctx["kernel"] == os.uname().release
    assert ctx["kvmlab_select"] == "all"
    assert not list(tmp_path.glob(".kvmlab-bench-*")), "temporary parts left behind"
    # Google Benchmark's own compare.py takes it as it is
    cmp = subprocess.run([sys.executable, "/usr/share/benchmark/compare.py", "benchmarks",
                          str(out_file), str(out_file)], capture_output=True, text=True,
                         timeout=120)
    assert cmp.returncode == 0, cmp.stderr
    assert "exit_latency/pio" in cmp.stdout and "bus/pio_lookup/1" in cmp.stdout
    mine = subprocess.run([sys.executable, str(COMPARE), str(out_file), str(out_file)],
                          capture_output=True, text=True, timeout=120)
    assert mine.returncode == 0, mine.stdout + mine.stderr


def test_kvmlab_bench_usage_errors(kvmlab, tmp_path):
    assert kvmlab("bench", "--repetitions", "0").returncode == 2
    assert kvmlab("bench", "--box", "--no-box").returncode == 2
    assert kvmlab("bench", "--min-time", "soon").returncode == 2
    out = kvmlab("bench", "--bench", tmp_path / "nowhere")
    assert out.returncode == 4 and "nowhere" in out.stderr
    out = kvmlab("bench", "--list")
    assert out.returncode == 0 and "exit_latency/pio" in out.stdout


# ---- bench/compare, on clearly synthetic inputs ----

def synthetic_run(medians, seed, reps=9, noise=0.01, env="pvm"):
    """A made-up Google Benchmark report: reps repetitions around each median (ns)."""
    rng = random.Random(seed)
    runs = []
    for name, median in medians.items():
        for i in range(reps):
            t = median * (1 + rng.gauss(0, noise))
            runs.append({"name": name, "run_name": name, "run_type": "iteration",
                         "repetitions": reps, "repetition_index": i, "threads": 1,
                         "iterations": 1000, "real_time": t, "cpu_time": t, "time_unit": "ns"})
    return {"context": {"synthetic": "test input", "kvm_environment": env,
                        "date": f"2026-01-{seed % 28 + 1:02d}"}, "benchmarks": runs}


def write(path, report):
    path.write_text(json.dumps(report))
    return path


def compare(*args):
    return subprocess.run([sys.executable, str(COMPARE), *map(str, args)], capture_output=True,
                          text=True, timeout=120)


@pytest.mark.parametrize("slowdown", [1.2, 1.3])
def test_compare_flags_a_significant_slowdown(tmp_path, slowdown):
    base = write(tmp_path / "base.json", synthetic_run({"a": 1000, "b": 50}, 1))
    new = write(tmp_path / "new.json", synthetic_run({"a": 1000 * slowdown, "b": 50}, 2))
    out = compare(base, new)
    assert out.returncode == 1, out.stdout + out.stderr
    rows = {line.split()[0]: line for line in out.stdout.splitlines()[1:-1]}
    assert {n: line.split()[-1] for n, line in rows.items()} == {"a": "REGRESSION", "b": "noise"}
    change = float(re.search(r" ([+-]\d+\.\d)% ", rows["a"]).group(1))
    assert change == pytest.approx((slowdown - 1) * 100, abs=3)


def test_compare_stays_quiet_on_two_samples_of_the_same_noise(tmp_path):
    base = write(tmp_path / "base.json", synthetic_run({"a": 1000, "b": 50}, 3, noise=0.05))
    new = write(tmp_path / "new.json", synthetic_run({"a": 1000, "b": 50}, 4, noise=0.05))
    out = compare(base, new)
    assert out.returncode == 0, out.stdout + out.stderr
    verdicts = [line.split()[-1] for line in out.stdout.splitlines()[1:-1]]
    assert verdicts == ["noise", "noise"]


def test_compare_with_three_repetitions_is_unsure_not_alarmed(tmp_path):
    base = write(tmp_path / "base.json", synthetic_run({"a": 1000}, 5, reps=3))
    new = write(tmp_path / "new.json", synthetic_run({"a": 1300}, 6, reps=3))
    out = compare(base, new)
    # with 3 a side the smallest two-sided p is 0.1: the U test can never call it
    assert out.returncode == 0 and out.stdout.splitlines()[1].split()[-1] == "noise"


def test_compare_writes_dashboard_formats_and_fails_on_a_failed_benchmark(tmp_path):
    report = synthetic_run({"a": 1000, "b": 50}, 7)
    new = write(tmp_path / "new.json", report)
    out = compare(new, "--github-action", tmp_path / "gab.json", "--bmf", tmp_path / "bmf.json")
    assert out.returncode == 0, out.stderr
    gab = {e["name"]: e for e in json.loads((tmp_path / "gab.json").read_text())}
    bmf = json.loads((tmp_path / "bmf.json").read_text())
    for name, median in (("a", 1000), ("b", 50)):
        values = sorted(b["real_time"] for b in report["benchmarks"] if b["name"] == name)
        assert gab[name]["unit"] == "ns" and gab[name]["value"] == pytest.approx(values[4])
        assert bmf[name]["latency"] == pytest.approx(
            {"value": values[4], "lower_value": values[0], "upper_value": values[-1]})
    broken = synthetic_run({"a": 1000, "b": 50}, 8)
    broken["benchmarks"].append({"name": "c", "run_name": "c", "run_type": "iteration",
                                 "error_occurred": True, "error_message": "no /dev/kvm"})
    out = compare(new, write(tmp_path / "broken.json", broken))
    assert out.returncode == 1 and "c FAILED in NEW: no /dev/kvm" in out.stderr
    assert compare(tmp_path / "missing.json", new).returncode == 2


# ---- history and dashboard, rendered in headless Chromium ----

def chromium(*args):
    exe = shutil.which("chromium")
    assert exe, "chromium is missing: ci/deps installs it"
    return subprocess.run([exe, "--headless", "--no-sandbox", "--disable-gpu",
                           "--hide-scrollbars", *map(str, args)], capture_output=True, text=True,
                          timeout=120)


def test_history_keeps_runs_in_order_outside_the_clone(tmp_path):
    hist = tmp_path / "history"
    out = subprocess.run([sys.executable, str(HISTORY), "--dir", hist, "latest"],
                         capture_output=True, text=True, timeout=60)
    assert out.returncode == 1
    for k in range(3):
        run = write(tmp_path / f"r{k}.json", synthetic_run({"a": 1000 + k}, 10 + k))
        out = subprocess.run([sys.executable, str(HISTORY), "--dir", hist, "add", run,
                              "--commit", f"c{k}" * 6], capture_output=True, text=True,
                             timeout=60)
        assert out.returncode == 0, out.stderr
    files = sorted(p.name for p in hist.iterdir())
    assert [f[:6] for f in files] == ["000001", "000002", "000003"]
    latest = subprocess.run([sys.executable, str(HISTORY), "--dir", hist, "latest"],
                            capture_output=True, text=True, timeout=60).stdout.strip()
    assert latest.endswith(files[-1])
    kept = json.loads(Path(latest).read_text())
    assert kept["history"]["commit"] == "c2" * 6 and kept["benchmarks"]
    bad = write(tmp_path / "bad.json", {"nothing": 1})
    out = subprocess.run([sys.executable, str(HISTORY), "--dir", hist, "add", bad],
                         capture_output=True, text=True, timeout=60)
    assert out.returncode == 2 and len(list(hist.iterdir())) == 3


def test_dashboard_draws_every_benchmark_and_marks_the_regression(tmp_path):
    hist = tmp_path / "history"
    names = {"exit_latency/pio": 9000, "bus/pio_lookup/1": 13, "mem/first_touch/0": 5600}
    for k in range(5):
        medians = dict(names)
        if k >= 3:
            medians["exit_latency/pio"] = 9000 * 1.3  # the made-up regression at run 4
        run = write(tmp_path / f"r{k}.json", synthetic_run(medians, 20 + k))
        subprocess.run([sys.executable, str(HISTORY), "--dir", hist, "add", run, "--commit",
                        f"{k:07d}"], check=True, capture_output=True, timeout=60)
    site = tmp_path / "site"
    out = subprocess.run([sys.executable, str(DASHBOARD), "--history", hist, "--out", site],
                         capture_output=True, text=True, timeout=120)
    assert out.returncode == 0, out.stderr
    page = site / "index.html"
    assert "http" not in page.read_text().replace("http://www.w3.org", "")  # nothing to fetch

    dom = chromium("--dump-dom", page.as_uri())
    assert dom.returncode == 0, dom.stderr[-2000:]
    sections = re.findall(r'<section class="bench" data-benchmark="([^"]+)">(.*?)</section>',
                          dom.stdout, re.S)
    assert [n for n, _ in sections] == sorted(names)
    for name, body in sections:
        assert "<svg" in body and re.search(r'<path class="median" d="M[\d.,]+( L[\d.,]+){4}"',
                                            body), name
        assert body.count('<circle class="point"') == 5, name
    marked = [n for n, body in sections if 'class="regression"' in body]
    assert marked == ["exit_latency/pio"]

    # The screenshot: each plot's band holds pixels of the median line's colour.
    header = int(re.search(r'data-header-height="(\d+)"', dom.stdout).group(1))
    plot_h = int(re.search(r'data-plot-height="(\d+)"', dom.stdout).group(1))
    color = re.search(r'data-line-color="#(\w{6})"', dom.stdout).group(1)
    height = header + plot_h * len(names)
    shot = tmp_path / "shot.png"
    res = chromium(f"--window-size=1000,{height}", f"--screenshot={shot}", page.as_uri())
    assert res.returncode == 0 and shot.exists(), res.stderr[-2000:]
    import matplotlib.image
    import numpy
    img = matplotlib.image.imread(str(shot))[:, :, :3]
    want = numpy.array([int(color[i:i + 2], 16) / 255 for i in (0, 2, 4)])
    line = numpy.all(numpy.abs(img - want) < 0.06, axis=2)
    for i, (name, _) in enumerate(sections):
        band = line[header + i * plot_h: header + (i + 1) * plot_h]
        assert band.sum() > 300, f"{name}: no line drawn in its plot ({band.sum()} pixels)"


@pytest.mark.box
def test_kvmlab_bench_runs_the_kvm_part_in_the_box_and_the_rest_natively(kvmlab, tmp_path):
    out_file = tmp_path / "run.json"
    # the caller (ci/test, or an engineer's flock) already serializes boxes
    env = dict(os.environ, KVMLAB_BOX_LOCK="")
    out = kvmlab("bench", "--box", "--filter", "^(exit_latency/pio|bus/pio_lookup/1)$",
                 "--repetitions", 2, "--min-time", "0.01", "--out", out_file, timeout=900,
                 env=env)
    assert out.returncode == 0, out.stderr[-3000:]
    report = json.loads(out_file.read_text())
    ctx = report["context"]
    assert ctx["kvm_runner"] == "kvmbox" and ctx["kvmlab_select"] == "all"
    # the KVM figures describe the box's KVM; the host-only part ran here, natively
    assert ctx["kvm_flavor"] in ("amd", "intel") and ctx["kvm_environment"] == "nested"
    assert ctx.get("host_only.kernel", ctx["kernel"]) == os.uname().release
    reps = sorted(b["name"] for b in report["benchmarks"] if b["run_type"] == "iteration")
    assert reps == ["bus/pio_lookup/1"] * 2 + ["exit_latency/pio"] * 2
