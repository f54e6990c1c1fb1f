"""One object loaded twice, by libbpf_py and by the native tool, and what the kernel then holds
for each, side by side: how users check that libbpf_py loads an object as the tool would.

The tools: ``bpftool prog loadall`` for an object libbpf reads (its pins go where libbpf puts
them, ``LIBBPF_PIN_BY_NAME`` maps under the mount), and the system ``tc`` (``tc filter add ...
bpf da obj F sec S`` in a network namespace made for the purpose) for a legacy iproute2 object
or on request. Each side loads into a bpffs mounted for it alone, removed afterwards, so
neither sees the other's pins nor touches the host's.

Everything made for the comparison (the two scratch mounts, named ``libbpf_py-compare-PID-*``
under the temporary directory, and tc's network namespace, ``libbpf_py_compare_PID_*``) is
removed when it ends, also when an exception interrupts it: KeyboardInterrupt (SIGINT), or the
exception a process's own SIGTERM handler raises (the ``libbpf-py`` command installs one; with
Python's default SIGTERM action a process dies where it stands, and cleans up nothing).

Both sides are then read the same way, from the kernel: the programs (the ones pinned by
bpftool, or the filter's program and, through prog arrays, its tail calls), every map they use
(paired by the order in which the instructions use them, the same for one object's code),
and where each map is pinned (relative to its bpffs). Compared: program type, tag and
translated length; map type, key and value sizes, max_entries, flags and pin path. Kernel
names are shown, not compared (the legacy tc gives none).
"""

from __future__ import annotations

import errno
import os
import re
import shutil
import subprocess
import tempfile
from typing import Any, Dict, Iterator, List, NamedTuple, Optional, Tuple

from .. import _bpffs, _signals
from .._checks import c_path
from .._libbpf import libc
from ..errors import InvalidValueError, LibbpfError
from ..info import MapInfo, ProgInfo
from ..maps import Map
from ..programs import Program
from .pinned import walk_pinned

OURS = "libbpf_py"
SCRATCH_PREFIX = "libbpf_py-compare-"   # + PID-: the scratch mounts of the process PID
NETNS_PREFIX = "libbpf_py_compare_"     # + PID_: tc's network namespace of the process PID
NETNS_DIR = "/run/netns"                # where ip netns keeps them
_MNT_DETACH, _UMOUNT_NOFOLLOW = 2, 8
_PROGRAM_FIELDS = ("type", "tag", "xlated_len")
_MAP_FIELDS = ("type", "key_size", "value_size", "max_entries", "flags", "pin")


class Row(NamedTuple):
    """One compared fact: ``kind`` ("program" or "map"), ``item`` (a label both sides share),
    ``field``, and each side's value (None: the side has no such item)."""

    kind: str
    item: str
    field: str
    ours: Any
    theirs: Any

    @property
    def differs(self) -> bool:
        return self.ours != self.theirs


class Comparison(NamedTuple):
    """The report: the object, the native tool, every compared row, and the kernel names seen."""

    object: str
    tool: str
    section: Optional[str]
    rows: List[Row]
    names: Dict[str, Tuple[str, str]]  # item -> (our kernel name, theirs)

    @property
    def differences(self) -> List[Row]:
        return [row for row in self.rows if row.differs]

    @property
    def same(self) -> bool:
        return not self.differences


class _Item(NamedTuple):
    kind: str
    label: str
    name: str
    facts: Dict[str, Any]


def compare(obj: str, *, section: Optional[str] = None, tool: str = "auto", prog_type: str = "sched_cls",
            tc: str = "tc", timeout: float = 120.0) -> Comparison:
    """Load ``obj`` with libbpf_py and with ``tool`` ("bpftool", "tc" or "auto": tc for a legacy
    iproute2 object, else bpftool) and compare what the kernel holds for each. ``section`` is
    tc's ``sec`` (required with tc); ``prog_type`` the type tc's command gives (``sched_cls``);
    ``tc`` the tc binary (Debian's loads BTF objects only: give one built without libbpf for
    legacy objects). Needs root, and the tool."""
    obj = os.fspath(obj)
    if tool == "auto":
        tool = "tc" if _is_legacy(obj) else "bpftool"
    if tool not in ("bpftool", "tc"):
        raise InvalidValueError(f"tool must be 'auto', 'bpftool' or 'tc', not {tool!r}")
    if tool == "tc" and not section:
        raise InvalidValueError("comparing with tc needs the section tc would load (section=, --sec)")
    binary = shutil.which("bpftool" if tool == "bpftool" else tc)
    if binary is None and tool == "tc" and os.sep in tc:
        raise LibbpfError.for_errno(errno.ENOENT, f"{tc} is not an executable tc")
    if binary is None:
        package = "bpftool" if tool == "bpftool" else "iproute2"
        raise LibbpfError.for_errno(errno.ENOENT, f"{tool} is not installed (Debian: apt install {package})")
    with _scratch_bpffs() as ours_root, _scratch_bpffs() as theirs_root:
        if tool == "bpftool":
            ours = _ours_as_bpftool(obj, ours_root)
            theirs = _bpftool(binary, obj, theirs_root, timeout)
        else:
            ours = _ours_as_tc(obj, ours_root, section or "", prog_type)
            theirs = _tc(binary, obj, theirs_root, section or "", timeout)
    return _compared(obj, tool, section, ours, theirs)


def _compared(obj: str, tool: str, section: Optional[str], ours: Dict[str, _Item],
              theirs: Dict[str, _Item]) -> Comparison:
    """The rows of both sides' items, paired by label."""
    rows: List[Row] = []
    names: Dict[str, Tuple[str, str]] = {}
    for key in dict.fromkeys([*ours, *theirs]):
        mine, other = ours.get(key), theirs.get(key)
        kind, label = (mine or other).kind, (mine or other).label  # type: ignore[union-attr]
        for field in _PROGRAM_FIELDS if kind == "program" else _MAP_FIELDS:
            rows.append(Row(kind, label, field, mine.facts[field] if mine else None,
                            other.facts[field] if other else None))
        names[key] = (mine.name if mine else "", other.name if other else "")
    return Comparison(obj, tool, section, rows, names)


def _is_legacy(obj: str) -> bool:
    from ..compat.definitions import maps_section
    from ..elf.file import ElfFile

    try:
        with open(obj, "rb") as f:
            data = f.read()
    except OSError as exc:
        raise LibbpfError.for_errno(exc.errno or errno.EIO, f"cannot read {obj}: {exc.strerror}", "open") from None
    return maps_section(ElfFile.parse(data, headers_only=True)) is not None


class _scratch_bpffs:
    """A bpffs mounted on a new temporary directory; unmounted and removed on exit. A signal
    (Ctrl-C) waits while either pair of steps runs: neither a mount nor a directory is left."""

    def __enter__(self) -> str:
        self.path = ""
        try:
            with _signals.deferred():  # a signal that came meanwhile is raised as this block ends
                path = tempfile.mkdtemp(prefix=f"{SCRATCH_PREFIX}{os.getpid()}-")
                try:
                    _bpffs.mount_bpffs(path)
                except BaseException:
                    os.rmdir(path)
                    raise
                self.path = path
        except BaseException:
            if self.path:  # mounted, then interrupted: the caller's with never reaches __exit__
                self.__exit__()
            raise
        return self.path

    def __exit__(self, *exc: Any) -> None:
        with _signals.deferred():
            _bpffs.unmount(self.path, lazy=True)
            try:
                os.rmdir(self.path)
            except OSError:
                pass  # still busy (a process of a tool not yet gone): the mount is detached all the same


def _run(what: str, argv: List[str], timeout: float, env: Optional[Dict[str, str]] = None) -> str:
    done = subprocess.run(argv, capture_output=True, text=True, timeout=timeout, env=env)
    if done.returncode:
        last = (done.stderr.strip() or done.stdout.strip() or "no output").splitlines()[-1]
        raise LibbpfError.for_errno(22, f"{what} failed: {last}", None)
    return done.stdout


# the two sides ---------------------------------------------------------------------------------

def _bpftool(bpftool: str, obj: str, root: str, timeout: float) -> Dict[str, _Item]:
    """``bpftool prog loadall OBJ <mnt>/progs`` where /sys/fs/bpf is ``root`` (libbpf's default
    pin root, for pin-by-name maps), in a mount namespace of its own."""
    _run("bpftool prog loadall", ["unshare", "--mount", "--propagation", "private", "sh", "-ec",
                                  'mount --bind "$1" /sys/fs/bpf && exec "$2" prog loadall "$3" /sys/fs/bpf/progs',
                                  "sh", root, bpftool, obj], timeout)
    return _read_pinned_programs(root)


def _ours_as_bpftool(obj: str, root: str) -> Dict[str, _Item]:
    from ..object import Object

    with Object.open(obj, pin_root=root) as loaded:
        loaded.load()
        os.mkdir(os.path.join(root, "progs"))
        for name, program in loaded.programs.items():
            if program.autoload:
                program.pin(os.path.join(root, "progs", name))
    return _read_pinned_programs(root)


def _tc(tc: str, obj: str, root: str, section: str, timeout: float) -> Dict[str, _Item]:
    """``tc filter add dev lo ingress bpf da obj OBJ sec S`` with TC_BPF_MNT=root, in a new
    network namespace, read while the namespace holds the filter."""
    netns = f"{NETNS_PREFIX}{os.getpid()}_{os.urandom(4).hex()}"
    try:
        with _signals.deferred():  # made and known to the finally below, or not made at all
            _run("ip netns add", ["ip", "netns", "add", netns], timeout)
        enter = ["nsenter", f"--net={NETNS_DIR}/{netns}", tc]
        env = {**os.environ, "TC_BPF_MNT": root}
        _run("tc qdisc add", [*enter, "qdisc", "add", "dev", "lo", "clsact"], timeout, env)
        try:
            _run("tc filter add", [*enter, "filter", "add", "dev", "lo", "ingress", "bpf", "da", "obj", obj, "sec",
                                   section], timeout, env)
        except LibbpfError as exc:
            if _is_legacy(obj):
                raise exc.with_detail(f"{exc.detail}; a tc built with libbpf (Debian's) refuses legacy objects: "
                                      "give one built without it (--tc PATH)") from None
            raise
        shown = _run("tc filter show", [*enter, "filter", "show", "dev", "lo", "ingress"], timeout, env)
        found = re.search(r"\bid (\d+)", shown)
        if found is None:
            raise LibbpfError.for_errno(22, f"tc filter show lists no program: {shown.strip()!r}", None)
        with Program.from_id(int(found.group(1))) as program:
            return _read(root, [(section, program)])
    finally:
        with _signals.deferred():
            _delete_netns(netns)


def _delete_netns(name: str) -> None:
    """What ``ip netns del NAME`` does, done here: a signal sent to the command's process group
    (Ctrl-C in a terminal, timeout(1)) would stop an ``ip`` started now, and leave the namespace.
    Also removes what an ``ip netns add`` stopped halfway left (a file not mounted yet)."""
    path = os.path.join(NETNS_DIR, name)
    try:
        libc().umount2(c_path(path), _MNT_DETACH | _UMOUNT_NOFOLLOW)
    except OSError:
        pass  # not mounted
    try:
        os.unlink(path)
    except FileNotFoundError:
        pass


def _ours_as_tc(obj: str, root: str, section: str, prog_type: str) -> Dict[str, _Item]:
    from ..iproute2 import open as open_as_tc

    with open_as_tc(obj, prog_type, section, mnt=root) as loaded:
        loaded.load()
        entry = next((p for p in loaded.programs.values() if p.section == section and p.autoload), None)
        if entry is None:
            raise InvalidValueError(f"no program in section {section!r} of {obj}")
        return _read(root, [(section, entry)])


# reading what the kernel holds --------------------------------------------------------------

def _read_pinned_programs(root: str) -> Dict[str, _Item]:
    progs = os.path.join(root, "progs")
    opened = [(name, Program.from_pinned(os.path.join(progs, name))) for name in sorted(os.listdir(progs))]
    try:
        return _read(root, opened)
    finally:
        for _, program in opened:
            program.close()


def _pins(root: str) -> Dict[Tuple[str, int], str]:
    """(kind, id) -> the path relative to ``root`` of each pin under it."""
    found: Dict[Tuple[str, int], str] = {}
    for path, kind, handle in walk_pinned(root):
        found.setdefault((kind, handle.info().id), os.path.relpath(path, root))
    return found


def _read(root: Optional[str], entries: List[Tuple[str, Program]]) -> Dict[str, _Item]:
    """The programs ``entries`` (label, program), the programs their prog arrays hold, and every
    map they use, labelled alike on both sides; pins relative to ``root`` (None: no pins)."""
    pins = _pins(root) if root is not None else {}
    items: Dict[str, _Item] = {}
    seen_maps: Dict[int, str] = {}
    queue: List[Tuple[str, ProgInfo]] = [(label, program.info()) for label, program in entries]
    seen_progs = {info.id for _, info in queue}
    while queue:
        label, info = queue.pop(0)
        items[f"program {label}"] = _Item("program", label, info.name,
                                          {"type": _name(info.type), "tag": info.tag, "xlated_len": info.xlated_len})
        for position, map_id in enumerate(info.map_ids):
            if map_id in seen_maps:
                continue
            map_label = seen_maps[map_id] = f"{label} map {position}"
            with Map.from_id(map_id) as m:
                facts = m.info()
                items[f"map {map_label}"] = _Item("map", map_label, facts.name, _map_facts(facts, pins))
                for key, prog in _prog_array_slots(m, facts):
                    if prog.id not in seen_progs:
                        seen_progs.add(prog.id)
                        queue.append((f"{map_label}[{key}]", prog))
    return items


def _map_facts(info: MapInfo, pins: Dict[Tuple[str, int], str]) -> Dict[str, Any]:
    return {"type": _name(info.type), "key_size": info.key_size, "value_size": info.value_size,
            "max_entries": info.max_entries, "flags": info.flags, "pin": pins.get(("map", info.id))}


def _prog_array_slots(m: Map, info: MapInfo) -> Iterator[Tuple[int, ProgInfo]]:
    from .._abi import MapType

    if info.type != MapType.PROG_ARRAY:
        return
    m.key_type = m.value_type = int
    for key, prog_id in sorted(m.items()):
        with Program.from_id(prog_id) as prog:
            yield key, prog.info()


def _name(value: Any) -> Any:
    return getattr(value, "name", value)


def render(report: Comparison) -> List[str]:
    """The report as the command prints it: a line an item with its facts; ``!`` before an item
    that differs, each differing fact as ``ours (TOOL: theirs)``."""
    head = os.path.basename(report.object) + (f" sec {report.section}" if report.section else "")
    lines = [f"compare {head}: {OURS} vs {report.tool}"]
    grouped: Dict[Tuple[str, str], List[Row]] = {}
    for row in report.rows:
        grouped.setdefault((row.kind, row.item), []).append(row)
    labels = {key: f"{key[0]} {key[1]}" + _kernel_names(report, key) for key in grouped}
    width = max(map(len, labels.values()), default=0)
    for key, rows in grouped.items():
        facts = " ".join(f"{row.field} {_cell(row.ours)}" + (f" ({report.tool}: {_cell(row.theirs)})"
                                                              if row.differs else "") for row in rows)
        mark = "!" if any(row.differs for row in rows) else " "
        lines.append(f"{mark} {labels[key].ljust(width)}  {facts}")
    count = len(report.differences)
    lines.append("same" if not count else f"{count} difference{'s' if count > 1 else ''}")
    return lines


def _kernel_names(report: Comparison, key: Tuple[str, str]) -> str:
    ours, theirs = report.names.get(f"{key[0]} {key[1]}", ("", ""))
    if not (ours or theirs) or (key[0] == "program" and ours == key[1]):
        return ""
    return f" ({ours or '-'}/{theirs or '-'})" if ours != theirs else f" ({ours})"


def _cell(value: Any) -> str:
    return "-" if value is None else str(value)


def as_json(report: Comparison) -> Dict[str, Any]:
    return {"object": report.object, "tool": report.tool, "section": report.section, "same": report.same,
            "rows": [dict(row._asdict(), differs=row.differs) for row in report.rows],
            "names": {item: {OURS: ours, report.tool: theirs} for item, (ours, theirs) in report.names.items()}}

