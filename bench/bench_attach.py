#!/usr/bin/env python3
"""Attach+detach pairs through libbpf_py against the same calls from C, in the same run: an XDP
link and a tcx link on the loopback device of a network namespace made for the run.

Run as root after ``make -C bpf_progs``: ``python3 bench/bench_attach.py [--reps N] [--rounds R]``.
Each round runs the native harness (bench/native_attach.c, in the namespace through nsenter)
and then the same pairs through libbpf_py; the table shows medians over rounds of each round's
median per pair.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import time
from pathlib import Path

BENCH = Path(__file__).resolve().parent
ROOT = BENCH.parent
sys.path.insert(0, str(ROOT))

from native_build import build  # noqa: E402

import libbpf_py as bpf  # noqa: E402

OBJECT = ROOT / "bpf_progs" / "build" / "attach.o"


def build_native() -> Path:
    return build("native_attach")


def python_pairs(obj: bpf.Object, reps: int) -> dict:
    """The same pairs as native_attach.c: attach, then close (the last holder: it detaches)."""
    xdp, tc = obj.programs["xdp_drop_udp"], obj.programs["tc_count_udp"]
    figures = {}
    for name, attach in (("xdp", lambda: xdp.attach_xdp("lo")), ("tcx", lambda: tc.attach_tc("lo", mode="tcx"))):
        times = []
        for _ in range(reps):
            start = time.perf_counter_ns()
            attach().close()
            times.append(time.perf_counter_ns() - start)
        figures[name] = statistics.median(times)
    return figures


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--reps", type=int, default=50)
    parser.add_argument("--rounds", type=int, default=3)
    args = parser.parse_args()
    if not OBJECT.exists():
        sys.exit(f"{OBJECT} is missing: run `make -C bpf_progs`")
    from pyroute2 import IPRoute, netns
    from pyroute2.netns import popns, pushns

    name = f"lbpy_bench_{os.getpid()}"
    netns.create(name)
    try:
        pushns(name)
        try:
            with IPRoute() as ipr:
                ipr.link("set", index=1, state="up")
            native_rounds, python_rounds = [], []
            with bpf.Object.open(OBJECT) as obj:
                obj.load()
                for _ in range(args.rounds):
                    done = subprocess.run(["nsenter", f"--net=/run/netns/{name}", str(build_native()), str(OBJECT),
                                           "1", str(args.reps)], capture_output=True, text=True, check=True)
                    native_rounds.append(json.loads(done.stdout))
                    python_rounds.append(python_pairs(obj, args.reps))
        finally:
            popns()
    finally:
        netns.remove(name)
    print(f"attach+detach pairs on lo in a network namespace: {args.rounds} rounds x {args.reps} pairs, medians; "
          f"libbpf {bpf.libbpf_version_string()}, kernel {os.uname().release}\n")
    print("| pair | native µs | libbpf_py µs | ratio |\n|---|---:|---:|---:|")
    for kind, label in (("xdp", "XDP link (attach_xdp)"), ("tcx", "tcx link (attach_tc)")):
        native = statistics.median(r[kind] for r in native_rounds)
        python = statistics.median(r[kind] for r in python_rounds)
        print(f"| {label} | {native / 1000:.1f} | {python / 1000:.1f} | {python / native:.2f}x |")
    return 0


if __name__ == "__main__":
    sys.exit(main())
