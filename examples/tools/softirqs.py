#!/usr/bin/env python3
"""softirqs in Python: soft IRQ time by vector, in total or as histograms, from the BPF object of
Debian's libbpf-tools softirqs (/usr/sbin/softirqs), with its options and its output."""

from __future__ import annotations

import argparse
import signal
import time

import libbpf_py as bpf
from libbpf_py.tracing import choose_tp_btf, intervals, print_log2_hist

BINARY = "/usr/sbin/softirqs"


def options() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description="Summarize soft irq event time as histograms.")
    parser.add_argument("-d", "--distributed", action="store_true", help="Show distributions as histograms")
    parser.add_argument("-N", "--nanoseconds", action="store_true", help="Output in nanoseconds")
    parser.add_argument("-T", "--timestamp", action="store_true", help="Include timestamp on output")
    parser.add_argument("interval", nargs="?", type=int, default=99999999)
    parser.add_argument("times", nargs="?", type=int, default=99999999)
    return parser.parse_args()


def vector_names() -> list:
    """The kernel's soft IRQ vectors, in order, as /proc/softirqs names them (lower case)."""
    with open("/proc/softirqs") as table:
        return [line.split(":")[0].strip().lower() for line in table.readlines()[1:]]


def main() -> None:
    args = options()
    signal.signal(signal.SIGINT, signal.default_int_handler)  # Ctrl-C stops it, as the C tool's handler does
    found = bpf.embedded_object(BINARY)
    with bpf.Object.open(found.data, name=found.name) as obj:
        obj.globals["targ_dist"], obj.globals["targ_ns"] = args.distributed, args.nanoseconds
        choose_tp_btf(obj, "softirq_entry_btf")  # tp_btf where the kernel has it, else raw_tp
        obj.load()
        links = obj.attach_all()  # attached while they live
        print("Tracing soft irq event time... Hit Ctrl-C to end.")
        names, unit = vector_names(), "nsecs" if args.nanoseconds else "usecs"
        for _ in intervals(args.interval, args.times):
            print()
            if args.timestamp:
                print(f"{time.strftime('%H:%M:%S'):<8}")
            if args.distributed:
                hists = obj.globals["hists"]
                for vector, hist in enumerate(hists):
                    if any(hist.slots) and vector < len(names):
                        print(f"softirq = {names[vector]}")
                        print_log2_hist(list(hist.slots), unit)
                        print()
                obj.globals["hists"] = [{"slots": [0] * len(hists[0].slots)}] * len(hists)
            else:
                print(f"{'SOFTIRQ':<16} {'TOTAL_' + unit:>11}")
                for vector, total in enumerate(obj.globals["counts"]):
                    if total and vector < len(names):
                        print(f"{names[vector]:<16} {total:>11}")
                obj.globals["counts"] = [0] * len(obj.globals["counts"])
        for link in links:
            link.detach()


if __name__ == "__main__":
    main()
