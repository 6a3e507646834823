"""pytest fixtures for kvmlab: the build under test, running kvmlab, and KVM test rules."""
import os
import subprocess
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]


def pytest_configure(config):
    config.addinivalue_line("markers", "kvm: needs real KVM (natively, or inside harness/kvmbox)")
    config.addinivalue_line("markers", "box: boots harness/kvmbox itself (host-side test of the box)")


def build_dir() -> Path:
    """The build the tests exercise: KVMLAB_BUILD, else the sanitizer (Debug) build."""
    return Path(os.environ.get("KVMLAB_BUILD", ROOT / "build" / "debug")).resolve()


def kvm_usable() -> bool:
    try:
        fd = os.open("/dev/kvm", os.O_RDWR)
    except OSError:
        return False
    os.close(fd)
    return True


@pytest.fixture(scope="session")
def kvmlab_bin() -> Path:
    path = build_dir() / "vmm" / "kvmlab"
    assert path.exists(), f"{path} is missing: build first (ci/build)"
    return path


@pytest.fixture(scope="session")
def guest():
    """guest('hello') -> path of the flat test guest build/.../guests/hello.bin."""

    def find(name: str) -> Path:
        path = build_dir() / "guests" / f"{name}.bin"
        assert path.exists(), f"{path} is missing: build first (ci/build)"
        return path

    return find


@pytest.fixture(scope="session")
def kvmlab(kvmlab_bin):
    """kvmlab('run', '--guest', ...) -> CompletedProcess with text stdout/stderr."""

    def run(*args, timeout=120, **kw):
        return subprocess.run([str(kvmlab_bin), *map(str, args)], capture_output=True,
                              text=True, timeout=timeout, **kw)

    return run


@pytest.fixture(scope="session")
def kvm_facts(kvmlab_bin):
    """What `kvmlab info` says about the KVM under test (kernel, API version, vendor)."""
    out = subprocess.run([str(kvmlab_bin), "info"], capture_output=True, text=True, timeout=60)
    assert out.returncode == 0, f"KVM is not usable here: {out.stderr.strip()}"
    return dict(line.split("=", 1) for line in out.stdout.splitlines() if "=" in line)


@pytest.fixture(autouse=True)
def _kvm_test_rules(request):
    """A KVM test must reach real KVM: no /dev/kvm is a failure, never a skip.
    Each KVM test records the kernel and KVM API version it ran against."""
    if request.node.get_closest_marker("kvm") is None:
        yield
        return
    if not kvm_usable():
        pytest.fail("KVM test without a usable /dev/kvm: run it through harness/kvmbox")
    facts = request.getfixturevalue("kvm_facts")
    for key in ("kernel", "kvm_api_version", "cpu_vendor", "host_is_guest"):
        request.node.user_properties.append((key, facts.get(key, "?")))
    print(f"KVM under test: {facts.get('kernel')}, KVM API {facts.get('kvm_api_version')}, "
          f"{facts.get('cpu_vendor')}, nested={facts.get('host_is_guest')}")
    yield


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_makereport(item, call):
    """A skipped KVM test fails the run: a KVM test that did not reach KVM proves nothing."""
    outcome = yield
    report = outcome.get_result()
    if report.skipped and item.get_closest_marker("kvm") is not None:
        report.outcome = "failed"
        report.longrepr = f"KVM test skipped ({report.longrepr}); skipped KVM tests fail the run"


def pytest_report_header(config):
    return [f"kvmlab build under test: {build_dir()}",
            f"/dev/kvm usable: {kvm_usable()}, in kvmbox: {os.environ.get('KVMBOX') == '1'}"]
