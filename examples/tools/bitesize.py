#!/usr/bin/env python3
"""bitesize in Python: block I/O sizes per process as histograms, from the BPF object of Debian's
libbpf-tools bitesize (/usr/sbin/bitesize), with its options and its output."""

from __future__ import annotations

import argparse
import signal
import time

import libbpf_py as bpf
from libbpf_py.tracing import intervals, print_log2_hist

BINARY = "/usr/sbin/bitesize"


def options() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description="Summarize block device I/O size as a histogram.")
    parser.add_argument("-c", "--comm", help="Trace this comm only")
    parser.add_argument("-d", "--disk", help="Trace this disk only")
    parser.add_argument("-T", "--timestamp", action="store_true", help="Include timestamp on output")
    parser.add_argument("interval", nargs="?", type=int, default=99999999)
    parser.add_argument("times", nargs="?", type=int, default=99999999)
    return parser.parse_args()


def disk_number(name: str) -> int:
    """The kernel's device number of disk ``name`` (major << 20 | minor, as the BPF side sees it)."""
    with open(f"/sys/block/{name}/dev") as dev:
        major, minor = (int(part) for part in dev.read().split(":"))
    return major << 20 | minor


def main() -> None:
    args = options()
    signal.signal(signal.SIGINT, signal.default_int_handler)  # Ctrl-C stops it, as the C tool's handler does
    found = bpf.embedded_object(BINARY)
    with bpf.Object.open(found.data, name=found.name) as obj:
        if args.comm:
            obj.globals["targ_comm"] = args.comm.encode()[:15]
        if args.disk:
            obj.globals["filter_dev"], obj.globals["targ_dev"] = True, disk_number(args.disk)
        obj.load()
        links = obj.attach_all()  # attached while they live
        print("Tracing block device I/O... Hit Ctrl-C to end.")
        hists = obj.maps["hists"]
        hists.key_type, hists.value_type = obj.btf["struct hist_key"], obj.btf["struct hist"]
        for _ in intervals(args.interval, args.times):
            print()
            if args.timestamp:
                print(f"{time.strftime('%H:%M:%S'):<8}")
            for key, hist in list(hists.items()):
                print(f"\nProcess Name = {key.comm.value.decode(errors='replace')}")
                print_log2_hist(list(hist.slots), "Kbytes")
            hists.clear()
        for link in links:
            link.detach()


if __name__ == "__main__":
    main()
