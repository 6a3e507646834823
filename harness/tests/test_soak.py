"""Soak: a Linux guest keeps its disk and network busy while kvmlab's own memory and open file
descriptors stay flat.

The guest (guests/linux/tests/soak) writes, flushes, reads back and compares 8 MiB on its virtio
disk and pings the box over a TAP device, round after round. Every second the test samples
kvmlab's RSS outside guest RAM (the process's RSS minus the resident part of the guest-RAM
mapping, from /proc/PID/smaps) and its open file descriptors. After a warm-up quarter, neither may
grow: RSS by at most 1 MiB, descriptors not at all. KVMLAB_SOAK_SECONDS sets the length (60 in the
test command, 600 in ci/nightly). Runs in harness/kvmbox (root, TAP, hardware-style KVM).
"""
import os
import re
import subprocess
import threading
import time

import pytest

from boxrun import ran_here
from test_linux import BOOT_TIMEOUT, linux_image  # noqa: F401 (a fixture)

SECONDS = int(os.environ.get("KVMLAB_SOAK_SECONDS", "60"))
MEM_MIB = 192
TAP, HOST_IP, GUEST_IP = "kvmsoak0", "10.0.9.1", "10.0.9.2"


@pytest.fixture
def here(request, tmp_path_factory):
    return ran_here(request, __file__, tmp_path_factory, ["KVMLAB_SOAK_SECONDS"], always_box=True)


def outside_guest_ram_kib(pid, mem_kib):
    """RSS of pid minus the resident part of its guest-RAM mapping (the one mem_kib long)."""
    total, guest, size = 0, 0, None
    with open(f"/proc/{pid}/smaps") as f:
        for line in f:
            if m := re.match(r"Size:\s+(\d+) kB", line):
                size = int(m.group(1))
            elif m := re.match(r"Rss:\s+(\d+) kB", line):
                total += int(m.group(1))
                if size == mem_kib:
                    guest += int(m.group(1))
    return total - guest


@pytest.mark.kvm
def test_soak_disk_and_network_with_flat_rss_and_fds(here, kvmlab_bin, tmp_path, record_property,
                                                     request):
    if not here:
        return
    if os.geteuid() != 0:
        pytest.fail("the soak needs root for its TAP device (it runs in harness/kvmbox)")
    image = request.getfixturevalue("linux_image")
    subprocess.run(["modprobe", "tun"], check=False)
    subprocess.run(["ip", "tuntap", "del", TAP, "mode", "tap"], capture_output=True)
    subprocess.run(["ip", "tuntap", "add", TAP, "mode", "tap"], check=True)
    subprocess.run(["ip", "addr", "add", f"{HOST_IP}/24", "dev", TAP], check=True)
    subprocess.run(["ip", "link", "set", TAP, "up"], check=True)
    disk = tmp_path / "soak.img"
    disk.write_bytes(b"")
    os.truncate(disk, 64 << 20)
    p = subprocess.Popen([str(kvmlab_bin), "run", "--kernel", str(image / "vmlinuz"),
                          "--initrd", str(image / "initramfs.cpio.gz"), "--cpus", "2",
                          "--mem", f"{MEM_MIB}M", "--disk", str(disk), "--net", f"tap={TAP}",
                          "--cmdline", f"kvmlab.test=soak kvmlab.soak={SECONDS}:{GUEST_IP}/24:"
                          f"{HOST_IP}", "--timeout", str(BOOT_TIMEOUT + SECONDS * 3)],
                         stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    lines, samples = [], []
    started = threading.Event()

    def read():
        for line in p.stdout:
            lines.append(line)
            if "soak: round 1 " in line:
                started.set()
    reader = threading.Thread(target=read, daemon=True)
    reader.start()
    try:
        assert started.wait(BOOT_TIMEOUT), "".join(lines[-30:])
        while p.poll() is None:
            try:
                samples.append((time.monotonic(), outside_guest_ram_kib(p.pid, MEM_MIB << 10),
                                len(os.listdir(f"/proc/{p.pid}/fd"))))
            except (FileNotFoundError, ProcessLookupError):
                break
            time.sleep(1)
        p.wait(timeout=60)
    finally:
        p.kill()
        p.wait()
        subprocess.run(["ip", "tuntap", "del", TAP, "mode", "tap"], capture_output=True)
    reader.join(timeout=10)
    out = "".join(lines)
    done = re.search(r"soak: done rounds=(\d+) bad=(\d+)", out)
    assert done, out[-3000:] + p.stderr.read()
    assert int(done.group(2)) == 0, out[-3000:]
    assert int(done.group(1)) >= 3, out[-3000:]
    assert p.returncode == 0, p.stderr.read()
    assert len(samples) >= 8, samples
    settled = samples[len(samples) // 4:]
    rss = [s[1] for s in settled]
    fds = [s[2] for s in settled]
    record_property("soak_rounds", int(done.group(1)))
    record_property("rss_outside_guest_kib", f"{min(rss)}..{max(rss)}")
    print(f"soak {SECONDS} s: {done.group(1)} rounds; kvmlab RSS outside guest RAM "
          f"{min(rss)}..{max(rss)} KiB, fds {min(fds)}..{max(fds)}")
    assert max(rss) - rss[0] <= 1024, f"RSS outside guest RAM grew: {rss}"
    assert len(set(fds)) == 1, f"open file descriptors changed: {fds}"
