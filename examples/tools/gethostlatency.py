#!/usr/bin/env python3
"""gethostlatency in Python: the latency of host name lookups (getaddrinfo, gethostbyname and
gethostbyname2 of libc, by uprobes), from the BPF object of Debian's libbpf-tools gethostlatency
(/usr/sbin/gethostlatency), with its options and its output."""

from __future__ import annotations

import argparse
import signal
import time

import libbpf_py as bpf
from libbpf_py.tracing import poll_until_interrupted

BINARY = "/usr/sbin/gethostlatency"
LOOKUPS = ("getaddrinfo", "gethostbyname", "gethostbyname2")


def options() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description="Show latency for getaddrinfo/gethostbyname[2] calls.")
    parser.add_argument("-l", "--libc", help="Specify which libc.so to use")
    parser.add_argument("-p", "--pid", type=int, default=-1, help="Process ID to trace")
    return parser.parse_args()


def libc_path() -> str:
    """The libc this Python runs on (the one its host's processes use)."""
    with open("/proc/self/maps") as maps:
        return next(line.split()[-1] for line in maps if "/libc.so" in line or "/libc-" in line)


def main() -> None:
    args = options()
    signal.signal(signal.SIGINT, signal.default_int_handler)  # Ctrl-C stops it, as the C tool's handler does
    found = bpf.embedded_object(BINARY)
    with bpf.Object.open(found.data, name=found.name) as obj:
        obj.globals["target_pid"] = max(args.pid, 0)
        obj.load()
        libc = args.libc or libc_path()
        links = [obj.programs[program].attach_uprobe(libc, function, pid=args.pid, retprobe=retprobe)
                 for function in LOOKUPS for program, retprobe in (("handle_entry", False), ("handle_return", True))]

        def show(event) -> None:
            print(f"{time.strftime('%H:%M:%S'):<8} {event.pid:<7} {event.comm.value.decode(errors='replace'):<16} "
                  f"{event.time / 1e6:<10.3f} {event.host.value.decode(errors='replace')}")

        with bpf.PerfBuffer(obj.maps["events"], show, record_type=obj.btf["struct event"]) as events:
            print(f"{'TIME':<8} {'PID':<7} {'COMM':<16} {'LATms':<10} {'HOST'}")
            poll_until_interrupted(events)
        for link in links:
            link.detach()


if __name__ == "__main__":
    main()
