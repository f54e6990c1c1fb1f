"""A soak: thousands of open → load → use → close cycles of four kinds (a BTF object, a legacy
object through the shim, a verifier rejection, a pin mismatch) in one process: its fds, its
memory and the kernel's maps and programs stay flat. LIBBPF_PY_SOAK_CYCLES sets the count
(5,000 by default, as the reliability issue asks; lower it for a quick run)."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys

import pytest

CYCLES = int(os.environ.get("LIBBPF_PY_SOAK_CYCLES", "5000"))

CHILD = r"""
import json, os, sys
import libbpf_py as bpf

build, mnt, cycles = sys.argv[1], sys.argv[2], int(sys.argv[3])
os.environ["TC_BPF_MNT"] = mnt

def rss_kib():
    with open("/proc/self/status") as status:
        return next(int(line.split()[1]) for line in status if line.startswith("VmRSS:"))

def fds():
    return len(os.listdir("/proc/self/fd"))

def kernel_objects():
    import json, subprocess
    return {kind: len(json.loads(subprocess.run(["bpftool", "-j", kind, "show"], capture_output=True, text=True,
                                                check=True).stdout or "[]")) for kind in ("map", "prog")}

def settled(before):
    # a prog array and the programs in it are freed from a work queue once the last user
    # reference is gone (prog_array_map_clear_deferred): wait for that, bounded
    import time
    for _ in range(100):
        now = kernel_objects()
        if all(now[k] <= before[k] for k in now):
            break
        time.sleep(0.1)
    return {k: now[k] - before[k] for k in now}

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
    report[name] = {"fds": fds() - before[0], "rss_kib": rss_kib() - before[1], "kernel": settled(before[2])}
stale.close()
print(json.dumps(report))
"""


@pytest.mark.skipif(shutil.which("bpftool") is None, reason="bpftool counts the kernel's maps and programs")
def test_thousands_of_cycles_leave_fds_memory_and_kernel_objects_flat(bpf_obj, bpffs):
    """Kernel objects are counted (bpftool) after the warm-up and after the cycles: what is pinned
    stays, what each cycle made is gone."""
    build = bpf_obj("maps").parent
    done = subprocess.run([sys.executable, "-c", CHILD, str(build), str(bpffs), str(CYCLES)], capture_output=True,
                          text=True, timeout=1800)
    assert done.returncode == 0, done.stderr[-3000:]
    report = json.loads(done.stdout)
    for name, growth in report.items():
        assert growth["fds"] == 0, (name, growth)
        assert growth["rss_kib"] < 4096, (name, growth)  # a leak of even 1 KiB a cycle would show
        assert growth["kernel"]["map"] <= 0 and growth["kernel"]["prog"] <= 0, (name, growth)
