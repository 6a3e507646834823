# Reading Google Benchmark JSON (kvmlab's or anyone's) and writing the formats CI dashboards ingest.
"""Shared by bench/compare, bench/history and bench/dashboard.

A run is the JSON kvmlab_bench (or `kvmlab bench --out`) writes: {"context": {...},
"benchmarks": [...]}. Entries with run_type "iteration" are the repetitions; the
aggregates Google Benchmark adds (_mean, _median, _stddev, _cv) are recomputed here
from the repetitions, never trusted from the file, so a run written with
--benchmark_report_aggregates_only (no repetitions) is refused where repetitions matter.
"""
import json
import os
import statistics
import sys
from pathlib import Path

UNIT_NS = {"ns": 1.0, "us": 1e3, "ms": 1e6, "s": 1e9}


class BadReport(Exception):
    """A file that is not a usable Google Benchmark JSON report; the message says why."""


def load(path):
    try:
        report = json.loads(Path(path).read_text())
    except (OSError, ValueError) as err:
        raise BadReport(f"{path}: {err}") from None
    if not isinstance(report, dict) or not isinstance(report.get("benchmarks"), list):
        raise BadReport(f"{path}: not Google Benchmark JSON (no 'benchmarks' list)")
    report.setdefault("context", {})
    return report


def repetitions(report, metric="real_time"):
    """{name: [value in ns, ...]} over the iteration runs (failed runs left out), in file order."""
    out = {}
    for b in report["benchmarks"]:
        if b.get("run_type", "iteration") != "iteration" or b.get("error_occurred"):
            continue
        if metric not in b:
            continue
        scale = UNIT_NS.get(b.get("time_unit", "ns"), 1.0)
        out.setdefault(b.get("run_name", b["name"]), []).append(float(b[metric]) * scale)
    return out


def errors(report):
    """{name: message} of the runs that reported an error."""
    return {b["name"]: b.get("error_message", "") for b in report["benchmarks"]
            if b.get("error_occurred")}


def iterations_only(report):
    """A copy of report holding only the repetitions (what compare.py's U test should see)."""
    runs = [b for b in report["benchmarks"]
            if b.get("run_type", "iteration") == "iteration" and not b.get("error_occurred")]
    return {"context": report.get("context", {}), "benchmarks": runs}


def summary(values):
    """median, min, max, stddev (0 for one value) of a list of numbers."""
    return {"median": statistics.median(values), "min": min(values), "max": max(values),
            "stddev": statistics.stdev(values) if len(values) > 1 else 0.0, "n": len(values)}


def github_action_benchmark(report, metric="real_time"):
    """github-action-benchmark's customSmallerIsBetter: [{name, unit, value, range, extra}]."""
    out = []
    for name, values in repetitions(report, metric).items():
        s = summary(values)
        out.append({"name": name, "unit": "ns", "value": s["median"],
                    "range": f"± {s['stddev']:.6g}",
                    "extra": f"median of {s['n']} repetitions ({metric}); "
                             f"min {s['min']:.6g} max {s['max']:.6g}"})
    return out


def bencher_bmf(report, metric="real_time"):
    """Bencher Metric Format: {benchmark: {"latency": {value, lower_value, upper_value}}} in ns."""
    out = {}
    for name, values in repetitions(report, metric).items():
        s = summary(values)
        out[name] = {"latency": {"value": s["median"], "lower_value": s["min"],
                                 "upper_value": s["max"]}}
    return out


def write_json(path, data):
    Path(path).write_text(json.dumps(data, indent=2) + "\n")


# ---- comparing two runs: Google Benchmark's compare.py (tools/gbench) and its U test ----

GBENCH_DIRS = [os.environ.get("KVMLAB_GBENCH_TOOLS", ""), "/usr/share/benchmark"]


def import_gbench():
    """Google Benchmark's gbench.report (Debian's libbenchmark-tools); ImportError says how."""
    for d in GBENCH_DIRS:
        if d and (Path(d) / "gbench" / "report.py").exists() and d not in sys.path:
            sys.path.insert(0, d)
            break
    try:
        from gbench import report
    except ImportError as err:
        raise ImportError(f"Google Benchmark's gbench tools are missing ({err}): install "
                          "libbenchmark-tools and python3-scipy (ci/deps)") from None
    return report


def verdict(change, pvalue, threshold, alpha):
    """What a change means: unsure without a U test, noise unless p < alpha."""
    if pvalue is None:
        return "unsure"
    if pvalue >= alpha:
        return "noise"
    if change > threshold:
        return "REGRESSION"
    if change < -threshold:
        return "improved"
    return "changed"


def compare_runs(base, new, threshold=5.0, alpha=0.05, metric="real_time", gbench=None):
    """Rows (name, base median, new median, change %, p-value, n_base, n_new, verdict):
    the p-value is compare.py's Mann-Whitney U test over the two runs' repetitions."""
    gbench = gbench or import_gbench()
    diff = gbench.get_difference_report(iterations_only(base), iterations_only(new), utest=True)
    b_reps, n_reps = repetitions(base, metric), repetitions(new, metric)
    key = "time_pvalue" if metric == "real_time" else "cpu_pvalue"
    rows = []
    for d in diff:
        name = d["name"]
        if name == "OVERALL_GEOMEAN" or name not in b_reps or name not in n_reps:
            continue
        bm, nm = statistics.median(b_reps[name]), statistics.median(n_reps[name])
        change = (nm - bm) / bm * 100 if bm else 0.0
        pvalue = d["utest"].get(key) if d["utest"] else None
        rows.append((name, bm, nm, change, pvalue, len(b_reps[name]), len(n_reps[name]),
                     verdict(change, pvalue, threshold, alpha)))
    for name in n_reps.keys() - b_reps.keys():
        rows.append((name, None, statistics.median(n_reps[name]), None, None, 0,
                     len(n_reps[name]), "new"))
    for name in b_reps.keys() - n_reps.keys():
        rows.append((name, statistics.median(b_reps[name]), None, None, None,
                     len(b_reps[name]), 0, "gone"))
    return rows
