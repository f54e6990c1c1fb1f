#!/usr/bin/env python3
"""Whole processes that load one object: wall time and peak RSS, each command interleaved with
the others so that machine noise hits every row alike.

Run as root after ``make -C bpf_progs``: ``python3 bench/bench_startup.py [--runs N]``.
libbpf_py is imported from this source tree as a normal install imports it (a plain path entry,
bytecode cached in a scratch directory), by the interpreter without ``site`` (``-S``) in every row.
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Dict, List, Tuple

BENCH = Path(__file__).resolve().parent
ROOT = BENCH.parent
BUILD = ROOT / "bpf_progs" / "build"
OBJECT, LEGACY = BUILD / "xdp_pass.o", BUILD / "iproute2" / "tail_call.o"

BARE_CTYPES = """
import ctypes, sys
lib = ctypes.CDLL("libbpf.so.1")
lib.bpf_object__open_file.restype = ctypes.c_void_p
lib.bpf_object__open_file.argtypes = [ctypes.c_char_p, ctypes.c_void_p]
lib.bpf_object__load.argtypes = lib.bpf_object__close.argtypes = [ctypes.c_void_p]
obj = lib.bpf_object__open_file(sys.argv[1].encode(), None)
if not obj or lib.bpf_object__load(obj):
    raise SystemExit("load failed")
"""


# Each child prints its own peak RSS last (the parent's rusage would count the forked copy of itself).
PEAK = "\nimport sys as _s; _s.stderr.write(open('/proc/self/status').read().split('VmHWM:')[1].split()[0])"


def commands(python: str) -> Dict[str, List[str]]:
    return {
        "python -c pass": [python, "-S", "-c", "pass" + PEAK],
        "bare ctypes: open+load": [python, "-S", "-c", BARE_CTYPES + PEAK, str(OBJECT)],
        "libbpf_py: Object.open(p).load()": [python, "-S", "-c", "import sys, libbpf_py as b\n"
                                             "b.Object.open(sys.argv[1]).load()" + PEAK, str(OBJECT)],
        "libbpf_py: iproute2.open(legacy).load()": [python, "-S", "-c", "import sys\nfrom libbpf_py import iproute2\n"
                                                    "iproute2.open(sys.argv[1]).load()" + PEAK, str(LEGACY)],
    }


def run_once(argv: List[str], env: Dict[str, str]) -> Tuple[float, float]:
    """(wall ms, peak RSS MiB) of one run."""
    start = time.perf_counter()
    done = subprocess.run(argv, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
    wall = (time.perf_counter() - start) * 1000
    if done.returncode != 0:
        sys.exit(f"{argv[:3]} failed ({done.returncode}):\n{done.stderr[-2000:]}")
    return wall, int(done.stderr.split()[-1]) / 1024


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--runs", type=int, default=15, help="runs of each command (default 15)")
    args = parser.parse_args()
    for path in (OBJECT, LEGACY):
        if not path.exists():
            sys.exit(f"{path} is missing: run `make -C bpf_progs`")
    mnt = tempfile.mkdtemp(prefix="libbpf_py-bench-")
    subprocess.run(["mount", "-t", "bpf", "bpf", mnt], check=True)  # tc's tree goes there, not to /sys/fs/bpf
    try:
        with tempfile.TemporaryDirectory(prefix="libbpf_py-bench-pyc-") as pycache:
            env = dict(os.environ, PYTHONPATH=str(ROOT), PYTHONPYCACHEPREFIX=pycache, TC_BPF_MNT=mnt)
            env.pop("PYTHONDONTWRITEBYTECODE", None)
            # the interpreter itself, without site (-S): the .pth files of whatever is installed
            # around it (an editable install's hook, setuptools' distutils hack) would add to every row
            table = commands(getattr(sys, "_base_executable", sys.executable))
            for argv in table.values():  # warm-up: fill the bytecode cache
                run_once(argv, env)
            figures: Dict[str, List[Tuple[float, float]]] = {name: [] for name in table}
            for _ in range(args.runs):
                for name, argv in table.items():
                    figures[name].append(run_once(argv, env))
    finally:
        subprocess.run(["umount", mnt], check=False)
        os.rmdir(mnt)
    base = statistics.median(w for w, _ in figures["bare ctypes: open+load"])
    print(f"whole processes, {args.runs} interleaved runs each, medians (min-max); Python {sys.version.split()[0]}\n")
    print("| command | wall ms | × bare ctypes | peak RSS MiB |\n|---|---:|---:|---:|")
    for name, runs in figures.items():
        walls, rss = [w for w, _ in runs], [r for _, r in runs]
        print(f"| {name} | {statistics.median(walls):.1f} ({min(walls):.1f}-{max(walls):.1f}) | "
              f"{statistics.median(walls) / base:.2f} | {statistics.median(rss):.1f} |")
    return 0


if __name__ == "__main__":
    sys.exit(main())
