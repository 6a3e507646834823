"""Host-only unit tests: each C TEST() in vmm/tests runs as its own pytest test."""
import subprocess

import pytest

from conftest import build_dir

UNIT = build_dir() / "vmm" / "kvmlab_unit_tests"


def unit_test_names():
    if not UNIT.exists():
        return ["<unit test binary missing: build first>"]
    out = subprocess.run([str(UNIT), "--list"], capture_output=True, text=True, check=True)
    return sorted(out.stdout.split())


@pytest.mark.parametrize("name", unit_test_names())
def test_unit(name):
    assert UNIT.exists(), f"{UNIT} is missing: build first (ci/build)"
    out = subprocess.run([str(UNIT), name], capture_output=True, text=True, timeout=60)
    assert out.returncode == 0, out.stderr
    assert out.stdout.strip() == f"ok {name}"
