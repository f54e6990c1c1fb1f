#!/usr/bin/env python3
"""hardirqs in Python: hard IRQ time (or counts) by handler, in total or as histograms, from the
BPF object of Debian's libbpf-tools hardirqs (/usr/sbin/hardirqs), with its options and output."""

from __future__ import annotations

import argparse
import signal
import time

import libbpf_py as bpf
from libbpf_py.tracing import choose_tp_btf, intervals, print_log2_hist, set_cgroup

BINARY = "/usr/sbin/hardirqs"


def options() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description="Summarize hard irq event time as histograms.")
    parser.add_argument("-C", "--count", action="store_true", help="Show event counts instead of timing")
    parser.add_argument("-d", "--distributed", action="store_true", help="Show distributions as histograms")
    parser.add_argument("-N", "--nanoseconds", action="store_true", help="Output in nanoseconds")
    parser.add_argument("-T", "--timestamp", action="store_true", help="Include timestamp on output")
    parser.add_argument("-c", "--cgroup", help="Trace process in cgroup path")
    parser.add_argument("interval", nargs="?", type=int, default=99999999)
    parser.add_argument("times", nargs="?", type=int, default=99999999)
    args = parser.parse_args()
    if args.count and args.distributed:
        parser.error("count, distributed cann't be used together")
    return args


def main() -> None:
    args = options()
    signal.signal(signal.SIGINT, signal.default_int_handler)  # Ctrl-C stops it, as the C tool's handler does
    found = bpf.embedded_object(BINARY)
    with bpf.Object.open(found.data, name=found.name) as obj:
        settings = obj.globals
        settings["do_count"], settings["targ_dist"] = args.count, args.distributed
        settings["targ_ns"], settings["filter_cg"] = args.nanoseconds, args.cgroup is not None
        choose_tp_btf(obj, "irq_handler_entry_btf")  # tp_btf where the kernel has it, else raw_tp
        obj.load()
        if args.cgroup is not None:
            set_cgroup(obj.maps["cgroup_map"], args.cgroup)
        links = obj.attach_all()  # attached while they live
        print(f"Tracing hard irq event{'s' if args.count else ' time'}... Hit Ctrl-C to end.")
        infos = obj.maps["infos"]
        infos.key_type, infos.value_type = obj.btf["struct irq_key"], obj.btf["struct info"]
        unit = "nsecs" if args.nanoseconds else "usecs"
        for _ in intervals(args.interval, args.times):
            print()
            if args.timestamp:
                print(f"{time.strftime('%H:%M:%S'):<8}")
            if not args.distributed:
                print(f"{'HARDIRQ':<26} {'TOTAL_count' if args.count else 'TOTAL_' + unit:>11}")
            for key, info in list(infos.items()):
                name = key.name.value.decode(errors="replace")
                if args.distributed:
                    print(f"hardirq = {name}")
                    print_log2_hist(list(info.slots), unit)
                else:
                    print(f"{name:<26} {info.count:>11}")
            infos.clear()
        for link in links:
            link.detach()


if __name__ == "__main__":
    main()
