#!/usr/bin/env python3
"""Map operations through libbpf_py against the same calls from C, and the cost of ``import libbpf_py``.

Run as root from anywhere: ``python3 bench/bench_maps.py`` (see bench/README.md).

Each round runs the native harness (bench/native.c, built on demand into bench/build/) in a
subprocess and then the same measurements through libbpf_py in this process, REPS repetitions
each; a round reports the median of its repetitions and the table shows the median over rounds.
"""

from __future__ import annotations

import argparse
import array
import ctypes
import gc
import json
import os
import platform
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any, Dict, List, Optional, Sequence, Tuple

BENCH = Path(__file__).resolve().parent
ROOT = BENCH.parent
SOURCE = BENCH / "native.c"
BUILD = BENCH / "build"
NATIVE = BUILD / "native"

MAPS = ("hash", "array")
OPS = ("lookup", "update", "delete", "lookup_batch", "update_batch")
# What only the Python side runs: the same passes as m[k] syntax, with bytes keys and values,
# and the ctypes floor (the C function called through ctypes with prepared pointers, the key
# stored and the value read as plain ctypes integers: what any ctypes binding must at least do).
ITEM_OPS = {"lookup": "m[k]", "update": "m[k] = v", "delete": "del m[k]"}
BYTES_OPS = {"lookup": "lookup, bytes", "update": "update, bytes"}
FLOOR = "ctypes floor"
BESIDE = "beside the floor"  # libbpf_py's method passes timed again between the floor's, for "x floor"
NO_DELETE = {"array"}  # array maps reject BPF_MAP_DELETE_ELEM (EINVAL)
VALUE_FACTOR = 2654435761  # value written for key k: k * VALUE_FACTOR (same as native.c)

Figures = Dict[str, Dict[str, float]]  # map -> operation -> ns per element


class BenchError(Exception):
    """A problem with the environment, reported without a traceback."""


# native harness ------------------------------------------------------------------------------

def build_native(force: bool = False) -> Path:
    """Compile bench/build/native when it is missing or older than native.c."""
    if not SOURCE.exists():
        raise BenchError(f"{SOURCE} is missing")
    if not force and NATIVE.exists() and NATIVE.stat().st_mtime >= SOURCE.stat().st_mtime:
        return NATIVE
    gcc = shutil.which("gcc")
    if gcc is None:
        raise BenchError("gcc not found: the native baseline is compiled with gcc (Debian: apt-get install gcc)")
    probe = subprocess.run([gcc, "-E", "-x", "c", "-", "-o", os.devnull], input="#include <bpf/bpf.h>\n",
                           capture_output=True, text=True)
    if probe.returncode != 0:
        raise BenchError("libbpf headers not found (<bpf/bpf.h>): install them (Debian: apt-get install libbpf-dev)\n"
                         + probe.stderr.strip())
    BUILD.mkdir(exist_ok=True)
    partial = NATIVE.with_name(NATIVE.name + ".partial")
    command = [gcc, "-O2", str(SOURCE), "-lbpf", "-o", str(partial)]
    print("building:", " ".join(command), file=sys.stderr)
    done = subprocess.run(command, capture_output=True, text=True)
    if done.returncode != 0:
        partial.unlink(missing_ok=True)
        hint = " (libbpf.so missing? Debian: apt-get install libbpf-dev)" if "-lbpf" in done.stderr else ""
        raise BenchError(f"compiling {SOURCE.name} failed{hint}:\n{done.stderr.strip()}")
    os.replace(partial, NATIVE)
    return NATIVE


def run_native(reps: int, entries: int) -> Figures:
    """One run of the native harness: the median over ``reps`` repetitions of each operation."""
    done = subprocess.run([str(NATIVE), str(reps), str(entries)], capture_output=True, text=True)
    if done.returncode != 0:
        hint = " (BPF needs root or CAP_BPF)" if "Operation not permitted" in done.stderr else ""
        raise BenchError(f"{NATIVE} exited with {done.returncode}{hint}:\n{done.stderr.strip()}")
    try:
        return json.loads(done.stdout)
    except ValueError:
        raise BenchError(f"{NATIVE} printed no JSON object:\n{done.stdout}") from None


# peers ---------------------------------------------------------------------------------------

PEER_VENV = BUILD / "peer-venv"
PEER_OBJECT = ROOT / "bpf_progs" / "build" / "bench_maps.o"
PYLIBBPF = "pylibbpf==0.0.6"
PEER_MAX_ENTRIES = 100_000  # the maps of bpf_progs/bench_maps.c


def pylibbpf_python() -> Path:
    """The Python of a virtualenv of the bench's own with pylibbpf (from PyPI), made once."""
    python = PEER_VENV / "bin" / "python"
    probe = [str(python), "-c", "import pylibbpf"]
    if python.exists() and subprocess.run(probe, capture_output=True).returncode == 0:
        return python
    if not PEER_OBJECT.exists():
        raise BenchError(f"{PEER_OBJECT} is missing: run `make -C bpf_progs`")
    print(f"installing {PYLIBBPF} into {PEER_VENV}", file=sys.stderr)
    for command in ([sys.executable, "-m", "venv", "--clear", str(PEER_VENV)],
                    [str(python), "-m", "pip", "install", "-q", PYLIBBPF]):
        done = subprocess.run(command, capture_output=True, text=True)
        if done.returncode != 0:
            raise BenchError(f"{' '.join(command)} failed:\n{done.stderr.strip()[-2000:]}")
    return python


BCC_PYTHON = "/usr/bin/python3"  # Debian's python3-bpfcc installs bcc for the system's Python
BCC_KERNEL = BUILD / "bcc-kernel"


def bcc_environment() -> Dict[str, str]:
    """The environment in which BCC compiles its maps' declarations: the running kernel's headers,
    or else a tree merged from Debian's linux-headers packages (for a map-only program any
    kernel's headers do)."""
    probe = subprocess.run([BCC_PYTHON, "-c", "import bcc"], capture_output=True, text=True)
    if probe.returncode != 0:
        raise BenchError("BCC is not installed (Debian: apt-get install python3-bpfcc)")
    env = dict(os.environ)
    if Path(f"/lib/modules/{platform.release()}/build").exists():
        return env
    if not (BCC_KERNEL / "include" / "generated" / "autoconf.h").exists():
        common = sorted(Path("/usr/src").glob("linux-headers-*-common"))
        arch = [p for p in sorted(Path("/usr/src").glob("linux-headers-*")) if p not in common
                and (p / "include" / "generated" / "autoconf.h").exists()]
        if not common or not arch:
            raise BenchError("no kernel headers for BCC (Debian: apt-get install linux-headers-amd64)")
        shutil.rmtree(BCC_KERNEL, ignore_errors=True)
        BCC_KERNEL.mkdir(parents=True)
        for tree in (common[-1], arch[-1]):  # the arch tree's generated headers over the common sources
            subprocess.run(["cp", "-rsf", f"{tree}/.", str(BCC_KERNEL)], check=True, capture_output=True)
    env["BCC_KERNEL_SOURCE"] = str(BCC_KERNEL)
    return env


def run_bcc(env: Dict[str, str], reps: int, entries: int) -> Figures:
    done = subprocess.run([BCC_PYTHON, str(BENCH / "peer_bcc.py"), str(reps), str(entries)], env=env,
                          capture_output=True, text=True)
    if done.returncode != 0:
        raise BenchError(f"the BCC peer failed:\n{done.stderr.strip()[-2000:]}")
    return json.loads(done.stdout)


def run_pylibbpf(python: Path, reps: int, entries: int) -> Figures:
    done = subprocess.run([str(python), str(BENCH / "peer_pylibbpf.py"), str(PEER_OBJECT), str(reps), str(entries)],
                          capture_output=True, text=True)
    if done.returncode != 0:
        raise BenchError(f"the pylibbpf peer failed:\n{done.stderr.strip()[-2000:]}")
    return json.loads(done.stdout)


# libbpf_py -----------------------------------------------------------------------------------

def run_python(bpf: Any, reps: int, entries: int) -> Figures:
    """The native harness's measurements through libbpf_py, on maps of its own, with the
    ctypes floor, item syntax and bytes keys and values beside them."""
    keys = list(range(entries))
    values = [k * VALUE_FACTOR for k in keys]
    figures: Figures = {}
    for kind, map_type in (("hash", bpf.MapType.HASH), ("array", bpf.MapType.ARRAY)):
        with bpf.Map.create(map_type, 4, 8, entries, name=f"bench_{kind}", key_type=int, value_type=int) as m:
            figures[kind] = _time_map(m, keys, values, reps, kind not in NO_DELETE)
            figures[kind].update(_time_extra(bpf, m, keys, values, reps, kind not in NO_DELETE))
    return figures


def _timed(samples: Dict[str, List[float]], name: str, n: int, run: Any) -> None:
    clock = time.perf_counter_ns
    t0 = clock()
    run()
    samples.setdefault(name, []).append((clock() - t0) / n)


def _time_extra(bpf: Any, m: Any, keys: List[int], values: List[int], reps: int,
                with_delete: bool) -> Dict[str, float]:
    """The floor, ``m[k]`` syntax and bytes keys and values, each pass beside the others."""
    floor = ctypes.PyDLL(bpf.library_path())  # the GIL kept, as libbpf_py's lookups keep it
    c_lookup, c_update, c_delete = floor.bpf_map_lookup_elem, floor.bpf_map_update_elem, floor.bpf_map_delete_elem
    fd = m.fd
    kb, vb, flags = ctypes.c_uint32(), ctypes.c_uint64(), ctypes.c_uint64(0)
    kp, vp = ctypes.c_void_p(ctypes.addressof(kb)), ctypes.c_void_p(ctypes.addressof(vb))
    order = sys.byteorder
    bkeys = [k.to_bytes(4, order) for k in keys]
    bvalues = [v.to_bytes(8, order) for v in values]
    lookup, update, delete = m.lookup, m.update, m.delete
    n = len(keys)

    def method_lookup() -> None:
        for k in keys:
            lookup(k)

    def method_update() -> None:
        for k, v in zip(keys, values):
            update(k, v)

    def method_delete() -> None:
        for k in keys:
            delete(k)

    def floor_lookup() -> None:
        for k in keys:
            kb.value = k
            c_lookup(fd, kp, vp)
            vb.value  # noqa: B018  (the value is read, as a binding returns it)

    def floor_update() -> None:
        for k, v in zip(keys, values):
            kb.value = k
            vb.value = v
            c_update(fd, kp, vp, flags)

    def floor_delete() -> None:
        for k in keys:
            kb.value = k
            c_delete(fd, kp)

    batch = ctypes.CDLL(bpf.library_path())  # the GIL released, as libbpf_py's batch calls release it
    c_lookup_batch, c_update_batch = batch.bpf_map_lookup_batch, batch.bpf_map_update_batch
    opts = (ctypes.c_uint64 * 3)(24, 0, 0)  # struct bpf_map_batch_opts: sz, elem_flags, flags

    def floor_lookup_batch() -> None:
        """One batch of the whole map (called until -ENOENT), then the same conversion to lists."""
        key_buf = ctypes.create_string_buffer(n * 4)
        value_buf = ctypes.create_string_buffer(n * 8)
        token, count = (ctypes.c_uint8 * 8)(), ctypes.c_uint32()
        read, start = 0, None
        while True:
            count.value = n - read
            ret = c_lookup_batch(fd, start, token, ctypes.byref(key_buf, read * 4), ctypes.byref(value_buf, read * 8),
                                 ctypes.byref(count), opts)
            read += count.value
            if ret != 0 or read >= n:  # -ENOENT: the map is read to its end
                break
            start = token
        memoryview(key_buf).cast("B")[:read * 4].cast("I").tolist()
        memoryview(value_buf).cast("B")[:read * 8].cast("Q").tolist()

    def floor_update_batch() -> None:
        """The same conversion (array.array of the two lists), then one batch."""
        packed_keys, packed_values = array.array("I", keys), array.array("Q", values)
        count = ctypes.c_uint32(n)
        c_update_batch(fd, (ctypes.c_char * (4 * n)).from_buffer(packed_keys),
                       (ctypes.c_char * (8 * n)).from_buffer(packed_values), ctypes.byref(count), opts)

    def item_lookup() -> None:
        for k in keys:
            m[k]

    def item_update() -> None:
        for k, v in zip(keys, values):
            m[k] = v

    def item_delete() -> None:
        for k in keys:
            del m[k]

    def bytes_pass(operation: str) -> Any:
        def run() -> None:
            m.key_type = m.value_type = bytes
            try:
                if operation == "lookup":
                    blookup = m.lookup
                    t0 = time.perf_counter_ns()
                    for k in bkeys:
                        blookup(k)
                else:
                    bupdate = m.update
                    t0 = time.perf_counter_ns()
                    for k, v in zip(bkeys, bvalues):
                        bupdate(k, v)
                samples.setdefault(BYTES_OPS[operation], []).append((time.perf_counter_ns() - t0) / n)
            finally:
                m.key_type = m.value_type = int
        return run

    samples: Dict[str, List[float]] = {}
    gc_was_enabled = gc.isenabled()
    gc.disable()
    try:
        for _ in range(reps):
            _timed(samples, f"{FLOOR}: lookup", n, floor_lookup)
            _timed(samples, f"{BESIDE}: lookup", n, method_lookup)
            _timed(samples, ITEM_OPS["lookup"], n, item_lookup)
            bytes_pass("lookup")()
            _timed(samples, f"{FLOOR}: lookup_batch", n, floor_lookup_batch)
            _timed(samples, f"{FLOOR}: update_batch", n, floor_update_batch)
            _timed(samples, f"{FLOOR}: update", n, floor_update)
            _timed(samples, f"{BESIDE}: update", n, method_update)
            _timed(samples, ITEM_OPS["update"], n, item_update)
            bytes_pass("update")()
            if with_delete:
                _timed(samples, f"{FLOOR}: delete", n, floor_delete)
                m.update_batch(keys, values)  # re-populate, untimed
                _timed(samples, f"{BESIDE}: delete", n, method_delete)
                m.update_batch(keys, values)
                _timed(samples, ITEM_OPS["delete"], n, item_delete)
                m.update_batch(keys, values)
    finally:
        if gc_was_enabled:
            gc.enable()
    _check_contents(m, keys, values)
    return {name: statistics.median(s) for name, s in samples.items()}


def _time_map(m: Any, keys: List[int], values: List[int], reps: int, with_delete: bool) -> Dict[str, float]:
    n = len(keys)
    samples: Dict[str, List[float]] = {op: [] for op in OPS}
    m.update_batch(keys, values)
    lookup, update, delete = m.lookup, m.update, m.delete
    lookup_batch, update_batch = m.lookup_batch, m.update_batch
    clock = time.perf_counter_ns
    for k in keys:  # warm-up, as in native.c
        lookup(k)
    gc_was_enabled = gc.isenabled()
    gc.disable()  # as timeit does: a collection inside a timed loop is noise, not the binding
    try:
        for _ in range(reps):
            t0 = clock()
            for k in keys:
                lookup(k)
            t1 = clock()
            samples["lookup"].append((t1 - t0) / n)

            t0 = clock()
            for k, v in zip(keys, values):
                update(k, v)
            t1 = clock()
            samples["update"].append((t1 - t0) / n)

            if with_delete:
                t0 = clock()
                for k in keys:
                    delete(k)
                t1 = clock()
                samples["delete"].append((t1 - t0) / n)
                update_batch(keys, values)  # re-populate, untimed

            t0 = clock()
            got_keys, got_values = lookup_batch()
            t1 = clock()
            read = len(got_keys)
            if read != n:
                raise BenchError(f"lookup_batch read {read} of {n} entries")
            samples["lookup_batch"].append((t1 - t0) / read)
            del got_keys, got_values  # freed here, not inside the next timed region

            t0 = clock()
            update_batch(keys, values)
            t1 = clock()
            samples["update_batch"].append((t1 - t0) / n)
    finally:
        if gc_was_enabled:
            gc.enable()
    _check_contents(m, keys, values)
    return {op: statistics.median(s) for op, s in samples.items() if s}


def _check_contents(m: Any, keys: List[int], values: List[int]) -> None:
    """The timed loops did what they claim: every key holds its value."""
    got = dict(zip(*m.lookup_batch()))
    if got != dict(zip(keys, values)) or m.lookup(keys[-1]) != values[-1]:
        raise BenchError(f"map {m.name} does not hold the expected entries after the timed loops")


# import time ---------------------------------------------------------------------------------

def _child_env(pycache: str) -> Dict[str, str]:
    """This tree on the path, and a bytecode cache as an installed package has (in a scratch directory)."""
    env = dict(os.environ)
    env["PYTHONPATH"] = os.pathsep.join(filter(None, [str(ROOT), env.get("PYTHONPATH")]))
    env.pop("PYTHONDONTWRITEBYTECODE", None)
    env["PYTHONPYCACHEPREFIX"] = pycache
    return env


def _importtime(stderr: str) -> Tuple[Dict[str, int], Optional[int]]:
    """Self times (µs) of the libbpf_py modules in ``-X importtime`` output, and libbpf_py's cumulative time."""
    found: Dict[str, int] = {}
    cumulative = None
    for line in stderr.splitlines():
        if not line.startswith("import time:"):
            continue
        fields = line[len("import time:"):].split("|")
        if len(fields) != 3 or not fields[0].strip().isdigit():
            continue  # the header line
        name = fields[2].strip()
        if name == "libbpf_py" or name.startswith("libbpf_py."):
            found[name] = int(fields[0])
            if name == "libbpf_py":
                cumulative = int(fields[1])
    return found, cumulative


def measure_import(runs: int) -> Dict[str, Any]:
    """``import libbpf_py``: -X importtime self times, and wall time of import minus an empty interpreter.

    Children run ``sys.executable`` itself (not a launcher such as a pyenv shim, whose own start-up
    would swamp the difference) with a fresh bytecode cache, filled by untimed warm-up runs.
    """
    with tempfile.TemporaryDirectory(prefix="libbpf_py-bench-pyc-") as pycache:
        exe, env = sys.executable, _child_env(pycache)
        quiet = {"env": env, "stdout": subprocess.DEVNULL, "stderr": subprocess.PIPE, "text": True}
        for command in ("pass", "import libbpf_py"):  # warm-up: compile into the cache
            warm = subprocess.run([exe, "-c", command], **quiet)
            if warm.returncode != 0:
                raise BenchError(f"python3 -c {command!r} failed:\n{warm.stderr.strip()}")
        self_us: List[int] = []
        cumulative_us: List[int] = []
        modules: Dict[str, List[int]] = {}
        wall_pass: List[int] = []
        wall_import: List[int] = []
        clock = time.perf_counter_ns
        for _ in range(runs):
            traced = subprocess.run([exe, "-X", "importtime", "-c", "import libbpf_py"], **quiet)
            per_module, cumulative = _importtime(traced.stderr)
            if traced.returncode != 0 or not per_module or cumulative is None:
                raise BenchError(f"python3 -X importtime -c 'import libbpf_py' failed:\n{traced.stderr[-2000:]}")
            self_us.append(sum(per_module.values()))
            cumulative_us.append(cumulative)
            for name, us in per_module.items():
                modules.setdefault(name, []).append(us)
            for command, sink in (("pass", wall_pass), ("import libbpf_py", wall_import)):
                t0 = clock()
                subprocess.run([exe, "-c", command], **quiet, check=True)
                sink.append(clock() - t0)
    pass_us = statistics.median(wall_pass) / 1000
    import_us = statistics.median(wall_import) / 1000
    quartiles = statistics.quantiles(wall_pass, n=4) if runs > 1 else [0.0, 0.0, 0.0]
    return {
        "runs": runs,
        "python": exe,
        "importtime_self_us": statistics.median(self_us),
        "importtime_modules_us": {name: statistics.median(us) for name, us in sorted(modules.items())},
        "importtime_cumulative_us": statistics.median(cumulative_us),
        "wall_pass_us": pass_us,
        "wall_import_us": import_us,
        "wall_delta_us": import_us - pass_us,
        "wall_pass_iqr_us": (quartiles[2] - quartiles[0]) / 1000,  # run-to-run noise of an empty interpreter
    }


# report --------------------------------------------------------------------------------------

def medians(rounds: Sequence[Figures]) -> Figures:
    """Per map and operation, the median of the rounds' figures."""
    out: Figures = {}
    for kind in MAPS:
        for op in dict.fromkeys(op for r in rounds for op in r.get(kind, {})):
            got = [r[kind][op] for r in rounds if op in r.get(kind, {})]
            out.setdefault(kind, {})[op] = statistics.median(got)
    return out


def ratio_ranges(native_rounds: Sequence[Figures], python_rounds: Sequence[Figures]) -> Dict[str, Dict[str, str]]:
    """Per map and operation, the lowest and highest of the rounds' ratios (each round's
    libbpf_py figure over the same round's native one), as ``"1.80-1.95"``."""
    out: Dict[str, Dict[str, str]] = {}
    for kind in MAPS:
        ops = dict.fromkeys(op for r in python_rounds for op in r.get(kind, {}))
        for op in ops:
            base = op if op in OPS else next((o for o in OPS if op in (ITEM_OPS.get(o), BYTES_OPS.get(o))), op)
            ratios = [p[kind][op] / n[kind][base] for n, p in zip(native_rounds, python_rounds)
                      if op in p.get(kind, {}) and base in n.get(kind, {})]
            if ratios:
                out.setdefault(kind, {})[op] = f"{min(ratios):.2f}-{max(ratios):.2f}"
    return out


def table(native: Figures, python: Figures, imports: Dict[str, Any], peers: Dict[str, Figures],
          spread: Optional[Dict[str, Dict[str, str]]] = None) -> str:
    """One row per operation and map: native C, the ctypes floor, libbpf_py, and the ratios to
    both; below each single-element operation, the same through ``m[k]`` syntax and with bytes.
    "x floor" divides figures taken in passes beside the floor's (the method rows: a second pass
    of each, between the floor's), so that both see the same moment of the machine.
    Each peer (another Python binding) adds a column of its figures and their ratio to native."""
    spread = spread or {}
    rows = [("operation", "map", "native ns/op", "ctypes floor", "libbpf_py ns/op", "x native (rounds)", "x floor",
             *(f"{peer} ns/op (x native)" for peer in peers))]
    for op in OPS:
        for kind in MAPS:
            c, py = native.get(kind, {}).get(op), python.get(kind, {})
            if c is None or op not in py:
                continue
            floor = py.get(f"{FLOOR}: {op}")
            variants = [(op, py[op])] + [(label[op], py[label[op]]) for label in (ITEM_OPS, BYTES_OPS)
                                         if op in label and label[op] in py]
            for name, p in variants:
                others = [figures.get(kind, {}).get(op) if name == op else None for figures in peers.values()]
                rounds = spread.get(kind, {}).get(name)
                rows.append((name, kind, f"{c:.1f}", "" if floor is None else f"{floor:.1f}", f"{p:.1f}",
                             f"{p / c:.2f}x" + (f" ({rounds})" if rounds else ""),
                             "" if floor is None else f"{py.get(f'{BESIDE}: {name}', p) / floor:.2f}x",
                             *("" if o is None else f"{o:.1f} ({o / c:.2f}x)" for o in others)))
    widths = [max(len(row[i]) for row in rows) for i in range(len(rows[0]))]

    def line(row: Sequence[str]) -> str:
        cells = [cell.ljust(w) if i < 2 else cell.rjust(w) for i, (cell, w) in enumerate(zip(row, widths))]
        return "| " + " | ".join(cells) + " |"

    rule = "|" + "|".join("-" * (w + 1) + (":" if i >= 2 else "-") for i, w in enumerate(widths)) + "|"
    out = [line(rows[0]), rule] + [line(row) for row in rows[1:]]
    out += [
        "",
        f"import libbpf_py (median of {imports['runs']} runs each, bytecode cached):",
        f"  -X importtime, self time of libbpf_py* modules: {imports['importtime_self_us']:.0f} µs"
        f"  ({', '.join(f'{k} {v:.0f}' for k, v in imports['importtime_modules_us'].items())});"
        f" libbpf_py cumulative {imports['importtime_cumulative_us']:.0f} µs",
        f"  wall time: python3 -c 'import libbpf_py' {imports['wall_import_us'] / 1000:.2f} ms"
        f" - python3 -c 'pass' {imports['wall_pass_us'] / 1000:.2f} ms = {imports['wall_delta_us']:.0f} µs"
        f"  (run-to-run noise: IQR of 'pass' {imports['wall_pass_iqr_us']:.0f} µs)",
    ]
    return "\n".join(out)


def main(argv: Optional[Sequence[str]] = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--rounds", type=int, default=5, help="native/libbpf_py rounds, interleaved (default 5)")
    parser.add_argument("--reps", type=int, default=5, help="repetitions of each operation per round (default 5)")
    parser.add_argument("--entries", type=int, default=100_000, help="map size and keys per pass (default 100000)")
    parser.add_argument("--import-runs", type=int, default=15, help="runs of each import measurement (default 15)")
    parser.add_argument("--json", metavar="FILE", help="also write every figure to FILE as JSON")
    parser.add_argument("--rebuild", action="store_true", help="recompile the native harness even if up to date")
    parser.add_argument("--no-peers", action="store_true",
                        help="skip pylibbpf (installed from PyPI on first run) and BCC (where installed)")
    args = parser.parse_args(argv)
    for name in ("rounds", "reps", "entries", "import_runs"):
        if getattr(args, name) < 1:
            parser.error(f"--{name.replace('_', '-')} must be at least 1")

    try:
        build_native(force=args.rebuild)
        sys.path.insert(0, str(ROOT))  # the source tree's libbpf_py, not an installed one
        import libbpf_py as bpf

        peer_python: Optional[Path] = None
        bcc_env: Optional[Dict[str, str]] = None
        if not args.no_peers:
            try:
                peer_python = pylibbpf_python()
            except BenchError as exc:
                print(f"bench_maps: no pylibbpf column: {exc}", file=sys.stderr)
            try:
                bcc_env = bcc_environment()
            except BenchError as exc:
                print(f"bench_maps: no BCC column: {exc}", file=sys.stderr)
        started = time.monotonic()
        native_rounds: List[Figures] = []
        python_rounds: List[Figures] = []
        pylibbpf_rounds: List[Figures] = []
        bcc_rounds: List[Figures] = []
        for number in range(1, args.rounds + 1):
            print(f"round {number}/{args.rounds}: native", end="", file=sys.stderr, flush=True)
            native_rounds.append(run_native(args.reps, args.entries))
            print(", libbpf_py", end="", file=sys.stderr, flush=True)
            python_rounds.append(run_python(bpf, args.reps, args.entries))
            if peer_python is not None:
                print(", pylibbpf", end="", file=sys.stderr, flush=True)
                pylibbpf_rounds.append(run_pylibbpf(peer_python, args.reps, min(args.entries, PEER_MAX_ENTRIES)))
            if bcc_env is not None:
                print(", BCC", end="", file=sys.stderr, flush=True)
                bcc_rounds.append(run_bcc(bcc_env, args.reps, args.entries))
            print(f" ({time.monotonic() - started:.0f} s)", file=sys.stderr, flush=True)
        print("import time", file=sys.stderr, flush=True)
        imports = measure_import(args.import_runs)
    except BenchError as exc:
        print(f"bench_maps: {exc}", file=sys.stderr)
        return 1

    native, python = medians(native_rounds), medians(python_rounds)
    peers = {name: medians(rounds) for name, rounds in (("pylibbpf", pylibbpf_rounds), ("BCC", bcc_rounds))
             if rounds}
    print(f"libbpf_py map benchmark: {args.entries} entries (u32 key -> u64 value), {args.rounds} rounds x "
          f"{args.reps} reps; Python {platform.python_version()}, libbpf {bpf.libbpf_version_string()}, "
          f"kernel {platform.release()}")
    print()
    print(table(native, python, imports, peers, ratio_ranges(native_rounds, python_rounds)))
    if args.json:
        report = {
            "config": {"entries": args.entries, "rounds": args.rounds, "reps": args.reps,
                       "python": platform.python_version(), "libbpf": bpf.libbpf_version_string(),
                       "libbpf_path": bpf.library_path(), "kernel": platform.release(),
                       "libbpf_py": os.path.dirname(bpf.__file__), "cpus": os.cpu_count()},
            "native": native,
            "libbpf_py": python,
            "ratio": {kind: {op: python[kind][op] / native[kind][op] for op in native[kind] if op in python[kind]}
                      for kind in native if kind in python},
            "peers": peers,
            "rounds": {"native": native_rounds, "libbpf_py": python_rounds, "pylibbpf": pylibbpf_rounds,
                       "BCC": bcc_rounds},
            "import": imports,
        }
        Path(args.json).write_text(json.dumps(report, indent=2) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
