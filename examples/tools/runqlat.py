#!/usr/bin/env python3
"""runqlat in Python: run queue (scheduler) latency as a histogram, from the BPF object of Debian's
libbpf-tools runqlat (/usr/sbin/runqlat), with its options and its output."""

from __future__ import annotations

import argparse
import signal
import time

import libbpf_py as bpf
from libbpf_py.tracing import choose_tp_btf, intervals, print_log2_hists, set_cgroup

BINARY = "/usr/sbin/runqlat"


def options() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description="Summarize run queue (scheduler) latency as a histogram.")
    parser.add_argument("-T", "--timestamp", action="store_true", help="Include timestamp on output")
    parser.add_argument("-m", "--milliseconds", action="store_true", help="Millisecond histogram")
    parser.add_argument("--pidnss", action="store_true", help="Print a histogram per PID namespace")
    parser.add_argument("-L", "--tids", action="store_true", help="Print a histogram per thread ID")
    parser.add_argument("-P", "--pids", action="store_true", help="Print a histogram per process ID")
    parser.add_argument("-p", "--pid", type=int, default=0, help="Trace this PID only")
    parser.add_argument("-c", "--cgroup", help="Trace process in cgroup path")
    parser.add_argument("interval", nargs="?", type=int, default=99999999)
    parser.add_argument("times", nargs="?", type=int, default=99999999)
    args = parser.parse_args()
    if sum((args.pids, args.tids, args.pidnss)) > 1:
        parser.error("pidnss, pids, tids cann't be used together.")
    return args


def main() -> None:
    args = options()
    signal.signal(signal.SIGINT, signal.default_int_handler)  # Ctrl-C stops it, as the C tool's handler does
    found = bpf.embedded_object(BINARY)
    with bpf.Object.open(found.data, name=found.name) as obj:
        settings = obj.globals
        settings["targ_per_process"], settings["targ_per_thread"] = args.pids, args.tids
        settings["targ_per_pidns"], settings["targ_ms"] = args.pidnss, args.milliseconds
        settings["targ_tgid"] = args.pid
        settings["filter_cg"] = args.cgroup is not None
        choose_tp_btf(obj, "sched_wakeup")  # tp_btf where the kernel has it, else raw_tp
        obj.load()
        if args.cgroup is not None:
            set_cgroup(obj.maps["cgroup_map"], args.cgroup)
        links = obj.attach_all()  # attached while they live
        print("Tracing run queue latency... Hit Ctrl-C to end.")
        hists = obj.maps["hists"]
        hists.key_type, hists.value_type = int, obj.btf["struct hist"]
        label = "pid" if args.pids else "tid" if args.tids else "pidns" if args.pidnss else None
        for _ in intervals(args.interval, args.times):
            print()
            if args.timestamp:
                print(f"{time.strftime('%H:%M:%S'):<8}")
            print_log2_hists(hists, "msecs" if args.milliseconds else "usecs", label)
        for link in links:
            link.detach()


if __name__ == "__main__":
    main()
