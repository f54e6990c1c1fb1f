#!/usr/bin/env python3
"""biopattern in Python: random and sequential block I/O per disk, from the BPF object of Debian's
libbpf-tools biopattern (/usr/sbin/biopattern), with its options and its output."""

from __future__ import annotations

import argparse
import signal
import time

import libbpf_py as bpf
from libbpf_py.tracing import intervals

BINARY = "/usr/sbin/biopattern"


def options() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description="Show block device I/O pattern.")
    parser.add_argument("-d", "--disk", help="Trace this disk only")
    parser.add_argument("-T", "--timestamp", action="store_true", help="Include timestamp on output")
    parser.add_argument("interval", nargs="?", type=int, default=99999999)
    parser.add_argument("times", nargs="?", type=int, default=99999999)
    return parser.parse_args()


def disks() -> dict:
    """Disk and partition names by the kernel's device number (major << 20 | minor)."""
    with open("/proc/partitions") as table:
        rows = [line.split() for line in table.readlines()[2:]]
    return {int(major) << 20 | int(minor): name for major, minor, _, name in rows}


def main() -> None:
    args = options()
    signal.signal(signal.SIGINT, signal.default_int_handler)  # Ctrl-C stops it, as the C tool's handler does
    found = bpf.embedded_object(BINARY)
    names = disks()
    with bpf.Object.open(found.data, name=found.name) as obj:
        if args.disk:
            obj.globals["filter_dev"] = True
            obj.globals["targ_dev"] = next(number for number, name in names.items() if name == args.disk)
        obj.load()
        links = obj.attach_all()  # attached while they live
        counters = obj.maps["counters"]
        counters.key_type, counters.value_type = int, obj.btf["struct counter"]
        print("Tracing block device I/O requested seeks... Hit Ctrl-C to end.")
        print(f"{'TIME':<9} " * args.timestamp + f"{'DISK':<7} {'%RND':>5} {'%SEQ':>5} {'COUNT':>8} {'KBYTES':>10}")
        for _ in intervals(args.interval, args.times):
            for dev, counter in list(counters.items()):
                total = counter.sequential + counter.random
                if total:
                    stamp = f"{time.strftime('%H:%M:%S'):<9} " * args.timestamp
                    print(f"{stamp}{names.get(dev, '?'):<7} {counter.random * 100 // total:>5} "
                          f"{counter.sequential * 100 // total:>5} {total:>8} {counter.bytes // 1024:>10}")
            counters.clear()
        for link in links:
            link.detach()


if __name__ == "__main__":
    main()
