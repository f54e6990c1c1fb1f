#!/usr/bin/env python3
"""sigsnoop in Python: trace signals sent, from the BPF object of Debian's libbpf-tools sigsnoop
(/usr/sbin/sigsnoop), with its options and its output."""

from __future__ import annotations

import argparse
import signal
import time

import libbpf_py as bpf
from libbpf_py.tracing import poll_until_interrupted

BINARY = "/usr/sbin/sigsnoop"


def options() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description="Trace standard and real-time signals.")
    parser.add_argument("-x", "--failed", action="store_true", help="Trace failed signals only.")
    parser.add_argument("-k", "--kill", action="store_true", help="Trace signals issued by kill syscall only.")
    parser.add_argument("-p", "--pid", type=int, default=0, help="Process ID to trace")
    parser.add_argument("-s", "--signal", type=int, default=0, help="Signal to trace.")
    parser.add_argument("-n", "--name", action="store_true", help="Output signal name instead of signal number.")
    return parser.parse_args()


def signal_name(number: int) -> str:
    try:
        return signal.Signals(number).name
    except ValueError:
        return str(number)


def main() -> None:
    args = options()
    signal.signal(signal.SIGINT, signal.default_int_handler)  # Ctrl-C stops it, as the C tool's handler does
    found = bpf.embedded_object(BINARY)
    with bpf.Object.open(found.data, name=found.name) as obj:
        settings = obj.globals
        settings["filtered_pid"], settings["target_signal"] = args.pid, args.signal
        settings["failed_only"] = args.failed
        for name, program in obj.programs.items():  # the kill syscalls' entries and exits, or the tracepoint
            program.autoload = (name != "sig_trace") == args.kill
        obj.load()
        links = obj.attach_all()  # attached while they live

        def show(event) -> None:
            sig = signal_name(event.sig) if args.name else event.sig
            print(f"{time.strftime('%H:%M:%S'):<8} {event.pid:<7} {event.comm.value.decode(errors='replace'):<16} "
                  f"{sig:<9} {event.tpid:<7} {event.ret:<6}")

        with bpf.PerfBuffer(obj.maps["events"], show, record_type=obj.btf["struct event"]) as events:
            print(f"{'TIME':<8} {'PID':<7} {'COMM':<16} {'SIG':<9} {'TPID':<7} {'RESULT':<6}")
            poll_until_interrupted(events)
        for link in links:
            link.detach()


if __name__ == "__main__":
    main()
