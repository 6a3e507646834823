# kvmbox box runner: writes the job directory (run.sh), starts QEMU, relays the guest's out/err/ctl ports.
import ctypes
import os
import select
import selectors
import shlex
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time

from kvmbox_lib.errors import BoxError

PORTS = ("out", "err", "ctl")
DEFAULT_ENV = ("PATH", "HOME", "LANG", "LC_ALL", "TERM", "TZ", "USER", "PYTHONPATH", "PYTHONDONTWRITEBYTECODE")
ENV_PREFIXES = (b"KVMLAB_", b"KVMBOX_", b"CI")
# Runtime and temp files live on tmpfs in the box: the 9p share cannot hold sockets, and QEMU 7.2's 9p server
# fails ftruncate/mmap/fchmod on unlinked open files (the tempfile.TemporaryFile pattern).
BOX_ENV = {b"KVMBOX": b"1", b"KVMBOX_RUNTIME_DIR": b"/run/kvmbox", b"XDG_RUNTIME_DIR": b"/run/user/0",
           b"TMPDIR": b"/run/kvmbox/tmp"}
POWEROFF_GRACE_S = 10
LOG_TAIL_LINES = 12
FAILURE_MARKS = ("kvmbox-init: error:", "Kernel panic")  # console lines that explain a box that died


class Timeout(Exception):
    """The command did not finish within --timeout seconds."""


class OutputClosed(Exception):
    """kvmbox's stdout or stderr reader went away: on the host the command would now die of SIGPIPE."""


def box_environment(caller_env, extra):
    """The command's environment: default names, KVMLAB_/KVMBOX_/CI* names, box variables, then --env entries."""
    env = {}
    for name, value in caller_env.items():
        if name.decode(errors="replace") in DEFAULT_ENV or name.startswith(ENV_PREFIXES):
            env[name] = value
    env.setdefault(b"PATH", b"/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin")
    env.update(BOX_ENV)
    for item in extra:
        name, sep, value = os.fsencode(item).partition(b"=")
        if not name:
            raise BoxError(f"--env {item!r}: empty variable name")
        if sep:
            env[name] = value
        elif name in caller_env:
            env[name] = caller_env[name]
    return env


def job_base_dir():
    """Where job directories go: $TMPDIR unless its path cannot be passed on the kernel command line."""
    base = tempfile.gettempdir()
    return base if base.isprintable() and not any(c.isspace() for c in base) else "/tmp"


def quote(data):
    """Quote bytes as one POSIX sh word (byte-exact, newlines included)."""
    return os.fsencode(shlex.quote(os.fsdecode(data)))


def run_script(argv, env, cwd):
    """The job's run.sh, run by /bin/sh in the chroot: cd to cwd, then exec argv with exactly env via env -i.

    Going through files in the job directory (not the kernel command line) removes any length limit; env -i
    rather than the shell's own exec keeps the environment exact (sh would add PWD and drop odd names).
    """
    if "=" in argv[0]:
        raise BoxError(f"cannot run {argv[0]!r}: command names containing '=' are not supported")
    cd_failed = b"{ echo 'error cannot enter working directory '" + quote(cwd) + b" >&9; exit 125; }"
    words = [b"exec", b"/usr/bin/env", b"-i", b"--"]
    words += [quote(name + b"=" + value) for name, value in env.items()]
    words += [quote(os.fsencode(arg)) for arg in argv]
    return b"cd -- " + quote(cwd) + b" || " + cd_failed + b"\n" + b" ".join(words) + b" 9>&-\n"


def qemu_command(qemu, kernel, initrd, job, cpus, mem_mib, hugepages, port_fds):
    append = ("console=ttyS0 quiet loglevel=1 panic=-1 mitigations=off "
              f"kvmbox.job={job} kvmbox.hugepages={hugepages}")
    cmd = [qemu, "-machine", "q35", "-accel", "tcg,thread=multi", "-cpu", "max",
           "-smp", str(cpus), "-m", f"{mem_mib}M", "-nographic", "-nodefaults", "-no-reboot",
           "-kernel", kernel, "-initrd", initrd, "-append", append,
           "-serial", "file:" + os.path.join(job, "console.log"),
           "-virtfs", "local,path=/,mount_tag=hostroot,security_model=none,multidevs=remap",
           "-device", "virtio-serial-pci,id=vser"]
    for nr, (name, fd) in enumerate(zip(PORTS, port_fds), start=1):
        cmd += ["-chardev", f"socket,id={name},fd={fd}",
                "-device", f"virtserialport,bus=vser.0,nr={nr},chardev={name},name=kvmbox.{name}"]
    return cmd


def die_with_parent():
    """preexec_fn: make the kernel kill QEMU if kvmbox dies, so no box outlives its caller."""
    PR_SET_PDEATHSIG = 1
    ctypes.CDLL(None, use_errno=True).prctl(PR_SET_PDEATHSIG, signal.SIGKILL)


def write_all(fd, data):
    """Write data to fd, waiting if it is non-blocking; raises OutputClosed if its reader is gone."""
    while data:
        try:
            data = data[os.write(fd, data):]
        except BlockingIOError:
            select.select([], [fd], [])
        except BrokenPipeError:
            raise OutputClosed()


def log_tail(path):
    try:
        with open(path, "rb") as f:
            lines = f.read().decode(errors="replace").splitlines()
    except OSError:
        return []
    return [line for line in lines if line.strip()][-LOG_TAIL_LINES:]


class Box:
    """One QEMU run of one job; use run() and then read .status."""

    def __init__(self, qemu, kernel, initrd, args, verbose):
        self.qemu, self.kernel, self.initrd = qemu, kernel, initrd
        self.args, self.timeout, self.verbose = args, args.timeout, verbose
        self.started = time.monotonic()
        self.status = None
        self.error = None

    def note(self, what):
        if self.verbose:
            sys.stderr.write(f"kvmbox: {what} at {time.monotonic() - self.started:.2f} s\n")

    def run(self, job):
        """Boot the box on job and relay its ports until QEMU exits; raises Timeout."""
        pairs = [socket.socketpair() for _ in PORTS]
        qemu_ends = [b.fileno() for _, b in pairs]
        cmd = qemu_command(self.qemu, self.kernel, self.initrd, job, self.args.cpus, self.args.mem_mib,
                           self.args.hugepages, qemu_ends)
        try:
            with open(os.path.join(job, "qemu.log"), "wb") as qemu_log:
                self.proc = subprocess.Popen(cmd, stdin=subprocess.DEVNULL, stdout=qemu_log, stderr=qemu_log,
                                             pass_fds=qemu_ends, preexec_fn=die_with_parent)
        except OSError as e:
            raise BoxError(f"cannot start QEMU {self.qemu}: {e.strerror}")
        finally:
            for _, b in pairs:
                b.close()
        try:
            self.relay({a: fd for (a, _), fd in zip(pairs, (1, 2, None))})
        finally:
            self.proc.kill()
            self.proc.wait()
            for a, _ in pairs:
                a.close()
        self.note("QEMU exited")

    def relay(self, sinks):
        """Copy out/err port data to fds 1/2 and parse ctl lines until every port reaches EOF; raises Timeout."""
        sel = selectors.DefaultSelector()
        for sock in sinks:
            sel.register(sock, selectors.EVENT_READ)
        pidfd = os.pidfd_open(self.proc.pid)
        sel.register(pidfd, selectors.EVENT_READ)
        ctl_buffer = b""
        open_ports = len(sinks)
        finished_at = exited_at = None
        try:
            while open_ports:
                limit = self.started + self.timeout
                if finished_at is not None:
                    limit = finished_at + POWEROFF_GRACE_S
                if exited_at is not None:
                    limit = min(limit, exited_at + 1)  # a dead QEMU's sockets only need draining
                events = sel.select(max(0.0, limit - time.monotonic()))
                if not events and time.monotonic() >= limit:
                    if finished_at is None and exited_at is None:
                        raise Timeout()
                    return
                for key, _ in events:
                    if key.fileobj == pidfd:
                        sel.unregister(pidfd)
                        exited_at = time.monotonic()
                        continue
                    data = key.fileobj.recv(1 << 16)
                    if not data:
                        sel.unregister(key.fileobj)
                        open_ports -= 1
                    elif sinks[key.fileobj] is not None:
                        write_all(sinks[key.fileobj], data)
                    else:
                        ctl_buffer = self.parse_ctl(ctl_buffer + data)
                        if finished_at is None and (self.status is not None or self.error is not None):
                            finished_at = time.monotonic()
        finally:
            sel.close()
            os.close(pidfd)

    def parse_ctl(self, buffer):
        """Handle complete control lines ('start', 'status N', 'error MSG'); return the unfinished rest."""
        *lines, rest = buffer.split(b"\n")
        for line in lines:
            word, _, arg = line.decode(errors="replace").partition(" ")
            if word == "start":
                self.note("command started")
            elif word == "status":
                self.status = int(arg)
                self.note("command finished")
            elif word == "error" and self.error is None:
                self.error = arg
        return rest


def run_in_box(args, qemu, kernel, initrd, verbose):
    """Run args.command in a fresh box; return its exit status or raise BoxError/Timeout."""
    try:
        cwd = os.getcwdb()
    except OSError as e:
        raise BoxError(f"cannot determine the working directory: {e.strerror}")
    job = tempfile.mkdtemp(prefix="kvmbox-", dir=job_base_dir())
    log = os.path.join(job, "console.log")
    keep_job = False
    try:
        env = box_environment(dict(os.environb), args.env)
        with open(os.path.join(job, "run.sh"), "wb") as f:
            f.write(run_script(args.command, env, cwd))
        box = Box(qemu, kernel, initrd, args, verbose)
        try:
            box.run(job)
        finally:
            if args.keep_log:
                keep_log(log, args.keep_log)
        if box.error is not None:
            keep_job = True
            raise BoxError(box.error, log=log)
        if box.status is None:
            keep_job = True
            raise failure(job, log)
        return box.status
    finally:
        if not keep_job:
            shutil.rmtree(job, ignore_errors=True)


def keep_log(log, destination):
    """--keep-log: copy the box's console log (an empty file if the box never started)."""
    try:
        if os.path.exists(log):
            shutil.copyfile(log, destination)
        else:
            open(destination, "wb").close()
    except OSError as e:
        sys.stderr.write(f"kvmbox: cannot keep log in {destination}: {e.strerror}\n")


def failure(job, console_log):
    """The error for a box that ended without reporting a status: QEMU's own error, or a failed boot."""
    qemu_log = os.path.join(job, "qemu.log")
    errors = [line for line in log_tail(qemu_log) if line.startswith("qemu-system") or "error" in line.lower()]
    if errors:
        return BoxError("QEMU failed: " + errors[-1].strip(), log=qemu_log)
    try:
        with open(console_log, "rb") as f:
            lines = f.read().decode(errors="replace").splitlines()
    except OSError:
        lines = []
    causes = [line.split("] ", 1)[-1].strip() for line in lines if any(m in line for m in FAILURE_MARKS)]
    cause = causes[0] if causes else "boot failure or crash"
    return BoxError(f"the box stopped before the command finished ({cause})", log=console_log)
