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
    "parse": parse_seeds,
    "config_json": config_seeds,
    "control_request": request_seeds,
    "x86_decode": x86_decode_seeds,
    "x86_emulate": x86_emulate_seeds,
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
