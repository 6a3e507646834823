"""The VMM's sandbox: per-thread seccomp filters (a forbidden call ends the VMM with a report naming
it) and the --jail namespaces (the jailed VMM cannot open a host file it was not given)."""
import os
import re
import signal
import subprocess
import time
from pathlib import Path

import pytest

GREETING = "Hello from a kvmlab guest on 1 vCPU!\n"
SANDBOX_STATUS = 12  # CLI_SANDBOX, vmm/cli/cli.h
SOCKET_NR = 41  # x86-64


def forbidden(kvmlab, kind, *args):
    env = dict(os.environ, KVMLAB_TEST_FORBIDDEN_SYSCALL=kind)
    return kvmlab("run", *args, env=env, timeout=60)


@pytest.mark.kvm
@pytest.mark.parametrize("kind,args", [
    ("vcpu", ()),
    ("main", ()),
    ("main", ("--name", "sbx-main")),  # the control server's thread is a main-kind thread too
    ("io", ("--mem-policy", "uffd")),  # the userfaultfd thread is an I/O thread
])
def test_forbidden_call_ends_the_vmm_with_a_report(kvmlab, guest, kind, args, tmp_path):
    env_dir = {"KVMLAB_RUNTIME_DIR": str(tmp_path)}
    out = kvmlab("run", "--guest", guest("hello"), *args, timeout=60,
                 env=dict(os.environ, KVMLAB_TEST_FORBIDDEN_SYSCALL=kind, **env_dir))
    assert out.returncode == SANDBOX_STATUS, (out.returncode, out.stderr)
    assert (f"kvmlab: seccomp: {kind} thread made forbidden system call socket ({SOCKET_NR})\n"
            in out.stderr), out.stderr


@pytest.mark.kvm
def test_no_seccomp_lets_the_same_call_through(kvmlab, guest):
    """The hook only fires under a filter: with --no-seccomp socket() succeeds, the guest runs."""
    out = kvmlab("run", "--guest", guest("hello"), "--no-seccomp",
                 env=dict(os.environ, KVMLAB_TEST_FORBIDDEN_SYSCALL="vcpu"))
    assert out.returncode == 1, out.stderr
    assert out.stdout == GREETING
    assert "seccomp" not in out.stderr


@pytest.mark.kvm
def test_config_file_can_turn_seccomp_off(kvmlab, guest, tmp_path):
    cfg = tmp_path / "vm.json"
    cfg.write_text(f'{{"guest": "{guest("hello")}", "seccomp": false}}')
    out = kvmlab("run", "--config", cfg,
                 env=dict(os.environ, KVMLAB_TEST_FORBIDDEN_SYSCALL="main"))
    assert out.returncode == 1, out.stderr
    out = kvmlab("run", "--config", cfg, "--seccomp",
                 env=dict(os.environ, KVMLAB_TEST_FORBIDDEN_SYSCALL="main"))
    assert out.returncode == SANDBOX_STATUS, out.stderr


def thread_seccomp_modes(pid):
    modes = {}
    for task in Path(f"/proc/{pid}/task").iterdir():
        try:
            status = (task / "status").read_text()
            comm = (task / "comm").read_text().strip()
        except OSError:
            continue
        mode = re.search(r"^Seccomp:\s+(\d+)", status, re.M)
        filters = re.search(r"^Seccomp_filters:\s+(\d+)", status, re.M)
        modes[int(task.name)] = (comm, int(mode.group(1)), int(filters.group(1)) if filters else -1)
    return modes


@pytest.mark.kvm
@pytest.mark.parametrize("policy", ["anon", "uffd"])
def test_every_thread_of_a_running_vmm_is_filtered(kvmlab_bin, guest, tmp_path, policy):
    """A running VMM with vCPUs, a scheduler tick, a control server, a signal watcher (and a
    uffd thread): /proc shows seccomp mode 2 (filter) on every thread, exactly one filter each
    (no thread relies on a filter inherited from another kind)."""
    env = dict(os.environ, KVMLAB_RUNTIME_DIR=str(tmp_path))
    p = subprocess.Popen([str(kvmlab_bin), "run", "--guest", str(guest("spin")), "--cpus", "2",
                          "--name", "sbx-threads", "--sched", "rr", "--mem-policy", policy,
                          "--timeout", "30"], env=env, stdout=subprocess.DEVNULL,
                         stderr=subprocess.PIPE, text=True)
    try:
        deadline = time.monotonic() + 20
        modes = {}
        while time.monotonic() < deadline:
            modes = thread_seccomp_modes(p.pid)
            # main + 2 vCPUs + tick + control + signals (+ uffd), all confined
            want = 6 + (policy == "uffd")
            if len(modes) >= want and all(m[1] == 2 for m in modes.values()):
                break
            time.sleep(0.1)
        assert len(modes) >= 6 + (policy == "uffd"), modes
        assert all(m[1] == 2 and m[2] == 1 for m in modes.values()), modes
    finally:
        p.send_signal(signal.SIGTERM)
        _, err = p.communicate(timeout=30)
    assert p.returncode == 128 + signal.SIGTERM, err
    assert "seccomp" not in err


# ---- --jail ----

@pytest.mark.kvm
def test_jailed_vmm_cannot_open_a_host_file_it_was_not_given(kvmlab, guest, tmp_path):
    jail = tmp_path / "jail"
    jail.mkdir()
    secret = tmp_path / "host-secret"
    secret.write_text("not for the VMM\n")
    for path, jailed, expect in [(secret, True, "No such file or directory"),
                                 ("/etc/hostname", True, "No such file or directory"),
                                 (guest("hello"), True, "opened"),  # given: it is there
                                 (secret, False, "opened")]:  # the hook can see a success
        args = ("--jail", jail) if jailed else ()
        out = kvmlab("run", "--guest", guest("hello"), *args,
                     env=dict(os.environ, KVMLAB_TEST_OPEN=str(path)))
        assert f"kvmlab: jail test: open {path}: {expect}\n" in out.stderr, out.stderr
        assert out.stdout == GREETING  # the guest still runs
        assert out.returncode == 1, out.stderr
    assert list(jail.iterdir()) == []  # the jail's root was a tmpfs: nothing left behind


def proc_status(pid):
    return dict(line.split(":\t", 1) for line in Path(f"/proc/{pid}/status").read_text()
                .splitlines() if ":\t" in line)


@pytest.mark.kvm
def test_jailed_vmm_runs_in_new_namespaces_without_privileges(kvmlab, kvmlab_bin, guest,
                                                              tmp_path):
    """From outside: the jailed process (the kvmlab process's child) is in other mount, PID and
    network namespaces, has no capability at all, no_new_privs, seccomp on every thread, a
    root with only its files, and its control socket answers `kvmlab ls` from the host."""
    jail = tmp_path / "jail"
    jail.mkdir()
    rt = tmp_path / "rt"
    env = dict(os.environ, KVMLAB_RUNTIME_DIR=str(rt))
    p = subprocess.Popen([str(kvmlab_bin), "run", "--guest", str(guest("spin")), "--jail",
                          str(jail), "--name", "jailed", "--timeout", "30"], env=env,
                         stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
    try:
        deadline = time.monotonic() + 20
        child = None
        while time.monotonic() < deadline and child is None:
            kids = Path(f"/proc/{p.pid}/task/{p.pid}/children").read_text().split()
            if kids and (rt / "jailed.sock").exists():
                child = int(kids[0])
            time.sleep(0.1)
        assert child, "no jailed process appeared"
        time.sleep(0.5)  # let it finish its set-up
        for ns in ("mnt", "pid", "net"):
            assert os.readlink(f"/proc/{child}/ns/{ns}") != os.readlink(f"/proc/self/ns/{ns}"), ns
        st = proc_status(child)
        assert st["NSpid"].split()[-1] == "1"  # PID 1 of its own namespace
        for cap in ("CapInh", "CapPrm", "CapEff", "CapBnd", "CapAmb"):
            assert int(st[cap], 16) == 0, (cap, st[cap])
        assert st["NoNewPrivs"].strip() == "1"
        modes = thread_seccomp_modes(child)
        assert modes and all(m[1] == 2 for m in modes.values()), modes
        root = Path(f"/proc/{child}/root")
        found = sorted(str(f.relative_to(root)) for f in root.rglob("*") if not f.is_dir()
                       and not str(f.relative_to(root)).startswith("proc/"))
        assert found == sorted([str(guest("spin"))[1:], "dev/kvm", "dev/urandom",
                                str(rt / "jailed.sock")[1:]]), found
        ls = subprocess.run([str(kvmlab_bin), "ls"], env=env, capture_output=True, text=True,
                            timeout=30)
        assert re.search(r"^jailed\s+running\s+1\s", ls.stdout, re.M), ls.stdout
    finally:
        p.send_signal(signal.SIGTERM)  # passed on to the jailed run
        _, err = p.communicate(timeout=30)
    assert p.returncode == 128 + signal.SIGTERM, err
    assert "kvmlab: stopped by Terminated" in err


@pytest.mark.kvm
def test_jail_refuses_a_missing_directory(kvmlab, guest, tmp_path):
    out = kvmlab("run", "--guest", guest("hello"), "--jail", tmp_path / "nope")
    assert out.returncode == 4
    assert out.stderr.startswith("kvmlab: --jail: ") and "is not a directory" in out.stderr
    assert len(out.stderr.splitlines()) == 1


@pytest.mark.kvm
def test_jail_works_for_an_unprivileged_user(kvmlab_bin, guest):
    """Not root: the jail adds a user namespace (mapping the user to root inside it, for the
    mounts) and still hides the host. As root, the test drops to nobody in group kvm first."""
    import grp
    import shutil
    import tempfile
    jail = Path(tempfile.mkdtemp(prefix="kvmlab-jail-"))
    try:
        jail.chmod(0o755)
        cmd = [str(kvmlab_bin), "run", "--guest", str(guest("hello")), "--jail", str(jail)]
        if os.geteuid() == 0:
            kvm_gid = grp.getgrnam("kvm").gr_gid if os.stat("/dev/kvm").st_gid != 0 else 0
            cmd = ["setpriv", "--reuid=65534", "--regid=65534", f"--groups={kvm_gid}",
                   "--inh-caps=-all", *cmd]
        out = subprocess.run(cmd, capture_output=True, text=True, timeout=60,
                             env=dict(os.environ, KVMLAB_TEST_OPEN="/etc/hostname"))
        assert "kvmlab: jail test: open /etc/hostname: No such file or directory\n" in out.stderr, \
            out.stderr
        assert out.stdout == GREETING and out.returncode == 1, out.stderr
    finally:
        shutil.rmtree(jail)
