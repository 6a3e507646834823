"""Known-bad inputs, as tables: command-line values, config files, control requests and kernel
images (ELF for PVH and multiboot, multiboot headers, bzImage headers, garbage). Each must get one
clear line and the right exit status; the control server must stay up. Complements test_run.py,
test_config.py, test_control.py and test_loaders.py, which hold the first such tables."""
import json
import os
import socket
import struct
import subprocess
import time

import pytest

HUGE = "9" * 40


def one_line(out, status, message=None):
    assert out.returncode == status, (out.returncode, out.stderr)
    lines = out.stderr.splitlines()
    assert len(lines) == 1 and lines[0].startswith("kvmlab: "), out.stderr
    assert "Sanitizer" not in out.stderr and "runtime error" not in out.stderr
    if message:
        assert message in lines[0], lines[0]


# ---- the command line (refused before KVM is touched) ----

@pytest.mark.parametrize("args, message", [
    (["--cpus", HUGE], "--cpus"),
    (["--cpus", "-1"], "--cpus"),
    (["--cpus", "0x1000000000000000000"], "--cpus"),
    (["--mem", HUGE], "--mem"),
    (["--mem", "18446744073709551616"], "--mem"),
    (["--mem", "16E"], "--mem"),
    (["--mem", "-64M"], "--mem"),
    (["--timeout", "1e400"], "--timeout"),
    (["--timeout", "-5"], "--timeout"),
    (["--timeout", "nan"], "--timeout"),
    (["--name", "x" * 10000], "--name: longer than 64 characters"),
    (["--name", "../escape"], "--name"),
    (["--guest", "g" * 5000], "--guest: longer than"),
    (["--api-sock", "/" + "s" * 200], "--api-sock"),
    (["--mem-policy", ""], "--mem-policy: must not be empty"),
    (["--disk", "d"] * 9, "--disk: at most 8 may be given"),
    (["--seccomp=yes"], "--seccomp"),
    (["--jail"], "--jail"),
])
def test_hostile_command_lines(kvmlab, args, message):
    full = ["run", "--guest", "g", *args] if "--guest" not in args else ["run", *args]
    one_line(kvmlab(*full), 2, message)


# ---- config files ----

@pytest.mark.parametrize("text, message", [
    ('{"guest": "g", "cpus": %s}' % HUGE, '"cpus"'),
    ('{"guest": "g", "cpus": 1.5}', '"cpus"'),
    ('{"guest": "g", "cpus": -3}', '"cpus"'),
    ('{"guest": "g", "mem": %s}' % HUGE, '"mem"'),
    ('{"guest": "g", "mem": 1e300}', '"mem"'),
    ('{"guest": "g", "timeout": -1}', '"timeout"'),
    ('{"guest": "g", "timeout": "1e999"}', '"timeout"'),
    ('{"guest": "g", "seccomp": "off"}', '"seccomp": expected true or false'),
    ('{"guest": "g", "jail": 1}', '"jail": expected a string'),
    ('{"guest": "g", "disks": "d"}', '"disks"'),
    ('{"guest": "g", "disks": [1]}', '"disks"'),
    ('{"guest": "g", "disks": ["a","b","c","d","e","f","g","h","i"]}', '"disks"'),
    ('{"guest": "g", "name": "a\\u0000b"}', '"name"'),
    ('{"guest": "g\\u0000x"}', '"guest"'),
    ('[' * 10000 + ']' * 10000, "invalid JSON"),
    ('{"guest": "g"}' + ' {"guest": "h"}', "invalid JSON"),
    ('{"guest": "g", "cpus": 1, "cpus": 2, "cpu": 3}', 'unknown field "cpu"'),
    ('\ufeff{"guest": "g"}', "invalid JSON"),
])
def test_hostile_config_files(kvmlab, tmp_path, text, message):
    cfg = tmp_path / "vm.json"
    cfg.write_text(text)
    one_line(kvmlab("run", "--config", cfg), 2, message)


def test_config_file_larger_than_the_limit(kvmlab, tmp_path):
    cfg = tmp_path / "vm.json"
    cfg.write_text('{"guest": "g", "cmdline": "' + "x" * (2 << 20) + '"}')
    one_line(kvmlab("run", "--config", cfg), 2, "config")


def test_config_file_with_invalid_utf8(kvmlab, tmp_path):
    cfg = tmp_path / "vm.json"
    cfg.write_bytes(b'{"guest": "g\xff\xfe"}')
    one_line(kvmlab("run", "--config", cfg), 2, "invalid")


# ---- the control API: the server answers each with an error and stays up ----

HOSTILE_REQUESTS = [
    {"cmd": "mem-add", "gpa": HUGE, "size": "2M"},
    {"cmd": "mem-add", "gpa": 18446744073709551615, "size": 4096},
    {"cmd": "mem-add", "gpa": "4G", "size": "16E"},
    {"cmd": "mem-add", "gpa": -4096, "size": 4096},
    {"cmd": "mem-add", "gpa": 1.5, "size": 4096},
    {"cmd": "mem-add", "gpa": "0xffffffffffff0000", "size": "1M"},
    {"cmd": "mem-remove", "gpa": "12345"},
    {"cmd": "stats", "enable": "yes"},
    {"cmd": "sched-set", "vcpu": 9999, "weight": 1},
    {"cmd": "sched-set", "weight": -1},
    {"cmd": "status", "extra": [1, 2, 3]},
    {"cmd": ""},
    {"cmd": "x" * 60000},
    {"cmd": None},
    {"cmd": ["status"]},
    {"nocmd": 1},
    ["status"],
    "status",
    12,
    None,
]


@pytest.mark.kvm
def test_hostile_control_requests_get_errors_and_the_server_stays_up(kvmlab_bin, guest, tmp_path):
    env = dict(os.environ, KVMLAB_RUNTIME_DIR=str(tmp_path))
    p = subprocess.Popen([str(kvmlab_bin), "run", "--guest", str(guest("spin")), "--name",
                          "hostile", "--timeout", "120"], env=env, stdout=subprocess.DEVNULL,
                         stderr=subprocess.PIPE, text=True)
    sock_path = tmp_path / "hostile.sock"
    try:
        deadline = time.monotonic() + 30
        while not sock_path.exists():
            assert p.poll() is None and time.monotonic() < deadline, "no control socket"
            time.sleep(0.01)
        raw = [json.dumps(r).encode() for r in HOSTILE_REQUESTS]
        raw += [b'{"cmd":"status"' + b"}" * 5000, b'{"cmd":' + b'[' * 5000 + b']' * 5000 + b'}',
                b'{"cmd":"status","n":' + b"9" * 5000 + b"}", b"\xc0\x80", b"{}" * 1000]
        with socket.socket(socket.AF_UNIX) as s:
            s.settimeout(30)
            s.connect(str(sock_path))
            f = s.makefile("rb")
            for line in raw:
                s.sendall(line + b"\n")
                reply = json.loads(f.readline())
                assert reply["ok"] is False and reply["error"], (line[:80], reply)
                s.sendall(b'{"cmd":"status"}\n')
                assert json.loads(f.readline())["state"] == "running", line[:80]
        # Many connections at once, each sending half a request and going away.
        for _ in range(3):
            conns = [socket.socket(socket.AF_UNIX) for _ in range(40)]
            for c in conns:
                try:
                    c.connect(str(sock_path))
                    c.sendall(b'{"cmd":"sta')
                except OSError:
                    pass
            for c in conns:
                c.close()
        with socket.socket(socket.AF_UNIX) as s:
            s.settimeout(30)
            for _ in range(100):  # the listen backlog may still be full of the closed ones
                try:
                    s.connect(str(sock_path))
                    break
                except BlockingIOError:
                    time.sleep(0.05)
            s.sendall(b'{"cmd":"stop"}\n')
            assert json.loads(s.makefile("rb").readline())["ok"] is True
        _, err = p.communicate(timeout=60)
    finally:
        if p.poll() is None:
            p.kill()
            p.wait()
    assert p.returncode == 0, err
    assert "Sanitizer" not in err


# ---- kernel images: ELF (PVH, multiboot), multiboot headers, bzImage headers ----

def elf64(phdrs=(), phoff=64, phnum=None, phentsize=56, entry=0x100000, ident_class=2,
          extra=b""):
    n = len(phdrs) if phnum is None else phnum
    hdr = (b"\x7fELF" + bytes([ident_class, 1, 1]) + bytes(9) +
           struct.pack("<HHIQQQIHHHHHH", 2, 62, 1, entry, phoff, 0, 0, 64, phentsize, n, 64, 0,
                       0))
    body = b"".join(struct.pack("<IIQQQQQQ", *ph) for ph in phdrs)
    return hdr + body + extra


PT_LOAD, PT_NOTE = 1, 4


def pvh_note(entry):
    desc = struct.pack("<I", entry)
    return struct.pack("<III", 4, len(desc), 18) + b"Xen\x00" + desc


def elf_with_note(note, load=None):
    note_off = 64 + 56 * (2 if load else 1)
    phdrs = [(PT_NOTE, 4, note_off, 0, 0, len(note), len(note), 4)]
    if load:
        phdrs.append(load)
    return elf64(phdrs, extra=note)


def multiboot_header(flags, extra=b"", checksum=None):
    magic = 0x1BADB002
    cs = (-(magic + flags)) & 0xffffffff if checksum is None else checksum
    return struct.pack("<III", magic, flags, cs) + extra


def bzimage(setup_sects=4, version=0x20f, syssize=0x100, length=None, loadflags=1):
    blob = bytearray(length or (setup_sects + 1) * 512 + syssize * 16)
    blob[0x1f1] = setup_sects
    blob[0x1fe:0x200] = b"\x55\xaa"
    struct.pack_into("<I", blob, 0x1f4, syssize)
    blob[0x200:0x202] = b"\xeb\x66"  # the jump over the header: it ends at 0x268
    blob[0x202:0x206] = b"HdrS"
    struct.pack_into("<H", blob, 0x206, version)
    blob[0x211] = loadflags
    if len(blob) > 0x238:
        struct.pack_into("<H", blob, 0x236, 1)  # XLF_KERNEL_64: reach the deeper checks
    return bytes(blob)


IMAGES = {
    "empty": b"",
    "garbage": bytes(range(256)) * 16,
    "elf_truncated_header": b"\x7fELF\x02\x01\x01" + bytes(9),
    "elf_phnum_huge": elf64(phnum=0xffff),
    "elf_phoff_past_end": elf64([(PT_LOAD, 7, 0, 0x100000, 0x100000, 64, 64, 4096)],
                                phoff=0xffffffffffff0000),
    "elf_bad_phentsize": elf64([(PT_LOAD, 7, 0, 0x100000, 0x100000, 64, 64, 4096)],
                               phentsize=1),
    "elf_class32_garbage": elf64(ident_class=1),
    "pvh_segment_wraps": elf_with_note(pvh_note(0x100000),
                                       (PT_LOAD, 7, 0, 0, 0xfffffffffffff000, 64, 0x2000, 4096)),
    "pvh_filesz_past_file": elf_with_note(pvh_note(0x100000),
                                          (PT_LOAD, 7, 0, 0, 0x100000, 1 << 40, 1 << 40, 4096)),
    "pvh_memsz_beyond_ram": elf_with_note(pvh_note(0x100000),
                                          (PT_LOAD, 7, 0, 0, 0x100000, 64, 1 << 36, 4096)),
    "pvh_entry_outside_ram": elf_with_note(pvh_note(0xfffff000),
                                           (PT_LOAD, 7, 0, 0, 0x100000, 64, 64, 4096)),
    "pvh_note_truncated": elf_with_note(pvh_note(0x100000)[:14]),
    "multiboot_header_cut": bytes(8180) + multiboot_header(0x10000)[:10],
    "multiboot_bad_checksum": bytes(64) + multiboot_header(0, checksum=0),
    "multiboot_aout_load_after_end": bytes(64) + multiboot_header(
        0x10000, struct.pack("<IIIII", 0x100040, 0x200000, 0x100000, 0, 0x100000)),
    "multiboot_aout_absurd": bytes(64) + multiboot_header(
        0x10000, struct.pack("<IIIII", 0xffffffff, 0xfffff000, 0xffffffff, 0xffffffff, 0)),
    "bzimage_truncated_setup": bzimage(setup_sects=0x3f, length=4096),
    "bzimage_syssize_past_file": bzimage(syssize=0x7fffffff, length=8192),
    "bzimage_protocol_ancient": bzimage(version=0x0100),
    "bzimage_not_loaded_high": bzimage(loadflags=0),
}


@pytest.mark.kvm
@pytest.mark.parametrize("name", sorted(IMAGES))
def test_hostile_kernel_images_are_refused(kvmlab, tmp_path, name):
    image = tmp_path / name
    image.write_bytes(IMAGES[name])
    one_line(kvmlab("run", "--kernel", image, "--mem", "64M", "--timeout", "30"), 2)


@pytest.mark.kvm
@pytest.mark.parametrize("loader", ["bzimage", "multiboot", "pvh"])
@pytest.mark.parametrize("name", ["garbage", "elf_phnum_huge", "bzimage_truncated_setup"])
def test_hostile_images_through_each_named_loader(kvmlab, tmp_path, loader, name):
    image = tmp_path / name
    image.write_bytes(IMAGES[name])
    one_line(kvmlab("run", "--kernel", image, "--loader", loader, "--mem", "64M",
                    "--timeout", "30"), 2)


@pytest.mark.kvm
@pytest.mark.parametrize("name", ["empty", "garbage", "elf_phnum_huge"])
def test_hostile_flat_images(kvmlab, tmp_path, name):
    """A flat guest is any bytes: garbage runs (and is stopped) rather than being refused, but
    never hurts the VMM: the run ends with a guest status, not a crash."""
    image = tmp_path / name
    image.write_bytes(IMAGES[name])
    out = kvmlab("run", "--guest", image, "--timeout", "5")
    if name == "empty":
        one_line(out, 2, "is empty")
    else:
        assert out.returncode in (0, 6, 8, 10, 124) or out.returncode & 1, out.stderr
        assert "Sanitizer" not in out.stderr and "runtime error" not in out.stderr
