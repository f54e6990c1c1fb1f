#!/usr/bin/env python3
"""Mutation fuzzing of every entry point that reads an object file, each input in a forked child.

Entry points (``--target``):

- ``open``: ``Object.open(bytes)`` then ``load()`` and ``close()`` (libbpf and the kernel see it);
- ``iproute2``: ``iproute2.open(bytes, mnt=BPFFS)`` then ``load()`` (the shim, then libbpf);
- ``rewrite``: ``compat.rewrite(bytes)`` (pure Python).

Seeds are the objects under ``bpf_progs/build``. Each input is one seed with a few mutations
(byte flips, runs of random bytes, truncation, and changes to the fields that matter: section
headers, symbols, BTF words, legacy map definitions). A forked child runs it under RLIMIT_AS, so
an absurd map cannot exhaust the machine, and reports how it ended. Outcomes are counted by
exception class; anything other than the exceptions the API documents is a *finding*, and a
child killed by a signal is a *crash*: both are saved under ``--out`` with the seed and input.

    python3 fuzz/fuzz.py --target open --inputs 100000 --bpffs /run/fuzz-bpffs

The command mounts nothing: pass a private bpffs for the ``iproute2`` target (``make fuzz``
mounts one). Exit status 1 when there was a crash or a finding.
"""

from __future__ import annotations

import argparse
import json
import os
import random
import resource
import signal
import struct
import sys
import time
from collections import Counter
from pathlib import Path
from typing import Callable, Dict, List, Tuple

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

import libbpf_py as bpf  # noqa: E402  (after the path: the fuzzer runs from a checkout)
from libbpf_py import ElfError, compat, iproute2  # noqa: E402
from libbpf_py.elf import ElfFile  # noqa: E402

# What the API documents a malformed object may raise: anything else (a TypeError, an OSError
# that is no LibbpfError...) is a finding.
EXPECTED = (bpf.LibbpfError, ElfError)
# ... and these ValueErrors, documented: Object.open cannot tell which command a legacy object is
# for, or which of two loaders that would load it differently it was written for
EXPECTED_VALUE_ERRORS = ("a legacy iproute2 object without a 'classifier' or 'action' section",
                         "this object reads as written for ")
MEMORY_LIMIT = 2 << 30  # bytes of address space for one input
CHILD_SECONDS = 60      # an input that takes longer is a hang (a finding)


def seeds() -> List[bytes]:
    # not the objects built against this kernel's vmlinux.h: unloading struct_ops programs waits for
    # an RCU-tasks grace period, which takes tens of seconds on a busy VM and is nothing of ours
    found = sorted(p for p in (ROOT / "bpf_progs" / "build").rglob("*.o") if "vmlinux" not in p.parts)
    if not found:
        sys.exit("no seeds: build bpf_progs first (make -C bpf_progs)")
    return [path.read_bytes() for path in found]


# mutations ----------------------------------------------------------------------------------

def _structure(data: bytes) -> List[Tuple[int, int]]:
    """(offset, size) of the fields worth aiming at: section headers, symbols, .BTF, maps."""
    spots: List[Tuple[int, int]] = []
    try:
        elf = ElfFile.parse(data)
    except ElfError:
        return spots
    shoff = struct.unpack_from("<Q", data, 40)[0]
    spots += [(shoff + 64 * i + field, 8) for i in range(len(elf.sections)) for field in (24, 32)]
    spots += [(shoff + 64 * i + field, 4) for i in range(len(elf.sections)) for field in (0, 4, 40, 44)]
    for name, width in ((".BTF", 4), ("maps", 4), (".maps", 4), (".symtab", 8), ("license", 1)):
        section = elf.section(name)
        if section is not None and section.data:
            start = data.find(section.data)
            if start >= 0:
                spots += [(start + off, width) for off in range(0, len(section.data) - width + 1, width)]
    return spots


_INTERESTING = (0, 1, 2, 0x7F, 0x80, 0xFF, 0xFFFF, 0x7FFFFFFF, 0x80000000, 0xFFFFFFFF, 26, 12, 13, 3, 64, 999)


def mutate(rng: random.Random, seed: bytes) -> bytes:
    data = bytearray(seed)
    spots = _structure(seed)
    for _ in range(rng.randint(1, 4)):
        choice = rng.random()
        if spots and choice < 0.5:
            off, width = rng.choice(spots)
            if off + width <= len(data):
                value = rng.choice(_INTERESTING) if rng.random() < 0.7 else rng.getrandbits(8 * width)
                data[off:off + width] = (value & ((1 << (8 * width)) - 1)).to_bytes(width, "little")
        elif choice < 0.75 and data:
            data[rng.randrange(len(data))] ^= 1 << rng.randrange(8)
        elif choice < 0.85 and data:
            start = rng.randrange(len(data))
            data[start:start + rng.randint(1, 16)] = rng.randbytes(rng.randint(1, 16))  # reproducible from --seed
        elif choice < 0.95 and len(data) > 64:
            del data[rng.randint(64, len(data)):]
        elif data:
            start = rng.randrange(len(data))
            del data[start:start + rng.randint(1, 32)]
    return bytes(data)


# entry points -------------------------------------------------------------------------------

def run_open(data: bytes, bpffs: str) -> None:
    with bpf.Object.open(data, pinning=bpf.PinPolicy()) as obj:
        obj.load()


def run_iproute2(data: bytes, bpffs: str) -> None:
    with iproute2.open(data, mnt=bpffs) as obj:
        obj.load()


def run_rewrite(data: bytes, bpffs: str) -> None:
    compat.rewrite(data)


TARGETS: Dict[str, Callable[[bytes, str], None]] = {"open": run_open, "iproute2": run_iproute2,
                                                    "rewrite": run_rewrite}


class MemoryCgroup:
    """A memory cgroup for the children, so the kernel memory an absurd map asks for fails with
    ENOMEM at a limit instead of taking the machine (RLIMIT_AS bounds only user memory)."""

    def __init__(self, limit: int):
        self.path = ""
        for line in Path("/proc/self/cgroup").read_text().splitlines():
            _, controllers, where = line.split(":", 2)
            if "memory" in controllers.split(","):  # cgroup v1
                candidate = Path("/sys/fs/cgroup/memory") / where.lstrip("/") / f"libbpf_py_fuzz_{os.getpid()}"
                limit_file = "memory.limit_in_bytes"
                break
        else:
            candidate = Path("/sys/fs/cgroup") / f"libbpf_py_fuzz_{os.getpid()}"  # cgroup v2 at the root
            limit_file = "memory.max"
        try:
            candidate.mkdir()
            (candidate / limit_file).write_text(str(limit))
            self.path = str(candidate)
        except OSError as exc:
            print(f"no memory cgroup ({exc}): absurd maps are bounded by the kernel only", file=sys.stderr)
            if candidate.exists():
                candidate.rmdir()

    def enter(self) -> None:
        if self.path:
            Path(self.path, "cgroup.procs").write_text(str(os.getpid()))

    def remove(self) -> None:
        for _ in range(50):  # EBUSY until the kernel has let the last child go
            if not self.path:
                return
            try:
                Path(self.path).rmdir()
                return
            except OSError:
                time.sleep(0.1)
        print(f"could not remove the cgroup {self.path}", file=sys.stderr)


def in_child(target: Callable[[bytes, str], None], data: bytes, bpffs: str, cgroup: MemoryCgroup) -> Tuple[str, str]:
    """(outcome, detail) of one input, run in a forked child; a signal is a crash."""
    read_end, write_end = os.pipe()
    pid = os.fork()
    if pid == 0:
        os.close(read_end)
        cgroup.enter()
        resource.setrlimit(resource.RLIMIT_AS, (MEMORY_LIMIT, MEMORY_LIMIT))
        signal.signal(signal.SIGALRM, signal.SIG_DFL)
        signal.alarm(CHILD_SECONDS)  # the default action ends the process: the parent sees a hang
        try:
            target(data, bpffs)
            outcome, detail = "ok", ""
        except EXPECTED as exc:
            outcome, detail = type(exc).__name__.split("[")[0], ""
        except ValueError as exc:
            expected = str(exc).startswith(EXPECTED_VALUE_ERRORS)
            outcome, detail = ("ValueError (documented)", "") if expected else ("finding ValueError", repr(exc)[:300])
        except BaseException as exc:  # everything else is a finding
            outcome, detail = "finding " + type(exc).__name__, repr(exc)[:300]
        os.write(write_end, json.dumps([outcome, detail]).encode())
        os._exit(0)
    os.close(write_end)
    chunks = []
    try:
        while True:
            chunk = os.read(read_end, 65536)
            if not chunk:
                break
            chunks.append(chunk)
        _, status = os.waitpid(pid, 0)
    except BaseException:  # Ctrl-C, SIGTERM: no child left running (or in the cgroup) behind us
        os.kill(pid, signal.SIGKILL)
        os.waitpid(pid, 0)
        raise
    finally:
        os.close(read_end)
    if os.WIFSIGNALED(status):
        if os.WTERMSIG(status) == signal.SIGALRM:
            return "finding hang", f"still running after {CHILD_SECONDS} s"
        return f"crash {signal.Signals(os.WTERMSIG(status)).name}", ""
    if not chunks:
        return "finding no report", f"exit status {os.waitstatus_to_exitcode(status)}"
    outcome, detail = json.loads(b"".join(chunks))
    return outcome, detail


def clean(bpffs: str) -> None:
    """Remove what a load pinned under the private bpffs (each input starts from an empty tree)."""
    for dirpath, dirnames, filenames in os.walk(bpffs, topdown=False):
        for name in filenames + dirnames:
            path = os.path.join(dirpath, name)
            if dirpath == bpffs and name in ("maps.debug", "progs.debug"):
                continue
            try:
                os.rmdir(path) if os.path.isdir(path) and not os.path.islink(path) else os.unlink(path)
            except OSError:
                pass


def main(argv: List[str]) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--target", choices=sorted(TARGETS), required=True)
    parser.add_argument("--inputs", type=int, default=2000)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--bpffs", default="", help="a private bpffs (needed by the iproute2 target)")
    parser.add_argument("--out", default=str(ROOT / "fuzz" / "findings"))
    parser.add_argument("--json", action="store_true", help="print the summary as JSON")
    args = parser.parse_args(argv)
    if args.target == "iproute2" and not args.bpffs:
        parser.error("--bpffs is needed for the iproute2 target")
    bpf.libbpf_version()  # load libbpf once, before the children fork
    signal.signal(signal.SIGTERM, lambda signum, frame: sys.exit(128 + signum))  # runs the clean-up below
    rng = random.Random(args.seed)
    corpus = seeds()
    outcomes: Counter = Counter()
    saved = 0
    started = time.monotonic()
    cgroup = MemoryCgroup(MEMORY_LIMIT // 2)
    try:
        for n in range(args.inputs):
            data = mutate(rng, rng.choice(corpus))
            outcome, detail = in_child(TARGETS[args.target], data, args.bpffs, cgroup)
            outcomes[outcome] += 1
            if outcome.startswith(("crash", "finding")):
                out = Path(args.out)
                out.mkdir(parents=True, exist_ok=True)
                (out / f"{args.target}-{args.seed}-{n}.o").write_bytes(data)
                (out / f"{args.target}-{args.seed}-{n}.txt").write_text(f"{outcome}\n{detail}\n")
                saved += 1
            if args.bpffs:
                clean(args.bpffs)
    finally:
        cgroup.remove()
    summary = {"target": args.target, "inputs": args.inputs, "seed": args.seed, "libbpf": bpf.libbpf_version_string(),
               "seconds": round(time.monotonic() - started, 1), "outcomes": dict(outcomes.most_common()),
               "crashes": sum(v for k, v in outcomes.items() if k.startswith("crash")),
               "findings": sum(v for k, v in outcomes.items() if k.startswith("finding"))}
    if args.json:
        print(json.dumps(summary))
    else:
        print(f"{args.target}: {args.inputs} inputs in {summary['seconds']} s on libbpf {summary['libbpf']}: "
              f"{summary['crashes']} crashes, {summary['findings']} findings")
        for outcome, count in outcomes.most_common():
            print(f"  {count:8d}  {outcome}")
        if saved:
            print(f"  saved under {args.out}")
    return 1 if summary["crashes"] or summary["findings"] else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
