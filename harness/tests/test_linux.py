"""Debian's own Linux kernel under kvmlab: bzImage and PVH boots to userspace, console, RTC, power.

Each boot is shared by several checks (a Linux boot takes seconds on hardware KVM and 10-30 s
in the nested TCG box). The image comes from guests/linux/build-image (cached in build/linux).

Where /dev/kvm is PVM (the kvm_pvm module: KVM without hardware virtualization, which runs a
guest's ring-0 code through KVM's instruction emulator), an unmodified Linux kernel needs
more than ten minutes to reach its console and stops at instructions the emulator lacks
(CMPXCHG16B, XRSTOR). There the tests of this file run once inside `harness/kvmbox --force`
(hardware-style KVM under TCG) and each test checks its own outcome from that run.
"""
import gzip
import hashlib
import json
import lzma
import os
import re
import shutil
import socket
import struct
import subprocess
import tempfile
import threading
import time
from pathlib import Path

import pytest

from boxrun import ran_here
from conftest import ROOT

BOOT_TIMEOUT = 300  # seconds for kvmlab's --timeout; natively a boot takes a few
LINE = re.compile(r"kvmlab-linux: userspace up: cpus=(\d+) memtotal_kb=(\d+) date=(\d+) "
                  r"kernel=(\S+)")


@pytest.fixture
def here(request, tmp_path_factory):
    """True when the test runs here; False when it ran (and passed) in the box."""
    return ran_here(request, __file__, tmp_path_factory)


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


def exits_so_far(kvmlab_bin, sock):
    """Exits that reached kvmlab since the start (kvmlab run --stats), by reason."""
    out = subprocess.run([str(kvmlab_bin), "ctl", str(sock), "stats"], capture_output=True,
                         text=True, timeout=60)
    assert out.returncode == 0, out.stderr
    return {k: v["count"] for k, v in json.loads(out.stdout)["exits"].items()}


def boot(kvmlab_bin, kernel, initrd, *args, typed=None, stats_sock=None):
    """Boots and waits for the VM to end. typed is written to kvmlab's stdin (the guest's
    console) once userspace is up: what arrives before Linux opens the port is flushed.
    With stats_sock, the exits counted up to userspace come back as the fourth value."""
    started = time.time()
    extra = ["--stats", "--api-sock", str(stats_sock)] if stats_sock else []
    p = subprocess.Popen([str(kvmlab_bin), "run", "--kernel", str(kernel), "--initrd", str(initrd),
                          "--timeout", str(BOOT_TIMEOUT), *extra, *map(str, args)],
                         stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                         text=True)
    exits = None
    try:
        lines = []
        for line in p.stdout:
            lines.append(line)
            if LINE.search(line):
                exits = exits_so_far(kvmlab_bin, stats_sock) if stats_sock else None
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
    return (out, m, started, exits) if stats_sock else (out, m, started)


def check_userspace(m, started, cpus, mem_mib):
    assert int(m.group(1)) == cpus
    memtotal = int(m.group(2)) << 10
    # MemTotal is RAM minus what the kernel keeps: Debian's takes about 50 MiB (its image,
    # struct pages, reservations), far less than any other configured size would differ.
    assert (mem_mib - 72) << 20 < memtotal <= mem_mib << 20, memtotal
    assert abs(int(m.group(3)) - started) < 120  # the guest's clock is the host's


@pytest.fixture
def sock_dir():
    """A short directory for the control socket: XDG_RUNTIME_DIR (kvmbox's tmpfs; its 9p
    root cannot hold sockets), else /tmp."""
    path = Path(tempfile.mkdtemp(prefix="kvmlab-l", dir=os.environ.get("XDG_RUNTIME_DIR")))
    yield path
    shutil.rmtree(path, ignore_errors=True)


@pytest.mark.kvm
def test_bzimage_one_vcpu_console_input_rtc_modules_and_poweroff(here, kvmlab_bin, linux_image,
                                                                 sock_dir, request):
    if not here:
        return
    # The echo test runs first and waits for the typed line: the statistics are read then.
    out, m, started, exits = boot(kvmlab_bin, linux_image / "vmlinuz",
                                  linux_image / "initramfs.cpio.gz", "--cpus", "1", "--mem", "256M",
                                  "--cmdline", "kvmlab.test=echo,rtc,modules,poweroff",
                                  typed="typed on the host\n", stats_sock=sock_dir / "s")
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
    # About 650 exits reach kvmlab up to userspace (console, RTC, PM timer, probes); QEMU's
    # microvm takes ~40,000. Only a gross regression fails this: a PCI scan (~33,000 exits),
    # calibrating against the PIT without kvm-clock (~5,800), a console log left on.
    total = sum(exits.values())
    request.node.user_properties.append(("exits_to_userspace", total))
    print(f"exits up to userspace: {total} {exits}")
    assert total < 3000, exits


@pytest.mark.kvm
def test_bzimage_two_vcpus_and_reboot(here, kvmlab_bin, linux_image):
    if not here:
        return
    out, m, started = boot(kvmlab_bin, linux_image / "vmlinuz", linux_image / "initramfs.cpio.gz",
                           "--cpus", "2", "--mem", "384M", "--cmdline", "kvmlab.test=reboot")
    check_userspace(m, started, 2, 384)
    assert "kvmlab-linux: running reboot" in out.stdout
    assert out.returncode == 0, out.stderr
    assert out.stderr.strip().splitlines()[-1] == (
        "kvmlab: reset: guest reset the VM (ACPI reset register)")


@pytest.mark.kvm
def test_vmlinux_boots_through_its_pvh_entry(here, kvmlab_bin, request):
    if not here:
        return
    linux_image, vmlinux = request.getfixturevalue("linux_image"), request.getfixturevalue("vmlinux")
    out, m, started = boot(kvmlab_bin, vmlinux, linux_image / "initramfs.cpio.gz",
                           "--cpus", "2", "--mem", "256M")
    check_userspace(m, started, 2, 256)
    assert "kvmlab-linux: done" in out.stdout
    assert out.returncode == 0, out.stderr
    assert "kvmlab: poweroff: guest powered off" in out.stderr


def ctl(kvmlab_bin, sock, *args):
    out = subprocess.run([str(kvmlab_bin), "ctl", str(sock), *args], capture_output=True,
                         text=True, timeout=60)
    assert out.returncode == 0, out.stdout + out.stderr
    return json.loads(out.stdout)


@pytest.mark.kvm
def test_virtio_blk_rng_write_flush_ro_discard_resize(here, kvmlab_bin, linux_image, sock_dir,
                                                    tmp_path, request):
    """One boot, three disks and virtio-rng (docs/virtio.md): the guest's 16 MiB written to vda
    and flushed are in the host file when the VMM exits, every kick came through an ioeventfd
    (no QueueNotify reached userspace), the read-only vdb shows the host's data and refuses
    writes, a discard on vdc zeroes it, and a resize through the control API reaches the guest."""
    if not here:
        return
    vda, vdb, vdc = tmp_path / "vda.img", tmp_path / "vdb.img", tmp_path / "vdc.img"
    vda.write_bytes(b"\xa5" * (16 << 20))
    host_data = os.urandom(1 << 20)
    vdb.write_bytes(host_data)
    vdc.write_bytes(b"\x5a" * (4 << 20))
    sock = sock_dir / "s"
    p = subprocess.Popen([str(kvmlab_bin), "run", "--kernel", str(linux_image / "vmlinuz"),
                          "--initrd", str(linux_image / "initramfs.cpio.gz"), "--mem", "256M",
                          "--cpus", "2", "--timeout", str(BOOT_TIMEOUT), "--stats",
                          "--api-sock", str(sock), "--disk", str(vda), "--disk", f"{vdb},ro",
                          "--disk", str(vdc), "--cmdline", "kvmlab.test=virtio"],
                         stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                         text=True)
    devices = resized = None
    try:
        lines = []
        for line in p.stdout:
            lines.append(line)
            if "resize-wait" in line:
                devices = ctl(kvmlab_bin, sock, "virtio")["devices"]
                resized = ctl(kvmlab_bin, sock, "disk-resize", "disk=2", "size=8M")
                p.stdin.write("resized\n")
                p.stdin.flush()
        stdout = "".join(lines)
        stderr = p.stderr.read()
        p.wait(timeout=60)
    finally:
        p.kill()
        p.wait()
    said = {}  # "vda sha256" -> value, from lines "kvmlab-linux: vda sha256=... k=v"
    for subject, rest in re.findall(r"^kvmlab-linux: (\S+) (.*)$", stdout, re.M):
        said.update({f"{subject} {k}": v for k, v in re.findall(r"(\S+?)=(\S+)", rest)})
    assert p.returncode == 0, stdout[-3000:] + stderr
    assert devices, stdout[-3000:] + stderr
    # The write: the guest's checksum is the host file's, after the VMM has exited.
    assert said.get("vda sha256") == hashlib.sha256(vda.read_bytes()).hexdigest(), stdout[-3000:]
    assert said.get("vda serial") == "vda.img"
    blk = [d for d in devices if d["name"] == "virtio-blk"]
    assert [d["base"] for d in blk] == [0xd0000000, 0xd0001000, 0xd0002000]
    for d in devices:
        assert d["iothread"] and d["error"] == "", d
        assert d["notify_exits"] == 0, d  # every kick went through the ioeventfd
    assert blk[0]["notify_events"] > 0 and blk[0]["interrupts"] > 0
    request.node.user_properties.append(("vda_kicks", blk[0]["notify_events"]))
    # Read-only disk: the host's bytes, and the guest cannot write them.
    assert said.get("vdb sha256") == hashlib.sha256(host_data).hexdigest()
    assert said.get("vdb ro") == "1" and said.get("vdb write") == "refused"
    assert vdb.read_bytes() == host_data
    # Discard punched a hole; resize: 4 MiB -> 8 MiB announced with a config interrupt.
    assert said.get("vdc discard") == "zeroed"
    assert vdc.read_bytes()[:1 << 20] == bytes(1 << 20)
    assert said.get("vdc size") == str(4 << 11) and resized["sectors"] == 8 << 11
    assert said.get("vdc resized") == str(8 << 11), stdout[-2000:]
    # virtio-rng: the kernel picked it and it returned bytes.
    assert said.get("rng current", "").startswith("virtio_rng"), stdout[-2000:]
    assert said.get("rng bytes") == "4096"


# --- virtio-net and virtio-balloon (docs/virtio-net-balloon.md) ---------------------------------

NET_PAYLOAD = "".join(f"{i}\n" for i in range(1, 100001)).encode()  # guests/linux/tests/net
NET_RECEIVED = re.compile(r"kvmlab-linux: net: received bytes=(\d+) sha256=([0-9a-f]{64})")


def net_vm(kvmlab_bin, linux_image, net, role, addr, peer, *extra, tests="net"):
    return subprocess.Popen([str(kvmlab_bin), "run", "--kernel", str(linux_image / "vmlinuz"),
                             "--initrd", str(linux_image / "initramfs.cpio.gz"), "--mem", "192M",
                             "--timeout", str(BOOT_TIMEOUT), "--net", net, *extra, "--cmdline",
                             f"kvmlab.test={tests} kvmlab.net={role}:{addr}/24:{peer}"],
                            stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                            text=True)


@pytest.mark.kvm
def test_two_vms_exchange_data_over_the_unprivileged_socket_backend(here, kvmlab_bin, linux_image,
                                                                   sock_dir):
    """Two kvmlab processes, no root, no bridge: whichever opens net.sock first listens, the
    other connects. VM A receives a TCP stream from VM B and prints its checksum."""
    if not here:
        return
    net = f"sock={sock_dir / 'net.sock'}"
    a = net_vm(kvmlab_bin, linux_image, net + ",mac=02:00:00:00:00:0a", "recv", "10.0.2.1",
               "10.0.2.2")
    b = net_vm(kvmlab_bin, linux_image, net + ",mac=02:00:00:00:00:0b", "send", "10.0.2.2",
               "10.0.2.1")
    try:
        out_a, err_a = a.communicate(timeout=BOOT_TIMEOUT + 60)
        out_b, err_b = b.communicate(timeout=BOOT_TIMEOUT + 60)
    finally:
        for p in (a, b):
            p.kill()
            p.wait()
    assert "kvmlab-linux: net: eth0 mac=02:00:00:00:00:0a" in out_a, out_a[-3000:] + err_a
    assert "kvmlab-linux: net: sent to 10.0.2.1:5000" in out_b, out_b[-3000:] + err_b
    got = NET_RECEIVED.search(out_a)
    assert got, out_a[-3000:] + err_a
    assert int(got.group(1)) == len(NET_PAYLOAD)
    assert got.group(2) == hashlib.sha256(NET_PAYLOAD).hexdigest()
    assert a.returncode == 0 and b.returncode == 0, err_a + err_b
    assert not (sock_dir / "net.sock").exists()  # the listener removed its socket


def vm_rss_mib(pid):
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    raise AssertionError(f"no VmRSS for {pid}")


@pytest.mark.kvm
def test_tap_network_and_balloon_returns_freed_memory_to_the_host(here, kvmlab_bin, linux_image,
                                                                  sock_dir):
    """One boot over TAP (root; module tun): the guest sends a TCP stream to the host's side of
    the TAP. Then it writes at least 128 MiB of its memory and frees it; inflating the balloon
    by 64 MiB through the control API must lower kvmlab's RSS by 48 MiB or more."""
    if not here:
        return
    assert os.geteuid() == 0, "TAP needs root: run this file in harness/kvmbox --force"
    subprocess.run(["modprobe", "tun"], capture_output=True)
    ip = shutil.which("ip") or "/usr/sbin/ip"
    tap, api = "kvltap0", sock_dir / "api"
    received = {}

    def serve(listener):
        conn, _ = listener.accept()
        data = b""
        while chunk := conn.recv(1 << 16):
            data += chunk
        conn.close()
        received["data"] = data

    p = net_vm(kvmlab_bin, linux_image, f"tap={tap}", "send", "10.0.3.2", "10.0.3.1",
               "--mem", "256M", "--api-sock", str(api), tests="net,balloon")
    try:
        for _ in range(200):
            if Path(f"/sys/class/net/{tap}").exists() or p.poll() is not None:
                break
            time.sleep(0.05)
        for cmd in (["addr", "add", "10.0.3.1/24", "dev", tap], ["link", "set", tap, "up"]):
            out = subprocess.run([ip, *cmd], capture_output=True, text=True)
            assert out.returncode == 0, out.stderr + (p.stderr.read() if p.poll() else "")
        listener = socket.create_server(("10.0.3.1", 5000))
        listener.settimeout(BOOT_TIMEOUT)
        server = threading.Thread(target=serve, args=(listener,), daemon=True)
        server.start()
        lines, rss = [], []
        for line in p.stdout:
            lines.append(line)
            if "kvmlab-linux: balloon: ready" in line:
                rss.append(vm_rss_mib(p.pid))
                assert ctl(kvmlab_bin, api, "balloon", "target_mib=64")["balloon"]["target_mib"] == 64
                deadline = time.time() + 120
                while (balloon := ctl(kvmlab_bin, api, "balloon")["balloon"])["actual_mib"] < 64:
                    assert time.time() < deadline, balloon
                    time.sleep(0.5)
                rss.append(vm_rss_mib(p.pid))
                p.stdin.write("inflated\n")
                p.stdin.close()
        stderr = p.stderr.read()
        p.wait(timeout=60)
        server.join(timeout=30)
        listener.close()
    finally:
        p.kill()
        p.wait()
    stdout = "".join(lines)
    assert "kvmlab-linux: net: sent to 10.0.3.1:5000" in stdout, stdout[-3000:] + stderr
    assert received.get("data") == NET_PAYLOAD, len(received.get("data", b""))
    assert len(rss) == 2, stdout[-3000:] + stderr
    print(f"balloon: RSS {rss[0]:.0f} -> {rss[1]:.0f} MiB; {balloon}")
    # Kernel boots back RAM with THP: whole 2 MiB units go back as such, the pages of partly
    # ballooned units once the guest has reached the target (balloon_blocks, balloon.h).
    assert balloon["discarded_bytes"] >= 64 << 20 and balloon["refused_pages"] == 0, balloon
    assert balloon["discard_errors"] == 0, balloon
    assert rss[0] - rss[1] >= 48, f"RSS {rss[0]:.0f} -> {rss[1]:.0f} MiB"
    assert "kvmlab-linux: test balloon: exit 0" in stdout
    assert p.returncode == 0, stderr
