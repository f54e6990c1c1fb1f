#!/usr/bin/env python3
"""The benchmark's element operations through BCC's table API (Debian's python3-bpfcc), run by
bench_maps.py with the system's Python: ``peer_bcc.py REPS ENTRIES``.

BCC compiles the maps' C declarations at run time with its own clang; it needs kernel headers,
which bench_maps.py points it at (``BCC_KERNEL_SOURCE``). Keys and values are built as the
table's ctypes types from Python ints, as a BCC user writes ``table[table.Key(k)]``. Prints one
JSON object, ``{"hash": {"lookup": ns, ...}, "array": {...}}``, each figure the median over REPS
passes of ENTRIES keys.
"""

import gc
import json
import statistics
import sys
import time

from bcc import BPF

VALUE_FACTOR = 2654435761  # as native.c and bench_maps.py
SOURCE = """
BPF_HASH(bench_hash, u32, u64, %(entries)d);
BPF_ARRAY(bench_array, u64, %(entries)d);
int bench_touch(void *ctx) { return 0; }
"""


def main() -> int:
    reps, entries = int(sys.argv[1]), int(sys.argv[2])
    bpf = BPF(text=SOURCE % {"entries": entries})
    keys = list(range(entries))
    values = [(k * VALUE_FACTOR) & 0xFFFFFFFFFFFFFFFF for k in keys]
    figures = {}
    for kind in ("hash", "array"):
        table = bpf[f"bench_{kind}"]
        key_type, leaf_type = table.Key, table.Leaf
        for k, v in zip(keys, values):
            table[key_type(k)] = leaf_type(v)
        samples = {"lookup": [], "update": [], "delete": []}
        clock = time.perf_counter_ns
        for k in keys:  # warm-up, as the others do
            table[key_type(k)]
        gc.disable()
        try:
            for _ in range(reps):
                t0 = clock()
                for k in keys:
                    table[key_type(k)].value  # noqa: B018  (read, as a caller would)
                samples["lookup"].append((clock() - t0) / entries)
                t0 = clock()
                for k, v in zip(keys, values):
                    table[key_type(k)] = leaf_type(v)
                samples["update"].append((clock() - t0) / entries)
                if kind == "hash":
                    t0 = clock()
                    for k in keys:
                        del table[key_type(k)]
                    samples["delete"].append((clock() - t0) / entries)
                    for k, v in zip(keys, values):
                        table[key_type(k)] = leaf_type(v)
        finally:
            gc.enable()
        if any(table[key_type(k)].value != v for k, v in zip(keys[:100], values[:100])):
            sys.exit("bcc: the map does not hold what was written")
        figures[kind] = {op: statistics.median(s) for op, s in samples.items() if s}
    print(json.dumps(figures))
    return 0


if __name__ == "__main__":
    sys.exit(main())
