#!/usr/bin/env python3
"""execsnoop in Python: trace exec() syscalls, from the BPF object of Debian's libbpf-tools
execsnoop (/usr/sbin/execsnoop), with its options and its output."""

from __future__ import annotations

import argparse
import signal
import sys
import time

import libbpf_py as bpf
from libbpf_py.tracing import poll_until_interrupted, set_cgroup

BINARY = "/usr/sbin/execsnoop"


def options() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description="Trace exec syscalls")
    parser.add_argument("-T", "--time", action="store_true", help="include time column on output (HH:MM:SS)")
    parser.add_argument("-t", "--timestamp", action="store_true", help="include timestamp on output")
    parser.add_argument("-x", "--fails", action="store_true", help="include failed exec()s")
    parser.add_argument("-u", "--uid", type=int, help="trace this UID only")
    parser.add_argument("-q", "--quote", action="store_true", help='Add quotemarks (") around arguments')
    parser.add_argument("-n", "--name", help="only print commands matching this name, any arg")
    parser.add_argument("-l", "--line", help="only print commands where arg contains this line")
    parser.add_argument("-U", "--print-uid", action="store_true", help="print UID column")
    parser.add_argument("-c", "--cgroup", help="Trace process in cgroup path")
    parser.add_argument("--max-args", type=int, default=20, help="maximum number of arguments parsed and displayed")
    return parser.parse_args()


def arguments(event, quote: bool, max_args: int) -> str:
    """The command line an event carries, as execsnoop prints it: each argument and a space."""
    found = event.args.raw[:event.args_size].split(b"\0")[:-1][:event.args_count]  # (each ends in NUL)
    words = [word.decode(errors="replace") for word in found]
    if quote:  # (past the last argument shown, execsnoop opens the quote of one it does not show)
        words = ['"' + word.replace('"', '\\"') + '"' for word in words] + ['"'] * (event.args_count > len(words))
    return " ".join(words) + " " * (not quote or event.args_count <= len(found)) + \
        (" ..." if event.args_count == max_args + 1 else "")


def main() -> None:
    args = options()
    signal.signal(signal.SIGINT, signal.default_int_handler)  # Ctrl-C stops it, as the C tool's handler does
    found = bpf.embedded_object(BINARY)
    with bpf.Object.open(found.data, name=found.name) as obj:
        settings = obj.globals
        settings["ignore_failed"], settings["max_args"] = not args.fails, args.max_args
        settings["filter_cg"] = args.cgroup is not None
        if args.uid is not None:
            settings["targ_uid"] = args.uid
        obj.load()
        if args.cgroup is not None:
            set_cgroup(obj.maps["cgroup_map"], args.cgroup)
        links = obj.attach_all()  # attached while they live
        start = time.monotonic()

        def show(event) -> None:
            comm, line = event.comm.value.decode(errors="replace"), arguments(event, args.quote, args.max_args)
            if (args.name and args.name not in comm) or (args.line and args.line not in line):
                return
            head = [f"{time.strftime('%H:%M:%S'):<8} "] * args.time
            head += [f"{time.monotonic() - start:<8.3f}"] * args.timestamp + [f"{event.uid:<6}"] * args.print_uid
            print("".join(head) + f"{comm:<16} {event.pid:<6} {event.ppid:<6} {event.retval:3} {line}")

        def lost(cpu: int, count: int) -> None:
            print(f"Lost {count} events on CPU #{cpu}!", file=sys.stderr)

        with bpf.PerfBuffer(obj.maps["events"], show, lost, record_type=obj.btf["struct event"]) as events:
            columns = ["TIME     "] * args.time + ["TIME(s)  "] * args.timestamp + ["UID    "] * args.print_uid
            print("".join(columns) + f"{'PCOMM':<16} {'PID':<6} {'PPID':<6} {'RET':>3} ARGS")  # (reading from now)
            poll_until_interrupted(events)
        for link in links:
            link.detach()


if __name__ == "__main__":
    main()
