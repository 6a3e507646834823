# Tests of harness/kvmbox: boots the box a few times (each boot checks many things) plus quick failure-path checks.
import json
import os
import random
import shutil
import stat
import subprocess
import sys
from pathlib import Path

import pytest

KVMBOX = Path(__file__).resolve().parents[1] / "kvmbox"
PYTHON = "/usr/bin/python3"
BOOT_TIMEOUT_S = 300
BLOB_SIZE = 1 << 20

# Written into the box's working directory and run there; reports what it saw in report.json.
PROBE = r'''
import fcntl, json, os, random, socket, sys
report = {"argv": [os.fsencode(a).hex() for a in sys.argv[1:]],
          "env": {k: v for k, v in os.environ.items()},
          "cwd": os.getcwd()}
kvm = os.open("/dev/kvm", os.O_RDWR)
report["kvm_api"] = fcntl.ioctl(kvm, 0xAE00)  # KVM_GET_API_VERSION
report["kvm_mode"] = oct(os.stat("/dev/kvm").st_mode & 0o777)
sock = socket.socket(socket.AF_UNIX)
sock.bind(os.path.join(os.environ["XDG_RUNTIME_DIR"], "probe.sock"))
report["socket"] = "ok"
with open("/dev/kmsg", "w") as kmsg:
    kmsg.write("<0>kvmbox-test-kernel-noise\n")
with open("report.json", "w") as f:
    json.dump(report, f)
rng = random.Random(int(sys.argv[1]))
sys.stdout.buffer.write(rng.randbytes(BLOB_SIZE))
sys.stdout.flush()
sys.stderr.buffer.write(rng.randbytes(BLOB_SIZE) + b"no newline at the end")
sys.stderr.flush()
sys.exit(7)
'''.replace("BLOB_SIZE", str(BLOB_SIZE))

ODD_ARGS = ["with space", "quote'single", 'quote"double', "new\nline", "tab\tx", "", "*", "$HOME `id` \\",
            "ünïcödé ✓", os.fsdecode(b"raw\xff\x81\x88bytes"), "-n", "--", "a=b"]
LONG_ARGS = [f"{i:04d}" + "x" * 1000 for i in range(10)]


def expected_blobs(seed):
    rng = random.Random(seed)
    return rng.randbytes(BLOB_SIZE), rng.randbytes(BLOB_SIZE) + b"no newline at the end"


def kvmbox(*args, env=None, cwd=None):
    """Run kvmbox with bytes output; env entries are added to the current environment (None removes)."""
    full_env = dict(os.environ)
    for name, value in (env or {}).items():
        if value is None:
            full_env.pop(name, None)
        else:
            full_env[name] = value
    return subprocess.run([str(KVMBOX), *args], capture_output=True, env=full_env, cwd=cwd,
                          timeout=BOOT_TIMEOUT_S)


def cache_files(cache):
    return {p.name: p.stat().st_mtime_ns for p in cache.iterdir() if not p.name.startswith(".")}


@pytest.fixture(scope="module")
def cache(tmp_path_factory):
    """A private cache (the uncompressed kernel in it is ~65 MB, so it is removed afterwards)."""
    path = tmp_path_factory.mktemp("kvmbox-cache")
    yield path
    shutil.rmtree(path, ignore_errors=True)


@pytest.fixture(scope="module")
def big_run(cache, tmp_path_factory):
    """One cold-cache boot: odd/long argv, env, cwd, KVM, socket, file output, 1 MiB blobs on both streams."""
    work = tmp_path_factory.mktemp("work")
    (work / "probe.py").write_text(PROBE)
    log = work / "console.log"
    seed = "1234"
    env = {"KVMBOX_CACHE_DIR": str(cache), "KVMLAB_VALUE": "kvmlab value", "KVMBOX_VALUE": "box value",
           "CI_VALUE": "ci", "UNLISTED_VALUE": "must not pass", "PASSED_BY_NAME": "by name",
           "PYTHONDONTWRITEBYTECODE": "1"}
    result = kvmbox("--force", "--keep-log", str(log), "--env", "PASSED_BY_NAME",
                    "--env", "SET_HERE=x=y z\nnext", "--", PYTHON, "probe.py", seed, *ODD_ARGS, *LONG_ARGS,
                    env=env, cwd=work)
    report_file = work / "report.json"
    report = json.loads(report_file.read_text()) if report_file.exists() else None
    return {"result": result, "report": report, "work": work, "log": log.read_bytes(), "seed": seed,
            "cache": cache_files(cache)}


def report_of(run):
    assert run["report"] is not None, run["result"].stderr[-2000:].decode(errors="replace")
    return run["report"]


@pytest.mark.box
def test_exit_status_propagates(big_run):
    assert big_run["result"].returncode == 7, big_run["result"].stderr[-2000:]


@pytest.mark.box
def test_streams_are_separate_and_byte_exact(big_run):
    out, err = expected_blobs(int(big_run["seed"]))
    assert big_run["result"].stdout == out
    assert big_run["result"].stderr == err


@pytest.mark.box
def test_kernel_messages_go_to_the_log_only(big_run):
    assert b"kvmbox-test-kernel-noise" in big_run["log"]
    for stream in (big_run["result"].stdout, big_run["result"].stderr):
        assert b"kvmbox-test-kernel-noise" not in stream
        assert b"Linux version" not in stream


@pytest.mark.box
def test_cwd_is_kept(big_run):
    assert report_of(big_run)["cwd"] == str(big_run["work"])


@pytest.mark.box
def test_long_odd_argv_arrives_exactly(big_run):
    args = [big_run["seed"], *ODD_ARGS, *LONG_ARGS]
    assert sum(len(a) for a in args) > 8192
    assert report_of(big_run)["argv"] == [os.fsencode(a).hex() for a in args]


@pytest.mark.box
def test_environment_passthrough(big_run):
    env = report_of(big_run)["env"]
    assert env["KVMBOX"] == "1"
    assert env["KVMLAB_VALUE"] == "kvmlab value"
    assert env["KVMBOX_VALUE"] == "box value"
    assert env["CI_VALUE"] == "ci"
    assert env["PASSED_BY_NAME"] == "by name"
    assert env["SET_HERE"] == "x=y z\nnext"
    assert env["PYTHONDONTWRITEBYTECODE"] == "1"
    assert env["PATH"] == os.environ["PATH"]
    assert env["HOME"] == os.environ["HOME"]
    assert "UNLISTED_VALUE" not in env
    assert env["XDG_RUNTIME_DIR"].startswith("/run/")
    assert env["KVMBOX_RUNTIME_DIR"].startswith("/run/")
    assert env["TMPDIR"].startswith("/run/")


@pytest.mark.box
def test_kvm_works_inside(big_run):
    report = report_of(big_run)
    assert report["kvm_api"] == 12
    assert report["kvm_mode"] == "0o666"


@pytest.mark.box
def test_unix_socket_in_runtime_dir_and_files_reach_host(big_run):
    # report.json was written inside the box; reading it here proves the file reached the host.
    assert report_of(big_run)["socket"] == "ok"


@pytest.mark.box
def test_cache_is_built(big_run):
    names = big_run["cache"]
    assert any(n.startswith("initramfs-") and n.endswith(".cpio.gz") for n in names), names


@pytest.fixture(scope="module")
def warm_run(big_run, cache):
    """Second boot on the same cache, forced by KVMBOX_FORCE=1: hugepages, small VM, death by SIGKILL."""
    script = ("cat /proc/sys/vm/nr_hugepages; nproc; grep -c ' /dev/hugepages hugetlbfs ' /proc/mounts;"
              " kill -KILL $$")
    result = kvmbox("--hugepages", "4", "--cpus", "1", "--mem", "1G", "--", "sh", "-c", script,
                    env={"KVMBOX_CACHE_DIR": str(cache), "KVMBOX_FORCE": "1"})
    return {"result": result, "cache": cache_files(cache)}


@pytest.mark.box
def test_signal_death_gives_128_plus_signo(warm_run):
    assert warm_run["result"].returncode == 128 + 9, warm_run["result"].stderr
    assert warm_run["result"].stderr == b""


@pytest.mark.box
def test_hugepages_cpus_and_mem(warm_run):
    assert warm_run["result"].stdout == b"4\n1\n1\n"


@pytest.mark.box
def test_cache_is_reused(big_run, warm_run):
    assert warm_run["cache"] == big_run["cache"]


def installed_kernel():
    """A /boot kernel whose modules are installed (the copy's modules are found by its version)."""
    return next(p for p in sorted(Path("/boot").glob("vmlinuz-*"))
                if (Path("/lib/modules") / p.name[len("vmlinuz-"):]).is_dir())


@pytest.fixture(scope="module")
def changed_kernel_run(warm_run, cache, tmp_path_factory):
    """Third boot with a copy of the kernel (new mtime, so a new cache key), killed by --timeout."""
    kernel_copy = tmp_path_factory.mktemp("kernel") / "vmlinuz-copy"
    shutil.copyfile(installed_kernel(), kernel_copy)
    os.utime(kernel_copy, ns=(1, 1))
    result = kvmbox("--force", "--timeout", "3", "--", "sleep", "600",
                    env={"KVMBOX_CACHE_DIR": str(cache), "KVMBOX_KERNEL": str(kernel_copy)})
    return {"result": result, "cache": cache_files(cache)}


@pytest.mark.box
def test_timeout_kills_the_box(changed_kernel_run):
    result = changed_kernel_run["result"]
    assert result.returncode == 124
    assert result.stderr.decode().splitlines()[-1] == "kvmbox: timed out after 3 s running sleep 600"


@pytest.mark.box
def test_cache_is_rebuilt_when_the_kernel_changes(warm_run, changed_kernel_run):
    before = {n for n in warm_run["cache"] if n.startswith("initramfs-")}
    after = {n for n in changed_kernel_run["cache"] if n.startswith("initramfs-")}
    assert before < after and len(after) == len(before) + 1
    for name in before:
        assert changed_kernel_run["cache"][name] == warm_run["cache"][name]


@pytest.fixture
def fake_qemu_without_svm(tmp_path):
    """A QEMU wrapper whose CPU lacks SVM, so kvm_amd cannot load in the box."""
    wrapper = tmp_path / "qemu-no-svm"
    real = shutil.which("qemu-system-x86_64") or "/usr/bin/qemu-system-x86_64"
    wrapper.write_text(f"#!/bin/sh\nfor a; do shift; [ \"$a\" = max ] && a=max,-svm; set -- \"$@\" \"$a\"; done\n"
                       f"exec {real} \"$@\"\n")
    wrapper.chmod(wrapper.stat().st_mode | stat.S_IXUSR)
    return wrapper


@pytest.mark.box
def test_kvm_missing_in_box_is_a_box_error(cache, fake_qemu_without_svm, tmp_path):
    log = tmp_path / "kept.log"
    result = kvmbox("--force", "--keep-log", str(log), "--", "true",
                    env={"KVMBOX_CACHE_DIR": str(cache), "KVMBOX_QEMU": str(fake_qemu_without_svm),
                         "TMPDIR": str(tmp_path)})  # the failed box's job dir (with its log) is kept there
    lines = result.stderr.decode().splitlines()
    assert result.returncode == 125
    assert lines[0].startswith("kvmbox: cannot load required module kvm_amd"), lines
    assert "svm" in lines[0].lower(), lines  # the kernel's reason is part of the one-line error
    assert Path(lines[0].split("(log: ")[1].rstrip(")")).read_bytes() == log.read_bytes()
    assert len(lines) > 1 and all(line.startswith("kvmbox:   | ") for line in lines[1:]), lines


@pytest.mark.box
def test_closed_stdout_stops_the_box(warm_run, cache):
    env = dict(os.environ, KVMBOX_CACHE_DIR=str(cache))
    proc = subprocess.Popen([str(KVMBOX), "--force", "--", "yes"], stdout=subprocess.PIPE, env=env)
    assert proc.stdout.read(4) == b"y\ny\n"
    proc.stdout.close()  # like `kvmbox -- yes | head -2`: the box must not run on until the timeout
    assert proc.wait(timeout=BOOT_TIMEOUT_S) == 128 + 13


def one_line_error(result):
    lines = result.stderr.decode().splitlines()
    assert result.returncode == 125, result.stderr
    assert len(lines) == 1 and lines[0].startswith("kvmbox: "), lines
    return lines[0]


def test_missing_qemu_from_override():
    assert "QEMU not found" in one_line_error(kvmbox("--force", "--", "true", env={"KVMBOX_QEMU": "/nonexistent"}))


def test_missing_qemu_on_path(tmp_path):
    result = kvmbox("--force", "--", "true", env={"PATH": str(tmp_path), "KVMBOX_QEMU": None})
    assert "QEMU not found" in one_line_error(result)


def test_missing_kernel():
    assert "kernel not found" in one_line_error(kvmbox("--force", "--", "true",
                                                       env={"KVMBOX_KERNEL": "/nonexistent"}))


def test_missing_modules():
    result = kvmbox("--force", "--", "true", env={"KVMBOX_MODULES": "/nonexistent"})
    assert "kernel modules missing" in one_line_error(result)


def test_usage_error():
    assert "no command given" in one_line_error(kvmbox("--force"))


def host_kvm_usable():
    try:
        os.close(os.open("/dev/kvm", os.O_RDWR))
        return True
    except OSError:
        return False


@pytest.mark.skipif(not host_kvm_usable(), reason="host has no usable /dev/kvm: kvmbox always boots the box")
def test_runs_directly_on_a_kvm_host():
    result = kvmbox("--", "sh", "-c", 'echo "KVMBOX=$KVMBOX"; exit 3', env={"KVMBOX_FORCE": None, "KVMBOX": None})
    assert (result.returncode, result.stdout) == (3, b"KVMBOX=\n")


if __name__ == "__main__":
    sys.exit(pytest.main([__file__, "-v"]))
