"""The control API end to end: a spinning guest driven over its Unix socket, `kvmlab ctl` and `ls`."""
import json
import os
import select
import shutil
import signal
import socket
import subprocess
import tempfile
import time
from pathlib import Path

import pytest

WAIT_S = 60  # bound for every wait: generous for nested TCG, never reached when things work


def wait_until(cond, what, timeout=WAIT_S, interval=0.02):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = cond()
        if value:
            return value
        time.sleep(interval)
    raise AssertionError(f"timed out after {timeout} s waiting for {what}")


@pytest.fixture
def runtime_dir(monkeypatch):
    """A private KVMLAB_RUNTIME_DIR: under XDG_RUNTIME_DIR when set (a tmpfs in kvmbox,
    where the 9p root cannot hold sockets), else under /tmp (short: sun_path is 108 bytes)."""
    path = Path(tempfile.mkdtemp(prefix="kvmlab-t", dir=os.environ.get("XDG_RUNTIME_DIR")))
    monkeypatch.setenv("KVMLAB_RUNTIME_DIR", str(path))
    yield path
    shutil.rmtree(path, ignore_errors=True)


class Client:
    """One connection to a VM's control socket: send lines, read reply lines."""

    def __init__(self, path, timeout=WAIT_S):
        self.sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        self.sock.settimeout(timeout)
        # With a timeout the socket is non-blocking, so a full listen backlog gives
        # EAGAIN instead of a wait: retry, as a blocking connect would.
        wait_until(lambda: self._connect(path), "a free place in the listen backlog")
        self.buf = b""

    def _connect(self, path):
        try:
            self.sock.connect(str(path))
            return True
        except BlockingIOError:
            return False

    def send(self, data):
        self.sock.sendall(data if isinstance(data, bytes) else data.encode())

    def reply(self):
        while b"\n" not in self.buf:
            chunk = self.sock.recv(65536)
            assert chunk, "the server closed the connection without a reply"
            self.buf += chunk
        line, self.buf = self.buf.split(b"\n", 1)
        return json.loads(line.decode("utf-8"))

    def call(self, cmd, **args):
        self.send(json.dumps({"cmd": cmd, **args}) + "\n")
        return self.reply()

    def close(self):
        self.sock.close()


class Vm:
    """`kvmlab run` as a subprocess with a control socket."""

    def __init__(self, kvmlab_bin, args, sock):
        self.sock = Path(sock)
        self.out = b""
        self.proc = subprocess.Popen([str(kvmlab_bin), "run", *map(str, args)],
                                     stdout=subprocess.PIPE, stderr=subprocess.PIPE)
        wait_until(lambda: self.sock.exists() or self.proc.poll() is not None, "the socket")
        assert self.proc.poll() is None, f"kvmlab exited early: {self.proc.communicate()}"

    def call(self, cmd, **args):
        c = Client(self.sock)
        try:
            return c.call(cmd, **args)
        finally:
            c.close()

    def wait_output(self, text, timeout=WAIT_S):
        """Reads the guest's console until text has appeared (the guest got that far)."""
        deadline = time.monotonic() + timeout
        while text.encode() not in self.out:
            left = deadline - time.monotonic()
            assert left > 0 and self.proc.poll() is None, f"no {text!r} in {self.out!r}"
            if select.select([self.proc.stdout], [], [], left)[0]:
                self.out += os.read(self.proc.stdout.fileno(), 4096)

    def wait(self):
        out, err = self.proc.communicate(timeout=WAIT_S)
        return self.proc.returncode, (self.out + out).decode(), err.decode()

    def kill(self):
        if self.proc.poll() is None:
            self.proc.kill()
            self.proc.communicate()


@pytest.fixture
def start_vm(kvmlab_bin, guest, runtime_dir):
    """start_vm(*args, name='spin') -> Vm running guests/spin.c, socket in the runtime dir."""
    vms = []

    def start(*args, name="spin", guest_name="spin"):
        vm = Vm(kvmlab_bin, ["--guest", guest(guest_name), "--name", name, *args],
                runtime_dir / f"{name}.sock")
        vms.append(vm)
        return vm

    yield start
    for vm in vms:
        vm.kill()


def io_exits(stats):
    return stats["exits"].get("IO", {}).get("count", 0)


@pytest.mark.kvm
def test_status_reports_a_running_vm(start_vm):
    vm = start_vm("--cpus", "2", "--mem", "96M")
    st = vm.call("status")
    assert st["ok"] is True
    assert st["state"] == "running"
    assert st["name"] == "spin"
    assert st["vcpus"] == 2
    assert st["memory"] == 96 << 20
    assert st["pid"] == vm.proc.pid
    assert st["uptime"] >= 0 and st["exits"] >= 0
    assert st["stats"] is False


@pytest.mark.kvm
def test_pause_stops_progress_and_resume_restarts_it(start_vm):
    vm = start_vm("--cpus", "2", "--stats")
    wait_until(lambda: io_exits(vm.call("stats")) > 0, "the guest's first port writes")
    assert vm.call("pause") == {"ok": True, "state": "paused"}
    assert vm.call("status")["state"] == "paused"
    before, exits_before = io_exits(vm.call("stats")), vm.call("status")["exits"]
    time.sleep(0.3)  # a running guest writes its port many times in this while
    assert io_exits(vm.call("stats")) == before
    assert vm.call("status")["exits"] == exits_before
    assert vm.call("resume") == {"ok": True, "state": "running"}
    wait_until(lambda: io_exits(vm.call("stats")) > before, "progress after resume")
    assert vm.call("status")["exits"] > exits_before


@pytest.mark.kvm
def test_stats_counts_per_reason_and_port_and_can_be_switched(start_vm):
    vm = start_vm()
    assert vm.call("status")["stats"] is False
    first = vm.call("stats", enable=True)
    assert first["ok"] is True and first["enabled"] is True

    def scratch_counted():
        stats = vm.call("stats")
        scratch = [p for p in stats["pio"] if p["addr"] == 0x3ff]
        return stats if scratch and scratch[0]["count"] > 10 else None

    # The guest may still be printing its banner (ports 0x3f8/0x3fd) when statistics start.
    grown = wait_until(scratch_counted, "exits to the scratch register to be counted")
    scratch = [p for p in grown["pio"] if p["addr"] == 0x3ff]
    assert scratch[0]["name"] == "com1"
    io = grown["exits"]["IO"]
    assert sum(io["hist"]) == io["count"] and io["total_ns"] > 0
    assert vm.call("status")["stats"] is True
    off = vm.call("stats", enable=False)
    assert off["ok"] is True and off["enabled"] is False


@pytest.mark.kvm
def test_invalid_transitions_name_the_states(start_vm):
    vm = start_vm()
    assert vm.call("resume") == {"ok": False, "error": "cannot resume a VM that is running"}
    assert vm.call("pause")["ok"] is True
    assert vm.call("pause") == {"ok": False, "error": "cannot pause a VM that is paused"}
    assert vm.call("resume")["ok"] is True
    assert vm.call("status")["state"] == "running"


@pytest.mark.kvm
def test_stop_while_paused(start_vm):
    vm = start_vm()
    assert vm.call("pause")["ok"] is True
    assert vm.call("stop")["ok"] is True
    rc, _, err = vm.wait()
    assert rc == 0, err
    assert not vm.sock.exists()


@pytest.mark.kvm
def test_mem_add_and_remove_while_running(start_vm):
    vm = start_vm()
    assert vm.call("mem-add", gpa="4G", size="2M") == {
        "ok": True, "gpa": 4 << 30, "size": 2 << 20}
    overlap = vm.call("mem-add", gpa="0x100000000", size=4096)
    assert overlap["ok"] is False and overlap["error"]
    assert vm.call("mem-add", gpa=(4 << 30) + (2 << 20), size="64K", readonly=True)["ok"] is True
    assert vm.call("mem-remove", gpa=4 << 30) == {"ok": True, "gpa": 4 << 30}
    again = vm.call("mem-remove", gpa="4G")
    assert again["ok"] is False and again["error"]
    assert vm.call("mem-remove", gpa=(4 << 30) + (2 << 20))["ok"] is True
    assert vm.call("mem-remove", gpa=0)["ok"] is False  # boot RAM stays
    assert vm.call("status")["state"] == "running"


BAD_REQUESTS = [
    (b'{"cmd":"status"\n', "invalid JSON"),
    (b'{"cmd":"reboot"}\n', 'unknown command "reboot"'),
    (b'{"cmd":42}\n', '"cmd": expected a command name, got 42'),
    (b'{"cmd":"stats","enable":"yes"}\n', '"enable": expected true or false'),
    (b'{"cmd":"mem-add","gpa":-1,"size":4096}\n', '"gpa": expected a non-negative integer'),
    (b'{"cmd":"mem-add","gpa":0}\n', 'mem-add: missing argument "size"'),
    (b'{"cmd":"pause","now":true}\n', 'pause: unknown argument "now"'),
    (b'["status"]\n', "a request is a JSON object"),
    (b'{"cmd":"status"} {"cmd":"stop"}\n', "invalid JSON"),
    (b'\x00\xff\xfe\x01binary\x80garbage\n', "invalid JSON"),
    (b'{"cmd":"st\xc3\x28tus"}\n', "invalid utf-8"),
    (b'{"cmd":"status"' + b" " * (1 << 20) + b"}\n", "request longer than 65536 bytes"),
]


@pytest.mark.kvm
def test_bad_requests_get_error_replies_and_the_vm_keeps_running(start_vm):
    vm = start_vm()
    c = Client(vm.sock)
    for line, message in BAD_REQUESTS:
        c.send(line)
        reply = c.reply()
        assert reply["ok"] is False, line[:60]
        assert message in reply["error"], (line[:60], reply)
        assert set(reply) == {"ok", "error"}
        # The same connection goes on to the next request: nothing was left half-read.
        assert c.call("status")["state"] == "running"
    c.close()
    assert vm.call("status")["state"] == "running"


@pytest.mark.kvm
def test_pipelined_requests_are_answered_in_order(start_vm):
    vm = start_vm()
    c = Client(vm.sock)
    c.send('{"cmd":"status"}\n\n{"cmd":"pause"}\r\n{"cmd":"nope"}\n{"cmd":"resume"}\n'
           '{"cmd":"status"}')
    c.sock.shutdown(socket.SHUT_WR)  # the last request has no newline: end of input ends it
    replies = [c.reply() for _ in range(5)]
    assert [r["ok"] for r in replies] == [True, True, False, True, True]
    assert replies[1]["state"] == "paused" and replies[3]["state"] == "running"
    assert c.sock.recv(1) == b""  # then the server closes
    c.close()


def try_call(call, cmd):
    """The reply, or None when the server turned the client away (it may close first)."""
    try:
        return call(cmd)
    except (AssertionError, OSError):
        return None


@pytest.mark.kvm
def test_broken_and_flooding_clients_do_not_hurt_the_vm(start_vm):
    vm = start_vm()
    # Gone in the middle of a request.
    c = Client(vm.sock)
    c.send(b'{"cmd":"sta')
    c.close()
    # Floods requests without reading a reply: the server stops reading it (bounded
    # buffers), so the sender blocks long before 64 MiB are taken.
    flood = Client(vm.sock, timeout=2)
    sent = 0
    chunk = b'{"cmd":"status"}\n' * 4096
    with pytest.raises(socket.timeout):
        while sent < 64 << 20:
            flood.sock.sendall(chunk)
            sent += len(chunk)
    assert vm.call("status")["state"] == "running"  # other clients are still served
    flood.close()
    # More clients than slots: the extra ones are told so, the rest work.
    clients = [Client(vm.sock) for _ in range(20)]
    replies = [try_call(cl.call, "status") for cl in clients]
    ok = [r for r in replies if r and r["ok"]]
    busy = [r for r in replies if r and not r["ok"]]
    assert 1 <= len(ok) <= 16 and all(r["error"] == "too many clients" for r in busy)
    for cl in clients:
        cl.close()
    # Slots are freed as the server sees the closes; then new clients are served again.
    wait_until(lambda: (try_call(vm.call, "status") or {}).get("state") == "running",
               "a free client slot")


@pytest.mark.kvm
def test_stop_ends_the_vm_with_status_0_and_removes_the_socket(start_vm, kvmlab):
    vm = start_vm("--cpus", "2")
    vm.wait_output("spinning on 2 vCPUs\n")  # a stop before the greeting would lose it
    out = kvmlab("ctl", "spin", "stop")
    assert out.returncode == 0, out.stderr
    assert json.loads(out.stdout)["ok"] is True
    rc, stdout, stderr = vm.wait()
    assert rc == 0, stderr
    assert stdout == "spinning on 2 vCPUs\n"
    assert stderr == "kvmlab: requested: stopped through the control API\n"
    assert not vm.sock.exists()


@pytest.mark.kvm
def test_sigterm_stops_the_vm_and_removes_the_socket(start_vm):
    vm = start_vm()
    vm.proc.send_signal(signal.SIGTERM)
    rc, _, stderr = vm.wait()
    assert rc == 128 + signal.SIGTERM, stderr
    assert not vm.sock.exists()


@pytest.mark.kvm
def test_explicit_api_socket_path(kvmlab_bin, guest, runtime_dir):
    sock = runtime_dir / "explicit.sock"
    vm = Vm(kvmlab_bin, ["--guest", guest("spin"), "--api-sock", sock], sock)
    try:
        st = vm.call("status")
        assert st["state"] == "running" and st["name"] is None
        assert oct(sock.stat().st_mode & 0o777) == "0o600"
        assert vm.call("stop")["ok"] is True
        assert vm.wait()[0] == 0
        assert not sock.exists()
    finally:
        vm.kill()


@pytest.mark.kvm
def test_ctl_prints_replies_and_maps_ok_to_exit_status(start_vm, kvmlab, runtime_dir):
    vm = start_vm()
    out = kvmlab("ctl", "spin", "status")
    assert out.returncode == 0 and json.loads(out.stdout)["state"] == "running"
    out = kvmlab("ctl", vm.sock, "stats", "enable=true")
    assert out.returncode == 0 and json.loads(out.stdout)["enabled"] is True
    out = kvmlab("ctl", vm.sock, "stats", '{"enable": false}')
    assert out.returncode == 0 and json.loads(out.stdout)["enabled"] is False
    out = kvmlab("ctl", "spin", "resume")
    assert out.returncode == 1
    assert json.loads(out.stdout) == {"ok": False, "error": "cannot resume a VM that is running"}
    assert out.stderr == "kvmlab: cannot resume a VM that is running\n"
    out = kvmlab("ctl", "spin", "stats", "enable=maybe")
    assert out.returncode == 1 and '"enable": expected true or false, got "maybe"' in out.stderr
    out = kvmlab("ctl", "nosuchvm", "status")
    assert out.returncode == 4
    assert out.stderr.startswith(f"kvmlab: cannot connect to {runtime_dir}/nosuchvm.sock: ")
    out = kvmlab("ctl", "spin", "status", "notkeyvalue")
    assert out.returncode == 2 and "neither KEY=VALUE nor a JSON object" in out.stderr
    assert vm.call("status")["state"] == "running"


@pytest.mark.kvm
def test_ls_lists_running_vms_and_drops_stale_sockets(start_vm, kvmlab, runtime_dir):
    a = start_vm("--cpus", "2", name="alpha")
    start_vm("--mem", "32M", name="beta")
    stale = runtime_dir / "gone.sock"
    s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    s.bind(str(stale))
    s.close()  # a socket file no one listens on, as a killed VM leaves behind
    assert a.call("pause")["ok"] is True
    out = kvmlab("ls")
    assert out.returncode == 0, out.stderr
    lines = out.stdout.splitlines()
    assert lines[0].split() == ["NAME", "STATE", "VCPUS", "MEMORY", "PID", "UPTIME"]
    rows = {line.split()[0]: line.split() for line in lines[1:]}
    assert set(rows) == {"alpha", "beta"}
    assert rows["alpha"][1:5] == ["paused", "2", "64M", str(a.proc.pid)]
    assert rows["beta"][1:4] == ["running", "1", "32M"]
    assert not stale.exists()
    listed = json.loads(kvmlab("ls", "--json").stdout)
    assert [v["name"] for v in listed] == ["alpha", "beta"]
    assert listed[0]["socket"] == str(runtime_dir / "alpha.sock")


@pytest.mark.kvm
def test_a_name_in_use_is_refused(start_vm, kvmlab, guest):
    start_vm(name="twin")
    out = kvmlab("run", "--guest", guest("spin"), "--name", "twin", timeout=WAIT_S)
    assert out.returncode == 4
    assert out.stderr.endswith("twin.sock: another VM is listening there\n")


@pytest.mark.kvm
def test_bad_api_socket_paths_are_refused(kvmlab, guest, runtime_dir):
    out = kvmlab("run", "--guest", guest("spin"), "--api-sock", "/nonexistent/dir/x.sock")
    assert out.returncode == 4
    assert out.stderr == ("kvmlab: cannot create the api socket /nonexistent/dir/x.sock: "
                          "No such file or directory\n")
    precious = runtime_dir / "file.sock"
    precious.write_text("not a socket")
    out = kvmlab("run", "--guest", guest("spin"), "--api-sock", precious)
    assert out.returncode == 4
    assert out.stderr == f"kvmlab: api socket {precious}: exists and is not a socket\n"
    assert precious.read_text() == "not a socket"


def test_ls_with_no_runtime_dir_lists_nothing(kvmlab, runtime_dir):
    shutil.rmtree(runtime_dir)
    out = kvmlab("ls")
    assert out.returncode == 0 and out.stdout.split() == [
        "NAME", "STATE", "VCPUS", "MEMORY", "PID", "UPTIME"]
    assert kvmlab("ls", "--json").stdout == "[]\n"


@pytest.mark.parametrize("args, status, message", [
    ([], 2, "ctl needs a socket and a command"),
    (["vm"], 2, "ctl needs a socket and a command"),
    (["--timeout", "soon", "vm", "status"], 2, "--timeout: 'soon' is not a number of seconds"),
    (["--bogus", "vm", "status"], 2, "unknown or incomplete option '--bogus'"),
    (["vm", "stats", "{not json"], 2, "invalid JSON"),
    (["/nonexistent/dir/x.sock", "status"], 4, "cannot connect to /nonexistent/dir/x.sock"),
])
def test_ctl_usage_errors(kvmlab, runtime_dir, args, status, message):
    out = kvmlab("ctl", *args)
    assert out.returncode == status
    assert out.stderr.startswith("kvmlab: ") and message in out.stderr, out.stderr
    assert len(out.stderr.splitlines()) == 1
