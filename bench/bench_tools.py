#!/usr/bin/env python3
"""A libbpf-tools tool and its Python port (examples/tools/) on one workload, in one run: the CPU
time of each tool's process over N events, and the time from its start to its first event.

Run as root with Debian's libbpf-tools installed and tracefs mounted (/sys/kernel/tracing):
``python3 bench/bench_tools.py [--events N] [--rounds R]``. The workload is a shell loop of N
``/bin/true`` execs; both tools trace it at once (execsnoop prints a line per exec), their output
read and dropped. CPU is the tool process's user + system time (wait4), start-up included.
"""

from __future__ import annotations

import argparse
import os
import select
import signal
import statistics
import subprocess
import sys
import threading
import time
from pathlib import Path
from typing import Dict, List, Tuple

ROOT = Path(__file__).resolve().parent.parent
PORTS = ROOT / "examples" / "tools"


def started(argv: List[str]) -> Tuple[subprocess.Popen, float]:
    return subprocess.Popen(argv, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL,
                            start_new_session=True), time.monotonic()


def first_line_after(process: subprocess.Popen, pattern: bytes, timeout: float = 30.0) -> float:
    """When ``process`` printed a line containing ``pattern`` (monotonic time)."""
    seen = b""
    deadline = time.monotonic() + timeout
    assert process.stdout is not None
    while pattern not in seen:
        if time.monotonic() > deadline:
            raise RuntimeError(f"{process.args} printed no {pattern!r}")
        if select.select([process.stdout], [], [], 0.05)[0]:
            seen += os.read(process.stdout.fileno(), 65536)
    return time.monotonic()


def drained(process: subprocess.Popen) -> threading.Thread:
    def drain() -> None:
        assert process.stdout is not None
        while os.read(process.stdout.fileno(), 1 << 16):
            pass
    thread = threading.Thread(target=drain, daemon=True)
    thread.start()
    return thread


def cpu_of(process: subprocess.Popen) -> float:
    """Stop ``process`` (SIGINT) and return its user + system CPU seconds."""
    os.killpg(process.pid, signal.SIGINT)
    _, _, usage = os.wait4(process.pid, 0)
    process.returncode = 0
    return usage.ru_utime + usage.ru_stime


def one_round(events: int) -> Dict[str, float]:
    tools = {"C": ["stdbuf", "-oL", "/usr/sbin/execsnoop"],
             "Python port": [sys.executable, "-u", str(PORTS / "execsnoop.py")]}
    running = {name: started(argv) for name, argv in tools.items()}
    figures: Dict[str, float] = {}
    for name, (process, start) in running.items():  # ready: the header is printed once it reads
        figures[f"{name} start-up s"] = first_line_after(process, b"PCOMM") - start
    threads = [drained(process) for process, _ in running.values()]
    subprocess.run(["sh", "-c", f"i=0; while [ $i -lt {events} ]; do /bin/true; i=$((i+1)); done"], check=True)
    time.sleep(0.5)
    for name, (process, _) in running.items():
        figures[f"{name} CPU s"] = cpu_of(process)
    for thread in threads:
        thread.join(5)
    return figures


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--events", type=int, default=10_000)
    parser.add_argument("--rounds", type=int, default=3)
    args = parser.parse_args()
    rounds = [one_round(args.events) for _ in range(args.rounds)]
    print(f"execsnoop and examples/tools/execsnoop.py, {args.events} execs, {args.rounds} rounds (median):")
    for key in rounds[0]:
        print(f"  {key:<24} {statistics.median(r[key] for r in rounds):8.3f}")
    cpu = statistics.median(r["Python port CPU s"] / r["C CPU s"] for r in rounds)
    up = statistics.median(r["Python port start-up s"] / r["C start-up s"] for r in rounds)
    print(f"  port / C: CPU {cpu:.2f}x, start-up to reading {up:.2f}x")
    return 0


if __name__ == "__main__":
    sys.exit(main())
