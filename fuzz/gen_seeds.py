#!/usr/bin/python3
"""Writes the fuzz seeds (corpora/<target>/seed-*) and dictionaries (fuzz/dicts/<target>.dict)
from structured descriptions: register sequences, access patterns, memory layouts, strings.

The checked-in seeds and dictionaries are this script's output; `ci/fuzz --regen-seeds` runs
it, and `--check` (run by the test suite) fails when they differ from what it would write.
The encoders below mirror the decoders in fuzz/fuzz.h, fuzz/io.c and fuzz/targets/*.c.

Adding a target: a function returning {seed name: bytes}, one line in SEEDS, and optionally
one line in DICTS.
"""
import argparse
import struct
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
CORPORA = ROOT / "corpora"
DICTS_DIR = ROOT / "fuzz" / "dicts"

SIZE_CODE = {1: 0, 2: 1, 4: 2, 8: 3}
WRITE = 0x04


def le(value, n):
    return (value & ((1 << (8 * n)) - 1)).to_bytes(n, "little")


# --- fuzz_io_window (fuzz/io.c): one access to a device's window ---------------------------

def win(off, size=1, value=None):
    """A read (value None) or write of size bytes at offset off (< 31) of the window."""
    assert 0 <= off < 31 and size in SIZE_CODE
    ctl = SIZE_CODE[size] | (off << 3) | (WRITE if value is not None else 0)
    return bytes([ctl]) + (le(value, size) if value is not None else b"")


def win_rare(disp, length, value=None):
    """The rare variant: a signed 16-bit displacement from the window base, length 1..8."""
    assert 1 <= length <= 8
    ctl = (31 << 3) | (WRITE if value is not None else 0)
    out = bytes([ctl]) + le(disp, 2) + bytes([length - 1])
    return out + (le(value, length) if value is not None else b"")


# --- fuzz_io_machine (fuzz/io.c): one access anywhere on the default machine -----------------

def mio(addr, size=1, value=None, mmio=False):
    """By address (selector 14), which stays right whatever devices the machine gains; the
    fuzzer finds the by-range form (selectors 0-13) itself."""
    ctl = SIZE_CODE[size] | (WRITE if value is not None else 0) | (0x08 if mmio else 0) | (14 << 4)
    out = bytes([ctl]) + le(addr, 8 if mmio else 2)
    return out + (le(value, size) if value is not None else b"")


def machine_ram(gpa, data):
    """The machine target's own operation (selector 15): the guest writes its RAM."""
    out = b""
    for i in range(0, len(data), 64):
        chunk = data[i:i + 64]
        out += bytes([15 << 4, len(chunk) - 1]) + chunk + le(gpa + i, 2)
    return out


def machine_input(data):
    """Selector 15 with the MMIO bit: the host types console input."""
    assert 1 <= len(data) <= 64
    return bytes([(15 << 4) | 0x08, len(data) - 1]) + data


# --- uart (fuzz/targets/uart.c) --------------------------------------------------------------

THR, IER, FCR, LCR, MCR, LSR, MSR, SCR = range(8)
RBR, DLL, DLM, IIR = THR, THR, IER, FCR


def uart_init(divisor=1, lcr=0x03):
    return (win(LCR, value=0x80) + win(DLL, value=divisor & 0xFF) + win(DLM, value=divisor >> 8)
            + win(LCR, value=lcr) + win(FCR, value=0xC7) + win(MCR, value=0x0B)
            + win(IER, value=0x00))


def uart_input(data):
    """Console input (window selector 30): up to 7 bytes say their length in the control byte."""
    assert 1 <= len(data) <= 31
    if len(data) <= 7:
        return bytes([(30 << 3) | len(data)]) + data
    return bytes([30 << 3, len(data) - 1]) + data


def uart_puts(text, poll=True):
    out = b""
    for ch in text.encode():
        out += (win(LSR) if poll else b"") + win(THR, value=ch)
    return out


def uart_seeds():
    # Never SCR := 0xc3 here: the planted-bug test needs a sequence no seed contains.
    probe = (win(IER, value=0x00) + win(IER) + win(IER, value=0x0F) + win(IER) + win(IER, value=0)
             + win(SCR, value=0xA5) + win(SCR) + win(SCR, value=0x5A) + win(SCR)
             + win(FCR, value=0x01) + win(IIR) + win(LCR, value=0xBF) + win(IIR)
             + win(LCR, value=0x03) + win(MCR, value=0x1A) + win(MSR) + win(MCR, value=0x0B)
             + win(MSR) + win(LSR))
    loopback = (win(MCR, value=0x10) + win(THR, value=ord("A")) + win(LSR) + win(RBR) + win(LSR)
                + win(MCR, value=0x1F) + win(MSR) + win(THR, value=0x55) + win(RBR)
                + win(MCR, value=0x00) + win(THR, value=ord("\n")))
    wide = (win(LCR, value=0x80) + win(DLL, 2, 0x0001) + win(DLL, 2) + win(LCR, value=0x03)
            + win(0, 8) + win(4, 4) + win(0, 8, 0x0000000B03C70000 | ord("x"))
            + win(6, 2) + win(0, 4, 0x0A0D6968))
    edges = (win_rare(-1, 2) + win_rare(6, 4, 0xFFFFFFFF) + win_rare(7, 1, 0x42)
             + win_rare(8, 1) + win_rare(0x100, 1, 0) + win_rare(2, 3) + win_rare(0, 8)
             + win(THR, value=ord("!")))
    return {
        "probe": probe,
        "init-hello": uart_init() + uart_puts("hello, kvmlab\n"),
        "init-9600-7e1": uart_init(divisor=12, lcr=0x1A) + uart_puts("ok\r\n", poll=False),
        "loopback": loopback,
        "wide-access": wide,
        "long-line": uart_init() + uart_puts("x" * 300, poll=False) + win(LSR),
        "edges": edges,
        "receive": (uart_init() + win(IER, value=0x03) + win(IIR) + uart_input(b"ls\n")
                    + win(LSR) + win(IIR) + win(RBR) + win(RBR) + win(RBR) + win(LSR)
                    + win(FCR, value=0x00) + uart_input(b"0123456789abcdefXYZ") + win(RBR)
                    + win(FCR, value=0x07) + uart_input(b"q") + win(LSR)),
        "loopback-fifo": (win(MCR, value=0x10) + win(FCR, value=0x01)
                          + b"".join(win(THR, value=c) for c in range(20)) + uart_input(b"ignored")
                          + b"".join(win(RBR) for _ in range(18)) + win(LSR)),
    }


# --- debugexit (fuzz/targets/debugexit.c) ---------------------------------------------------

def debugexit_seeds():
    return {
        "exit-0": win(0, 1, 0),
        "exit-wide": win(0) + win(0, 4) + win(0, 4, 0x2A) + win(0, 1, 3),
        "offsets": win(1, 1, 7) + win(2, 2, 0xFFFF) + win(3) + win(0, 2, 0x1234),
        "edges": win_rare(-1, 2, 0x0101) + win_rare(2, 4, 5) + win_rare(0, 8) + win_rare(4, 1, 1)
        + win(0, 8, 9) + win(0, 4, 0xFFFFFFFF),
    }


# --- machine (fuzz/targets/machine.c) -------------------------------------------------------

COM1, DEBUG_EXIT, UCALL, FWCFG = 0x3F8, 0xF4, 0x1000, 0x510
RTC, I8042_DATA, I8042_CMD, PM1_EVT, PM1_CNT, PM_TMR, ACPI_RESET = (
    0x70, 0x60, 0x64, 0x600, 0x604, 0x608, 0x60C)


def ucall(cmd, line=0, args=(), file="", msg=""):
    """struct ucall_abi (vmm/include/kvmlab/ucall_abi.h)."""
    args = list(args) + [0] * (4 - len(args))
    return (struct.pack("<IIII4Q", cmd, line, 0, len([a for a in args if a]), *args)
            + file.encode().ljust(64, b"\0")[:64] + msg.encode().ljust(128, b"\0")[:128])


def machine_seeds():
    boot = b"".join(mio(COM1 + r, value=v) for r, v in
                    [(LCR, 0x80), (DLL, 1), (DLM, 0), (LCR, 3), (FCR, 0xC7), (MCR, 0x0B)])
    for ch in b"hi\n":
        boot += mio(COM1 + LSR) + mio(COM1, value=ch)
    boot += mio(DEBUG_EXIT, 4, 0)
    unclaimed = (mio(0x80, 1, 0x55) + mio(0x2F8 + LSR) + mio(0x3E8 + SCR, value=0x5A)
                 + mio(0xCF8, 4) + mio(0xCFC, 4, 0x80000000) + mio(0x1F0)
                 + mio(0xFEE00000, 4, mmio=True)
                 + mio(0xD0000000, 8, 0x1122334455667788, mmio=True)
                 + mio(COM1 + 6, 4) + mio(DEBUG_EXIT + 2, 4, 1))
    after_stop = (mio(DEBUG_EXIT, 1, 1) + mio(DEBUG_EXIT, 1, 2) + mio(COM1, value=ord("z"))
                  + mio(COM1 + SCR, value=0x11) + mio(COM1 + SCR))
    ucalls = (machine_ram(0x1000, ucall(5, msg="hello from the guest"))
              + mio(UCALL, 4, 0x1000)
              + machine_ram(0x2000, ucall(1, line=7, args=[3])) + mio(UCALL, 4, 0x2000)
              + mio(UCALL, 2, 0x2000) + mio(UCALL, 4, 0xFFFFFFF0)
              + machine_ram(0x3000, ucall(3, line=42, args=[1, 2], file="guests/t.c",
                                          msg="x == y"))
              + mio(UCALL, 4, 0x3000))
    firmware = (mio(FWCFG, 2, 0x0000) + b"".join(mio(FWCFG + 1) for _ in range(4))
                + mio(FWCFG, 2, 0x0005) + mio(FWCFG + 1) + mio(FWCFG + 1)
                + mio(FWCFG, 2, 0x0003) + mio(FWCFG + 1, 4) + mio(FWCFG, 2, 0x4019)
                + mio(FWCFG + 1))
    rtc = b""
    for idx in (0x0A, 0x0B, 0x00, 0x02, 0x04, 0x07, 0x08, 0x09, 0x32, 0x0D):
        rtc += mio(RTC, value=idx) + mio(RTC + 1)
    rtc += (mio(RTC, value=0x0B) + mio(RTC + 1, value=0x86) + mio(RTC, value=0x04)
            + mio(RTC + 1, value=0x23) + mio(RTC, value=0x0B) + mio(RTC + 1, value=0x06))
    acpi = (mio(PM_TMR, 4) + mio(PM_TMR, 4) + mio(PM1_EVT, 2) + mio(PM1_EVT, 2, 0xFFFF)
            + mio(PM1_EVT + 2, 2, 0x0001) + mio(PM1_CNT, 2) + mio(PM1_CNT, 2, 0x0001)
            + mio(PM1_CNT, 2, (5 << 10) | (1 << 13)))
    kbd = (mio(I8042_CMD) + mio(I8042_CMD, value=0xAA) + mio(I8042_DATA) + mio(I8042_CMD, value=0x20)
           + mio(I8042_DATA) + mio(I8042_CMD, value=0x60) + mio(I8042_DATA, value=0x45)
           + mio(I8042_CMD, value=0xD1) + mio(I8042_DATA, value=0xFF) + mio(I8042_CMD, value=0xFE))
    return {
        "boot-hello": b"\x00" + boot,
        "unclaimed": b"\x00" + unclaimed,
        "strict-unclaimed": b"\x01" + mio(COM1 + LSR) + unclaimed + mio(COM1 + LSR),
        "after-stop": b"\x00" + after_stop,
        "com1-sweep": b"\x00" + b"".join(mio(COM1 + r) for r in range(8)) + mio(COM1, 8),
        "console-input": (b"\x00" + mio(COM1 + IER, value=1) + machine_input(b"root\n")
                          + mio(COM1 + LSR) + mio(COM1) + mio(COM1 + 2)),
        "ucall": b"\x00" + ucalls,
        "fw-cfg": b"\x00" + firmware,
        "rtc": b"\x00" + rtc,
        "acpi-pm": b"\x00" + acpi + mio(ACPI_RESET, value=0x06),
        "i8042-reset": b"\x00" + kbd,
    }


# --- bus (fuzz/targets/bus.c) ---------------------------------------------------------------

class BusSeed:
    """Encodes bus-target operations while tracking the target's model, so that selector
    indices name the range the description means."""
    RARE, TOP, EDGE = 63, 62, 61

    def __init__(self, direct=False):
        self.ranges = []  # (base, length) in the model's order
        self.out = bytes([1 if direct else 0])  # the direct (port I/O) index on or off

    def _fits(self, base, length):
        if length == 0 or base + length - 1 > 2**64 - 1:
            return False
        return all(base + length - 1 < b or b + n - 1 < base for b, n in self.ranges)

    def _added(self, base, length):
        if len(self.ranges) < 24 and self._fits(base, length):
            self.ranges.append((base, length))

    def register(self, base, length):
        """base a multiple of 4 below 1024 and length 1..64: the common, crowded form."""
        assert base % 4 == 0 and base < 1024 and 1 <= length <= 64
        self.out += bytes([0, base // 4, length - 1])
        self._added(base, length)

    def register_top(self, below_top, length):
        self.out += bytes([self.TOP << 2, below_top, length - 1])
        self._added(2**64 - 1 - below_top, length)

    def register_edge(self, below_end, length):
        """Around the end of the direct index at 0x10000: base 0x10000 - 128 + below_end."""
        self.out += bytes([self.EDGE << 2, below_end, length - 1])
        self._added(0x10000 - 128 + below_end, length)

    def register_any(self, base, length):
        self.out += bytes([self.RARE << 2]) + le(base, 8) + le(length, 8)
        self._added(base, length)

    def unregister(self, index):
        self.out += bytes([1 | (index << 2)])
        last = self.ranges.pop()
        if index < len(self.ranges):
            self.ranges[index] = last

    def unregister_any(self, base):
        self.out += bytes([1 | (self.RARE << 2)]) + le(base, 8)

    def access(self, index, delta, size=1, write=False, find=False):
        ctl = SIZE_CODE[size] | (WRITE if write else 0)
        self.out += bytes([(3 if find else 2) | (index << 2), ctl]) + le(delta, 1)

    def access_any(self, addr, size=1, write=False, find=False):
        ctl = SIZE_CODE[size] | (WRITE if write else 0)
        self.out += bytes([(3 if find else 2) | (self.RARE << 2), ctl]) + le(addr, 8)


def bus_seeds():
    devices = BusSeed(direct=True)
    for base, length in [(0x3F8 & 0x3FC, 8), (0xF4, 4), (0x60, 1), (0x64, 1), (0x70, 2)]:
        devices.register(base, length)
    for i, (_, length) in enumerate(list(devices.ranges)):
        devices.access(i, 0)
        devices.access(i, length - 1, write=True)
        devices.access(i, length - 1, size=2)
        devices.access(i, -1, find=True)
    overlap = BusSeed()
    overlap.register(0x100, 16)
    overlap.register(0x10C, 8)  # refused: overlaps
    overlap.register(0x110, 8)  # adjacent: fine
    overlap.register(0x0FC, 4)
    overlap.register(0x0FC, 5)  # refused
    overlap.access(0, 15, size=2)
    overlap.access(1, 0, size=8, find=True)
    overlap.unregister(0)
    overlap.unregister_any(0x104)  # not a base
    overlap.access(0, 4, write=True)
    overlap.register(0x100, 4)
    top = BusSeed()
    top.register_top(0, 1)
    top.register_top(15, 16)  # refused: overlaps the last byte
    top.register_any(2**64 - 0x100, 0x101)  # refused: wraps
    top.register_any(0x1000, 0)  # refused: empty
    top.register_any(0xFEE00000, 0x1000)
    top.access(0, 0, size=8)
    top.access_any(2**64 - 1, size=1, write=True)
    top.access_any(0xFEE00FFC, size=8, find=True)
    top.access(1, 0, size=4, find=True)
    edge = BusSeed(direct=True)
    edge.register_edge(120, 16)  # 0xfff8-0x10007: straddles the index's end
    edge.register_edge(100, 8)
    edge.register(0x3F8, 8)
    edge.access(0, 7, size=2)
    edge.access(0, 6, size=4, find=True)
    edge.access(1, 0, size=8)
    edge.unregister(1)
    edge.access_any(0xFFF0, size=8)
    edge.access(1, 0, write=True)
    return {"devices": devices.out, "overlap": overlap.out, "top": top.out, "direct-edge": edge.out}


# --- gmem (fuzz/targets/gmem.c) -------------------------------------------------------------

def gm_add(gpa, size, ro=False):
    """gpa a multiple of 256 below 64 KiB, size 1..4096: the common form."""
    assert gpa % 256 == 0 and gpa < 65536 and 1 <= size <= 4096
    return bytes([(4 if ro else 0)]) + bytes([gpa >> 8]) + le(size - 1, 2)


def gm_add_top(below_top, size):
    return bytes([30 << 3]) + le(below_top, 2) + le(size - 1, 2)


def gm_add_any(gpa, size):
    return bytes([31 << 3]) + le(gpa, 8) + le(size, 8)


def gm_at(op, index, delta, from_end=False, length=None, len_delta=0, flag=False):
    """op 1 gmem_ptr, 2 copy, 3 region_at on region index; length None: size + len_delta."""
    how = (1 if from_end else 0) | (2 if length is None else 0)
    ctl = op | (4 if flag else 0) | (index << 3)
    return bytes([ctl, how]) + le(delta, 1) + (le(len_delta, 1) if length is None else
                                                 bytes([length]))


def gm_any(op, gpa, length, flag=False):
    return bytes([op | (4 if flag else 0) | (31 << 3), 0]) + le(gpa, 8) + le(length, 8)


def gmem_seeds():
    PTR, COPY, AT = 1, 2, 3
    layout = gm_add(0, 4096) + gm_add(0x1000, 256, ro=True) + gm_add(0x1200, 1)
    edges = b""
    for i in range(3):
        edges += gm_at(PTR, i, 0, length=1) + gm_at(PTR, i, -1, from_end=True, length=1)
        edges += gm_at(PTR, i, 0) + gm_at(PTR, i, 0, len_delta=1) + gm_at(PTR, i, 0, from_end=True,
                                                                         length=1)
        edges += gm_at(COPY, i, 0, length=16, flag=True) + gm_at(COPY, i, 1, len_delta=-1)
        edges += gm_at(AT, i, -1) + gm_at(AT, i, 0, from_end=True)
    overlap = (gm_add(0x100, 512) + gm_add(0x200, 16) + gm_add(0, 256) + gm_add(0x300, 256)
               + gm_add(0, 1) + gm_at(PTR, 0, -1, from_end=True, length=2))
    top = (gm_add_top(0x1FFF, 4096) + gm_add_top(0xFFF, 4096) + gm_add_top(0, 1) + gm_add_any(2**64 - 16, 16)
           + gm_add_any(0x10000, 0) + gm_any(PTR, 2**64 - 0x1000, 2**64 - 1)
           + gm_any(COPY, 2**64 - 0x1000, 0x1000) + gm_at(PTR, 0, 0, len_delta=0, flag=True))
    full = b"".join(gm_add(i * 256, 16) for i in range(33)) + gm_at(AT, 29, 15, length=1)
    return {"layout-edges": layout + edges, "overlap": overlap, "top": top, "full-table": full}


# --- loader_flat (fuzz/targets/loader_flat.c) -----------------------------------------------

def ld_layout(regions):
    """regions: (gpa in KiB, size 1..8192, read-only)."""
    out = bytes([len(regions) - 1])
    for kib, size, ro in regions:
        out += bytes([1 if ro else 0, kib]) + le(size - 1, 2)
    return out


def ld_at(region, delta=0, from_end=False):
    return bytes([region | (0x80 if from_end else 0)]) + le(delta, 1)


def ld_any(gpa):
    return bytes([0xFF, 0]) + le(gpa, 8)


def loader_seeds():
    image = bytes([0xF4, 0x90, 0xEB, 0xFE]) * 16  # hlt; nop; jmp $ -- a tiny flat guest
    two = ld_layout([(0, 4096, False), (8, 1024, True)])
    return {
        "fits": two + ld_at(0, 16) + image,
        "exact-end": two + ld_at(0, -64, from_end=True) + image,
        "one-too-many": two + ld_at(0, -63, from_end=True) + image,
        "read-only": two + ld_at(1) + image,
        "gap": two + ld_at(0, 0, from_end=True) + image,
        "empty": two + ld_at(0),
        "anywhere": ld_layout([(1, 8192, False)]) + ld_any(2**64 - 8) + image[:16],
        "overlap": ld_layout([(0, 8192, False), (4, 16, False), (16, 512, False)]) + ld_at(1, 3)
        + image,
    }


# --- loader_bzimage, loader_multiboot, loader_pvh (fuzz/targets/loader_*.c, fuzz/kernel.c) ---

def fk_head(shape=0, rare_shape=0, high_kib=1024, big=False, cmdline=None, initrd=None,
            image_name=None, initrd_name=None, rare=None, rare_value=0):
    """The loader targets' input head (fuzz/kernel.h): RAM layout, then loader arguments.
    shape 0 one region, 4 the PC hole, 6 with a read-only BIOS area, 7 rare (rare_shape)."""
    assert 4 <= high_kib <= 1024 and high_kib % 4 == 0
    out = bytes([shape | (rare_shape << 3) | (0x80 if big else 0), high_kib // 4 - 1])
    how = ((1 if cmdline is not None else 0) | (2 if initrd is not None else 0)
           | (4 if image_name is not None else 0) | (8 if initrd_name is not None else 0))
    if rare is not None:
        out += bytes([how | 0xF0, rare])
    else:
        out += bytes([how])
    if cmdline is not None:
        out += bytes([len(cmdline)]) + cmdline.encode()
    if initrd is not None:
        out += le(len(initrd) - 1, 2) + initrd
    for name in (image_name, initrd_name):
        if name is not None:
            out += bytes([len(name)]) + name.encode()
    if rare == 1:
        out += (bytes(16) if initrd is None else b"") + le(rare_value, 4)
    elif rare == 2:
        out += le(rare_value, 8)
    return out


STARTUP = bytes.fromhex("f4ebfd")  # hlt; jmp $-3


def bz_image(version=0x020F, setup_sects=1, loadflags=0x01, xloadflags=0x01, pref=0x100000,
             init_size=0x1000, kernel_len=0x400, magic=b"HdrS", syssize=None):
    """A minimal bzImage: setup sectors with the boot protocol header, then a protected-mode
    kernel whose 64-bit entry (at +0x200) halts."""
    setup = bytearray(512 * ((setup_sects or 4) + 1))
    kernel = bytearray(kernel_len)
    kernel[0x200:0x200 + len(STARTUP)] = STARTUP[:max(0, kernel_len - 0x200)]
    struct.pack_into("<B", setup, 0x1F1, setup_sects)
    struct.pack_into("<I", setup, 0x1F4, (len(kernel) + 15) // 16 if syssize is None else syssize)
    struct.pack_into("<H", setup, 0x1FE, 0xAA55)
    setup[0x200:0x202] = bytes([0xEB, 0x66])  # jmp to 0x268: the header's end
    setup[0x202:0x206] = magic
    struct.pack_into("<H", setup, 0x206, version)
    struct.pack_into("<B", setup, 0x211, loadflags)
    struct.pack_into("<III", setup, 0x22C, 0x7FFFFFFF, 0x200000, 0)  # initrd_addr_max, align
    struct.pack_into("<BBHI", setup, 0x234, 1, 21, xloadflags, 2047)  # relocatable, cmdline_size
    struct.pack_into("<QI", setup, 0x258, pref, init_size)
    return bytes(setup + kernel)


def bzimage_seeds():
    img = bz_image()
    return {
        "minimal-2.15": fk_head() + img,
        "cmdline-initrd-pc-hole": fk_head(shape=4, cmdline="console=ttyS0 quiet",
                                          initrd=bytes(range(256)) * 2) + img,
        "bios-rom": fk_head(shape=6, high_kib=64, cmdline="x") + img,
        "protocol-2.06": fk_head(high_kib=16) + bz_image(version=0x0206, pref=0, init_size=0),
        "setup-sects-0": fk_head() + bz_image(setup_sects=0),
        "too-old-2.04": fk_head() + bz_image(version=0x0204),
        "no-64-bit-entry": fk_head() + bz_image(xloadflags=0),
        "zimage": fk_head() + bz_image(loadflags=0),
        "truncated": fk_head() + bz_image(syssize=0x1000),
        "init-size-too-big": fk_head(high_kib=8) + bz_image(init_size=0x10000),
        "pref-below-1mib": fk_head() + bz_image(pref=0x90000),
        "initrd-does-not-fit": fk_head(high_kib=4, initrd=bytes(3000)) + img,
        "no-low-ram": fk_head(shape=7, rare_shape=0) + img,
        "short-low-ram": fk_head(shape=7, rare_shape=1, cmdline="a b c") + img,
        "read-only-high": fk_head(shape=7, rare_shape=2) + img,
        "long-cmdline": fk_head(rare=0) + img,
        "huge-initrd": fk_head(rare=1, rare_value=0x1000) + img,
        "rsdp-anywhere": fk_head(rare=2, rare_value=2**64 - 1) + img,
    }


def elf(is64, segments, entry):
    """An ELF executable: segments are (p_type, paddr, data, memsz), laid out in order after
    the program headers (4-byte aligned)."""
    ehsize, phsize = (64, 56) if is64 else (52, 32)
    off = ehsize + phsize * len(segments)
    phdrs, body = b"", b""
    for ptype, paddr, data, memsz in segments:
        if is64:
            phdrs += struct.pack("<IIQQQQQQ", ptype, 7, off, paddr, paddr, len(data), memsz, 4)
        else:
            phdrs += struct.pack("<8I", ptype, off, paddr, paddr, len(data), memsz, 7, 4)
        pad = bytes(-len(data) % 4)
        body += data + pad
        off += len(data) + len(pad)
    ident = b"\x7fELF" + bytes([2 if is64 else 1, 1, 1]) + bytes(9)
    if is64:
        head = struct.pack("<16sHHIQQQIHHHHHH", ident, 2, 62, 1, entry, ehsize, 0, 0, ehsize,
                           phsize, len(segments), 0, 0, 0)
    else:
        head = struct.pack("<16sHHIIIIIHHHHHH", ident, 2, 3, 1, entry & 0xFFFFFFFF, ehsize, 0, 0, ehsize,
                           phsize, len(segments), 0, 0, 0)
    return head + phdrs + body


PT_LOAD, PT_NOTE = 1, 4
MB_MAGIC = 0x1BADB002


def mb_header(flags=0x3, checksum=None, addresses=None):
    out = le(MB_MAGIC, 4) + le(flags, 4) + le(-(MB_MAGIC + flags) if checksum is None else checksum, 4)
    return out + (struct.pack("<5I", *addresses) if addresses else b"")


def mb_elf(paddr=0x100000, flags=0x3, memsz=None, checksum=None, is64=False):
    code = mb_header(flags, checksum) + STARTUP
    return elf(is64, [(PT_LOAD, paddr, code, memsz or len(code))], paddr + 12)


def mb_aout(load=0x100000, load_end=0, bss_end=0, entry_off=32, header_off=0):
    """The address-field ("a.out kludge") layout: the header says where the file goes."""
    image = bytes(header_off) + mb_header(0x10003, None, (
        load + header_off, load, load_end, bss_end, load + entry_off)) + STARTUP
    return image


def multiboot_seeds():
    return {
        "elf-minimal": fk_head() + mb_elf(),
        "elf-cmdline-module": fk_head(cmdline="console=ttyS0 x=1", initrd=b"env=1\n" * 40,
                                      image_name="test.flat", initrd_name="env") + mb_elf(),
        "elf-bss-pc-hole": fk_head(shape=4, high_kib=64) + mb_elf(memsz=0x8000),
        "elf64": fk_head(shape=6) + mb_elf(is64=True),
        "aout": fk_head(initrd=bytes(100)) + mb_aout(),
        "aout-bss": fk_head() + mb_aout(load_end=0x100000 + 35, bss_end=0x102000, header_off=8),
        "aout-below-1mib": fk_head() + mb_aout(load=0x80000),
        "video-mode": fk_head() + mb_elf(flags=0x7),
        "bad-checksum": fk_head() + mb_elf(checksum=0),
        "elf-below-1mib": fk_head() + mb_elf(paddr=0x90000),
        "elf-too-big": fk_head(high_kib=4) + mb_elf(memsz=0x10000),
        "module-does-not-fit": fk_head(high_kib=4, initrd=bytes(4000)) + mb_elf(),
        "no-low-ram": fk_head(shape=7, rare_shape=0) + mb_elf(),
        "short-low-ram": fk_head(shape=7, rare_shape=1) + mb_elf(),
        "long-cmdline": fk_head(rare=0, image_name="k") + mb_elf(),
        "huge-module": fk_head(rare=1, rare_value=7) + mb_elf(),
    }


def xen_note(entry, size=4, name=b"Xen\0", ntype=18):
    return (struct.pack("<III", len(name), size, ntype) + name + bytes(-len(name) % 4)
            + le(entry, size))


def pvh_elf(is64=True, entry=0x100000, note=None, memsz=None, paddr=0x100000):
    code = STARTUP
    note = xen_note(entry) if note is None else note
    return elf(is64, [(PT_NOTE, 0, note, len(note)), (PT_LOAD, paddr, code, memsz or len(code))],
               0xFFFFFFFF81000000)


def pvh_seeds():
    return {
        "elf64-note4": fk_head() + pvh_elf(),
        "elf64-note8": fk_head(shape=4) + pvh_elf(note=xen_note(0x100000, 8)),
        "elf32": fk_head(shape=6) + pvh_elf(is64=False),
        "cmdline-initrd": fk_head(cmdline="console=ttyS0 root=/dev/vda", initrd=bytes(4096))
        + pvh_elf(memsz=0x3000),
        "two-notes": fk_head() + pvh_elf(note=xen_note(0, 4, b"GNU\0", 3) + xen_note(0x100001)),
        "no-note": fk_head() + pvh_elf(note=xen_note(0x100000, 4, b"Xen\0", 17)),
        "entry-outside": fk_head() + pvh_elf(entry=0x200000),
        "note-odd-size": fk_head() + pvh_elf(note=xen_note(0x100000, 2)),
        "segment-too-big": fk_head(high_kib=4) + pvh_elf(memsz=0x2000),
        "initrd-does-not-fit": fk_head(high_kib=4, initrd=bytes(4090)) + pvh_elf(),
        "no-low-ram": fk_head(shape=7, rare_shape=0) + pvh_elf(),
        "ram-above-4g": fk_head(shape=7, rare_shape=3) + pvh_elf(paddr=0x100000000),
        "long-cmdline": fk_head(rare=0) + pvh_elf(),
        "huge-initrd": fk_head(rare=1, rare_value=1) + pvh_elf(),
    }


# --- acpi (fuzz/targets/acpi.c) ------------------------------------------------------------

def acpi_head(cpus=1, buf_len=None):
    """vCPU count (1-32 in one byte, else the rare 16-bit form) and the table buffer's size
    (None: the whole BIOS area)."""
    out = bytes([cpus - 1]) if 1 <= cpus <= 32 else bytes([0xF0]) + le(cpus, 2)
    return out + (bytes([0]) if buf_len is None else bytes([0xF0]) + le(buf_len, 2))


def acpi_dev(page, gsi):
    """A virtio-mmio transport at 0xd0000000 + page * 4 KiB, 0x200 bytes."""
    return bytes([0, page, gsi])


def acpi_dev_any(base, size, gsi):
    return bytes([0x0F, 0, gsi]) + le(base, 8) + le(size, 8)


def acpi_seeds():
    return {
        "one-cpu": acpi_head(),
        "two-cpus-three-devices": acpi_head(2) + b"".join(acpi_dev(i, 5 + i) for i in range(3)),
        "32-cpus-32-devices": acpi_head(32) + b"".join(acpi_dev(i, i % 24) for i in range(32)),
        "33-devices": acpi_head() + b"".join(acpi_dev(i, 5) for i in range(33)),
        "256-cpus-x2apic": acpi_head(256),
        "257-cpus": acpi_head(257),
        "small-buffer": acpi_head(3, 200) + acpi_dev(0, 5),
        "zero-buffer": acpi_head(1, 0),
        "odd-devices": acpi_head(4) + acpi_dev_any(0xFEBFF000, 0x1000, 23)
        + acpi_dev_any(0xFFFFF000, 0x2000, 5) + acpi_dev_any(0x100000000, 0x200, 5)
        + acpi_dev_any(0xD0000000, 0, 5) + acpi_dev_any(0xD0000000, 0x200, 24)
        + acpi_dev_any(2**64 - 0x100, 0x200, 1),
    }


# --- virtio_net (fuzz/targets/virtio_net.c) --------------------------------------------------

def vnet_setup(event_idx=True, qsize=256):
    """Bit 0: negotiate EVENT_IDX; bits 1-3: log2(queue size) - 1."""
    return bytes([int(event_idx) | ((qsize.bit_length() - 2) << 1)])


def vnet_rx(*lens):
    """The guest adds rx buffers (1-4 per op) of 12 + v % 2037 bytes each."""
    out = b""
    for i in range(0, len(lens), 4):
        group = lens[i:i + 4]
        out += bytes([2 | ((len(group) - 1) << 3)])
        out += b"".join(bytes([0]) + le(n - 12, 2) for n in group)
    return out


def vnet_frame(length, fill=0x5A, rare=False):
    """A frame arrives on the wire: 14 + v % 1600 bytes, or any length up to 65550 (rare)."""
    if rare:
        return bytes([4, 0xE0, 0, 0, fill]) + le(length - 14, 4)
    return bytes([4, 0]) + le(length - 14, 2) + bytes([fill])


def vnet_tx(length, segs=1, cut=6, fill=0x33, rare=None):
    """The guest sends a frame in 1-3 segments (header cut at cut bytes); rare: a length
    drawn from 32 bits and, with rare=("write", i) or ("gpa", i, addr), a bad segment."""
    out = bytes([(segs - 1) << 3])
    if rare is None:
        out += bytes([0]) + le(length - 14, 2) + bytes([fill])
    else:
        out += bytes([0xE0, 0, 0, fill]) + le(length, 4)
    if segs > 1:
        out += le(cut - 1, 2)
    if rare:
        out += bytes([1, rare[1], 1 if rare[0] == "write" else 0])
        if rare[0] == "gpa":
            out += le(rare[2], 8)
    elif rare is not None:
        out += bytes([0])
    return out


def virtio_net_seeds():
    rx8 = vnet_rx(*[1526] * 8)
    return {
        "tx-one": vnet_setup() + vnet_tx(60),
        "tx-split-header": vnet_setup() + vnet_tx(1514, segs=2, cut=6),
        "tx-three-segments": vnet_setup(False, 16) + vnet_tx(600, segs=3, cut=12),
        "tx-runt": vnet_setup() + vnet_tx(10, rare=()),
        "tx-giant": vnet_setup() + vnet_tx(65551, rare=()),
        "tx-max": vnet_setup() + vnet_tx(65550, segs=2, cut=12, rare=()),
        "tx-writable-segment": vnet_setup() + vnet_tx(100, segs=2, rare=("write", 1)),
        "tx-outside-ram": vnet_setup() + vnet_tx(100, segs=2, rare=("gpa", 1, 0xFFFFFFFFFFFFF000)),
        "rx-frames": vnet_setup() + rx8 + vnet_frame(60) + vnet_frame(1514) + vnet_frame(64),
        "rx-before-buffers": vnet_setup() + vnet_frame(98) + vnet_frame(99) + vnet_rx(200, 200, 200),
        "rx-short-buffer": vnet_setup() + vnet_rx(40, 1526) + vnet_frame(100) + vnet_frame(100),
        "rx-jumbo-dropped": vnet_setup() + vnet_rx(1526) + vnet_frame(9000, rare=True),
        "rx-ring-wraps": vnet_setup(True, 4) + b"".join(vnet_rx(200) + vnet_frame(80 + i)
                                                        for i in range(12)),
        "ping-pong": vnet_setup(False, 8) + vnet_rx(1526, 1526) + b"".join(
            vnet_tx(98, fill=i) + vnet_frame(98, fill=i) for i in range(6)),
        "config-then-reset": vnet_setup() + bytes([6]) + bytes([7]) + win_rare(0x70, 4, 0)
        + vnet_rx(1526) + vnet_frame(60),
    }


# --- virtio_balloon (fuzz/targets/virtio_balloon.c) ------------------------------------------

def vb_setup(align64k=False, event_idx=True, qsize=256):
    return bytes([int(align64k) | (int(event_idx) << 1) | ((qsize.bit_length() - 2) << 2)])


def vb_pfn(page, where="ram"):
    """One PFN: a free RAM page (32 + page % 224), a high-RAM page (< 64), the ROM, the
    driver's own pages (< 32: its rings) or any number."""
    if where == "ram":
        return bytes([0]) + le(page - 32, 2)
    if where == "rings":
        return bytes([0xA0]) + le(page, 2)
    if where == "high":
        return bytes([0xC0]) + le(page, 2)
    if where == "rom":
        return bytes([0xE0]) + le(page, 2)
    return bytes([0xE1, 0, 0]) + le(page, 4)


def vb_chain(pfns, deflate=False, split=None, writable=False):
    """pfns: encoded PFNs (vb_pfn); more than 256 or a writable segment take the rare form."""
    ctl = (0x08 if deflate else 0) | (0x10 if split else 0) | (0x20 if writable else 0)
    n = len(pfns)
    if n > 256 or writable:
        out = bytes([ctl, 0xE0, 0]) + le(n - 1, 2)
    else:
        out = bytes([ctl, 0, n - 1])
    out += b"".join(pfns)
    if split:
        out += le(split - 1, 2)
    return out


def virtio_balloon_seeds():
    run = [vb_pfn(p) for p in range(32, 48)]
    return {
        "inflate-run": vb_setup() + vb_chain(run),
        "inflate-shuffled-duplicates": vb_setup() + vb_chain(
            [vb_pfn(p) for p in (49, 43, 47, 43, 48, 200, 44, 49)]),
        "inflate-high-and-rom": vb_setup() + vb_chain(
            [vb_pfn(1, "high"), vb_pfn(2, "high"), vb_pfn(5, "rom"), vb_pfn(0xFFFFFFFF, "any"),
             vb_pfn(0x100000, "any"), vb_pfn(255)]),
        "inflate-own-rings": vb_setup() + vb_chain([vb_pfn(0, "rings"), vb_pfn(40)])
        + vb_chain([vb_pfn(41)]),
        "inflate-split-mid-pfn": vb_setup() + vb_chain(run, split=6),
        "inflate-64k-units": vb_setup(True) + vb_chain([vb_pfn(p) for p in range(46, 82)]),
        "inflate-300": vb_setup(False, False, 64) + vb_chain(
            [vb_pfn(32 + p % 224) for p in range(300)]),
        "inflate-writable": vb_setup() + vb_chain(run[:4], writable=True),
        "deflate": vb_setup() + vb_chain(run) + vb_chain(run, deflate=True),
        "target-and-actual": vb_setup() + bytes([3]) + le(4096, 4) + bytes([0xC4]) + le(16, 4)
        + bytes([0x44]) + le(0x1234, 4) + bytes([3]) + le(0xFFFFFFFF, 4),
        "reset-then-inflate": vb_setup(False, True, 2) + bytes([7]) + win_rare(0x70, 4, 0)
        + vb_chain(run[:2]),
        "ring-wraps": vb_setup(False, True, 2) + b"".join(vb_chain([vb_pfn(32 + i)]) for i in range(9)),
    }


# --- virtq, virtio_mmio, virtio_blk, virtio_rng (fuzz/targets/virtq.c, virtio_*.c) -----------

def vq_setup(log2size=3, event_idx=True, indirect=True):
    return bytes([log2size | (0x10 if event_idx else 0) | (0x20 if indirect else 0)])


def vq_gpa(off, high=True):
    """A buffer address: above the rings (TABLES + off) or anywhere in RAM."""
    return bytes([1 if high else 0]) + le(off, 2)


def vq_desc(i, gpa, length, flags=0, nxt=0, indirect_table=False):
    ctl = 2 if indirect_table else 1
    return bytes([ctl, i]) + gpa + bytes([0]) + le(length, 2) + bytes([flags, nxt])


def vq_publish(head):
    return bytes([3, head])


VQ_POP, VQ_PUSH, VQ_SIGNAL, VQ_ENABLE, VQ_DISABLE = b"\x04", b"\x05\x10\0\0\0", b"\x06", b"\x07", b"\x0f"


def virtq_seeds():
    two = vq_desc(0, vq_gpa(0), 16, 1, 1) + vq_desc(1, vq_gpa(0x100), 512, 2)
    return {
        "pop-push": vq_setup() + two + vq_publish(0) + VQ_POP + VQ_PUSH + VQ_SIGNAL + VQ_ENABLE,
        "wrap": vq_setup(1, False, False) + vq_desc(0, vq_gpa(0), 8)
        + (vq_publish(0) + VQ_POP + VQ_PUSH + VQ_SIGNAL) * 40,
        "indirect": vq_setup() + vq_desc(0, vq_gpa(0), 16, 1, 1, True)
        + vq_desc(1, vq_gpa(0x40), 1, 2, 0, True) + vq_desc(0, vq_gpa(0), 32, 4)
        + vq_publish(0) + VQ_POP + VQ_PUSH,
        "loop": vq_setup() + vq_desc(0, vq_gpa(0), 16, 1, 1) + vq_desc(1, vq_gpa(0), 16, 1, 0)
        + vq_publish(0) + VQ_POP,
        "nested-indirect": vq_setup() + vq_desc(0, vq_gpa(0), 16, 4, 0, True)
        + vq_desc(0, vq_gpa(0), 16, 4) + vq_publish(0) + VQ_POP,
        "rom-writable": vq_setup() + bytes([1, 0, 0xF0]) + le(0x10, 2) + bytes([0]) + le(64, 2)
        + bytes([2, 0]) + vq_publish(0) + VQ_POP,
        "avail-jump": vq_setup() + bytes([0xFF]) + le(0x9000, 2) + VQ_POP,
        "suppress": vq_setup(2, False) + two + VQ_DISABLE + vq_publish(0) + VQ_POP + VQ_PUSH
        + VQ_SIGNAL + VQ_ENABLE,
    }


def vm_reg(off, value=None, small=False):
    """virtio_mmio target: an aligned register read or write (value), off a multiple of 4."""
    ctl = 0x04 if value is not None else 0
    if value is None:
        return bytes([ctl, 0x80, 0, off // 4])
    if small:
        return bytes([ctl, 0x80, value & 0xF, off // 4])
    return bytes([ctl, 0]) + le(value, 4) + bytes([off // 4])


def vm_start(features_hi=1, queues=True):
    out = vm_reg(0x70, 0, True) + vm_reg(0x70, 1, True) + vm_reg(0x70, 3, True)
    out += vm_reg(0x24, 1, True) + vm_reg(0x20, features_hi, True) + vm_reg(0x70, 11, True)
    if queues:
        out += vm_reg(0x30, 0, True) + vm_reg(0x38, 8) + vm_reg(0x80, 0x1000) + vm_reg(0x90, 0x2000)
        out += vm_reg(0xA0, 0x3000) + vm_reg(0x44, 1, True)
    return out + vm_reg(0x70, 15, True)


def virtio_mmio_seeds():
    return {
        "start-notify": vm_start() + vm_reg(0x50, 0, True) + vm_reg(0x60) + vm_reg(0x64, 1, True),
        "no-version-1": vm_start(features_hi=0),
        "unoffered": vm_start(features_hi=2),
        "config": vm_start(False) + bytes([0x07, 0x80, 5, 4]) + bytes([0x03, 0x80, 0, 4])
        + bytes([30 << 3]),
        "ready-bad-ring": vm_start(False) + vm_reg(0x30, 1, True) + vm_reg(0x38, 3)
        + vm_reg(0x80, 0xFFFF0) + vm_reg(0x44, 1, True),
        "reset-midway": vm_start() + vm_reg(0x70, 0, True) + vm_reg(0x50, 0, True),
        "odd-access": vm_start() + win_rare(0x70, 2, 0xF) + win_rare(0x1FE, 4, 0x1),
    }


def vblk_rw(write, sector, nsec, fill=0x11, segs=1):
    return bytes([1 if write else 0, (segs - 1) << 3]) + le(sector, 1) + bytes([nsec - 1, fill])


def virtio_blk_seeds():
    rw = vblk_rw(True, 3, 4) + vblk_rw(False, 3, 4, segs=2) + vblk_rw(False, 0, 16, segs=3)
    return {
        "write-read": b"\0" + rw + b"\x02",
        "read-only": b"\x01" + rw + b"\x05\x10",
        "discard": b"\0" + vblk_rw(True, 8, 8) + bytes([3, 1, 0, 8, 4, 0, 100, 8]) + vblk_rw(False, 8, 8),
        "discard-unmap": b"\0" + bytes([3, 0, 0x80, 8, 4]),
        "get-id": b"\0" + b"\x04",
        "resize": b"\0" + bytes([5]) + le(200, 1) + vblk_rw(True, 150, 16) + bytes([5, 10])
        + vblk_rw(False, 120, 16),
        "beyond-end": b"\0" + vblk_rw(True, 126, 4) + bytes([0, 7]) + le(10, 1) + bytes([0, 0]) + le(700, 2) + bytes([0]),
        "unknown-type": b"\0" + bytes([7]) + le(99, 4) + le(0, 8),
        "register-then-io": b"\0" + bytes([6, 0x70 | 4]) + le(0, 1) + rw,
    }


def vrng(lens, rare=False):
    ctl = 1 | ((len(lens) - 1) << 1) | ((31 << 3) if rare else 0)
    return bytes([ctl]) + b"".join(le(n if rare else n - 1, 4 if rare else 2) for n in lens)


def virtio_rng_seeds():
    return {
        "one": b"\x03" + vrng([64]),
        "three": b"\x06" + vrng([16, 4096, 1]),
        "huge": b"\x06" + vrng([0x20000], rare=True) + b"\0",
        "outside-ram": b"\x06" + vrng([8], rare=True) + b"\x01\x00" + le(2**63, 8) + le(8, 2) + b"\x01",
        "reset": b"\x06" + vrng([32]) + bytes([0, 0x70 | 4]) + le(0, 1) + vrng([32]),
    }


# --- parse (fuzz/targets/parse.c) -----------------------------------------------------------

def parse_seeds():
    size, uint, seconds = 0, 1, 2
    seeds = {}
    for i, s in enumerate(["64M", "1G", "4096", "512K", "2GiB", "16kb", "1T", "0",
                           "18446744073709551615", "17179869184G", "64Mi", "12X", "", "1.5G"]):
        seeds[f"size-{i:02d}"] = bytes([size, 0]) + s.encode()
    for i, (k, lo, s) in enumerate([(8, 1, "4"), (8, 1, "256"), (63, 0, "18446744073709551615"),
                                    (32, 7, "7"), (0, 0, "0"), (16, 1, "-1"), (16, 0, "0x10")]):
        seeds[f"uint-{i:02d}"] = bytes([uint | (k << 2), lo]) + s.encode()
    for i, s in enumerate(["10", "0.5", ".25", "1e3", "1000000001", "5s", "nan", "0.", "1e-3"]):
        seeds[f"seconds-{i:02d}"] = bytes([seconds, 0]) + s.encode()
    return seeds


# --- config_json and control_request (fuzz/targets/*.c, fuzz/json.c) ----------------------

RAW, GENERATED = b"\x01", b"\x00"  # the targets' first byte: text as-is, or generated JSON

# The settings in enum config_field order (vmm/include/kvmlab/config.h) and the control API's
# commands and arguments (control_commands[], enum control_arg): a generated input picks them
# by index, so a reordering only changes which names the seeds below pick. Regenerate.
CONFIG_KEYS = ["guest", "cpus", "mem", "mem_policy", "sched", "name", "api_sock", "timeout",
               "strict", "irqchip", "keep_virt", "stats", "kvm_device"]
CONTROL_COMMANDS = ["status", "pause", "resume", "stop", "stats", "mem-add", "mem-remove", "help"]
CONTROL_ARGS = ["enable", "gpa", "size", "readonly", "dirty_log"]


def fj_int(v):  # FJ_INT: selector 0 and one byte (0..255)
    return bytes([0, v])


def fj_bool(v):  # FJ_BOOL: selector bit 0
    return bytes([1 if v else 0])


def fj_size(n, unit):  # FJ_U64 as "N<unit>": selector (unit << 2) | 2, then a u16
    units = ["", "K", "M", "G", "T", "KiB", "MB", "B"]
    return bytes([(units.index(unit) << 2) | 2]) + le(n, 2)


def fj_hex(v):  # FJ_U64 as "0x...": selector 1 (shift 0), then a u64
    return bytes([1]) + le(v, 8)


def fj_seconds(whole, frac):  # FJ_SECONDS "W.F": selector 1, u16, u8
    return bytes([1]) + le(whole, 2) + bytes([frac])


def fj_string(text):  # FJ_STRING: length selector, then the bytes
    raw = text.encode()
    assert 1 <= len(raw) <= 31
    return bytes([len(raw) - 1]) + raw


def config_member(key, value):
    return bytes([CONFIG_KEYS.index(key)]) + value


def config_seeds():
    texts = {
        "minimal": '{"guest":"guests/hello.bin"}',
        "full": '{"guest":"hello.bin","cpus":4,"mem":"256M","mem_policy":"anon",'
                '"sched":"os","name":"vm-1","api_sock":"/tmp/kvmlab.sock","timeout":2.5,'
                '"strict":true,"irqchip":false,"keep_virt":false,"stats":true,'
                '"kvm_device":"/dev/kvm"}',
        "mem-bytes": '{\n  "guest": "g.bin",\n  "mem": 134217728,\n  "timeout": 0\n}\n',
        "errors": '{"guest":"g.bin","cpus":"four"}',
        "unknown-key": '{"cpu":1}',
        "not-object": '[1, 2, 3]',
        "bad-utf8": '{"name":"\xff\xfe"}',
        "deep": '{"guest":' + "[" * 12 + "]" * 12 + "}",
        "escapes": '{"guest":"a\\u0000b","name":"\\u00e9t\\u00e9","sched":"rr:slice=\\"1\\""}',
    }
    seeds = {f"text-{k}": RAW + v.encode("utf-8", "surrogateescape") for k, v in texts.items()}
    seeds["gen-typical"] = GENERATED + b"".join([
        config_member("guest", fj_string("hello.bin")), config_member("cpus", fj_int(2)),
        config_member("mem", fj_size(128, "M")), config_member("timeout", fj_seconds(1, 5)),
        config_member("strict", fj_bool(True)), config_member("name", fj_string("vm.a_b-1"))])
    seeds["gen-edges"] = GENERATED + b"".join([
        config_member("cpus", fj_int(0)), config_member("mem", fj_size(4097, "K")),
        config_member("api_sock", fj_string("s" * 31)), config_member("name", fj_string("-x"))])
    return seeds


def request_seeds():
    texts = {
        "status": '{"cmd":"status"}',
        "pause": '{"cmd":"pause"}',
        "stats": '{"cmd":"stats","enable":true}',
        "mem-add": '{"cmd":"mem-add","gpa":"4G","size":"64M","readonly":false,"dirty_log":true}',
        "mem-add-hex": '{"cmd":"mem-add","gpa":"0x100000000","size":67108864}',
        "mem-remove": '{"cmd":"mem-remove","gpa":4294967296}',
        "unknown": '{"cmd":"reboot"}',
        "missing-arg": '{"cmd":"mem-add","gpa":"4G"}',
        "wrong-type": '{"cmd":"stats","enable":1}',
        "no-cmd": '{"enable":true}',
        "not-object": '"status"',
        "long-name": '{"cmd":"' + "x" * 200 + '"}',
    }
    seeds = {f"text-{k}": RAW + v.encode() for k, v in texts.items()}

    def gen(cmd, *args):
        out = GENERATED + bytes([0]) + bytes([CONTROL_COMMANDS.index(cmd)])
        for name, value in args:  # pick: the argument's index, bit 7 for a boolean value
            out += bytes([CONTROL_ARGS.index(name) | (0x80 if value[:1] in (b"\0", b"\1")
                                                       and len(value) == 1 else 0)]) + value
        return out
    seeds["gen-mem-add"] = gen("mem-add", ("gpa", fj_size(4, "G")), ("size", fj_size(64, "M")),
                               ("dirty_log", fj_bool(True)))
    seeds["gen-mem-remove"] = gen("mem-remove", ("gpa", fj_hex(0x100000000)))
    seeds["gen-stats"] = gen("stats", ("enable", fj_bool(False)))
    seeds["gen-status"] = gen("status")
    return seeds


# --- the registries ---------------------------------------------------------------------------

# --- x86_decode and x86_emulate (fuzz/targets/x86_*.c) -------------------------------------

X86_REAL, X86_16, X86_32, X86_64 = range(4)


def x86_decode_seeds():
    code64 = bytes.fromhex(
        "554889e54883ec20897dfc488b45f0c7400812345678f3a4f3480fb8c1"  # prologue, mov, rep, popcnt
        "c5fe6f0062f17e486f4001c4e27d2a008fe878c20000f00fb10b0f0f00b4"  # VEX, EVEX, XOP, 3DNow!
        "660f3a0f0000d9c0dd5c2408f30f1efa0f01d9e8000000004c8d05f8ffffff")
    return {
        "code-64": bytes([X86_64]) + code64,
        "code-64-amd": bytes([X86_64 | 4]) + bytes.fromhex("66e80000") + code64[:32],
        "code-32": bytes([X86_32]) + bytes.fromhex("5589e583ec10c5fe6f008b4508c7042401000000"
                                                   "9a11223344556667a111223344c500"),
        "code-16": bytes([X86_16]) + bytes.fromhex("8b46008b063412b811228ec0678b042544332211"),
        "code-real": bytes([X86_REAL]) + bytes.fromhex("c5fe6f00cd10ea00007c00"),
        "prefixes": bytes([X86_64]) + bytes.fromhex("2626262626262626262626262626268b00f2f30f1000"),
    }


def x86_emu_input(mode, code, regs=None, paging=False, amd=False, seg_kind=0, cpl3=False,
                  avx=False, cr=0, rflags=0x2, pte=(7, 7, 7, 7), fcw=0x37F, fsw=0, ftw=0,
                  st=None, pattern=None, seed=1, patch_at=0x1000, patch=None):
    """Mirrors setup() in fuzz/targets/x86_emulate.c."""
    ctl = mode | (4 if paging else 0) | (8 if amd else 0) | (seg_kind << 4) | (0x40 if cpl3 else 0)
    ctl |= 0x80 if avx else 0
    out = bytes([ctl, cr])
    regs = regs or {}
    for i in range(16):
        v = regs.get(i, 0x1000 + 0x100 * i)
        out += bytes([0]) + le(v, 2) if v < 0x10000 else bytes([0xFF]) + le(v, 8)
    out += le(rflags, 2) + bytes(pte)
    for _ in range(6):
        if seg_kind in (1, 2):
            out += le(0x7FFF, 2)
        elif seg_kind == 3:
            out += le(0, 4) + le(0xFFFFF, 4) + bytes([3, 0])
    out += le(fcw, 2) + le(fsw, 2) + bytes([ftw])
    out += st or bytes(80)
    out += pattern or bytes(range(16))
    out += bytes(8)  # opmask bytes
    out += le(seed, 8) + le(patch_at, 2) + (patch or bytes(range(32)))[:32].ljust(32, b"\0")
    return out + code


def x86_emulate_seeds():
    one = (0x3FFF8000000000000000).to_bytes(10, "little")
    return {
        "mov-store-64": x86_emu_input(X86_64, bytes.fromhex("488918")),
        "add-mem-32": x86_emu_input(X86_32, bytes.fromhex("0118"), rflags=0x8D7),
        "real-bx-si": x86_emu_input(X86_REAL, bytes.fromhex("014002")),
        "rep-movsb": x86_emu_input(X86_64, bytes.fromhex("f3a4"), regs={1: 9, 6: 0x2000, 7: 0x3000}),
        "std-rep-cmpsw": x86_emu_input(X86_32, bytes.fromhex("f3a7"), rflags=0x402,
                                       regs={1: 5, 6: 0x2000, 7: 0x2000}),
        "bts-reg-offset": x86_emu_input(X86_64, bytes.fromhex("480fab18"), regs={3: 0x1234}),
        "lock-cmpxchg": x86_emu_input(X86_64, bytes.fromhex("f0480fb10b"), amd=True),
        "paged-4level": x86_emu_input(X86_64, bytes.fromhex("488b00"), paging=True,
                                      pte=(7, 7, 7, 3)),
        "paged-la57-user": x86_emu_input(X86_64, bytes.fromhex("48890b"), paging=True, cr=0xA0,
                                         cpl3=True, pte=(7, 5, 7, 5)),
        "paged-pae-32": x86_emu_input(X86_32, bytes.fromhex("8918"), paging=True, cr=0x80),
        "paged-32-pse": x86_emu_input(X86_32, bytes.fromhex("8b18"), paging=True),
        "segments-limited": x86_emu_input(X86_32, bytes.fromhex("26891c24"), seg_kind=1),
        "segments-expand-down": x86_emu_input(X86_32, bytes.fromhex("8918"), seg_kind=2,
                                              regs={0: 0x9000}),
        "vmovdqu-ymm": x86_emu_input(X86_64, bytes.fromhex("c5fe7f02"), avx=True),
        "evex-masked": x86_emu_input(X86_64, bytes.fromhex("62f17e497f00"), avx=True),
        "movdir64b": x86_emu_input(X86_64, bytes.fromhex("660f38f801"), regs={0: 0x4000}),
        "fld-m32": x86_emu_input(X86_64, bytes.fromhex("d900"), ftw=0, patch=le(0x3FC00000, 4)),
        "fstp-m64-rounding": x86_emu_input(X86_64, bytes.fromhex("dd18"), fcw=0x0F7F, ftw=0x80,
                                           fsw=7 << 11, st=one * 8),
        "ac-misaligned": x86_emu_input(X86_64, bytes.fromhex("8b4001"), cpl3=True, cr=0x0C),
    }


SEEDS = {
    "uart": uart_seeds,
    "debugexit": debugexit_seeds,
    "machine": machine_seeds,
    "bus": bus_seeds,
    "gmem": gmem_seeds,
    "loader_flat": loader_seeds,
    "loader_bzimage": bzimage_seeds,
    "loader_multiboot": multiboot_seeds,
    "loader_pvh": pvh_seeds,
    "acpi": acpi_seeds,
    "parse": parse_seeds,
    "config_json": config_seeds,
    "control_request": request_seeds,
    "x86_decode": x86_decode_seeds,
    "x86_emulate": x86_emulate_seeds,
    "virtio_net": virtio_net_seeds,
    "virtio_balloon": virtio_balloon_seeds,
    "virtq": virtq_seeds,
    "virtio_mmio": virtio_mmio_seeds,
    "virtio_blk": virtio_blk_seeds,
    "virtio_rng": virtio_rng_seeds,
}

# Tokens the mutator splices in: encoded register writes, suffixes, keywords.
DICTS = {
    "uart": lambda: {
        "lcr_dlab": win(LCR, value=0x80), "lcr_8n1": win(LCR, value=0x03),
        "mcr_loop": win(MCR, value=0x10), "mcr_out": win(MCR, value=0x0B),
        "fcr_fifo": win(FCR, value=0xC7), "thr_nl": win(THR, value=0x0A),
        "read_lsr": win(LSR), "read_rbr": win(RBR), "read_msr": win(MSR),
    },
    "machine": lambda: {
        "com1_lsr": mio(COM1 + LSR), "com1_thr": mio(COM1, value=ord("a")),
        "com1_lcr_dlab": mio(COM1 + LCR, value=0x80), "exit": mio(DEBUG_EXIT, 4, 0),
        "ucall": mio(UCALL, 4, 0x1000), "fwcfg_sig": mio(FWCFG, 2, 0), "fwcfg_data": mio(FWCFG + 1),
        "rtc_b": mio(RTC, value=0x0B), "pm_tmr": mio(PM_TMR, 4), "kbd_cmd": mio(I8042_CMD, value=0xD1),
    },
    "config_json": lambda: json_dict([f'"{k}":' for k in CONFIG_KEYS] + [
        "64M", "2G", "4096", "0.5", "1e9", "/dev/kvm", "anon", "os"]),
    "control_request": lambda: json_dict([f'"{c}"' for c in CONTROL_COMMANDS] + [
        f'"{a}":' for a in CONTROL_ARGS + ["cmd"]] + ['"0x', '"4G"', '"64M"']),
    "loader_bzimage": lambda: {"hdrs": b"HdrS", "boot_flag": b"\x55\xaa", "v2_15": le(0x020F, 2),
                               "v2_06": le(0x0206, 2), "mib": le(0x100000, 4)},
    "loader_multiboot": lambda: {"magic": le(MB_MAGIC, 4), "flags": le(0x10003, 4),
                                 "elf": b"\x7fELF\x01\x01\x01", "mib": le(0x100000, 4)},
    "loader_pvh": lambda: {"xen": b"Xen\0", "note": struct.pack("<III", 4, 4, 18),
                           "elf": b"\x7fELF\x02\x01\x01", "mib": le(0x100000, 4)},
    "parse": lambda: {f"tok{i}": t.encode() for i, t in enumerate(
        ["K", "M", "G", "T", "iB", "B", "i", ".", "e", "e-", "E+", "0x",
         "18446744073709551615", "1000000000", "4294967295"])},
}


def json_dict(extra):
    grammar = ["{", "}", "[", "]", ":", ",", '"', "true", "false", "null", "-", "1e", ".",
               "\\u", "\\ud800", "\\\"", " \n"]
    return {f"j{i}": t.encode() for i, t in enumerate(grammar + extra)}


def dict_text(tokens):
    lines = ["# Generated by fuzz/gen_seeds.py (ci/fuzz --regen-seeds); do not edit."]
    for name, raw in tokens.items():
        body = "".join(chr(b) if 0x20 <= b < 0x7F and chr(b) not in '"\\' else f"\\x{b:02x}"
                       for b in raw)
        lines.append(f'{name}="{body}"')
    return "\n".join(lines) + "\n"


def wanted(targets):
    """{path: bytes} for every seed and dictionary of the given targets."""
    files = {}
    for t in targets:
        for name, data in SEEDS[t]().items():
            files[CORPORA / t / f"seed-{name}"] = data
        if t in DICTS:
            files[DICTS_DIR / f"{t}.dict"] = dict_text(DICTS[t]()).encode()
    return files


def existing(targets):
    found = {}
    for t in targets:
        found.update({p: p.read_bytes() for p in sorted((CORPORA / t).glob("seed-*"))})
        if (DICTS_DIR / f"{t}.dict").exists():
            found[DICTS_DIR / f"{t}.dict"] = (DICTS_DIR / f"{t}.dict").read_bytes()
    return found


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--check", action="store_true",
                    help="change nothing; exit 1 if the checked-in files differ")
    ap.add_argument("targets", nargs="*", help="default: all of " + ", ".join(SEEDS))
    args = ap.parse_args()
    unknown = [t for t in args.targets if t not in SEEDS]
    if unknown:
        sys.exit(f"gen_seeds: no seed description for {', '.join(unknown)}")
    targets = args.targets or list(SEEDS)
    want, have = wanted(targets), existing(targets)
    stale = sorted(str(p.relative_to(ROOT)) for p in set(want) | set(have)
                   if want.get(p) != have.get(p))
    if args.check:
        if stale:
            print("gen_seeds: out of date (run ci/fuzz --regen-seeds):\n  " + "\n  ".join(stale))
            return 1
        print(f"gen_seeds: {len(want)} files up to date")
        return 0
    for p in have:
        if p not in want:
            p.unlink()
    for p, data in want.items():
        p.parent.mkdir(parents=True, exist_ok=True)
        if have.get(p) != data:
            p.write_bytes(data)
    print(f"gen_seeds: wrote {len(want)} files for {len(targets)} targets ({len(stale)} changed)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
