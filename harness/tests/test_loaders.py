"""Kernel loaders end to end: the multiboot test guest, malformed images, and the ACPI tables."""
import os
import re
import shutil
import struct
import subprocess
from pathlib import Path

import pytest

from conftest import build_dir

VMLINUZ = sorted(Path("/boot").glob("vmlinuz-*"))


def one_line_error(out, *fragments):
    """kvmlab refused the input (status 2) with one line naming the problem."""
    assert out.returncode == 2, (out.returncode, out.stderr)
    assert out.stderr.startswith("kvmlab: ") and len(out.stderr.splitlines()) == 1, out.stderr
    for f in fragments:
        assert f in out.stderr, out.stderr
    assert out.stdout == ""


@pytest.fixture(scope="session")
def multiboot_elf():
    path = build_dir() / "guests" / "multiboot.elf"
    assert path.exists(), f"{path} is missing: build first (ci/build)"
    return path


@pytest.fixture(scope="session")
def multiboot_elf32(multiboot_elf, tmp_path_factory):
    """The same guest in an ELF32 container, as kvm-unit-tests ship their .flat images."""
    path = tmp_path_factory.mktemp("mb") / "multiboot32.elf"
    subprocess.run(["objcopy", "-O", "elf32-i386", str(multiboot_elf), str(path)], check=True)
    assert path.read_bytes()[4] == 1  # ELFCLASS32
    return path


def mb_facts(stdout):
    return dict(line.split(": ", 1) for line in stdout.splitlines() if ": " in line)


@pytest.mark.kvm
@pytest.mark.parametrize("image", ["multiboot_elf", "multiboot_elf32"])
def test_multiboot_guest_reads_info_map_cmdline_module_and_test_devices(
        kvmlab, request, image, tmp_path):
    kernel = request.getfixturevalue(image)
    env = tmp_path / "env"
    env.write_text("KVMLAB_ENV=ok\nSECOND=line\n")
    out = kvmlab("run", "--kernel", kernel, "--initrd", env, "--cmdline", "first second=2",
                 "--cpus", "2", "--mem", "96M", "--timeout", "60")
    assert out.returncode == 1, out.stdout + out.stderr  # debug-exit 0: every check printed
    facts = mb_facts(out.stdout)
    assert facts["magic"] == "0x2badb002"
    assert facts["cmdline"] == f"'{kernel} first second=2'"
    assert facts["loader"] == "'kvmlab'"
    assert facts["mem"] == f"lower 639 KiB, upper {(96 << 10) - 1024} KiB"
    mmap = [line for line in out.stdout.splitlines() if line.startswith("mmap: ")]
    assert mmap == ["mmap: 0x0-0x9fbff type 1", "mmap: 0x9fc00-0xfffff type 2",
                    f"mmap: 0x100000-{(96 << 20) - 1:#x} type 1",
                    "mmap: 0xfec00000-0xffffffff type 2"]
    assert facts["modules"] == "1"
    assert facts["module"] == f"'{env}' 26 bytes, first line 'KVMLAB_ENV=ok'"
    assert facts["fw_cfg"] == "signature 'QEMU' cpus 2 ram 96 MiB"
    assert facts["pci"] == "0xffffffff"
    assert facts["pm-timer"] == "port 0x608 advancing"


@pytest.mark.kvm
def test_multiboot_without_module_or_cmdline(kvmlab, multiboot_elf):
    out = kvmlab("run", "--kernel", multiboot_elf, "--loader", "multiboot", "--timeout", "60")
    assert out.returncode == 1, out.stderr
    facts = mb_facts(out.stdout)
    assert facts["cmdline"] == f"'{multiboot_elf}'"
    assert facts["modules"] == "0"


# Malformed images: each refused with exit status 2 and a one-line report.

@pytest.fixture(scope="session")
def debian_bzimage():
    assert VMLINUZ, "no /boot/vmlinuz-*: ci/deps installs linux-image-amd64"
    return VMLINUZ[-1]


def patched(src, tmp_path, name, offset, data, length=None):
    blob = bytearray(Path(src).read_bytes()[:length])
    if offset is not None:
        blob[offset:offset + len(data)] = data
    path = tmp_path / name
    path.write_bytes(bytes(blob))
    return path


@pytest.mark.kvm
def test_truncated_bzimage(kvmlab, debian_bzimage, tmp_path):
    image = patched(debian_bzimage, tmp_path, "trunc", None, b"", length=1 << 20)
    one_line_error(kvmlab("run", "--kernel", image, "--mem", "256M", "--timeout", "60"),
                   f"kvmlab: {image}: bzImage: image is truncated")


@pytest.mark.kvm
def test_bzimage_protocol_too_old(kvmlab, debian_bzimage, tmp_path):
    image = patched(debian_bzimage, tmp_path, "old", 0x206, struct.pack("<H", 0x0204))
    one_line_error(kvmlab("run", "--kernel", image, "--mem", "256M", "--timeout", "60"),
                   "bzImage: boot protocol 2.04 is too old (kvmlab needs 2.06 or newer)")


@pytest.mark.kvm
def test_wrong_magic_for_the_chosen_loader(kvmlab, debian_bzimage, tmp_path):
    image = patched(debian_bzimage, tmp_path, "nomagic", 0x202, b"XXXX")
    one_line_error(kvmlab("run", "--kernel", image, "--timeout", "60"),
                   "kernel format not recognised")
    one_line_error(kvmlab("run", "--kernel", image, "--loader", "bzimage", "--timeout", "60"),
                   "bzImage: no 'HdrS' signature at 0x202")


@pytest.mark.kvm
def test_kernel_that_does_not_fit_in_ram(kvmlab, debian_bzimage):
    one_line_error(kvmlab("run", "--kernel", debian_bzimage, "--mem", "64M", "--timeout", "60"),
                   "bzImage: kernel does not fit in RAM", "give more --mem")


@pytest.mark.kvm
def test_kernel_and_initrd_that_do_not_fit_in_ram(kvmlab, debian_bzimage, tmp_path):
    initrd = tmp_path / "big.initrd"
    initrd.write_bytes(b"\0" * (24 << 20))
    one_line_error(kvmlab("run", "--kernel", debian_bzimage, "--initrd", initrd, "--mem", "96M",
                          "--timeout", "60"),
                   "bzImage: kernel and initrd do not fit in RAM")


@pytest.mark.kvm
def test_elf_without_multiboot_header_or_pvh_note(kvmlab):
    hello = build_dir() / "guests" / "hello.elf"
    one_line_error(kvmlab("run", "--kernel", hello, "--timeout", "60"),
                   "neither a multiboot header nor a PVH entry note")
    one_line_error(kvmlab("run", "--kernel", hello, "--loader", "pvh", "--timeout", "60"),
                   "pvh: ELF file has no PVH entry note")


@pytest.mark.kvm
def test_multiboot_bad_checksum(kvmlab, multiboot_elf, tmp_path):
    blob = bytearray(multiboot_elf.read_bytes())
    at = blob.find(struct.pack("<I", 0x1BADB002))
    assert 0 <= at < 8192
    blob[at + 8] ^= 0xff
    image = tmp_path / "badsum.elf"
    image.write_bytes(bytes(blob))
    one_line_error(kvmlab("run", "--kernel", image, "--loader", "multiboot", "--timeout", "60"),
                   f"multiboot: header at offset {at:#x} has a bad checksum")


@pytest.mark.kvm
def test_kernel_on_two_vcpus_needs_the_irqchip(kvmlab, multiboot_elf):
    one_line_error(kvmlab("run", "--kernel", multiboot_elf, "--cpus", "2", "--no-irqchip",
                          "--timeout", "60"),
                   "a kernel on 2 vCPUs needs the in-kernel irqchip")


# Refused before KVM is touched: these run on any host.

def test_initrd_larger_than_ram(kvmlab, tmp_path):
    kernel = tmp_path / "k"
    kernel.write_bytes(b"\0" * 4096)
    initrd = tmp_path / "i"
    initrd.write_bytes(b"\0" * (5 << 20))
    out = kvmlab("run", "--kernel", kernel, "--initrd", initrd, "--mem", "4M")
    assert out.returncode == 2
    assert "does not fit in guest RAM" in out.stderr and len(out.stderr.splitlines()) == 1


@pytest.mark.parametrize("args, message", [
    (["--guest", "g", "--kernel", "k"], "give --guest (a flat test guest) or --kernel, not both"),
    (["--guest", "g", "--initrd", "i"], "--initrd, --cmdline and --loader go with --kernel"),
    (["--kernel", "k", "--loader", "uimage"],
     "unknown loader 'uimage' (known: auto, bzimage, multiboot, pvh)"),
    (["--kernel", "/nonexistent/vmlinuz"], "cannot open guest image /nonexistent/vmlinuz"),
])
def test_bad_kernel_options(kvmlab, args, message):
    out = kvmlab("run", *args)
    assert out.returncode == 2
    assert out.stderr.startswith("kvmlab: ") and message in out.stderr, out.stderr
    assert len(out.stderr.splitlines()) == 1


def test_kernel_settings_from_a_config_file(kvmlab, tmp_path):
    cfg = tmp_path / "vm.json"
    cfg.write_text('{"kernel": "k", "initrd": "i", "cmdline": "quiet", "loader": "bogus"}')
    out = kvmlab("run", "--config", cfg)
    assert out.returncode == 2
    assert "unknown loader 'bogus'" in out.stderr, out.stderr


def test_acpi_tables_disassemble_with_iasl(tmp_path):
    """The generated tables as ACPICA's own disassembler reads them."""
    assert shutil.which("iasl"), "iasl is missing: ci/deps installs acpica-tools"
    unit = build_dir() / "vmm" / "kvmlab_unit_tests"
    out = subprocess.run([str(unit), "acpi_tables_dump"], capture_output=True, text=True,
                         env={**os.environ, "KVMLAB_ACPI_DUMP": str(tmp_path)}, timeout=60)
    assert out.returncode == 0, out.stderr
    for sig in ("DSDT", "FACP", "APIC", "XSDT"):
        dis = subprocess.run(["iasl", "-d", f"{sig}.dat"], cwd=tmp_path, capture_output=True,
                             text=True, timeout=60)
        assert dis.returncode == 0, dis.stdout + dis.stderr
    dsdt = re.sub(r"//[^\n]*", "", (tmp_path / "DSDT.dsl").read_text())  # without comments
    assert re.search(r"Name \(\\_S5, Package \(0x04\)\s*\{\s*0x05,", dsdt)
    assert 'Device (COM1)' in dsdt and 'EisaId ("PNP0501")' in dsdt
    assert re.search(r"IO \(Decode16,\s*0x03F8,\s*0x03F8,", dsdt) and "{4}" in dsdt
    assert 'Device (VR00)' in dsdt and 'Name (_HID, "LNRO0005")' in dsdt
    assert re.search(r"Memory32Fixed \(ReadWrite,\s*0xD0000000,\s*0x00000200,", dsdt)
    assert re.search(r"Interrupt \(ResourceConsumer, Edge, ActiveHigh, Exclusive, ,, \)\s*"
                     r"\{\s*0x00000005,", dsdt)
    facp = (tmp_path / "FACP.dsl").read_text()
    assert re.search(r"PM Timer Block Address : 00000608", facp)
    assert re.search(r"PM1A Control Block Address : 00000604", facp)
    assert re.search(r"Reset Register Supported \(V2\) : 1", facp)
    apic = (tmp_path / "APIC.dsl").read_text()
    assert apic.count("[Processor Local APIC]") == 2
    assert re.search(r"\[I/O APIC\][\s\S]*Address : FEC00000", apic)
    assert re.search(r"Source : 00\s*\n.*Interrupt : 00000002", apic)
