"""KVM-level C tests (vmm/tests/kvm): each TEST() runs on its own against real KVM."""
import os
import subprocess

import pytest

from conftest import build_dir

BINARY = build_dir() / "vmm" / "kvmlab_kvm_tests"


def kvm_test_names():
    if not BINARY.exists():
        return ["<kvm test binary missing: build first>"]
    out = subprocess.run([str(BINARY), "--list"], capture_output=True, text=True, check=True)
    return sorted(out.stdout.split())


@pytest.mark.kvm
@pytest.mark.parametrize("name", kvm_test_names())
def test_kvm(name):
    assert BINARY.exists(), f"{BINARY} is missing: build first (ci/build)"
    env = dict(os.environ, KVMLAB_GUESTS=str(build_dir() / "guests"))
    out = subprocess.run([str(BINARY), name], capture_output=True, text=True, timeout=300,
                         env=env)
    assert out.returncode == 0, out.stderr
    assert out.stdout.strip() == f"ok {name}"
