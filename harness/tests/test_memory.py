"""`kvmlab run --mem-policy`: each memory policy runs a guest, and bad specs get one clear line."""
from pathlib import Path

import pytest

GREETING = "Hello from a kvmlab guest on 1 vCPU!\n"
NR_HUGEPAGES = Path("/proc/sys/vm/nr_hugepages")


def meminfo(field):
    for line in Path("/proc/meminfo").read_text().splitlines():
        name, _, value = line.partition(":")
        if name == field:
            return int(value.split()[0])
    raise KeyError(field)


@pytest.fixture
def free_hugepages():
    """At least 16 free 2 MiB huge pages (raising vm.nr_hugepages as root), restored after."""
    need = 16
    old = NR_HUGEPAGES.read_text()
    avail = meminfo("HugePages_Free") - meminfo("HugePages_Rsvd")
    if avail < need:
        NR_HUGEPAGES.write_text(str(meminfo("HugePages_Total") + need - avail))
    avail = meminfo("HugePages_Free") - meminfo("HugePages_Rsvd")
    assert avail >= need, f"could reserve only {avail} huge pages"
    yield
    NR_HUGEPAGES.write_text(old)


@pytest.mark.kvm
@pytest.mark.parametrize("spec", ["anon", "prefault", "thp", "memfd", "uffd", "ksm",
                                  "memfd:dirty_ring=4096"])
def test_policy_runs_a_guest(kvmlab, guest, spec):
    out = kvmlab("run", "--guest", guest("hello"), "--mem", "32M", "--mem-policy", spec)
    assert (out.stdout, out.returncode, out.stderr) == (GREETING, 1, "")


@pytest.mark.kvm
def test_hugetlb_policy_runs_a_guest(kvmlab, guest, free_hugepages):
    out = kvmlab("run", "--guest", guest("hello"), "--mem", "16M", "--mem-policy", "hugetlb")
    assert (out.stdout, out.returncode, out.stderr) == (GREETING, 1, "")


@pytest.mark.kvm
@pytest.mark.parametrize("spec, report", [
    ("hugepage", "unknown memory policy 'hugepage' "
                 "(valid: anon, prefault, thp, hugetlb, memfd, uffd, ksm)"),
    ("anon:size=2M", "memory policy 'anon' has no option 'size' (it takes: no options; "
                     "every VM also takes dirty_ring=ENTRIES)"),
    ("hugetlb:size=3M", "hugetlb: size=3M is not a huge page size (2M or 1G)"),
    ("thp:dirty_ring=3000", "dirty_ring=3000 is not a power of two"),
])
def test_bad_spec_is_one_clear_line(kvmlab, guest, spec, report):
    out = kvmlab("run", "--guest", guest("hello"), "--mem-policy", spec)
    assert out.stdout == ""
    assert out.returncode in (2, 4)  # bad input (checked up front) or refused by vm_create
    assert out.stderr == f"kvmlab: {report}\n"
