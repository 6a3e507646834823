"""`kvmlab run --config FILE`: every flag has a JSON key, flags override the file, bad files are named."""
import json
import os
import shutil
import tempfile
from pathlib import Path

import pytest

from test_control import Vm


def write_config(tmp_path, settings, name="vm.json"):
    path = tmp_path / name
    path.write_text(settings if isinstance(settings, str) else json.dumps(settings))
    return path


@pytest.fixture
def sock_dir():
    """Sockets go under XDG_RUNTIME_DIR when set (kvmbox's tmpfs; its 9p root cannot hold
    them), else /tmp: short paths, as sun_path holds 108 bytes."""
    path = Path(tempfile.mkdtemp(prefix="kvmlab-c", dir=os.environ.get("XDG_RUNTIME_DIR")))
    yield path
    shutil.rmtree(path, ignore_errors=True)


@pytest.mark.kvm
def test_hello_from_a_config_file(kvmlab, guest, tmp_path):
    cfg = write_config(tmp_path, {"guest": str(guest("hello")), "cpus": 2, "mem": "128M"})
    out = kvmlab("run", "--config", cfg)
    assert out.stdout == "Hello from a kvmlab guest on 2 vCPUs!\n"
    assert out.returncode == 1, out.stderr


@pytest.mark.kvm
def test_flags_override_the_file(kvmlab, guest, tmp_path):
    cfg = write_config(tmp_path, {"guest": "/nonexistent.bin", "cpus": 2})
    out = kvmlab("run", "--config", cfg, "--cpus", "3", "--guest", guest("hello"))
    assert out.stdout == "Hello from a kvmlab guest on 3 vCPUs!\n"
    assert out.returncode == 1, out.stderr


@pytest.mark.kvm
def test_relative_guest_path_is_taken_from_the_config_directory(kvmlab, guest, tmp_path):
    (tmp_path / "guests").mkdir()
    shutil.copy(guest("hello"), tmp_path / "guests" / "hi.bin")
    cfg = write_config(tmp_path, {"guest": "guests/hi.bin"})
    out = kvmlab("run", "--config", cfg, cwd="/")
    assert out.stdout == "Hello from a kvmlab guest on 1 vCPU!\n"


@pytest.mark.kvm
def test_every_setting_of_a_running_vm_from_the_file(kvmlab_bin, guest, tmp_path, sock_dir):
    sock = sock_dir / "cfg.sock"
    cfg = write_config(tmp_path, {
        "guest": str(guest("spin")), "cpus": 2, "mem": 100 << 20, "mem_policy": "anon",
        "sched": "os", "name": "cfgvm", "api_sock": str(sock), "timeout": 0, "strict": True,
        "irqchip": True, "keep_virt": False, "stats": True, "kvm_device": "/dev/kvm"})
    vm = Vm(kvmlab_bin, ["--config", cfg], sock)
    try:
        st = vm.call("status")
        assert (st["name"], st["vcpus"], st["memory"], st["mem_policy"], st["stats"]) == (
            "cfgvm", 2, 100 << 20, "anon", True)
        vm.wait_output("spinning on 2 vCPUs\n")
        assert vm.call("stop")["ok"] is True
        rc, out, err = vm.wait()
        assert rc == 0, err  # strict, yet running: the guest's port writes are all claimed
        assert out == "spinning on 2 vCPUs\n"
        assert not sock.exists()
    finally:
        vm.kill()


@pytest.mark.kvm
@pytest.mark.parametrize("guest_name, settings, flags, status", [
    ("ports", {"strict": True}, [], 8),
    ("ports", {"strict": True}, ["--no-strict"], 1),
    ("halt", {"irqchip": False, "timeout": 60}, [], 0),
    ("halt", {"timeout": 0.5}, [], 124),
    ("halt", {"timeout": 0.5}, ["--no-irqchip"], 0),
])
def test_boolean_and_timeout_settings(kvmlab, guest, tmp_path, guest_name, settings, flags,
                                      status):
    cfg = write_config(tmp_path, {"guest": str(guest(guest_name)), **settings})
    out = kvmlab("run", "--config", cfg, *flags)
    assert out.returncode == status, out.stderr


# Bad configs are refused before KVM is touched: these run on any host.

@pytest.mark.parametrize("settings, message", [
    ({"guest": "g", "cpus": "four"}, '"cpus": expected an integer from 1 to 256, got "four"'),
    ({"guest": "g", "cpus": 0}, '"cpus": expected an integer from 1 to 256, got 0'),
    ({"guest": "g", "mem": "lots"}, '"mem": expected a size like "512M"'),
    ({"guest": "g", "mem": "1M"}, '"mem": must be a multiple of 4 KiB and at least 2M'),
    ({"guest": "g", "timeout": "soon"}, '"timeout": expected a number of seconds'),
    ({"guest": "g", "strict": "yes"}, '"strict": expected true or false, got "yes"'),
    ({"guest": "g", "irqchip": 0}, '"irqchip": expected true or false, got 0'),
    ({"guest": "g", "keep_virt": None}, '"keep_virt": expected true or false, got null'),
    ({"guest": "g", "stats": [True]}, '"stats": expected true or false'),
    ({"guest": 7}, '"guest": expected a string, got 7'),
    ({"guest": "g", "name": "no spaces"}, '"name": \'no spaces\' may hold only letters'),
    ({"guest": "g", "api_sock": "/" + "x" * 120}, '"api_sock": '),
    ({"guest": "g", "mem_policy": ""}, '"mem_policy": must not be empty'),
    ({"guest": "g", "sched": 1}, '"sched": expected a string'),
    ({"guest": "g", "kvm_device": ""}, '"kvm_device": must not be empty'),
    ({"guest": "g", "vcpus": 2}, 'unknown field "vcpus" (known: guest, cpus, mem,'),
    ({"cpus": 2}, "no guest given"),
    ([1, 2], "expected a JSON object of settings, got [1,2]"),
    ('{"guest": "g",\n "cpus": 2,,}', "invalid JSON at line 2, column 12"),
    ('{"guest": "g"', "invalid JSON: the text ends in the middle of a value"),
    ("", "invalid JSON: the text is empty"),
])
def test_bad_configs_get_one_line_errors_naming_the_field(kvmlab, tmp_path, settings, message):
    cfg = write_config(tmp_path, settings)
    out = kvmlab("run", "--config", cfg)
    assert out.returncode == 2
    assert out.stderr.startswith(f"kvmlab: config {cfg}: ") or message == "no guest given"
    assert message in out.stderr, out.stderr
    assert len(out.stderr.splitlines()) == 1


def test_missing_config_file(kvmlab, tmp_path):
    out = kvmlab("run", "--config", tmp_path / "none.json")
    assert out.returncode == 2
    assert out.stderr == (f"kvmlab: config {tmp_path}/none.json: cannot open: "
                          "No such file or directory\n")


def test_config_that_is_a_directory(kvmlab, tmp_path):
    out = kvmlab("run", "--config", tmp_path)
    assert out.returncode == 2
    assert out.stderr == f"kvmlab: config {tmp_path}: not a regular file\n"


def test_bad_flag_is_reported_even_with_a_good_file(kvmlab, guest, tmp_path):
    cfg = write_config(tmp_path, {"guest": str(guest("hello"))})
    out = kvmlab("run", "--config", cfg, "--name", "../escape")
    assert out.returncode == 2
    assert out.stderr == "kvmlab: --name: '../escape' must start with a letter or digit\n"


def test_help_lists_every_flag_with_its_negation(kvmlab):
    out = kvmlab("run", "--help")
    assert out.returncode == 0
    for flag in ("--config FILE", "--guest FILE", "--cpus N", "--mem SIZE", "--mem-policy SPEC",
                 "--name NAME", "--api-sock PATH", "--timeout S", "--strict, --no-strict",
                 "--irqchip, --no-irqchip", "--keep-virt, --no-keep-virt", "--stats, --no-stats",
                 "--kvm-device PATH"):
        assert flag in out.stdout
