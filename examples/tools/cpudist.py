#!/usr/bin/env python3
"""cpudist in Python: on-CPU (or off-CPU) time per task as a histogram, from the BPF object of
Debian's libbpf-tools cpudist (/usr/sbin/cpudist), with its options and its output."""

from __future__ import annotations

import argparse
import signal
import time

import libbpf_py as bpf
from libbpf_py.tracing import choose_tp_btf, intervals, print_log2_hists, set_cgroup

BINARY = "/usr/sbin/cpudist"


def options() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description="Summarize on-CPU time per task as a histogram.")
    parser.add_argument("-O", "--offcpu", action="store_true", help="Measure off-CPU time")
    parser.add_argument("-T", "--timestamp", action="store_true", help="Include timestamp on output")
    parser.add_argument("-m", "--milliseconds", action="store_true", help="Millisecond histogram")
    parser.add_argument("-P", "--pids", action="store_true", help="Print a histogram per process ID")
    parser.add_argument("-L", "--tids", action="store_true", help="Print a histogram per thread ID")
    parser.add_argument("-p", "--pid", type=int, default=-1, help="Trace this PID only")
    parser.add_argument("-c", "--cgroup", help="Trace process in cgroup path")
    parser.add_argument("interval", nargs="?", type=int, default=99999999)
    parser.add_argument("times", nargs="?", type=int, default=99999999)
    return parser.parse_args()


def main() -> None:
    args = options()
    signal.signal(signal.SIGINT, signal.default_int_handler)  # Ctrl-C stops it, as the C tool's handler does
    found = bpf.embedded_object(BINARY)
    with bpf.Object.open(found.data, name=found.name) as obj:
        settings = obj.globals
        settings["targ_per_process"], settings["targ_per_thread"] = args.pids, args.tids
        settings["targ_offcpu"], settings["targ_ms"], settings["targ_tgid"] = args.offcpu, args.milliseconds, args.pid
        settings["filter_cg"] = args.cgroup is not None
        with open("/proc/sys/kernel/pid_max") as f:
            pid_max = int(f.read())
        obj.maps["start"].max_entries = pid_max
        obj.maps["hists"].max_entries = pid_max if args.pids or args.tids else 1
        choose_tp_btf(obj, "sched_switch_btf")  # tp_btf where the kernel has it, else raw_tp
        obj.load()
        if args.cgroup is not None:
            set_cgroup(obj.maps["cgroup_map"], args.cgroup)
        links = obj.attach_all()  # attached while they live
        print(f"Tracing {'off' if args.offcpu else 'on'}-CPU time... Hit Ctrl-C to end.")
        hists = obj.maps["hists"]
        hists.key_type, hists.value_type = int, obj.btf["struct hist"]
        label = "pid" if args.pids else "tid" if args.tids else None
        for _ in intervals(args.interval, args.times):
            print()
            if args.timestamp:
                print(f"{time.strftime('%H:%M:%S'):<8}")
            print_log2_hists(hists, "msecs" if args.milliseconds else "usecs", label)
        for link in links:
            link.detach()


if __name__ == "__main__":
    main()
