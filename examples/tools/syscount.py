#!/usr/bin/env python3
"""syscount in Python: count system calls (and their latency) by call or by process, from the BPF
object of Debian's libbpf-tools syscount (/usr/sbin/syscount), with its options and its output."""

from __future__ import annotations

import argparse
import errno
import signal
import time

import libbpf_py as bpf
from libbpf_py.tracing import set_cgroup, syscall_name

BINARY = "/usr/sbin/syscount"


def options() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description="Summarize syscall counts and latencies.")
    parser.add_argument("-p", "--pid", type=int, default=0, help="Process PID to trace")
    parser.add_argument("-i", "--interval", type=int, default=0, help="Print summary at this interval (seconds)")
    parser.add_argument("-d", "--duration", type=int, default=0, help="Total tracing duration (seconds)")
    parser.add_argument("-T", "--top", type=int, default=10, help="Print only the top syscalls (default 10)")
    parser.add_argument("-x", "--failures", action="store_true", help="Trace only failed syscalls")
    parser.add_argument("-e", "--errno", help="Trace only syscalls that return this error (numeric or EPERM, etc.)")
    parser.add_argument("-L", "--latency", action="store_true", help="Collect syscall latency")
    parser.add_argument("-m", "--milliseconds", action="store_true", help="Display latency in milliseconds")
    parser.add_argument("-P", "--process", action="store_true", help="Count by process and not by syscall")
    parser.add_argument("-c", "--cgroup", help="Trace process in cgroup path")
    return parser.parse_args()


def print_top(data, args) -> None:
    """The top entries of the ``data`` map, as syscount prints them, and the map emptied."""
    rows = sorted(data.items(), key=lambda kv: kv[1].total_ns if args.latency else kv[1].count, reverse=True)
    print(f"[{time.strftime('%H:%M:%S')}]")
    unit = "ms" if args.milliseconds else "us"
    head = f"{'PID':<6} {'COMM':<15} {'COUNT':>8}" if args.process else f"{'SYSCALL':<22} {'COUNT':>8}"
    print(head + (f" {f'TIME ({unit})':>16}" if args.latency else ""))
    for key, value in rows[:args.top]:
        line = f"{key:<6} {value.comm.value.decode(errors='replace'):<15} {value.count:>8}" if args.process \
            else f"{syscall_name(key):<22} {value.count:>8}"
        print(line + (f" {value.total_ns / (1e6 if args.milliseconds else 1e3):>16.3f}" if args.latency else ""))
    print()
    data.clear()


def main() -> None:
    args = options()
    signal.signal(signal.SIGINT, signal.default_int_handler)  # Ctrl-C stops it, as the C tool's handler does
    found = bpf.embedded_object(BINARY)
    with bpf.Object.open(found.data, name=found.name) as obj:
        settings = obj.globals
        settings["filter_pid"], settings["count_by_process"] = args.pid, args.process
        settings["measure_latency"], settings["filter_failed"] = args.latency, args.failures
        settings["filter_cg"] = args.cgroup is not None
        if args.errno is not None:
            settings["filter_errno"] = int(args.errno) if args.errno.isdigit() else getattr(errno, args.errno)
        obj.load()
        if args.cgroup is not None:
            set_cgroup(obj.maps["cgroup_map"], args.cgroup)
        links = obj.attach_all()  # attached while they live
        data = obj.maps["data"]
        data.key_type, data.value_type = int, obj.btf["struct data_t"]
        print(f"Tracing syscalls, printing top {args.top}... Ctrl+C to quit.")
        started = time.monotonic()
        try:
            while True:
                time.sleep(args.interval or (args.duration or 99999999))
                if not args.interval:
                    break
                print_top(data, args)
                if args.duration and time.monotonic() - started >= args.duration:
                    break
        except KeyboardInterrupt:
            pass
        if not args.interval or data.keys():
            print_top(data, args)
        for link in links:
            link.detach()


if __name__ == "__main__":
    main()
