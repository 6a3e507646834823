"""Running a whole test file once inside harness/kvmbox --force, for tests that need what this
host's KVM cannot give (hardware-style KVM for Linux, root with device-mapper or TAP in a kernel
of our own), and reading back each test's outcome."""
import os
import subprocess
from pathlib import Path
from xml.etree import ElementTree

ROOT = Path(__file__).resolve().parents[2]
_outcomes = {}


def host_kvm_is_pvm():
    """The host's /dev/kvm is kvm_pvm (KVM without hardware virtualization), and this is not
    already the box."""
    return Path("/sys/module/kvm_pvm").exists() and os.environ.get("KVMBOX") != "1"


def in_box():
    return os.environ.get("KVMBOX") == "1"


def boxed_outcomes_for(test_file, tmp_path_factory, env_names=(), mem="4G", timeout=3000):
    """{test name: (outcome, report)} of test_file's tests, run once per session in the box."""
    key = str(test_file)
    if key in _outcomes:
        return _outcomes[key]
    xml = tmp_path_factory.mktemp("box") / (Path(test_file).stem + ".xml")
    env = [a for k in ("KVMLAB_BUILD", *env_names) if k in os.environ for a in ("--env", k)]
    out = subprocess.run([str(ROOT / "harness" / "kvmbox"), "--force", "--cpus", "2", "--mem", mem,
                          "--timeout", str(timeout), *env, "--", "/usr/bin/python3", "-m", "pytest",
                          "-p", "no:cacheprovider", "-q", "--junitxml", str(xml), str(test_file)],
                         cwd=ROOT, capture_output=True, text=True, timeout=timeout + 100)
    assert xml.exists(), f"kvmbox status {out.returncode}\n{out.stdout[-3000:]}{out.stderr}"
    outcomes = {}
    for case in ElementTree.parse(xml).iter("testcase"):
        bad = [c for c in case if c.tag in ("failure", "error", "skipped")]
        outcomes[case.get("name")] = ("passed", "") if not bad else (
            bad[0].tag, (bad[0].get("message") or "") + "\n" + (bad[0].text or "")[-3000:])
    _outcomes[key] = outcomes
    return outcomes


def ran_here(request, test_file, tmp_path_factory, env_names=(), always_box=False):
    """True when the calling test should run here; False when it ran, and passed, in the box
    (fails the test with the box's report otherwise). always_box: the test needs the box itself
    (root, device-mapper), not just hardware-style KVM."""
    if in_box() or not (always_box or host_kvm_is_pvm()):
        return True
    outcome, report = boxed_outcomes_for(test_file, tmp_path_factory, env_names).get(
        request.node.name, ("missing", "not in the box's results"))
    assert outcome == "passed", f"in harness/kvmbox --force: {outcome}: {report}"
    return False
