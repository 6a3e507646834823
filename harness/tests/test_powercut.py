"""Power cuts: every record a guest saw acknowledged as flushed survives a crash of the whole host.

Killing only the VMM proves nothing (the host's page cache outlives it), so inside the box the
disk is a device-mapper `flakey` target over a loop device: at a random moment the VMM is frozen,
the acknowledgements it had printed are collected, the target is switched to `drop_writes` (what
the host still had to write back is lost, as in a power cut), the VMM is killed, and the device
underneath is read back. The guest (guests/blk_records.c) writes record n to sector n, flushes,
and only then prints "ACK n". A VMM that acknowledged a flush before fdatasync finished loses
acknowledged records here: the planted-fault test proves the check can fail.

Runs inside harness/kvmbox (root, Debian's kernel with dm-flakey); where the KVM suite itself
runs on the host, this file runs once in `harness/kvmbox --force`. KVMLAB_POWER_CUTS sets the
number of cuts (3 in the test command, 100 in ci/nightly).
"""
import os
import random
import select
import signal
import subprocess
import time
from pathlib import Path

import pytest

from boxrun import ran_here

CUTS = int(os.environ.get("KVMLAB_POWER_CUTS", "3"))
DISK_SECTORS = 8192  # 4 MiB: more records than a run writes before its cut
RECORD_SIZE = 512


@pytest.fixture
def here(request, tmp_path_factory):
    """True when the test runs here (in the box); False when it ran, and passed, in the box."""
    return ran_here(request, __file__, tmp_path_factory, ["KVMLAB_POWER_CUTS"], always_box=True)


def sh(*args, **kw):
    return subprocess.run(args, check=True, capture_output=True, text=True, **kw).stdout.strip()


def flakey_table(loop, drop):
    # flakey DEV OFFSET UP DOWN [FEATURES]: up 180 s / down 0 passes everything; up 0 / down 180
    # with drop_writes acknowledges writes and throws them away (xfstests' recipe).
    return (f"0 {DISK_SECTORS} flakey {loop} 0 0 180 1 drop_writes" if drop
            else f"0 {DISK_SECTORS} flakey {loop} 0 180 0")


class FlakeyDisk:
    """A loop device over a file in tmpfs, behind a dm-flakey target."""

    def __init__(self, workdir, name):
        self.backing = workdir / f"{name}.img"
        self.backing.write_bytes(b"\0" * DISK_SECTORS * 512)
        self.loop = sh("losetup", "--find", "--show", str(self.backing))
        self.name = name
        # The box has no udev: dmsetup makes the /dev/mapper node itself.
        sh("dmsetup", "create", name, "--noudevsync", "--table", flakey_table(self.loop, False))
        sh("dmsetup", "mknodes", name)
        self.path = Path("/dev/mapper") / name

    def cut_power(self):
        sh("dmsetup", "suspend", "--nolockfs", self.name)
        sh("dmsetup", "load", self.name, "--table", flakey_table(self.loop, True))
        sh("dmsetup", "resume", "--noudevsync", self.name)

    def close(self):
        subprocess.run(["sync"], check=False)
        subprocess.run(["dmsetup", "remove", "--noudevsync", "--retry", self.name], check=False,
                       capture_output=True)
        subprocess.run(["losetup", "-d", self.loop], check=False)

    def records(self):
        """Sector n of the device underneath, for every n that holds a whole record n."""
        data = self.backing.read_bytes()
        found = set()
        for n in range(DISK_SECTORS):
            sector = data[n * RECORD_SIZE:(n + 1) * RECORD_SIZE]
            if sector[:8] == b"KVMLREC\0" and int.from_bytes(sector[8:16], "little") == n:
                words = [int.from_bytes(sector[16 + 8 * i:24 + 8 * i], "little") for i in range(62)]
                want = [((n + 1) * 0x9E3779B97F4A7C15 ^ i * 0x100000001B3) & (2**64 - 1)
                        for i in range(62)]
                if words == want:
                    found.add(n)
        return found


def run_until_cut(kvmlab_bin, guest_bin, disk, after_acks, env):
    """Runs the records guest and cuts the power once after_acks records are acknowledged.
    Returns the acknowledged record numbers as of the cut."""
    p = subprocess.Popen([str(kvmlab_bin), "run", "--guest", str(guest_bin), "--disk",
                          str(disk.path), "--timeout", "600"],
                         stdout=subprocess.PIPE, stderr=subprocess.PIPE, env=env)
    acked, buf, out = set(), b"", []
    try:
        deadline = time.monotonic() + 600
        while len(acked) < after_acks and time.monotonic() < deadline:
            ready, _, _ = select.select([p.stdout], [], [], 1)
            if not ready:
                if p.poll() is not None:
                    break
                continue
            chunk = os.read(p.stdout.fileno(), 65536)
            if not chunk:
                break
            buf += chunk
            *lines, buf = buf.split(b"\n")
            for line in lines:
                out.append(line)
                if line.startswith(b"ACK "):
                    acked.add(int(line[4:]))
        assert len(acked) >= after_acks, (
            f"only {len(acked)} acknowledgements; status {p.poll()}: "
            f"{b''.join(out[-5:])!r} {p.stderr.read() if p.poll() is not None else b''!r}")
        # Freeze the VMM, then take every acknowledgement it printed before the cut.
        p.send_signal(signal.SIGSTOP)
        while select.select([p.stdout], [], [], 0.2)[0]:
            chunk = os.read(p.stdout.fileno(), 65536)
            if not chunk:
                break
            buf += chunk
        for line in buf.split(b"\n"):
            if line.startswith(b"ACK ") and line[4:].isdigit():
                acked.add(int(line[4:]))
        disk.cut_power()
    finally:
        p.kill()
        p.wait()
    return acked


def power_cuts(kvmlab_bin, guest, tmp_path, cuts, env):
    """Runs cuts power cuts; returns [(acknowledged, survived)] per cut."""
    rng = random.Random(int(os.environ.get("KVMLAB_POWER_CUT_SEED", time.time_ns())))
    sh("modprobe", "loop")
    sh("modprobe", "dm-flakey")
    results = []
    for cut in range(cuts):
        disk = FlakeyDisk(tmp_path, f"kvmlab-cut-{os.getpid()}-{cut}")
        try:
            acked = run_until_cut(kvmlab_bin, guest("blk_records"), disk, rng.randint(3, 120), env)
        finally:
            disk.close()
        results.append((acked, disk.records()))
    return results


@pytest.mark.kvm
def test_power_cuts_keep_every_acknowledged_record(here, kvmlab_bin, guest, tmp_path,
                                                    record_property):
    if not here:
        return
    results = power_cuts(kvmlab_bin, guest, tmp_path, CUTS, dict(os.environ))
    for i, (acked, survived) in enumerate(results):
        lost = sorted(acked - survived)
        assert not lost, f"cut {i}: acknowledged records lost: {lost[:20]} ({len(lost)} in all)"
    record_property("power_cuts", len(results))
    record_property("acknowledged_records", sum(len(a) for a, _ in results))
    print(f"{len(results)} power cuts, {sum(len(a) for a, _ in results)} acknowledged records, "
          f"none lost; {sum(len(s - a) for a, s in results)} unacknowledged records also survived")


@pytest.mark.kvm
def test_power_cut_check_fails_when_flush_is_not_honoured(here, kvmlab_bin, guest, tmp_path):
    """The same cuts with kvmlab's flush planted to skip fdatasync: records it acknowledged are
    still in the host's page cache at the cut, so some must be lost, or the check is blind."""
    if not here:
        return
    env = dict(os.environ, KVMLAB_FAULTS="disk_flush:skip:every=1")
    results = power_cuts(kvmlab_bin, guest, tmp_path, 2, env)
    lost = [sorted(a - s) for a, s in results]
    assert any(lost), f"no acknowledged record was lost with flushes skipped: {results}"
