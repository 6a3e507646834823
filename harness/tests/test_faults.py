"""Fault injection (KVMLAB_FAULTS, vmm/include/kvmlab/faults.h): KVM ioctls failing with EINTR,
EAGAIN and ENOMEM. Interrupted KVM_RUNs are retried and the VM completes; a failed set-up ioctl
gives one clear line and exit status 4, with nothing leaked (the default build is ASan's, whose
leak checker would change the status)."""
import os

import pytest

GREETING2 = "Hello from a kvmlab guest on 2 vCPUs!\n"


def run_with_faults(kvmlab, guest, spec, *args):
    return kvmlab("run", "--guest", guest("hello"), "--cpus", "2", *args, timeout=120,
                  env=dict(os.environ, KVMLAB_FAULTS=spec))


@pytest.mark.kvm
@pytest.mark.parametrize("spec", ["kvm_run:eintr:every=2", "kvm_run:eagain:every=3",
                                  "KVM_RUN:eintr:nth=1;kvm_run:eagain:nth=4"])
def test_interrupted_kvm_run_is_retried_and_the_vm_completes(kvmlab, guest, spec):
    out = run_with_faults(kvmlab, guest, spec)
    assert out.stdout == GREETING2, out.stderr
    assert out.returncode == 1, out.stderr
    assert out.stderr == ""


@pytest.mark.kvm
def test_a_kvm_run_fault_really_reaches_kvm_run(kvmlab, guest):
    """The same point with an error that is not retried stops the VM: the rules above did fire."""
    out = run_with_faults(kvmlab, guest, "kvm_run:enomem:nth=3")
    assert out.returncode == 4, out.stderr
    assert "KVM_RUN failed on vCPU" in out.stderr and "Cannot allocate memory" in out.stderr


@pytest.mark.kvm
@pytest.mark.parametrize("spec,ioctl", [
    ("create_vm:enomem:nth=1", "KVM_CREATE_VM"),
    ("create_irqchip:enomem:nth=1", "KVM_CREATE_IRQCHIP"),
    ("create_pit2:enomem:nth=1", "KVM_CREATE_PIT2"),
    ("set_user_memory_region:enomem:nth=1", "KVM_SET_USER_MEMORY_REGION"),
    ("create_vcpu:enomem:nth=2", "KVM_CREATE_VCPU"),  # the second vCPU: the first is freed
    ("set_cpuid2:enomem:nth=2", "KVM_SET_CPUID2"),
    ("get_sregs:eagain:nth=1", "KVM_GET_SREGS"),
    ("set_regs:enomem:nth=2", "KVM_SET_REGS"),
])
def test_failed_setup_ioctl_is_reported_with_status_4(kvmlab, guest, spec, ioctl):
    out = run_with_faults(kvmlab, guest, spec)
    assert out.returncode == 4, out.stderr
    assert out.stdout == ""
    lines = out.stderr.splitlines()
    assert len(lines) == 1 and lines[0].startswith(f"kvmlab: {ioctl} failed while "), out.stderr
    err = "Cannot allocate memory" if "enomem" in spec else "Resource temporarily unavailable"
    assert lines[0].endswith(err) or err in lines[0], out.stderr


@pytest.mark.kvm
def test_eintr_on_a_setup_ioctl_is_retried(kvmlab, guest):
    out = run_with_faults(kvmlab, guest,
                          "set_user_memory_region:eintr:nth=1;create_vcpu:eintr:every=2")
    assert out.stdout == GREETING2, out.stderr
    assert out.returncode == 1, out.stderr


@pytest.mark.parametrize("spec,msg", [
    ("bogus", "is not POINT:ERROR:TRIGGER"),
    ("kvm_run:eio:nth=1", "eio is not an error of"),
    ("disk_read:enomem:nth=1", "enomem is not an error of"),
    ("kvm_run:eintr:sometimes", "is not every=N or nth=N"),
    ("kvm_run:eintr:every=0", "every"),
    ("kvm_run:explode:nth=1", "unknown error"),
])
def test_bad_fault_plans_are_refused(kvmlab, guest, spec, msg):
    out = run_with_faults(kvmlab, guest, spec)
    assert out.returncode == 2, out.stderr
    assert out.stderr.startswith("kvmlab: KVMLAB_FAULTS: ") and msg in out.stderr, out.stderr
    assert len(out.stderr.splitlines()) == 1
