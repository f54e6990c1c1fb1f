#!/usr/bin/env python3
"""The iproute2 shim's cost: rewriting a typical 10-map legacy object, and loading it, beside
native libbpf loading the equivalent BTF-defined object in the same run.

Run as root after `make -C bpf_progs`: ``python3 bench/bench_iproute2.py [--reps N]``.
"""

from __future__ import annotations

import argparse
import gc
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

BENCH = Path(__file__).resolve().parent
ROOT = BENCH.parent
sys.path.insert(0, str(ROOT))

from native_build import build  # noqa: E402

import libbpf_py as bpf  # noqa: E402
from libbpf_py import compat, iproute2  # noqa: E402

BUILD = ROOT / "bpf_progs" / "build"
LEGACY, LEGACY_NOG, TWIN = BUILD / "iproute2" / "ten_maps.o", BUILD / "iproute2" / "ten_maps-nog.o", \
    BUILD / "ten_maps_btf.o"


def build_native() -> Path:
    return build("native_load")


def median_ns(action, reps: int) -> float:
    times = []
    gc.disable()
    try:
        for _ in range(reps):
            start = time.perf_counter_ns()
            action()
            times.append(time.perf_counter_ns() - start)
    finally:
        gc.enable()
    return statistics.median(times)


def load_legacy(path: Path) -> None:
    with iproute2.open(path) as obj:
        obj.load()


def load_twin() -> None:
    with bpf.Object.open(TWIN) as obj:
        obj.load()


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--reps", type=int, default=200)
    args = parser.parse_args()
    # tc lays out its tree under the bpffs mount on every load: give it a private one
    mnt = tempfile.mkdtemp(prefix="libbpf_py-bench-")
    subprocess.run(["mount", "-t", "bpf", "bpf", mnt], check=True)
    os.environ["TC_BPF_MNT"] = mnt
    try:
        return run(args)
    finally:
        subprocess.run(["umount", mnt], check=False)
        os.rmdir(mnt)


def run(args: argparse.Namespace) -> int:
    for path in (LEGACY, LEGACY_NOG, TWIN):
        if not path.exists():
            sys.exit(f"{path} is missing: run `make -C bpf_progs`")
    native = json.loads(subprocess.run([str(build_native()), str(TWIN), str(args.reps)], capture_output=True,
                                       text=True, check=True).stdout)
    legacy, legacy_nog = LEGACY.read_bytes(), LEGACY_NOG.read_bytes()
    load_twin()  # first load pays libbpf's feature probing; time the steady state
    rows = [
        ("native libbpf: open+load+close, BTF-defined twin", native["median_ns"]),
        ("libbpf_py: open+load+close, BTF-defined twin", median_ns(load_twin, args.reps)),
        ("compat.rewrite, 10 legacy maps, -g (BTF edited)", median_ns(lambda: compat.rewrite(legacy), args.reps)),
        ("compat.rewrite, 10 legacy maps, no -g (BTF built)",
         median_ns(lambda: compat.rewrite(legacy_nog), args.reps)),
        ("iproute2.open+load+close, legacy -g", median_ns(lambda: load_legacy(LEGACY), args.reps)),
    ]
    print(f"iproute2 shim benchmark: {args.reps} reps, median; libbpf {bpf.libbpf_version_string()}, "
          f"Python {sys.version.split()[0]}\n")
    print("| what | µs | × native load |\n|---|---:|---:|")
    for what, ns in rows:
        print(f"| {what} | {ns / 1000:.1f} | {ns / native['median_ns']:.2f} |")
    return 0


if __name__ == "__main__":
    sys.exit(main())
