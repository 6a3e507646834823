"""bench/linux_boot, shortened (kvm): kvmlab and QEMU boot Debian's kernel to userspace and the
report has every figure. Structure only: the timings are the benchmark's to report, not a test's.

Where the host's KVM is PVM the script runs itself in `harness/kvmbox --force` (taking
/tmp/kvmlab-box.lock), so this test takes about a minute there.
"""
import json
import re
import subprocess

import pytest

from conftest import ROOT

VMMS = {"kvmlab", "kvmlab-anon", "qemu-microvm", "qemu-pc"}
QEMU_DEVICE = {"blk": "virtio-blk-device,drive=d0", "rng": "virtio-rng-device",
               "balloon": "virtio-balloon-device", "net": "virtio-net-device,netdev=n0"}
LINE = re.compile(r"kvmlab-linux: userspace up: cpus=(\d+) memtotal_kb=(\d+)")


@pytest.mark.kvm
def test_linux_boot_benchmark_reaches_userspace_everywhere_and_reports(kvmlab_bin, tmp_path):
    out = tmp_path / "linux_boot.json"
    run = subprocess.run(["/usr/bin/python3", str(ROOT / "bench" / "linux_boot"), "--reps", "1",
                          "--warmup", "0", "--mem", "256M", "--cmdline", "kvmlab.bench=1",
                          "--kvmlab", str(kvmlab_bin), "--out", str(out)],
                         cwd=ROOT, capture_output=True, text=True, timeout=1800)
    assert run.returncode == 0, run.stdout[-3000:] + run.stderr[-3000:]
    assert "kvmlab / QEMU microvm (medians)" in run.stdout
    report = json.loads(out.read_text())

    ctx = report["context"]
    assert ctx["kernel_cmdline"].endswith(" kvmlab.bench=1") and ctx["mem_mib"] == 256
    # kvmlab attaches rng and balloon to every kernel boot, and both sides get the disk.
    devs = ctx["virtio_devices"]
    assert {"blk", "rng", "balloon"} <= set(devs) <= set(QEMU_DEVICE), devs
    runs = report["runs"]
    assert {r["vmm"] for r in runs} == VMMS and len(runs) == len(VMMS)
    for r in runs:
        m = LINE.search(r["userspace_line"])
        assert m, r  # every VMM's guest reached its init's first line
        assert int(m.group(1)) == 1 and 0 < int(m.group(2)) <= 256 << 10, r["userspace_line"]
        assert r["time_s"] > 0 and r["kvm_exits"] > 0, r
        assert r["kvm_stats"]["exits"] == r["kvm_exits"]
        # Guest RAM touched to userspace: the kernel and the unpacked initramfs at least.
        assert 4 << 10 < r["guest_touched_kib"] <= 256 << 10, r
        assert r["overhead_kib"] == r["rss_kib"] - r["guest_touched_kib"] > 0, r
        assert sum(r["overhead_by_kind_kib"].values()) == r["overhead_kib"], r
        assert r["guest_mappings"], r
        cmd = " ".join(r["command"])
        for kind, dev in QEMU_DEVICE.items():  # the same devices on both sides, none on pc
            assert (dev in cmd) == (kind in devs and r["vmm"] == "qemu-microvm"), (kind, cmd)
        if r["vmm"].startswith("kvmlab"):
            assert ("--disk" in cmd) and (("--net" in cmd) == ("net" in devs)), cmd
    # Kernel boots default to guest RAM in transparent huge pages; --mem-policy anon has none.
    by_vmm = {r["vmm"]: r for r in runs}
    assert by_vmm["kvmlab"]["guest_huge_kib"] > 0, by_vmm["kvmlab"]
    assert by_vmm["kvmlab-anon"]["guest_huge_kib"] == 0, by_vmm["kvmlab-anon"]
    assert "--mem-policy" not in by_vmm["kvmlab"]["command"]

    agg = report["aggregates"]
    assert set(agg) == VMMS
    for v, a in agg.items():
        run_of_v = next(r for r in runs if r["vmm"] == v)
        assert a["time_s"]["median"] == run_of_v["time_s"]  # one repetition: its own value
    rat = report["ratios_kvmlab_over_qemu_microvm"]
    k, q = agg["kvmlab"], agg["qemu-microvm"]
    assert rat["time"]["ratio"] == pytest.approx(k["time_s"]["median"] / q["time_s"]["median"],
                                                 rel=1e-3)
    assert rat["exits"]["ratio"] == pytest.approx(
        k["kvm_exits"]["median"] / q["kvm_exits"]["median"], rel=1e-3)
    assert rat["time"]["met"] == (rat["time"]["ratio"] <= rat["time"]["target"])
    assert rat["exits"]["met"] == (rat["exits"]["ratio"] <= rat["exits"]["target"])
    assert rat["overhead_kib"]["met"] == (rat["overhead_kib"]["value"] < 2048)

    names = {b["name"] for b in report["benchmarks"]}
    assert {f"linux_boot/{v}" for v in VMMS} <= names
    assert {f"linux_boot/{v}_median" for v in VMMS} <= names
