#!/usr/bin/env python3
"""Events and shared memory, measured in one run beside native C and the bare ctypes floor:

- ring buffer records (16 bytes) drained: C with ring_buffer__consume and an empty callback;
  the same libbpf call with a bare ctypes callback that does nothing (the floor of any
  callback-per-record binding); RingBuffer's callback path (each record as bytes);
  RingBuffer.drain() (one pass, no callback); PerfBuffer's callback path;
- a BPF_F_MMAPABLE array read through Map.mmap() (Python indexing, and numpy where installed)
  against native C's bpf_map_lookup_elem per element;
- obj.globals[name] and a live section's attribute against a plain ctypes attribute read;
- streaming: a producer process submits 2.5 M records/s for --seconds into a 16 MiB ring while
  this process drains; the records dropped (the program counts refused reservations).

Run as root after ``make -C bpf_progs``: ``python3 bench/bench_events.py [--rounds R] [--seconds S]``.
"""

from __future__ import annotations

import argparse
import ctypes
import gc
import json
import os
import selectors
import statistics
import subprocess
import sys
import time
from pathlib import Path

BENCH = Path(__file__).resolve().parent
ROOT = BENCH.parent
sys.path.insert(0, str(ROOT))

from native_build import build  # noqa: E402

import libbpf_py as bpf  # noqa: E402
from libbpf_py import _abi  # noqa: E402

BUILD = ROOT / "bpf_progs" / "build"
EVENTS, STREAM, GLOBALS = BUILD / "events.o", BUILD / "bench_events.o", BUILD / "globals.o"
BATCH = 2048  # records a round: most of the 64 KiB ring of events.o


def per_record(obj: bpf.Object, consume, rounds: int, program: str = "emit") -> float:
    """Median ns per record of ``consume()`` over rounds of BATCH records each."""
    obj.maps["config"][0] = BATCH
    times = []
    gc.disable()
    try:
        for _ in range(rounds):
            obj.programs[program].test_run(bytes(64))
            start = time.perf_counter_ns()
            handled = consume()
            times.append((time.perf_counter_ns() - start) / max(handled if isinstance(handled, int) else
                                                                  len(handled), 1))
    finally:
        gc.enable()
    return statistics.median(times)


def bare_floor(obj: bpf.Object, rounds: int) -> float:
    """libbpf's ring_buffer__consume with a ctypes callback that does nothing, nothing around it."""
    lib = ctypes.CDLL(bpf.library_path())
    lib.ring_buffer__new.restype = ctypes.c_void_p
    lib.ring_buffer__new.argtypes = (ctypes.c_int, _abi.RINGBUF_SAMPLE_FN, ctypes.c_void_p, ctypes.c_void_p)
    lib.ring_buffer__consume.argtypes = lib.ring_buffer__free.argtypes = (ctypes.c_void_p,)
    callback = _abi.RINGBUF_SAMPLE_FN(lambda ctx, data, size: 0)
    rb = lib.ring_buffer__new(obj.maps["events"].fd, callback, None, None)
    try:
        return per_record(obj, lambda: lib.ring_buffer__consume(rb), rounds)
    finally:
        lib.ring_buffer__free(rb)


def ring_figures(native: Path, rounds: int) -> dict:
    done = subprocess.run([str(native), "ringbuf", str(EVENTS), str(BATCH), str(rounds)], capture_output=True,
                          text=True, check=True)
    figures = {"native C": json.loads(done.stdout)["ns_per_record"]}
    with bpf.Object.open(EVENTS) as obj:
        obj.load()
        obj.maps["config"].key_type = obj.maps["config"].value_type = int
        figures["bare ctypes callback"] = bare_floor(obj, rounds)
        with bpf.RingBuffer(obj.maps["events"], lambda record: None) as rb:
            figures["RingBuffer callback (bytes)"] = per_record(obj, rb.consume, rounds)
            figures["RingBuffer.drain()"] = per_record(obj, rb.drain, rounds)
        with bpf.PerfBuffer(obj.maps["perf_events"], lambda record: None, pages=64) as pb:
            figures["PerfBuffer callback (bytes)"] = per_record(obj, pb.consume, rounds, "emit_perf")
    return figures


def mmap_figures(native: Path, entries: int = 100_000) -> dict:
    """Per element read of an ``entries``-element u64 array: syscalls from C, the mapping from Python."""
    done = subprocess.run([str(native), "mmap", str(entries), "200000"], capture_output=True, text=True,
                          check=True)
    figures = {"native C bpf_map_lookup_elem": json.loads(done.stdout)["lookup_ns"]}
    with bpf.Map.create(bpf.MapType.ARRAY, 4, 8, entries, flags=bpf.MapFlags.MMAPABLE) as m:
        view = m.mmap()
        words = view.cast("Q")
        start = time.perf_counter_ns()
        total = 0
        for i in range(entries):
            total += words[i]
        figures["Map.mmap() + Python indexing"] = (time.perf_counter_ns() - start) / entries
        start = time.perf_counter_ns()
        total = sum(words.tolist())
        figures["Map.mmap() + tolist()"] = (time.perf_counter_ns() - start) / entries
        try:
            import numpy
        except ImportError:
            numpy = None  # pip install libbpf-py[bench]
        if numpy is not None:
            array = numpy.frombuffer(view, dtype=numpy.uint64)
            start = time.perf_counter_ns()
            for _ in range(100):
                total = int(array.sum())
            figures["Map.mmap() + numpy.frombuffer().sum()"] = (time.perf_counter_ns() - start) / 100 / entries
            del array
        words.release()
    return figures


def globals_figures() -> dict:
    with bpf.Object.open(GLOBALS) as obj:
        obj.load()
        g = obj.globals
        bss = g.section(".bss")

        class Plain(ctypes.Structure):
            _fields_ = [("packets", ctypes.c_uint64)]

        plain = Plain()
        reps = 500000
        figures = {}
        for label, read in (("plain ctypes attribute", lambda: plain.packets),
                            ("obj.globals['packets']", lambda: g["packets"]),
                            ("obj.globals.section('.bss').packets", lambda: bss.packets)):
            start = time.perf_counter_ns()
            for _ in range(reps):
                read()
            figures[label] = (time.perf_counter_ns() - start) / reps
        return figures


def stream(seconds: float, rate: int) -> dict:
    """A forked producer submits ``rate`` records/s (a burst each millisecond) while this
    process drains; returns what arrived, what the program could not reserve, and the rate."""
    with bpf.Object.open(STREAM) as obj:
        obj.load()
        for name in ("config", "drops"):
            obj.maps[name].key_type = obj.maps[name].value_type = int
        per_tick = rate // 1000
        obj.maps["config"][0] = per_tick
        emit = obj.programs["emit"]
        with bpf.RingBuffer(obj.maps["events"]) as rb, selectors.DefaultSelector() as sel:
            sel.register(rb.fileno(), selectors.EVENT_READ)
            pid = os.fork()
            if pid == 0:  # the producer: one burst a millisecond, on schedule
                try:
                    ticks = int(seconds * 1000)
                    start = time.monotonic()
                    for tick in range(ticks):
                        emit.test_run(bytes(64))
                        delay = start + (tick + 1) / 1000 - time.monotonic()
                        if delay > 0:
                            time.sleep(delay)
                finally:
                    os._exit(0)
            received = 0
            start = time.monotonic()
            while True:
                finished = os.waitpid(pid, os.WNOHANG)[0] == pid
                sel.select(0.05)
                received += len(rb.drain())
                if finished:
                    received += len(rb.drain())
                    break
            elapsed = time.monotonic() - start
        produced = obj.maps["config"][1]
        return {"produced": produced, "received": received, "dropped": obj.maps["drops"][0],
                "rate (M records/s)": round(produced / elapsed / 1e6, 2)}


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--rounds", type=int, default=41)
    parser.add_argument("--seconds", type=float, default=10.0)
    parser.add_argument("--rate", type=int, default=2_500_000)
    args = parser.parse_args()
    for path in (EVENTS, STREAM, GLOBALS):
        if not path.exists():
            sys.exit(f"{path} is missing: run `make -C bpf_progs`")
    native = build("native_ringbuf")
    rings = ring_figures(native, args.rounds)
    floor = rings["bare ctypes callback"]
    print(f"ring buffer, {BATCH} records of 16 bytes a round, medians over {args.rounds} rounds "
          f"(libbpf {bpf.libbpf_version_string()})")
    print(f"| {'reader':34} | ns/record | x native | x bare ctypes callback |")
    print(f"| {'-' * 34} | --- | --- | --- |")
    for label, value in rings.items():
        print(f"| {label:34} | {value:9.1f} | {value / rings['native C']:8.1f} | {value / floor:22.2f} |")
    print()
    memory = mmap_figures(native)
    base = memory["native C bpf_map_lookup_elem"]
    print("| array element read | ns | native lookup / this |")
    print("| --- | --- | --- |")
    for label, value in memory.items():
        print(f"| {label} | {value:.2f} | {base / value:.0f}x |")
    print()
    reads = globals_figures()
    plain = reads["plain ctypes attribute"]
    print("| global variable read | ns | x plain attribute |")
    print("| --- | --- | --- |")
    for label, value in reads.items():
        print(f"| {label} | {value:.1f} | {value / plain:.2f} |")
    print()
    streamed = stream(args.seconds, args.rate)
    print(f"streaming {args.rate / 1e6:g} M records/s for {args.seconds:g} s into a 16 MiB ring, drained by "
          f"RingBuffer.drain(): {json.dumps(streamed)}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
