"""A soak: thousands of open → load → use → close cycles of four kinds (a BTF object, a legacy
object through the shim, a verifier rejection, a pin mismatch) in one process: its fds, its
memory and its maps and programs in the kernel stay flat (only the child's own count: other
processes on the machine load BPF as they please; see support.KernelObjects).
LIBBPF_PY_SOAK_CYCLES sets the count (5,000 by default, as the reliability issue asks; lower it
for a quick run). Marked slow: `pytest -m "not slow"` leaves it out; `make test` runs it."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

CYCLES = int(os.environ.get("LIBBPF_PY_SOAK_CYCLES", "5000"))
TESTS = Path(__file__).resolve().parents[1]

CHILD = r"""
import json, os, sys
import libbpf_py as bpf

build, mnt, cycles = sys.argv[1], sys.argv[2], int(sys.argv[3])
sys.path.insert(0, sys.argv[4])
from support import KernelObjects, kernel_names

os.environ["TC_BPF_MNT"] = mnt
names = kernel_names(*(f"{build}/{name}.o" for name in ("maps", "iproute2/tail_call", "verifier_reject", "pinned")))

def rss_kib():
    with open("/proc/self/status") as status:
        return next(int(line.split()[1]) for line in status if line.startswith("VmRSS:"))

def fds():
    return len(os.listdir("/proc/self/fd"))

def kernel_objects():
    # the maps and programs this process makes from now on and leaves, and its pins: what is
    # pinned under mnt stays (the same paths; the legacy object's pinned prog array holds the
    # latest cycle's tail calls), what each cycle made is gone. A prog array and the programs
    # in it are freed from a work queue once the last user reference is gone
    # (prog_array_map_clear_deferred): left() waits for that
    return KernelObjects(names), pins()

def pins():
    return sorted(os.path.join(d, f) for d, _, files in os.walk(mnt) for f in files)

stale = bpf.Map.create(bpf.MapType.ARRAY, 4, 4, 1)          # a pin that mismatches pinned.o's map
os.makedirs(os.path.join(mnt, "mismatch"), exist_ok=True)
stale.pin(os.path.join(mnt, "mismatch", "pinned_counts"))

def btf_object():
    with bpf.Object.open(f"{build}/maps.o") as obj:
        obj.load()
        counts = obj.maps["hash_map"]
        counts.key_type = counts.value_type = int
        counts[1] = 2
        assert counts[1] == 2
        obj.programs["count_packets"].test_run(bytes(64))

def legacy_object():
    with bpf.Object.open(f"{build}/iproute2/tail_call.o") as obj:
        obj.load()
        obj.programs["cls_entry"].test_run(bytes(64))

def rejection():
    with bpf.Object.open(f"{build}/verifier_reject.o") as obj:
        try:
            obj.load()
        except bpf.VerifierError:
            return
    raise AssertionError("the verifier accepted verifier_reject.o")

def mismatch():
    with bpf.Object.open(f"{build}/pinned.o", pinning=bpf.PinByName(os.path.join(mnt, "mismatch"))) as obj:
        try:
            obj.load()
        except bpf.MapIncompatibleError:
            return
    raise AssertionError("the stale pin was accepted")

report = {}
for name, cycle in (("btf", btf_object), ("legacy", legacy_object), ("rejection", rejection),
                    ("mismatch", mismatch)):
    for _ in range(min(200, cycles)):       # warm up: caches, the allocator, lazy imports
        cycle()
    before = (fds(), rss_kib(), kernel_objects())
    for _ in range(cycles):
        cycle()
    made, pinned = before[2]
    report[name] = {"fds": fds() - before[0], "rss_kib": rss_kib() - before[1], "kernel": made.left(),
                    "new pins": sorted(set(pins()) - set(pinned))}
stale.close()
print(json.dumps(report))
"""


@pytest.mark.slow
def test_thousands_of_cycles_leave_fds_memory_and_kernel_objects_flat(bpf_obj, bpffs):
    """The child's kernel objects are taken after the warm-up (what is pinned stays) and looked
    for after the cycles: what each cycle made is gone."""
    build = bpf_obj("maps").parent
    done = subprocess.run([sys.executable, "-c", CHILD, str(build), str(bpffs), str(CYCLES), str(TESTS)],
                          capture_output=True, text=True, timeout=1800)
    assert done.returncode == 0, done.stderr[-3000:]
    report = json.loads(done.stdout)
    for name, growth in report.items():
        assert growth["fds"] == 0, (name, growth)
        assert growth["rss_kib"] < 4096, (name, growth)  # a leak of even 1 KiB a cycle would show
        assert growth["kernel"] == [] and growth["new pins"] == [], (name, growth)
