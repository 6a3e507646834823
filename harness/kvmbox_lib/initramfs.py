# kvmbox initramfs: busybox + init.sh + the kernel modules the box needs (deps from modules.dep), cached.
import gzip
import lzma
import os
import re
import struct

from kvmbox_lib import cache
from kvmbox_lib.errors import BoxError

HERE = os.path.dirname(os.path.abspath(__file__))
INIT_SCRIPT = os.path.join(HERE, "init.sh")
BUSYBOX = "/bin/busybox"

# Loaded in this order, each after its dependencies; a failing optional module is ignored.
REQUIRED_MODULES = ("virtio_pci", "virtio_console", "9pnet_virtio", "9p", "kvm_amd")
OPTIONAL_MODULES = ("tun", "dm_mod", "dm_flakey", "dm_log_writes")

MODULE_SUFFIX = re.compile(r"\.ko(\.xz|\.gz)?$")


def module_name(path):
    return MODULE_SUFFIX.sub("", os.path.basename(path)).replace("-", "_")


def read_module_deps(modules_dir):
    """Map module name -> (relative path, [dependency names]) from modules.dep, plus the set of built-in names."""
    deps = {}
    with open(os.path.join(modules_dir, "modules.dep")) as f:
        for line in f:
            path, _, rest = line.partition(":")
            deps[module_name(path)] = (path, [module_name(d) for d in rest.split()])
    builtin = set()
    builtin_file = os.path.join(modules_dir, "modules.builtin")
    if os.path.isfile(builtin_file):
        with open(builtin_file) as f:
            builtin = {module_name(line.strip()) for line in f}
    return deps, builtin


def resolve_modules(kernel):
    """Return [(kind, path)] in load order (dependencies first); kind is 'req' or 'opt'."""
    deps, builtin = read_module_deps(kernel.modules_dir)
    order, kinds = [], {}

    def visit(name, kind, chain):
        if name in builtin:
            return
        if name not in deps:
            if kind == "req":
                raise BoxError(f"kernel modules missing for {kernel.version}: {name} "
                               f"(needed by {' <- '.join(chain)}) not in {kernel.modules_dir}")
            return
        for dep in deps[name][1]:
            visit(dep, kind, chain + [dep])
        if name not in kinds:
            order.append(name)
        if kinds.get(name) != "req":
            kinds[name] = kind

    for name in REQUIRED_MODULES:
        visit(name, "req", [name])
    for name in OPTIONAL_MODULES:
        visit(name, "opt", [name])
    return [(kinds[n], os.path.join(kernel.modules_dir, deps[n][0])) for n in order]


def check_static_busybox():
    """A dynamically linked busybox cannot run in the initramfs: refuse it early."""
    try:
        with open(BUSYBOX, "rb") as f:
            elf = f.read(4096)
    except OSError:
        raise BoxError(f"{BUSYBOX} not found (install busybox-static)")
    phoff, = struct.unpack_from("<Q", elf, 0x20)
    phentsize, phnum = struct.unpack_from("<HH", elf, 0x36)
    for i in range(phnum):
        if struct.unpack_from("<I", elf, phoff + i * phentsize)[0] == 3:  # PT_INTERP
            raise BoxError(f"{BUSYBOX} is dynamically linked (install busybox-static)")


def module_bytes(path):
    with open(path, "rb") as f:
        data = f.read()
    if path.endswith(".xz"):
        return lzma.decompress(data)
    if path.endswith(".gz"):
        return gzip.decompress(data)
    return data


class Cpio:
    """Minimal writer for the newc cpio format the kernel unpacks as initramfs."""

    def __init__(self):
        self.chunks = []
        self.size = 0
        self.ino = 0

    def add(self, name, mode, data=b"", rdev=(0, 0)):
        self.ino += 1
        encoded = name.encode() + b"\0"
        fields = (self.ino, mode, 0, 0, 1, 0, len(data), 0, 0, rdev[0], rdev[1], len(encoded), 0)
        self.append_padded(b"070701" + b"".join(b"%08X" % v for v in fields) + encoded)
        self.append_padded(data)

    def append_padded(self, data):
        """Append data followed by NULs up to the next 4-byte boundary."""
        data += b"\0" * (-(self.size + len(data)) % 4)
        self.chunks.append(data)
        self.size += len(data)

    def finish(self):
        self.add("TRAILER!!!", 0)
        return b"".join(self.chunks)


def build_initramfs(modules):
    """Return the gzip-compressed newc archive for the given [(kind, path)] module list."""
    cpio = Cpio()
    for d in ("bin", "dev", "etc", "etc/kvmbox", "host", "lib", "lib/modules", "proc", "sys"):
        cpio.add(d, 0o40755)
    cpio.add("dev/console", 0o20600, rdev=(5, 1))
    with open(INIT_SCRIPT, "rb") as f:
        cpio.add("init", 0o100755, f.read())
    with open(BUSYBOX, "rb") as f:
        cpio.add("bin/busybox", 0o100755, f.read())
    listing = []
    for kind, path in modules:
        guest_path = "lib/modules/" + module_name(path) + ".ko"
        cpio.add(guest_path, 0o100644, module_bytes(path))
        listing.append(f"{kind} /{guest_path}\n")
    cpio.add("etc/kvmbox/modules", 0o100644, "".join(listing).encode())
    return gzip.compress(cpio.finish(), compresslevel=6, mtime=0)


def cached_initramfs(kernel, env):
    """Path of an up-to-date initramfs for kernel, keyed by everything it is made from."""
    modules = resolve_modules(kernel)
    check_static_busybox()
    key = cache.key_of({
        "kernel": cache.file_identity(kernel.image),
        "version": kernel.version,
        "modules_dep": cache.file_identity(os.path.join(kernel.modules_dir, "modules.dep")),
        "modules": [[kind] + cache.file_identity(path) for kind, path in modules],
        "busybox": cache.file_identity(BUSYBOX),
        "init": cache.source_hash(INIT_SCRIPT),
        "code": cache.source_hash(__file__),
    })
    return cache.cached_file(env, f"initramfs-{kernel.version}", key, ".cpio.gz", lambda: build_initramfs(modules))
