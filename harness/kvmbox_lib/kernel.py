# kvmbox kernel discovery, and the cached uncompressed vmlinux QEMU boots via PVH (no slow in-guest unxz).
import glob
import gzip
import io
import lzma
import os
import re
import struct

from kvmbox_lib import cache
from kvmbox_lib.errors import BoxError

XEN_ELFNOTE_PHYS32_ENTRY = 18  # the PVH entry point note QEMU needs to boot an ELF kernel directly


class Kernel:
    """An installed kernel: its bzImage, version string and module directory."""

    def __init__(self, image, version, modules_dir):
        self.image = image
        self.version = version
        self.modules_dir = modules_dir


def read_setup_header(path):
    try:
        with open(path, "rb") as f:
            head = f.read(0x10000)  # the real-mode setup code, which holds the header and version string
    except OSError as e:
        raise BoxError(f"cannot read kernel {path}: {e.strerror}")
    if head[0x202:0x206] != b"HdrS":
        raise BoxError(f"{path} is not a bzImage kernel")
    return head


def image_version(path):
    """The version string embedded in a bzImage's setup header."""
    head = read_setup_header(path)
    offset = 0x200 + struct.unpack_from("<H", head, 0x20E)[0]
    version = head[offset:offset + 256].split(b"\0")[0].split(b" ")[0].decode(errors="replace")
    if not version:
        raise BoxError(f"cannot read the kernel version from {path}")
    return version


def version_key(version):
    """Sort key that orders kernel versions numerically (6.10 after 6.9)."""
    return [(0, int(part), "") if part.isdigit() else (1, 0, part) for part in re.split(r"(\d+)", version)]


def find_kernel(env):
    """KVMBOX_KERNEL, else the newest /boot/vmlinuz-* that has modules; KVMBOX_MODULES overrides the module dir."""
    override = env.get("KVMBOX_KERNEL")
    if override:
        if not os.path.isfile(override):
            raise BoxError(f"kernel not found: {override} (from KVMBOX_KERNEL)")
        image, version = override, image_version(override)
    else:
        images = glob.glob("/boot/vmlinuz-*")
        if not images:
            raise BoxError("no kernel found: no /boot/vmlinuz-* (install linux-image-amd64 or set KVMBOX_KERNEL)")
        with_modules = [p for p in images if os.path.isdir("/lib/modules/" + p[len("/boot/vmlinuz-"):])]
        image = max(with_modules or images, key=lambda p: version_key(p[len("/boot/vmlinuz-"):]))
        version = image[len("/boot/vmlinuz-"):]
    modules_dir = env.get("KVMBOX_MODULES") or f"/lib/modules/{version}"
    if not os.path.isfile(os.path.join(modules_dir, "modules.dep")):
        raise BoxError(f"kernel modules missing for {version}: no {modules_dir}/modules.dep")
    return Kernel(image, version, modules_dir)


def decompress_payload(image):
    """The bzImage's embedded vmlinux ELF, or None if it is compressed in a format Python lacks."""
    head = read_setup_header(image)
    setup_sects = head[0x1F1] or 4
    payload_offset, payload_length = struct.unpack_from("<II", head, 0x248)
    with open(image, "rb") as f:
        f.seek((setup_sects + 1) * 512 + payload_offset)
        payload = f.read(payload_length)
    if payload.startswith(b"\xfd7zXZ\0"):
        return lzma.LZMADecompressor(format=lzma.FORMAT_XZ).decompress(payload)
    if payload.startswith(b"\x1f\x8b"):
        return gzip.GzipFile(fileobj=io.BytesIO(payload)).read()  # tolerates trailing bytes
    return None


def has_pvh_note(elf):
    """True if the ELF64 image carries a Xen PVH entry note."""
    if elf[:5] != b"\x7fELF\x02":
        return False
    phoff, = struct.unpack_from("<Q", elf, 0x20)
    phentsize, phnum = struct.unpack_from("<HH", elf, 0x36)
    for i in range(phnum):
        p_type, _, p_offset, _, _, p_filesz = struct.unpack_from("<IIQQQQ", elf, phoff + i * phentsize)
        if p_type == 4 and (b"Xen", XEN_ELFNOTE_PHYS32_ENTRY) in note_types(elf[p_offset:p_offset + p_filesz]):
            return True
    return False


def note_types(notes):
    """[(owner, type)] of the ELF notes in a PT_NOTE segment."""
    found, pos = [], 0
    while pos + 12 <= len(notes):
        namesz, descsz, kind = struct.unpack_from("<III", notes, pos)
        found.append((notes[pos + 12:pos + 12 + namesz].rstrip(b"\0"), kind))
        pos += 12 + (namesz + 3) // 4 * 4 + (descsz + 3) // 4 * 4
    return found


def pvh_vmlinux(image):
    """Bytes of the PVH-bootable vmlinux inside image, or b'' when it cannot be booted that way."""
    try:
        elf = decompress_payload(image)
    except (lzma.LZMAError, OSError, EOFError):
        return b""
    return elf if elf and has_pvh_note(elf) else b""


def boot_image(kernel, env):
    """The file QEMU should boot: the cached PVH vmlinux if the kernel has one, else the bzImage itself."""
    key = cache.key_of({"kernel": cache.file_identity(kernel.image), "code": cache.source_hash(__file__)})
    path = cache.cached_file(env, f"vmlinux-{kernel.version}", key, "", lambda: pvh_vmlinux(kernel.image))
    return path if os.path.getsize(path) else kernel.image
