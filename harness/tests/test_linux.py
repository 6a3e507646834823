"""Debian's own Linux kernel under kvmlab: bzImage and PVH boots to userspace, console, RTC, power.

Each boot is shared by several checks (a Linux boot takes seconds natively and 10-15 s in
the nested TCG box). The image comes from guests/linux/build-image (cached in build/linux).
"""
import gzip
import lzma
import re
import shutil
import struct
import subprocess
import time
from pathlib import Path

import pytest

from conftest import ROOT

BOOT_TIMEOUT = 300  # seconds for kvmlab's --timeout; natively a boot takes a few
LINE = re.compile(r"kvmlab-linux: userspace up: cpus=(\d+) memtotal_kb=(\d+) date=(\d+) "
                  r"kernel=(\S+)")


@pytest.fixture(scope="session")
def linux_image():
    out = subprocess.run([str(ROOT / "guests" / "linux" / "build-image")], capture_output=True,
                         text=True, timeout=300)
    assert out.returncode == 0, out.stderr
    image = Path(out.stdout.strip())
    assert (image / "vmlinuz").exists() and (image / "initramfs.cpio.gz").exists()
    return image


@pytest.fixture(scope="session")
def vmlinux(linux_image, tmp_path_factory):
    """The ELF vmlinux inside Debian's bzImage: found by its compression magic after the
    setup code, decompressed here (never stored in git)."""
    data = (linux_image / "vmlinuz").read_bytes()
    payload = data[(data[0x1F1] or 4) * 512 + 512:]
    offset, length = struct.unpack_from("<II", data, 0x248)
    blob = payload[offset:offset + length]
    if blob.startswith(b"\xfd7zXZ\x00"):
        elf = lzma.LZMADecompressor().decompress(blob)
    elif blob.startswith(b"\x1f\x8b"):
        elf = gzip.decompress(blob)
    elif blob.startswith(b"\x28\xb5\x2f\xfd"):
        assert shutil.which("zstd"), "a zstd kernel needs the zstd tool (ci/deps)"
        elf = subprocess.run(["zstd", "-dc"], input=blob, capture_output=True, check=True).stdout
    else:
        pytest.fail(f"unknown kernel compression, payload starts {blob[:6].hex()}")
    assert elf[:4] == b"\x7fELF"
    path = tmp_path_factory.mktemp("vmlinux") / "vmlinux"
    path.write_bytes(elf)
    return path


def boot(kvmlab_bin, kernel, initrd, *args, typed=None):
    """Boots and waits for the VM to end. typed is written to kvmlab's stdin (the guest's
    console) once userspace is up: what arrives before Linux opens the port is flushed."""
    started = time.time()
    p = subprocess.Popen([str(kvmlab_bin), "run", "--kernel", str(kernel), "--initrd", str(initrd),
                          "--timeout", str(BOOT_TIMEOUT), *map(str, args)],
                         stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                         text=True)
    try:
        lines = []
        for line in p.stdout:
            lines.append(line)
            if LINE.search(line):
                break
        if typed is not None:
            p.stdin.write(typed)
        p.stdin.close()
        stdout = "".join(lines) + p.stdout.read()
        stderr = p.stderr.read()
        p.wait(timeout=BOOT_TIMEOUT + 60)
    finally:
        p.kill()
        p.wait()
    out = subprocess.CompletedProcess(p.args, p.returncode, stdout, stderr)
    m = LINE.search(out.stdout)
    assert m, f"no userspace line; status {out.returncode}\n{out.stdout[-3000:]}\n{out.stderr}"
    return out, m, started


def check_userspace(m, started, cpus, mem_mib):
    assert int(m.group(1)) == cpus
    memtotal = int(m.group(2)) << 10
    # MemTotal is RAM minus what the kernel keeps: Debian's takes about 50 MiB (its image,
    # struct pages, reservations), far less than any other configured size would differ.
    assert (mem_mib - 72) << 20 < memtotal <= mem_mib << 20, memtotal
    assert abs(int(m.group(3)) - started) < 120  # the guest's clock is the host's


@pytest.mark.kvm
def test_bzimage_one_vcpu_console_input_rtc_modules_and_poweroff(kvmlab_bin, linux_image):
    out, m, started = boot(kvmlab_bin, linux_image / "vmlinuz", linux_image / "initramfs.cpio.gz",
                           "--cpus", "1", "--mem", "256M",
                           "--cmdline", "kvmlab.test=echo,rtc,modules,poweroff",
                           typed="typed on the host\n")
    check_userspace(m, started, 1, 256)
    assert "kvmlab-linux: read 'typed on the host'" in out.stdout  # stdin -> COM1 -> tty
    rtc = re.search(r"kvmlab-linux: rtc=(\d+) date=(\d+)", out.stdout)
    assert rtc and abs(int(rtc.group(1)) - started) < 120, out.stdout[-2000:]
    modules = re.search(r"kvmlab-linux: modules (.*)", out.stdout).group(1).split()
    for mod in ("virtio_mmio", "virtio_blk", "virtio_net", "virtio_rng", "virtio_balloon"):
        assert mod in modules
    assert "kvmlab-linux: running poweroff" in out.stdout
    assert out.returncode == 0, out.stderr
    assert out.stderr.strip().splitlines()[-1].startswith("kvmlab: poweroff: guest powered off")


@pytest.mark.kvm
def test_bzimage_two_vcpus_and_reboot(kvmlab_bin, linux_image):
    out, m, started = boot(kvmlab_bin, linux_image / "vmlinuz", linux_image / "initramfs.cpio.gz",
                           "--cpus", "2", "--mem", "384M", "--cmdline", "kvmlab.test=reboot")
    check_userspace(m, started, 2, 384)
    assert "kvmlab-linux: running reboot" in out.stdout
    assert out.returncode == 0, out.stderr
    assert out.stderr.strip().splitlines()[-1] == (
        "kvmlab: reset: guest reset the VM (ACPI reset register)")


@pytest.mark.kvm
def test_vmlinux_boots_through_its_pvh_entry(kvmlab_bin, linux_image, vmlinux):
    out, m, started = boot(kvmlab_bin, vmlinux, linux_image / "initramfs.cpio.gz",
                           "--cpus", "2", "--mem", "256M")
    check_userspace(m, started, 2, 256)
    assert "kvmlab-linux: done" in out.stdout
    assert out.returncode == 0, out.stderr
    assert "kvmlab: poweroff: guest powered off" in out.stderr
