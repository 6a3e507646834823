"""`kvmlab run` end to end: flat guests under real KVM, exit statuses, and bad input."""
import re

import pytest

GREETING = "Hello from a kvmlab guest on 1 vCPU!\n"


@pytest.mark.kvm
def test_hello_prints_greeting_and_exit_status_propagates(kvmlab, guest):
    out = kvmlab("run", "--guest", guest("hello"))
    assert out.stdout == GREETING
    assert out.returncode == 1  # debug-exit 0 -> (0 << 1) | 1
    assert out.stderr == ""


@pytest.mark.kvm
def test_debug_exit_value_becomes_exit_status(kvmlab, guest):
    out = kvmlab("run", "--guest", guest("exitcode"))
    assert out.stdout == "exiting with 42\n"
    assert out.returncode == (42 << 1) | 1


@pytest.mark.kvm
def test_hello_on_four_vcpus(kvmlab, guest):
    out = kvmlab("run", "--guest", guest("hello"), "--cpus", "4", "--mem", "128M")
    assert out.stdout == "Hello from a kvmlab guest on 4 vCPUs!\n"
    assert out.returncode == 1


@pytest.mark.kvm
def test_stats_flag_prints_a_closing_summary(kvmlab, guest):
    """--stats ends with one line: KVM's own exit count (every exit, also those the kernel
    finishes) and the exits that reached kvmlab, by reason. hello's greeting is one OUT per
    byte to COM1 plus the debug-exit."""
    out = kvmlab("run", "--guest", guest("hello"), "--stats")
    assert out.returncode == 1
    m = re.search(r"kvmlab: stats: ran ([0-9.]+) s on 1 vCPU; (\d+) exits in all \(KVM's count\), "
                  r"(\d+) to kvmlab: IO (\d+)$", out.stderr.strip())
    assert m, out.stderr
    kvm_all, to_vmm, io = map(int, m.group(2, 3, 4))
    assert io == to_vmm >= len(GREETING) + 1
    assert kvm_all >= to_vmm


@pytest.mark.kvm
def test_triple_fault_is_reported_as_shutdown(kvmlab, guest):
    out = kvmlab("run", "--guest", guest("triplefault"), "--timeout", "60")
    assert out.stdout == "about to triple-fault\n"
    assert out.returncode == 6, out.stderr
    assert "shutdown" in out.stderr and "triple fault" in out.stderr
    assert len(out.stderr.strip().splitlines()) == 1


@pytest.mark.kvm
def test_halted_guest_is_stopped_by_timeout(kvmlab, guest):
    out = kvmlab("run", "--guest", guest("halt"), "--timeout", "1")
    assert out.stdout == "halting with interrupts off\n"
    assert out.returncode == 124
    assert out.stderr.startswith("kvmlab: timeout: guest still running after 1 s")


@pytest.mark.kvm
def test_halt_without_irqchip_stops_cleanly(kvmlab, guest):
    out = kvmlab("run", "--guest", guest("halt"), "--no-irqchip", "--timeout", "60")
    assert out.returncode == 0, out.stderr
    assert "halted" in out.stderr


@pytest.mark.kvm
def test_unclaimed_port_and_mmio_read_all_ones(kvmlab, guest):
    out = kvmlab("run", "--guest", guest("ports"))
    assert out.stdout == "port=0xffffffff mmio=0xffffffff\n"
    assert out.returncode == 1


@pytest.mark.kvm
def test_strict_mode_makes_unclaimed_access_fatal(kvmlab, guest):
    out = kvmlab("run", "--guest", guest("ports"), "--strict")
    assert out.returncode == 8
    assert "strict mode: unclaimed pio read of 4 bytes at 0x5f0" in out.stderr


@pytest.mark.kvm
def test_missing_capability_is_named(kvmlab, guest):
    out = kvmlab("run", "--guest", guest("hello"), env={"KVMLAB_EXTRA_CAPS": "999999"})
    assert out.returncode == 4
    assert out.stderr == "kvmlab: KVM lacks capability number 999999, which kvmlab needs\n"


@pytest.mark.kvm
def test_too_many_vcpus_is_refused(kvmlab, guest, kvm_facts):
    out = kvmlab("run", "--guest", guest("hello"), "--cpus", "256")
    if int(kvm_facts["max_vcpus"]) >= 256:
        assert out.returncode == 1
    else:
        assert out.returncode == 4
        assert "vCPUs requested" in out.stderr


# Bad input that is refused before KVM is touched: these run on any host.

def test_missing_kvm_device(kvmlab, guest):
    out = kvmlab("run", "--guest", guest("hello"), "--kvm-device", "/nonexistent/kvm")
    assert out.returncode == 4
    assert out.stderr.startswith("kvmlab: /nonexistent/kvm does not exist: this host has no KVM")
    assert len(out.stderr.splitlines()) == 1


def test_device_that_is_not_kvm(kvmlab, guest):
    out = kvmlab("run", "--guest", guest("hello"), "--kvm-device", "/dev/null")
    assert out.returncode == 4
    assert out.stderr == ("kvmlab: KVM_GET_API_VERSION failed on /dev/null: "
                          "Inappropriate ioctl for device\n")


def test_missing_guest_image(kvmlab):
    out = kvmlab("run", "--guest", "/nonexistent/guest.bin")
    assert out.returncode == 2
    assert out.stderr == ("kvmlab: cannot open guest image /nonexistent/guest.bin: "
                          "No such file or directory\n")


def test_oversized_guest_image(kvmlab, tmp_path):
    image = tmp_path / "big.bin"
    image.write_bytes(b"\x90" * (4 << 20))
    out = kvmlab("run", "--guest", image, "--mem", "4M")
    assert out.returncode == 2
    assert "does not fit in guest RAM" in out.stderr
    assert len(out.stderr.splitlines()) == 1


def test_empty_guest_image(kvmlab, tmp_path):
    image = tmp_path / "empty.bin"
    image.write_bytes(b"")
    out = kvmlab("run", "--guest", image)
    assert out.returncode == 2
    assert out.stderr == f"kvmlab: guest image {image} is empty\n"


@pytest.mark.parametrize("args, message", [
    ([], "no guest given"),
    (["--guest", "x", "--mem", "12Q"], "--mem: '12Q' has an unknown suffix"),
    (["--guest", "x", "--mem", "1M"], "--mem: must be a multiple of 4 KiB and at least 2M"),
    (["--guest", "x", "--cpus", "0"], "--cpus: 0 is out of range"),
    (["--guest", "x", "--timeout", "soon"], "--timeout: 'soon' is not a number of seconds"),
    (["--guest", "x", "--bogus"], "unknown or incomplete option '--bogus'"),
    (["--guest"], "unknown or incomplete option '--guest'"),
    (["--guest", "x", "extra"], "unexpected argument 'extra'"),
])
def test_bad_options_get_one_line_errors(kvmlab, args, message):
    out = kvmlab("run", *args)
    assert out.returncode == 2
    assert out.stderr.startswith("kvmlab: ") and message in out.stderr, out.stderr
    assert len(out.stderr.splitlines()) == 1


def test_unknown_command(kvmlab):
    out = kvmlab("frobnicate")
    assert out.returncode == 2
    assert out.stderr == "kvmlab: unknown command 'frobnicate' (see 'kvmlab --help')\n"


# Guest test results through ucall: DONE, ASSERT with file/line/values, and the first fault.

@pytest.mark.kvm
def test_ucall_done_is_success(kvmlab, guest):
    out = kvmlab("run", "--guest", guest("done"))
    assert out.returncode == 0, out.stderr
    assert out.stderr == ("guest: all stages reached\n"
                          "kvmlab: guest-done: guest test done on CPU 0\n")


@pytest.mark.kvm
def test_ucall_assert_names_file_line_and_values(kvmlab, guest):
    out = kvmlab("run", "--guest", guest("assert"), "--cpus", "3")
    assert out.returncode == 10
    assert out.stderr == ("kvmlab: guest-assert: guest ASSERT on CPU 0 at guests/assert.c:6: "
                          "ncpus + 1 == 3 (0x4, 0x3)\n")


@pytest.mark.kvm
def test_first_guest_fault_is_reported(kvmlab, guest):
    out = kvmlab("run", "--guest", guest("fault"))
    assert out.stdout == "touching unmapped memory\n"
    assert out.returncode == 10
    assert out.stderr.startswith("kvmlab: guest-assert: guest FAULT on CPU 0: #PF (vector 14)")
    assert out.stderr.rstrip().endswith("CR2 0x200000000")
