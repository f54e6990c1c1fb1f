#!/usr/bin/env python3
"""The benchmark's element operations through pylibbpf (a compiled pybind11 binding of libbpf),
run by bench_maps.py in a virtualenv of its own: ``peer_pylibbpf.py OBJECT REPS ENTRIES``.

pylibbpf takes maps only from an object: ``bpf_progs/bench_maps.c`` has them (100000 entries).
Prints one JSON object, ``{"hash": {"lookup": ns, ...}, "array": {...}}``, each figure the
median over REPS passes of ENTRIES keys, as native.c reports them.
"""

import gc
import json
import statistics
import sys
import time

import pylibbpf

VALUE_FACTOR = 2654435761  # as native.c and bench_maps.py


def main() -> int:
    path, reps, entries = sys.argv[1], int(sys.argv[2]), int(sys.argv[3])
    obj = pylibbpf.BpfObject(path)
    obj.load()
    keys = list(range(entries))
    values = [(k * VALUE_FACTOR) & 0xFFFFFFFFFFFFFFFF for k in keys]
    figures = {}
    for kind in ("hash", "array"):
        m = obj.get_map(f"bench_{kind}")
        lookup, update, delete = m.lookup, m.update, m.delete_elem
        for k, v in zip(keys, values):
            update(k, v)
        samples = {"lookup": [], "update": [], "delete": []}
        clock = time.perf_counter_ns
        for k in keys:  # warm-up, as the others do
            lookup(k)
        gc.disable()
        try:
            for _ in range(reps):
                t0 = clock()
                for k in keys:
                    lookup(k)
                samples["lookup"].append((clock() - t0) / entries)
                t0 = clock()
                for k, v in zip(keys, values):
                    update(k, v)
                samples["update"].append((clock() - t0) / entries)
                if kind == "hash":
                    t0 = clock()
                    for k in keys:
                        delete(k)
                    samples["delete"].append((clock() - t0) / entries)
                    for k, v in zip(keys, values):
                        update(k, v)
        finally:
            gc.enable()
        if any(lookup(k) != v for k, v in zip(keys[:100], values[:100])):
            sys.exit("pylibbpf: the map does not hold what was written")
        figures[kind] = {op: statistics.median(s) for op, s in samples.items() if s}
    print(json.dumps(figures))
    return 0


if __name__ == "__main__":
    sys.exit(main())
