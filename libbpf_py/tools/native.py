"""A tool built on a libbpf skeleton (Debian's libbpf-tools: execsnoop, runqlat...) compared with
its own object loaded by libbpf_py: the tool is run, what it loaded read from the kernel through
its file descriptors, then it is stopped; libbpf_py loads the object embedded in the tool's binary
as the tool did, and the two are compared as :func:`~libbpf_py.tools.compare` compares.

"As the tool did" is read from the tool itself: the programs it loaded (its C switches others
off: fentry or kprobe, tp_btf or raw_tp), the maps it created (a perf buffer's heap is not where
a ring buffer is) and their sizes (it resizes some: a stack map's value to its stack depth, a
hash to pid_max), and its ``.rodata`` (the options of its command line, frozen in the kernel,
read back while it runs). Nothing of the tool's C is repeated here.
"""

from __future__ import annotations

import os
import signal
import subprocess
import time
from typing import Dict, List, NamedTuple, Optional, Sequence, Set, Tuple

from .._checks import c_path
from ..embedded import EmbeddedObject, embedded_object
from ..errors import LibbpfError
from ..info import MapInfo, ProgInfo
from ..maps import Map
from ..object import Object
from ..programs import Program
from .comparison import Comparison, _compared, _read

KERNEL_NAME_LEN = 15  # BPF_OBJ_NAME_LEN - 1: the kernel keeps the first 15 bytes of a name
_POLL = 0.02


class NativeLoad(NamedTuple):
    """What a running tool had loaded: its programs' facts by whole name (their BTF function's),
    its maps' by kernel name, and the contents of its read-only data maps (``.rodata``)."""

    programs: Dict[str, ProgInfo]
    maps: Dict[str, MapInfo]
    rodata: Dict[str, bytes]


def kernel_name(name: str) -> str:
    """The name the kernel keeps of a program's or map's name."""
    return name.encode("utf-8", "surrogateescape")[:KERNEL_NAME_LEN].decode("utf-8", "surrogateescape")


def compare_native(binary: str, args: Sequence[str] = (), *, embedded: Optional[str] = None,
                   settle: float = 0.5, timeout: float = 30.0) -> Comparison:
    """Run ``binary`` (with ``args``), read what it loads, stop it; load the BPF object its binary
    embeds (``embedded``: which one, when there are several) with libbpf_py as it did; compare."""
    found = embedded_object(binary, embedded)
    with run_native([binary, *args], settle=settle, timeout=timeout) as (native, held):
        if not held:
            raise LibbpfError.for_errno(2, f"{binary} runs but loaded no BPF program here (it made "
                                        f"{len(native.maps)} maps): nothing to compare")
        theirs = _read(None, _labelled(held))
        with load_like(found, native) as obj:
            ours = _read(None, _labelled([p for p in obj.programs.values() if p.autoload]))
    return _compared(binary, "native", None, ours, theirs)


def _labelled(programs: List[Program]) -> List[Tuple[str, Program]]:
    """Each program labelled by its whole name (the kernel keeps 15 bytes of it: many tools'
    ``tracepoint__syscalls__...`` would be alike), in name order, so both sides pair."""
    return sorted(((program.func_name(), program) for program in programs), key=lambda pair: pair[0])


def load_like(found: EmbeddedObject, native: NativeLoad) -> Object:
    """``found`` opened and loaded as the tool loaded it (see the module's docstring)."""
    obj = Object.open(found.data, name=found.name)
    try:
        for program in obj.programs.values():
            theirs = native.programs.get(program.name)
            program.autoload = theirs is not None and int(theirs.type) == int(program.type)
        for m in obj.maps.values():
            shape = native.maps.get(kernel_name(m.name))
            if shape is None:  # the tool did not create it (a perf buffer's heap, where a ring buffer is)
                m.autocreate = False
                continue
            for field in ("key_size", "value_size", "max_entries"):
                if getattr(m, field) != getattr(shape, field) and not m.is_internal:
                    setattr(m, field, getattr(shape, field))
            rodata = native.rodata.get(kernel_name(m.name))
            if rodata is not None and m.initial_value is not None and len(rodata) == len(m.initial_value):
                m.initial_value = rodata
        obj.load()
    except BaseException:
        obj.close()
        raise
    return obj


class run_native:
    """``with run_native(argv) as (load, programs)``: the tool started in a session of its own,
    read once its BPF is loaded (the programs and maps it holds steady for ``settle`` seconds;
    its programs are those and any other that uses its maps), then
    stopped (SIGINT, as Ctrl-C stops it; SIGKILL after 5 s); ``programs`` are its programs, held
    open for the body (what they use stays in the kernel once the tool is gone)."""

    def __init__(self, argv: Sequence[str], *, settle: float = 0.5, timeout: float = 30.0):
        self.argv = [os.fsdecode(c_path(arg, "argument")) for arg in argv]
        self.settle, self.timeout = settle, timeout
        self.held: List[Program] = []

    def __enter__(self) -> "tuple[NativeLoad, List[Program]]":
        try:
            self.process = subprocess.Popen(self.argv, stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL,
                                            stderr=subprocess.PIPE, start_new_session=True)
        except OSError as exc:
            raise LibbpfError.for_errno(exc.errno or 2, f"cannot run {self.argv[0]}: {exc.strerror}") from None
        try:
            prog_ids, map_ids = self._wait_loaded()
            for prog_id in sorted(prog_ids):
                self.held.append(Program.from_id(prog_id))
            programs = {p.func_name(): p.info() for p in self.held}
            maps, rodata = _maps_of(map_ids)
            return NativeLoad(programs, maps, rodata), self.held
        except BaseException:
            self.__exit__()
            raise

    def __exit__(self, *exc: object) -> None:
        self._stop()
        while self.held:
            self.held.pop().close()

    def _wait_loaded(self) -> "tuple[Set[int], Set[int]]":
        deadline = time.monotonic() + self.timeout
        seen: "tuple[Set[int], Set[int]]" = (set(), set())
        steady_since = time.monotonic()
        while time.monotonic() < deadline:
            status = self._exit_status()
            if status is not None:
                said = self._said().strip()
                last = said.splitlines()[-1] if said else "no output"
                raise LibbpfError.for_errno(22, f"{self.argv[0]} exited ({status}) before its BPF was read: {last}")
            now = _bpf_ids(self.process.pid)
            if now != seen:
                seen, steady_since = now, time.monotonic()
            elif (seen[0] or seen[1]) and time.monotonic() - steady_since >= self.settle:
                return seen[0] | _programs_using(seen[1]), seen[1]
            time.sleep(_POLL)
        raise LibbpfError.for_errno(62, f"{self.argv[0]} loaded no BPF program within {self.timeout} s")

    def _exit_status(self) -> Optional[int]:
        """The tool's exit status once it exited, None while it runs: not reaped (WNOWAIT), so its
        pid, the id of its session, is not reused before _stop has killed what is left of it."""
        found = os.waitid(os.P_PID, self.process.pid, os.WEXITED | os.WNOHANG | os.WNOWAIT)
        return None if found is None else found.si_status

    def _said(self) -> str:
        """What the tool wrote to stderr so far, without waiting (a child it left may hold the pipe)."""
        stderr = self.process.stderr
        if stderr is None:
            return ""
        os.set_blocking(stderr.fileno(), False)
        try:
            return (stderr.read() or b"").decode(errors="replace")
        except BlockingIOError:
            return ""

    def _stop(self) -> None:
        """SIGINT to the tool's session (as Ctrl-C), SIGKILL after 5 s; then SIGKILL to whatever
        of the session is left (a child the tool started, one that ignores SIGINT)."""
        process = getattr(self, "process", None)
        if process is None:
            return
        if self._exit_status() is None:
            try:
                os.killpg(process.pid, signal.SIGINT)
                deadline = time.monotonic() + 5.0
                while self._exit_status() is None and time.monotonic() < deadline:
                    time.sleep(_POLL)
            except ProcessLookupError:
                pass
        try:
            os.killpg(process.pid, signal.SIGKILL)  # (the session's id is the tool's pid)
        except ProcessLookupError:
            pass
        process.wait()
        if process.stderr is not None:
            process.stderr.close()


def _bpf_ids(pid: int) -> "tuple[Set[int], Set[int]]":
    """The ids of the BPF programs and maps process ``pid`` holds fds of (from its fdinfo)."""
    progs: Set[int] = set()
    maps: Set[int] = set()
    directory = f"/proc/{pid}/fdinfo"
    try:
        entries = os.listdir(directory)
    except OSError:
        return progs, maps
    for entry in entries:
        try:
            with open(os.path.join(directory, entry)) as info:
                for line in info:
                    if line.startswith("prog_id:"):
                        progs.add(int(line.split()[1]))
                    elif line.startswith("map_id:"):
                        maps.add(int(line.split()[1]))
        except (OSError, ValueError):
            continue  # closed meanwhile
    return progs, maps


def _programs_using(map_ids: Set[int]) -> Set[int]:
    """The kernel's programs that use any of ``map_ids``: a tool may hold no fd of a program its
    perf event or link keeps loaded."""
    found: Set[int] = set()
    if not map_ids:
        return found
    for prog_id in Program.ids():
        try:
            with Program.from_id(prog_id) as program:
                if map_ids & set(program.info().map_ids):
                    found.add(prog_id)
        except LibbpfError:
            continue  # gone meanwhile
    return found


def _maps_of(map_ids: Set[int]) -> "tuple[Dict[str, MapInfo], Dict[str, bytes]]":
    """Each map's facts by kernel name, and the contents of the read-only data maps."""
    facts: Dict[str, MapInfo] = {}
    rodata: Dict[str, bytes] = {}
    for map_id in sorted(map_ids):
        try:
            with Map.from_id(map_id) as m:
                info = m.info()
                facts[info.name] = info
                if ".rodata" in info.name and info.max_entries == 1:
                    rodata[info.name] = bytes(m.lookup(bytes(4)))
        except LibbpfError:
            continue  # gone meanwhile
    return facts, rodata


__all__ = ["NativeLoad", "compare_native", "kernel_name", "load_like", "run_native"]
