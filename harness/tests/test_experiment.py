"""harness/experiment: a tiny matrix end to end (CSV and PNG), and its file checks and statistics."""
import csv
import json
import math
import subprocess

import pytest

from conftest import ROOT, build_dir

EXPERIMENT = ROOT / "harness" / "experiment"
PNG_MAGIC = b"\x89PNG\r\n\x1a\n"


def run(*args, **kw):
    return subprocess.run(["/usr/bin/python3", str(EXPERIMENT), *map(str, args),
                           "--build", str(build_dir())], capture_output=True, text=True,
                          timeout=600, **kw)


@pytest.mark.kvm
def test_experiment_tiny_matrix_writes_csv_and_plots(tmp_path):
    exp = {
        "name": "tiny",
        "matrix": {"sched": ["os", "rr:slots=1"], "cpus": [1, 2]},
        "fixed": {"guest": "sched_spin", "mem": "16M"},
        "repetitions": 2,
        "timeout": 60,
        "metrics": ["spin_progress", "spin_jain_permille"],
        "plots": [{"metric": "spin_progress", "x": "cpus", "series": "sched", "file": "p.png"},
                  {"metric": "spin_jain_permille", "x": "sched", "file": "j.png"}],
    }
    path = tmp_path / "tiny.json"
    path.write_text(json.dumps(exp))
    out = run(path, "--out", tmp_path / "out")
    assert out.returncode == 0, out.stderr

    with (tmp_path / "out" / "results.csv").open() as f:
        rows = list(csv.DictReader(f))
    assert len(rows) == 2 * 2 * 2
    assert {(r["sched"], r["cpus"]) for r in rows} == {
        (s, c) for s in ("os", "rr:slots=1") for c in ("1", "2")}
    for r in rows:
        assert r["status"] == "0", r
        assert float(r["spin_progress"]) > 0
        assert 0 < float(r["spin_jain_permille"]) <= 1000
        assert float(r["wall_s"]) > 0
    with (tmp_path / "out" / "summary.csv").open() as f:
        summary = list(csv.DictReader(f))
    assert len(summary) == 4 * 2  # combinations x metrics
    assert all(s["n"] == "2" and float(s["mean"]) > 0 for s in summary)

    for name in ("p.png", "j.png"):
        data = (tmp_path / "out" / name).read_bytes()
        assert data[:8] == PNG_MAGIC
        assert len(data) > 5000  # axes, lines and labels, not an empty canvas
        width, height = int.from_bytes(data[16:20], "big"), int.from_bytes(data[20:24], "big")
        assert (width, height) == (640, 400)


def test_experiment_refuses_bad_files(tmp_path):
    cases = [
        ("{", "tiny.json: Expecting"),
        (json.dumps({"matrix": {"cpus": [1]}}), "no guest"),
        (json.dumps({"matrix": {"cpu": [1]}, "fixed": {"guest": "x"}}), "matrix key \"cpu\""),
        (json.dumps({"matrix": {"cpus": []}, "fixed": {"guest": "x"}}), "non-empty list"),
        (json.dumps({"matrix": {"cpus": [1]}, "fixed": {"guest": "x"}, "repetitions": 0}),
         "positive integer"),
        (json.dumps({"matrix": {"cpus": [1]}, "fixed": {"guest": "x"}, "reps": 2}),
         "unknown field"),
        (json.dumps({"matrix": {"cpus": [1]}, "fixed": {"guest": "x"},
                     "plots": [{"metric": "m", "x": "sched"}]}), "must be matrix keys"),
    ]
    for text, message in cases:
        path = tmp_path / "tiny.json"
        path.write_text(text)
        out = run(path, "--out", tmp_path / "out")
        assert out.returncode == 2, (text, out.stderr)
        assert message in out.stderr, (text, out.stderr)


def test_experiment_confidence_interval():
    import importlib.machinery
    import importlib.util
    loader = importlib.machinery.SourceFileLoader("experiment", str(EXPERIMENT))
    spec = importlib.util.spec_from_loader("experiment", loader)
    mod = importlib.util.module_from_spec(spec)
    loader.exec_module(mod)
    mean, half = mod.t_interval([1.0, 2.0, 3.0])
    assert mean == 2.0
    assert math.isclose(half, 4.302652729911275 * 1.0 / math.sqrt(3))  # t(0.975, 2) * s / sqrt(n)
    assert math.isnan(mod.t_interval([5.0])[1])
    r = mod.results("noise\nRESULT a=1 b=2.5\nRESULT c=x\n")
    assert r["a"] == 1.0 and r["b"] == 2.5 and math.isnan(r["c"])
