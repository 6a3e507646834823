"""The x86 decoder and emulator against their oracles: the host CPU, Zydis (random bytes, every
opcode, the Debian kernel's code) and Unicorn; and `kvmlab run --trace-exits`. The decoder's and
emulator's unit tests run through test_unit.py, the KVM tests of the emulator in the VMM through
test_kvm_c.py (vmm/tests/kvm/test_x86_emulate.c)."""
import gzip
import json
import lzma
import re
import shutil
import struct
import subprocess
from pathlib import Path

import pytest

from conftest import build_dir

TOOLS = build_dir() / "vmm" / "tests" / "x86"
CASES_PER_FORM = 1000


def tool(name):
    path = TOOLS / name
    assert path.exists(), f"{path} is missing: build first (ci/build)"
    return path


def run(*cmd, timeout=600):
    return subprocess.run([str(c) for c in cmd], capture_output=True, text=True, timeout=timeout)


def host_oracle():
    """Every emulated form, CASES_PER_FORM random cases each, natively and in the emulator."""
    out = run(tool("x86_host_oracle"), "-n", CASES_PER_FORM)
    print(out.stdout)
    assert out.returncode == 0, out.stdout + out.stderr
    m = re.search(r"x86_host_oracle: (\d+) forms, (\d+) cases \((\d+) faulting\), (\d+) mismatches, "
                  r"(\d+) forms skipped", out.stdout)
    assert m, out.stdout
    forms, cases, faulting, mismatches, skipped = map(int, m.groups())
    assert mismatches == 0
    assert cases == forms * CASES_PER_FORM
    assert forms >= 100          # the integer forms alone are that many: nothing silently dropped
    assert faulting > cases // 50  # faults (#PF, #GP, #AC, #MF, #UD) are compared too
    return out.stdout


def test_host_cpu_oracle():
    host_oracle()


@pytest.mark.kvm
def test_host_cpu_oracle_where_kvm_runs():
    """The same oracle on the machine the KVM tests use (inside harness/kvmbox without /dev/kvm:
    there the "host CPU" is QEMU's, as the nested guests see it)."""
    host_oracle()


def test_zydis_random_bytes():
    out = run(tool("x86_zydis_check"), "random", "100000", "1")
    print(out.stdout)
    assert out.returncode == 0, out.stdout
    m = re.search(r"random: (\d+) cases, (\d+) both valid, .* (\d+) disagreements", out.stdout)
    assert m and int(m.group(1)) == 300000 and int(m.group(3)) == 0, out.stdout
    assert int(m.group(2)) > 200000


def test_zydis_every_opcode():
    """Every (prefixes, map, opcode) and every VEX/XOP (map, pp, L, W, opcode), 4 random ModRM and
    tails each, in real, 16-, 32- and 64-bit mode; EVEX by map, pp and opcode."""
    out = run(tool("x86_zydis_check"), "sweep", "4", "2")
    print(out.stdout)
    assert out.returncode == 0, out.stdout
    for kind in ("legacy", "vex", "xop", "evex"):
        m = re.search(rf"sweep {kind}: (\d+) cases, (\d+) both valid, .* (\d+) disagreements",
                      out.stdout)
        assert m and int(m.group(3)) == 0 and int(m.group(2)) > 0, out.stdout


def kernel_text(limit):
    """The .text of Debian's kernel: the compressed payload of /boot/vmlinuz-* (found by its
    magic, as scripts/extract-vmlinux does), decompressed, and the section read from the ELF."""
    images = sorted(Path("/boot").glob("vmlinuz-*"))
    assert images, "no /boot/vmlinuz-*: ci/deps installs linux-image-amd64"
    data = images[-1].read_bytes()
    decoders = [(b"\xfd7zXZ\x00", lambda b: lzma.LZMADecompressor().decompress(b)),
                (b"\x1f\x8b\x08", lambda b: gzip.GzipFile(fileobj=__import__("io").BytesIO(b)).read()),
                (b"\x28\xb5\x2f\xfd", None), (b"\x5d\x00\x00", lambda b: lzma.LZMADecompressor(
                    format=lzma.FORMAT_ALONE).decompress(b))]
    elf = None
    for magic, fn in decoders:
        at = data.find(magic)
        if at < 0:
            continue
        if fn is None:
            zstd = shutil.which("zstd")
            assert zstd, "a zstd-compressed kernel needs the zstd command"
            elf = subprocess.run([zstd, "-dc"], input=data[at:], capture_output=True).stdout
        else:
            try:
                elf = fn(data[at:])
            except (lzma.LZMAError, OSError, EOFError):
                continue
        if elf.startswith(b"\x7fELF"):
            break
    assert elf and elf.startswith(b"\x7fELF"), f"no kernel ELF found in {images[-1]}"
    shoff, = struct.unpack_from("<Q", elf, 0x28)
    shentsize, shnum, shstrndx = struct.unpack_from("<HHH", elf, 0x3a)
    sections = [struct.unpack_from("<IIQQQQ", elf, shoff + i * shentsize) for i in range(shnum)]
    strtab = sections[shstrndx][4]
    for name, _type, _flags, _addr, offset, size in sections:
        if elf[strtab + name:elf.index(b"\0", strtab + name)] == b".text":
            return elf[offset:offset + min(size, limit)]
    raise AssertionError("the kernel ELF has no .text")


def test_zydis_kernel_code(tmp_path):
    """A linear sweep of 4 MiB of the kernel's .text: at every instruction both decoders agree
    on the length (and the rest), with no length disagreement at all."""
    text = kernel_text(4 << 20)
    assert len(text) >= 1 << 20
    path = tmp_path / "text.bin"
    path.write_bytes(text)
    out = run(tool("x86_zydis_check"), "code", path)
    print(out.stdout)
    assert out.returncode == 0, out.stdout
    m = re.search(r"code: (\d+) bytes, (\d+) length disagreements", out.stdout)
    assert m and int(m.group(1)) == len(text) and int(m.group(2)) == 0, out.stdout
    m = re.search(r"code: (\d+) cases, (\d+) both valid", out.stdout)
    assert int(m.group(2)) > len(text) // 8  # instructions, not a sweep of invalid bytes


def test_unicorn_16_32_64():
    out = run(tool("x86_unicorn_check"), "-n", "3000", "-s", "5")
    print(out.stdout)
    assert out.returncode == 0, out.stdout
    modes = re.findall(r"mode (\S+).*: (\d+) cases, (\d+) compared, .* (\d+) mismatches", out.stdout)
    assert len(modes) == 3, out.stdout
    for mode, cases, compared, bad in modes:
        assert int(bad) == 0 and int(compared) > int(cases) // 3, (mode, out.stdout)


@pytest.mark.kvm
def test_trace_exits(kvmlab, guest):
    """Each exit is printed; for MMIO with the guest's instruction, found at RIP for reads and
    just before it for writes (KVM has retired a store when it reports it)."""
    out = kvmlab("run", "--trace-exits", "--timeout", "60", "--guest", guest("x86_trace"))
    assert out.returncode == 0, out.stderr
    err = out.stderr
    assert "exit vcpu 0 IO out port 0x1000 size 4 count 1" in err  # the ucall DONE
    assert re.search(r"exit vcpu 0 MMIO write 0xd0000010 len 4 data 0x12345678 at 0x[0-9a-f]+: "
                     r"mov dword ptr \[\w+(\+0x10)?\], ", err), err
    assert re.search(r"exit vcpu 0 MMIO read 0xd0000020 len 4 data 0x0 at 0x[0-9a-f]+: "
                     r"mov e\w\w, dword ptr \[", err), err
    assert "exit vcpu 0 MMIO read data 0xffffffff" in err
    stores = re.findall(r"MMIO write 0xd00000(30|38) len 8 .* at 0x[0-9a-f]+: "
                        r"movdqu xmmword ptr \[\w+\+0x30\], xmm0", err)
    assert stores == ["30", "38"], err
    # x87 on device memory: no KVM emulates it; kvmlab does, and the trace names it.
    assert re.search(r"exit vcpu 0 INTERNAL_ERROR suberror 1 at 0x[0-9a-f]+: "
                     r"fstp qword ptr \[\w+\+0x40\]", err), err


def test_decoder_benchmark_reports_both_rates_and_the_ratio(tmp_path):
    """bench/x86_decode.c runs and reports kvmlab's and Zydis's rates and their ratio (the
    figures themselves are for dashboards: no timing is asserted), and the emulator's cost."""
    bench = build_dir() / "bench" / "kvmlab_bench"
    assert bench.exists(), f"{bench} is missing: build first (ci/build)"
    out_file = tmp_path / "x86.json"
    out = run(bench, "--benchmark_filter=^x86/", "--benchmark_min_time=0.01",
              f"--benchmark_out={out_file}", "--benchmark_out_format=json")
    assert out.returncode == 0, out.stdout + out.stderr
    runs = {b["name"]: b for b in json.loads(out_file.read_text())["benchmarks"]}
    assert not any(b.get("error_occurred") for b in runs.values()), runs
    ratio = runs["x86/decode_vs_zydis"]
    assert ratio["kvmlab_Minsn_per_s"] > 0 and ratio["zydis_Minsn_per_s"] > 0
    assert ratio["ratio"] == pytest.approx(ratio["kvmlab_Minsn_per_s"] / ratio["zydis_Minsn_per_s"],
                                           rel=1e-6)
    assert sorted(n for n in runs if n.startswith("x86/emulate/")) == \
        [f"x86/emulate/{i}" for i in range(5)]
