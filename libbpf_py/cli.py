"""The ``libbpf-py`` command: which libbpf is used, what an object holds, run a program once,
load an object onto bpffs, attach and detach programs, list links. ``--json`` on each; an error
is one line on stderr and a non-zero exit.

SIGINT, SIGTERM and SIGHUP stop a command the same way: what it made so far (pins, filters,
links, scratch mounts, namespaces) is undone, and it exits with 128 + the signal's number. A
command that leaves something behind (load, attach, tc) prints its result and then lets its
work stand as one step: once the result is out, a signal finds the command done (exit 0).
"""

from __future__ import annotations

import argparse
import errno
import json
import os
import re
import sys
from typing import Any, Callable, Dict, List, Optional

from .compat import COMPAT_NAMES
from .errors import Error, InvalidValueError, KeyNotFoundError, LibbpfError, UsageError


def _version(args: argparse.Namespace) -> int:
    """The package's version, the libbpf it loads (version and path) and the running kernel."""
    import libbpf_py as bpf

    uname = os.uname()
    record = {"libbpf_py": bpf.__version__, "libbpf": bpf.libbpf_version_string(), "libbpf_path": bpf.library_path(),
              "kernel": f"{uname.sysname} {uname.release} {uname.machine}"}
    lines = [f"libbpf_py {record['libbpf_py']}", f"libbpf {record['libbpf']} ({record['libbpf_path']})",
             f"kernel {record['kernel']}"]
    return _emit(args, record, lines)


def _describe(obj: Any) -> Dict[str, Any]:
    maps = [{"name": m.name, "type": _label(m.type), "key_size": m.key_size, "value_size": m.value_size,
             "max_entries": m.max_entries, "flags": m.flags, "pin": m.pin_path} for m in obj.maps.values()]
    programs = [{"name": p.name, "section": p.section, "type": _label(p.type), "instructions": p.insn_count,
                 "loads": p.autoload} for p in obj.programs.values()]
    reading = ", ".join(getattr(hook, "reading", type(hook).__name__) for hook in obj.hooks) or "libbpf"
    why = "; ".join(hook.why for hook in obj.hooks if getattr(hook, "why", None)) or None
    return {"object": obj.name, "reading": reading, "why": why,
            "maps": maps, "programs": programs}


def _source(path: str, embedded: Optional[str]) -> "tuple[Any, Dict[str, Any], Optional[Dict[str, Any]]]":
    """What to open for ``path``: the path itself, or, for an executable, the BPF object it
    embeds (``embedded``: which one), with Object.open's name for it and where it was found."""
    from libbpf_py.embedded import embedded_object, is_host_binary

    if not is_host_binary(path):
        if embedded is not None:
            raise UsageError(f"--embedded picks an object inside an executable; {path} is none")
        return path, {}, None
    found = embedded_object(path, embedded)
    return found.data, {"name": found.name}, {"binary": path, "name": found.name, "offset": found.offset,
                                               "size": len(found.data)}


def _embedded_line(where: Optional[Dict[str, Any]]) -> List[str]:
    return [] if where is None else [f"  embedded in {where['binary']}: {where['name']} (offset {where['offset']}, "
                                     f"{where['size']} bytes)"]


def _inspect(args: argparse.Namespace) -> int:
    """An object's maps (with the pin each would get) and programs (with what would load), without
    loading it; ``--type`` reads a legacy object as the command of that program type would. An
    executable's embedded object (a libbpf skeleton's) is read in its place."""
    import libbpf_py as bpf

    source, named, where = _source(args.object, args.embedded)
    opener = bpf.Object.open(source, **named, **({"compat": args.compat} if args.compat else {})) \
        if not args.type else bpf.iproute2.open(source, args.type)
    with opener as obj:
        described = _describe(obj)
    described["embedded"] = where
    lines = [f"object {described['object']} ({described['reading']})", *_embedded_line(where)]
    if described["why"] and "auto" in (args.compat or "auto") and not args.type:
        lines.append(f"  reading: {described['why']}")
    lines += [f"  map {m['name']}: {m['type']} key {m['key_size']} value {m['value_size']} "
              f"max_entries {m['max_entries']} flags {m['flags']:#x}" + (f" pin {m['pin']}" if m["pin"] else "")
              for m in described["maps"]]
    lines += [f"  program {p['name']}: {p['type']} section {p['section']} ({p['instructions']} insns)"
              + ("" if p["loads"] else " (not loaded)") for p in described["programs"]]
    return _emit(args, described, lines)


def _run(args: argparse.Namespace) -> int:
    import libbpf_py as bpf

    data = bytes.fromhex(args.data_hex) if args.data_hex else b""
    if args.data_file:
        with open(args.data_file, "rb") as f:
            data = f.read()
    # a test run pins nothing unless asked: pin_root= pins as the object's format says, under DIR
    options: Dict[str, Any] = {"pin_root": args.pin_root} if args.pin_root else {"pinning": bpf.PinPolicy()}
    with bpf.Object.open(args.object, **options) as obj:
        if args.program not in obj.programs:
            print(f"no program {args.program!r}; the object has {sorted(obj.programs)}", file=sys.stderr)
            return 2
        if obj.hooks:  # loaded as an old tool loads it (the shim chose the load set: tail calls too)
            obj.programs[args.program].autoload = True
        else:
            for name, prog in obj.programs.items():
                prog.autoload = name == args.program
        obj.load()
        result = obj.programs[args.program].test_run(data, repeat=args.repeat)
    print(json.dumps({"retval": result.retval, "duration_ns": result.duration_ns,
                      "data_out": result.data.hex()}))
    return 0


def _json(value: Any) -> str:
    """JSON, bytes that nothing decoded as hex."""
    return json.dumps(value, default=lambda b: b.hex(" ") if isinstance(b, bytes) else str(b))


def _emit(args: argparse.Namespace, described: Any, lines: List[str]) -> int:
    if args.json:
        json.dump(described, sys.stdout, indent=2, default=lambda b: b.hex(" ") if isinstance(b, bytes) else str(b))
        print()
    else:
        print("\n".join(lines))
    return 0


def _commit(args: argparse.Namespace, described: Any, lines: List[str],
            keep: Optional[Callable[[], None]] = None) -> int:
    """Print the result of a command that leaves something behind, then let its work stand
    (``keep``), as one step a signal cannot split: a signal that came before it, or a failure to
    print, is raised with nothing kept (the caller undoes its work, see ``_undo_unless_committed``);
    one that comes while the result goes out finds the command done (``args.committed``, main)."""
    from libbpf_py import _signals

    with _signals.deferred() as signals:
        signals.run_noted()
        _emit(args, described, lines)
        sys.stdout.flush()
        if keep is not None:
            keep()
        args.committed = True
    return 0


def _undo_unless_committed(args: argparse.Namespace, undo: Callable[[], None]) -> None:
    """After a failure or a signal: ``undo`` the command's work unless its result is out (then
    it stands), with signals held until the undoing is done."""
    from libbpf_py import _signals

    if not args.committed:
        with _signals.deferred():
            undo()


def _load(args: argparse.Namespace) -> int:
    """Like ``bpftool prog loadall OBJ DIR [pinmaps DIR/maps]``: load, pin each program (and with
    --pin-maps each map) under --pin-dir, so that they outlive this command."""
    import libbpf_py as bpf
    from libbpf_py import _signals
    from libbpf_py.iproute2.loading import unpin_made

    options: Dict[str, Any] = {"compat": args.compat} if args.compat else {}
    prog_type = None
    if args.type:
        try:
            prog_type = bpf.ProgType[args.type.upper()]
        except KeyError:
            raise InvalidValueError(f"unknown program type {args.type!r} (e.g. xdp, sched_cls, "
                                    "socket_filter)") from None
    made: List[str] = []  # pins and directories this command made: removed again if it fails

    def make(path: str, action: Callable[[str], None]) -> None:
        with _signals.deferred():  # made and recorded, or neither
            action(path)
            made.append(path)

    with bpf.Object.open(args.object, **options) as obj:

        def undo() -> None:  # as bpftool does: nothing half-pinned stays behind
            for path in reversed(made):
                (os.rmdir if os.path.isdir(path) and not os.path.islink(path) else os.unlink)(path)
            made.clear()
            if obj.loaded:
                unpin_made(obj)  # and the pins the load made (by name), not those it reused

        if prog_type is not None:
            for program in obj.programs.values():
                program.type = prog_type
        programs, maps = [], []
        try:
            obj.load()
            for directory in (args.pin_dir, os.path.join(args.pin_dir, "maps") if args.pin_maps else None):
                if directory and not os.path.isdir(directory):
                    make(directory, os.mkdir)
            for name, program in obj.programs.items():
                if program.autoload:
                    make(os.path.join(args.pin_dir, name), program.pin)
                    programs.append({"name": name, "id": program.info().id, "type": _label(program.type),
                                     "pinned": program.pin_path})
            for name, m in obj.maps.items():
                if args.pin_maps and m.pin_path is None:
                    make(os.path.join(args.pin_dir, "maps", name.replace(".", "_")), m.pin)  # bpffs refuses dots
                maps.append({"name": name, "id": m.info().id, "type": _label(m.type), "pinned": m.pin_path})
            lines = [f"program {p['name']}: {p['type']} id {p['id']} pinned {p['pinned']}" for p in programs]
            lines += [f"map {m['name']}: {m['type']} id {m['id']}" + (f" pinned {m['pinned']}" if m["pinned"]
                                                                        else "") for m in maps]
            return _commit(args, {"programs": programs, "maps": maps}, lines)
        except BaseException:
            _undo_unless_committed(args, undo)
            raise


def _words(record: Dict[str, Any]) -> str:
    """A record as one line: ``key value key value ...`` (lists comma-separated, flags in hex)."""
    def word(key: str, value: Any) -> str:
        if isinstance(value, list):
            return ",".join(map(str, value)) or "-"
        if isinstance(value, bool):
            return "yes" if value else "no"
        return f"{value:#x}" if key == "flags" and isinstance(value, int) else str(value)

    return " ".join(f"{key} {word(key, value)}" for key, value in record.items())


def _label(value: Any) -> Any:
    """An enum member's name; anything else as it is (ints stay ints in --json)."""
    return getattr(value, "name", value)


def _link_record(link: Any) -> Dict[str, Any]:
    info = link.info()
    record = {"id": info.id, "type": _label(info.type), "prog_id": info.prog_id}
    for field in ("ifindex", "cgroup_id", "netns_ino", "attach_type"):
        value = getattr(info, field)
        if value is not None:
            record[field] = _label(value)
    return record


def _links(args: argparse.Namespace) -> int:
    import libbpf_py as bpf

    records = []
    for link_id in bpf.Link.ids():
        try:
            with bpf.Link.from_id(link_id) as link:
                records.append(_link_record(link))
        except bpf.LibbpfError:
            continue  # gone meanwhile
    lines = [_words(record) for record in records]
    return _emit(args, records, lines)


def _attach(args: argparse.Namespace) -> int:
    """Attach a program and pin the link (the pin keeps it attached after this command)."""
    import libbpf_py as bpf
    from libbpf_py import _signals

    if args.hook in ("xdp", "tc"):
        if not args.device:
            print("libbpf-py: attach xdp/tc needs --dev", file=sys.stderr)
            return 2
        with bpf.Program.from_pinned(args.program) as program, _signals.deferred():  # a Link made, or nothing
            link = program.attach_xdp(args.device, mode=args.mode) if args.hook == "xdp" else \
                program.attach_tc(args.device, args.direction, mode=args.mode)
    else:  # auto: what the section names (tracepoints, raw tracepoints, kprobes, fentry, LSM, iterators)
        obj_path, _, name = args.program.rpartition(":")
        if not obj_path:
            print(f"libbpf-py: attach {args.hook} takes OBJECT:PROGRAM", file=sys.stderr)
            return 2
        needed = {"tracepoint": args.tp, "kprobe": args.function, "cgroup": args.cgroup}.get(args.hook, "")
        if needed is None:
            option = {"tracepoint": "--tp CATEGORY:NAME", "kprobe": "--func FUNCTION", "cgroup": "--cgroup PATH"}
            print(f"libbpf-py: attach {args.hook} needs {option[args.hook]}", file=sys.stderr)
            return 2
        with bpf.Object.open(obj_path) as obj:
            if name not in obj.programs:
                raise InvalidValueError(f"no program {name!r} in {obj_path}; it has {', '.join(sorted(obj.programs))}")
            for other, program in obj.programs.items():
                program.autoload = other == name
            obj.load()
            program = obj.programs[name]
            category, _, event = (args.tp or "").partition(":")
            if args.hook == "tracepoint" and (not category or not event):
                raise InvalidValueError(f"--tp takes CATEGORY:NAME (e.g. syscalls:sys_enter_getpid), not {args.tp!r}")
            with _signals.deferred():  # a Link made, or nothing attached
                if args.hook == "tracepoint":
                    link = program.attach_tracepoint(category, event)
                elif args.hook == "kprobe":
                    link = program.attach_kprobe(args.function, retprobe=args.retprobe)
                elif args.hook == "cgroup":
                    link = program.attach_cgroup(args.cgroup)
                else:
                    link = program.attach()
    with link:
        try:
            if args.pin_link:
                link.pin(args.pin_link)
            record = _link_record(link)
            record["pinned"] = link.pin_path
            if not args.pin_link:
                record["note"] = "not pinned: detached as this command exited"
            return _commit(args, record, [_words(record)], keep=link.close)
        except BaseException:
            _undo_unless_committed(args, link.detach)  # (detach removes the pin made)
            raise


def _detach(args: argparse.Namespace) -> int:
    """Detach the link pinned at PIN and remove the pin (only while it holds that link)."""
    import warnings

    import libbpf_py as bpf

    with bpf.Link.from_pinned(args.pin) as link, warnings.catch_warnings(record=True) as said:
        warnings.simplefilter("always", RuntimeWarning)
        record = _link_record(link)
        link.detach()  # removes the pin it was opened from
    held = [str(w.message) for w in said if issubclass(w.category, RuntimeWarning)]
    record["detached"] = not held
    status = _emit(args, record, [_words(record)])
    for message in held:  # attached still: another process, or another pin, holds it
        print(f"libbpf-py: {message}", file=sys.stderr)
    return 1 if held else status


def _tc(args: argparse.Namespace) -> int:
    """What ``tc filter add dev X {ingress|egress} bpf da obj F sec S`` does, also for objects
    Debian's tc refuses: load with iproute2's semantics (its pins under tc's directory), attach,
    and leave the filter when the command exits."""
    import libbpf_py as bpf
    from libbpf_py import _signals
    from libbpf_py.iproute2.loading import unpin_made
    from libbpf_py.netdev import device_index

    device_index(args.device)  # as tc: a missing device is said before anything is loaded or pinned
    with bpf.iproute2.open(args.object, "sched_cls", args.sec) as obj:
        link: Any = None

        def undo() -> None:  # as if the command had never run: no filter, none of the pins this load made
            if link is not None:
                link.detach()
            if obj.loaded:  # (a load interrupted as it ended stands: its pins go here)
                unpin_made(obj)  # (reused pins stay)

        try:
            obj.load()
            program = next((p for p in obj.programs.values() if p.section == args.sec and p.autoload), None)
            if program is None:
                raise InvalidValueError(f"no program in section {args.sec!r} of {args.object}")
            with _signals.deferred():  # the filter added and its Link made, or neither
                link = bpf.iproute2.attach_filter(args.device, args.hook, program, object_name=args.object,
                                                  section=args.sec, priority=args.pref, handle=args.handle)
            record = {"dev": args.device, "hook": args.hook, "pref": link.tc_priority, "handle": link.tc_handle,
                      "prog_id": program.info().id, "name": f"{os.path.basename(args.object)}:[{args.sec}]",
                      "pinned": sorted(m.pin_path for m in obj.maps.values() if m.pin_path)}
            return _commit(args, record, [_words(record)], keep=link.disconnect)  # as tc: the filter stays
        except BaseException:
            _undo_unless_committed(args, undo)
            raise


def _compare(args: argparse.Namespace) -> int:
    """Load the object with libbpf_py and with the native tool; print both side by side; exit 1
    when anything differs. An executable is its own native tool (``--args`` its arguments): run,
    read, stopped, and its embedded object loaded by libbpf_py as it loaded it."""
    import shlex

    from libbpf_py.embedded import is_host_binary
    from libbpf_py.tools.comparison import as_json, compare, render

    if args.tool == "native" or (args.tool == "auto" and is_host_binary(args.object)):
        from libbpf_py.tools.native import compare_native

        report = compare_native(args.object, shlex.split(args.args or ""), embedded=args.embedded)
    else:
        if args.args or args.embedded:
            raise UsageError("--args and --embedded are for an executable (the native tool itself)")
        report = compare(args.object, section=args.sec, tool=args.tool, tc=args.tc)
    _emit(args, as_json(report), render(report))
    return 0 if report.same else 1


def _open_handle(cls: Any, target: str) -> Any:
    """A map or program by kernel id (digits) or by pin path."""
    return cls.from_id(int(target)) if target.isdigit() else cls.from_pinned(target)


def _map_record(info: Any) -> Dict[str, Any]:
    return {"id": info.id, "type": _label(info.type), "name": info.name, "key_size": info.key_size,
            "value_size": info.value_size, "max_entries": info.max_entries, "flags": info.flags}


def _prog_record(info: Any) -> Dict[str, Any]:
    return {"id": info.id, "type": _label(info.type), "name": info.name, "tag": info.tag,
            "xlated_len": info.xlated_len, "map_ids": info.map_ids}


def _pinned_records(root: str) -> List[Dict[str, Any]]:
    """What each pin under ``root`` holds (maps, programs, links), by path."""
    from libbpf_py.tools.pinned import walk_pinned

    describe = {"map": lambda m: _map_record(m.info()), "prog": lambda p: _prog_record(p.info()),
                "link": _link_record}
    return [{"pin": path, "kind": kind, **describe[kind](handle)} for path, kind, handle in walk_pinned(root)]


def _show(args: argparse.Namespace) -> int:
    """Programs and maps in the kernel (as bpftool prog show / map show), or what is pinned under DIR."""
    import libbpf_py as bpf

    if args.pinned is not None:
        from libbpf_py._bpffs import is_bpffs

        if not os.path.isdir(args.pinned):
            raise LibbpfError.for_errno(errno.ENOENT, f"{args.pinned!r} is not a directory")
        if not is_bpffs(args.pinned):
            raise InvalidValueError(f"{args.pinned!r} is not on a bpffs (mount -t bpf bpf DIR)")
        records = _pinned_records(args.pinned)
        return _emit(args, records, [_words(r) for r in records])
    wanted: Optional[Dict[str, Any]] = None  # kernel names of the object's programs and maps
    where = None
    if args.object is not None:
        from libbpf_py.tools.native import kernel_name

        source, named, where = _source(args.object, args.embedded)
        with bpf.Object.open(source, **named) as obj:
            wanted = {"programs": {kernel_name(p.name) for p in obj.programs.values()},
                      "maps": {kernel_name(m.name) for m in obj.maps.values()}}
    shown: Dict[str, Any] = {"programs": [], "maps": []}
    for key, cls, record in (("programs", bpf.Program, _prog_record), ("maps", bpf.Map, _map_record)):
        for kernel_id in cls.ids():
            try:
                with cls.from_id(kernel_id) as handle:
                    found = record(handle.info())
            except bpf.LibbpfError:
                continue  # gone meanwhile
            if wanted is None or found["name"] in wanted[key]:
                shown[key].append(found)
    if where is not None:
        shown["embedded"] = where
    lines = _embedded_line(where) + [f"program {_words(r)}" for r in shown["programs"]] + \
        [f"map {_words(r)}" for r in shown["maps"]]
    return _emit(args, shown, lines)


class _Shapes:
    """How one map's keys and values are read and written on the command line: through the
    map's BTF where it has one (JSON values), else as hex bytes (as bpftool does)."""

    def __init__(self, m: Any, hex_only: bool):
        from libbpf_py.btf_values import MapTypes

        info = m.info()
        self.sizes = (info.key_size, info.value_size)
        self.types = None if hex_only else MapTypes.of(info)

    def _type(self, which: int) -> int:
        return (self.types.key, self.types.value)[which] if self.types else 0

    def show(self, raw: bytes, which: int) -> Any:
        if self._type(which):
            from libbpf_py.btf_values import decode

            return decode(self.types.btf, self._type(which), raw)  # type: ignore[union-attr]
        return " ".join(f"{b:02x}" for b in raw)

    def parse(self, text: str, which: int) -> bytes:
        what = ("key", "value")[which]
        if self._type(which):
            from libbpf_py.btf_values import encode

            try:
                value = json.loads(text)
            except ValueError:
                raise InvalidValueError(f"the {what} must be JSON shaped as the map's BTF type "
                                        "(or use --hex)") from None
            return encode(self.types.btf, self._type(which), value, self.sizes[which])  # type: ignore[union-attr]
        try:
            raw = bytes.fromhex(text)
        except ValueError:
            raise InvalidValueError(f"the {what} must be hex bytes, e.g. '01 00 00 00'") from None
        if len(raw) != self.sizes[which]:
            raise InvalidValueError(f"the {what} has {len(raw)} bytes; the map's {what}s have "
                                    f"{self.sizes[which]} bytes")
        return raw

    def show_value(self, value: Any) -> Any:
        """A value, or a per-CPU value's list (one per possible CPU)."""
        return [self.show(v, 1) for v in value] if isinstance(value, list) else self.show(value, 1)


def _map(args: argparse.Namespace) -> int:
    """Read and write one map's elements, decoded with its BTF (like bpftool map dump|lookup|update|delete)."""
    import libbpf_py as bpf

    with _open_handle(bpf.Map, args.map) as m:
        shapes = _Shapes(m, args.hex)
        if args.action == "dump":
            records = [{"key": shapes.show(k, 0), "value": shapes.show_value(v)} for k, v in m.items()]
        elif args.key is None:
            raise InvalidValueError(f"map {args.action} needs KEY")
        else:
            key = shapes.parse(args.key, 0)
            if args.action == "lookup":
                if key not in m:
                    raise KeyNotFoundError(f"no element with key {args.key}")
                records = [{"key": shapes.show(key, 0), "value": shapes.show_value(m[key])}]
            elif args.action == "update":
                if args.value is None:
                    raise InvalidValueError("map update needs KEY VALUE")
                value = shapes.parse(args.value, 1)
                flags = getattr(bpf, "BPF_" + args.flags.upper())
                m.update(key, [value] * bpf.possible_cpus() if m.is_percpu else value, flags)
                records = [{"key": shapes.show(key, 0), "value": shapes.show(value, 1), "updated": True}]
            else:
                try:
                    m.delete(key)
                except KeyError:
                    raise KeyNotFoundError(f"no element with key {args.key}") from None
                records = [{"key": shapes.show(key, 0), "deleted": True}]
    lines = [" ".join(f"{k}: {_json(v) if not isinstance(v, str) or shapes.types else v}"
                      for k, v in r.items()) for r in records]
    return _emit(args, records, lines)


_FD_PATH = re.compile(r"/dev/(stdout|stderr)|/dev/fd/(\d+)|/proc/self/fd/(\d+)")


def _named_fd(path: str) -> Optional[int]:
    """The fd ``path`` names (``/dev/stdout``, ``/dev/fd/N``, ``/proc/self/fd/N``), or standard
    output's or error's when ``path`` is what they are open on (a link to /dev/stdout, another
    process's view of them); None for any other path."""
    import stat

    named = _FD_PATH.fullmatch(re.sub("/+", "/", os.path.abspath(path)))
    if named:
        digits = named.group(2) or named.group(3)
        if digits is not None and len(digits) > 9:
            raise UsageError(f"{path}: no such file descriptor")
        return {"stdout": 1, "stderr": 2}.get(named.group(1) or "") or int(digits or 0)
    try:
        found = os.stat(path)
    except OSError:
        return None
    for number in (1, 2):
        try:
            if os.path.samestat(found, os.fstat(number)) and not stat.S_ISCHR(found.st_mode):
                return number  # (a terminal or /dev/null is written as the device it is)
        except OSError:
            continue
    return None


def _write_text(path: Optional[str], text: str) -> None:
    """``text`` to standard output, or to ``path``: ``/dev/stdout`` (or another fd's path) is that
    fd, written as it is (appended to where ``>>`` opened it); a regular file (or a link to one)
    is replaced whole by a temporary file beside it with its mode and owner, or written over in
    place when it has other names (hard links) or its directory is not writable; anything else (a
    device, a FIFO) is written into as it is."""
    if path is None:
        if sys.stdout is None:  # (started with its fd 1 closed)
            raise UsageError("standard output is closed: give -o FILE")
        sys.stdout.write(text)
        return
    import stat
    import tempfile

    number = _named_fd(path)
    if number is not None:
        if number == 1 and sys.stdout is not None:
            sys.stdout.flush()
        try:
            with open(os.dup(number), "w") as f:  # (shares the fd's offset and O_APPEND)
                f.write(text)
        except OSError as exc:
            raise LibbpfError.for_errno(exc.errno or errno.EBADF, f"{path} (fd {number}): {exc.strerror}") from None
        return
    target = os.path.realpath(path)  # a link is written through, not replaced
    try:
        existing: Optional[os.stat_result] = os.stat(target)
    except FileNotFoundError:
        existing = None
    if existing is not None and stat.S_ISDIR(existing.st_mode):
        raise LibbpfError.for_errno(errno.EISDIR, f"{path} is a directory")
    if existing is not None and (not stat.S_ISREG(existing.st_mode) or existing.st_nlink > 1
                                 or not os.access(os.path.dirname(target), os.W_OK)):
        with open(target, "w") as f:  # in place (a FIFO waits here for its reader, as a shell's > does)
            f.write(text)
        return
    fd, scratch = tempfile.mkstemp(dir=os.path.dirname(target), prefix=".libbpf-py-", suffix=".tmp")
    try:
        if existing is not None:
            os.fchmod(fd, stat.S_IMODE(existing.st_mode))
            if os.geteuid() == 0:
                os.fchown(fd, existing.st_uid, existing.st_gid)
        else:
            mask = os.umask(0)
            os.umask(mask)
            os.fchmod(fd, 0o666 & ~mask)
        with os.fdopen(fd, "w") as f:
            f.write(text)
        os.replace(scratch, target)
    except BaseException:
        os.unlink(scratch)
        raise


def _gen_skeleton(args: argparse.Namespace) -> int:
    from pathlib import Path

    from libbpf_py.skeleton import generate

    stem = Path(args.output).stem if args.output else None
    text = generate(args.object, module_name=args.module_name or (stem if stem and stem.isidentifier() else None))
    _write_text(args.output, text)
    args.committed = True
    return 0


def _btf_dump(args: argparse.Namespace) -> int:
    from libbpf_py.btf import Btf

    if (args.file is None) == (not args.vmlinux):
        raise UsageError("give a FILE or --vmlinux")
    base = Btf.from_file(args.base) if args.base else None
    try:
        with (Btf.vmlinux() if args.vmlinux else Btf.from_file(args.file, base=base)) as btf:
            text = btf.dump_c(args.type or None, header=not args.no_header)
    finally:
        if base is not None:
            base.close()
    _write_text(args.output, text)
    args.committed = True
    return 0


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="libbpf-py", description=__doc__)
    sub = parser.add_subparsers(dest="command", required=True)
    version = sub.add_parser("version", help="libbpf_py's version, the libbpf it loads, and the kernel")
    version.add_argument("--json", action="store_true")
    version.set_defaults(func=_version)
    inspect = sub.add_parser("inspect", help="list an object's maps and programs without loading it")
    inspect.add_argument("object")
    inspect.add_argument("--type", help="read a legacy object as the command loading this program type does "
                         "(sched_cls: tc filter, sched_act: tc action, xdp: ip link, lwt_in/out/xmit: ip route)")
    inspect.add_argument("--compat", choices=COMPAT_NAMES, help="how to read an old object")
    inspect.add_argument("--embedded", metavar="NAME", help="an executable's embedded object to read (when several)")
    inspect.add_argument("--json", action="store_true")
    inspect.set_defaults(func=_inspect)
    run = sub.add_parser("run", help="load one program of an object and run it with BPF_PROG_TEST_RUN")
    run.add_argument("object")
    run.add_argument("program")
    run.add_argument("--data-hex", help="packet bytes as hex")
    run.add_argument("--data-file", help="file holding the packet bytes")
    run.add_argument("--repeat", type=int, default=1)
    run.add_argument("--pin-root", metavar="DIR", help="pin maps as the object asks, under DIR (default: pin nothing)")
    run.set_defaults(func=_run)
    load = sub.add_parser("load", help="load an object and pin its programs (like bpftool prog loadall)")
    load.add_argument("object")
    load.add_argument("--pin-dir", required=True, metavar="DIR", help="pin each program at DIR/NAME")
    load.add_argument("--pin-maps", action="store_true", help="also pin each map at DIR/maps/NAME")
    load.add_argument("--type", help="program type for every program (e.g. xdp, sched_cls)")
    load.add_argument("--compat", choices=COMPAT_NAMES, help="how to read an old object")
    load.add_argument("--json", action="store_true")
    load.set_defaults(func=_load)
    attach = sub.add_parser("attach", help="attach a program; --pin-link keeps it attached after exit")
    attach.add_argument("hook", choices=("xdp", "tc", "tracepoint", "kprobe", "cgroup", "auto"),
                        help="auto: as the program's section says")
    attach.add_argument("program", help="xdp/tc: a pinned program; the others: OBJECT:PROGRAM")
    attach.add_argument("--dev", dest="device", help="the network device (xdp, tc)")
    attach.add_argument("--direction", default="ingress", choices=("ingress", "egress"), help="tc's hook")
    attach.add_argument("--mode", help="xdp: skb, drv or hw; tc: tcx or cls_bpf")
    attach.add_argument("--tp", metavar="CATEGORY:NAME", help="tracepoint: the event, e.g. syscalls:sys_enter_getpid")
    attach.add_argument("--func", dest="function", metavar="FUNCTION", help="kprobe: the kernel function")
    attach.add_argument("--retprobe", action="store_true", help="kprobe: at the function's return")
    attach.add_argument("--cgroup", metavar="PATH", help="cgroup: the cgroup v2 directory")
    attach.add_argument("--pin-link", metavar="PATH", help="pin the link at PATH on bpffs")
    attach.add_argument("--json", action="store_true")
    attach.set_defaults(func=_attach)
    detach = sub.add_parser("detach", help="detach the link pinned at PIN and remove the pin")
    detach.add_argument("pin")
    detach.add_argument("--json", action="store_true")
    detach.set_defaults(func=_detach)
    tc = sub.add_parser("tc", help="load as tc does and attach: tc filter add dev X HOOK bpf da obj F sec S")
    tc.add_argument("object")
    tc.add_argument("--dev", dest="device", required=True, help="the network device")
    tc.add_argument("--hook", default="ingress", choices=("ingress", "egress"))
    tc.add_argument("--sec", required=True, help="the program's section")
    tc.add_argument("--pref", type=int, default=0, help="the filter's priority (default: as the kernel picks)")
    tc.add_argument("--handle", type=lambda text: int(text, 0), default=0, help="the filter's handle (default 1)")
    tc.add_argument("--json", action="store_true")
    tc.set_defaults(func=_tc)
    comp = sub.add_parser("compare", help="load with libbpf_py and with bpftool or tc; exit 1 on a difference")
    comp.add_argument("object")
    comp.add_argument("--sec", help="the section tc loads (with tc)")
    comp.add_argument("--tool", default="auto", choices=("auto", "bpftool", "tc", "native"),
                      help="auto: native for an executable (it is run), tc for a legacy iproute2 object, else bpftool")
    comp.add_argument("--args", help="the executable's arguments, one shell-quoted string (--args='-x -T')")
    comp.add_argument("--embedded", metavar="NAME", help="the executable's embedded object (when several)")
    comp.add_argument("--tc", default="tc", metavar="PATH", help="the tc binary (one built without libbpf "
                      "loads legacy objects; Debian's loads BTF objects)")
    comp.add_argument("--json", action="store_true")
    comp.set_defaults(func=_compare)
    show = sub.add_parser("show", help="programs and maps in the kernel, or what is pinned under --pinned DIR")
    show.add_argument("object", nargs="?", help="only the programs and maps named as this object's (or an "
                      "executable's embedded object's) are: is its BPF loaded now?")
    show.add_argument("--embedded", metavar="NAME", help="the executable's embedded object (when several)")
    show.add_argument("--pinned", metavar="DIR", help="list the pins under DIR (maps, programs, links)")
    show.add_argument("--json", action="store_true")
    show.set_defaults(func=_show)
    map_ = sub.add_parser("map", help="dump, look up, update or delete a map's elements (BTF-decoded)")
    map_.add_argument("action", choices=("dump", "lookup", "update", "delete"))
    map_.add_argument("map", help="a pin path or a map id")
    map_.add_argument("key", nargs="?", help="JSON shaped as the map's BTF key type, or hex bytes (--hex)")
    map_.add_argument("value", nargs="?", help="the same for the value (update)")
    map_.add_argument("--hex", action="store_true", help="keys and values as hex bytes, BTF or not")
    map_.add_argument("--flags", default="any", choices=("any", "noexist", "exist"), help="update's flag")
    map_.add_argument("--json", action="store_true")
    map_.set_defaults(func=_map)
    link = sub.add_parser("link", help="links in the kernel")
    link.add_argument("action", choices=("show",))
    link.add_argument("--json", action="store_true")
    link.set_defaults(func=_links)
    gen = sub.add_parser("gen", help="generate code from an object (as bpftool gen does for C)")
    gen_sub = gen.add_subparsers(dest="gen_command", required=True)
    skel = gen_sub.add_parser("skeleton", help="write a typed Python module (a skeleton) for an object")
    skel.add_argument("object", help="the BPF object file")
    skel.add_argument("-o", "--output", help="the module to write (default: standard output)")
    skel.add_argument("--module-name", help="the module's name (default: the output's file name, else OBJECT_skel)")
    skel.set_defaults(func=_gen_skeleton)
    btf = sub.add_parser("btf", help="BTF types as C (as bpftool btf dump ... format c writes them)")
    btf_sub = btf.add_subparsers(dest="btf_command", required=True)
    dump = btf_sub.add_parser("dump", help="write a C header of a file's BTF, or the kernel's (vmlinux.h)")
    dump.add_argument("file", nargs="?", help="raw BTF (/sys/kernel/btf/*) or an ELF object with .BTF")
    dump.add_argument("--vmlinux", action="store_true", help="the running kernel's BTF")
    dump.add_argument("--base", metavar="FILE", help="the BTF a split BTF extends (a module's: vmlinux)")
    dump.add_argument("--type", action="append", metavar="NAME",
                      help="only this type and what it needs (e.g. 'struct task_struct'; repeatable)")
    dump.add_argument("--no-header", action="store_true", help="the declarations alone, without bpftool's guard")
    dump.add_argument("-o", "--output", help="the file to write (default: standard output)")
    dump.set_defaults(func=_btf_dump)
    return parser


def main(argv: Optional[List[str]] = None) -> int:
    """Run one command; SIGINT, SIGTERM and SIGHUP undo what it made and exit 128 + the signal."""
    import signal

    from libbpf_py import _signals

    received: List[int] = []
    args: Optional[argparse.Namespace] = None
    try:
        with _signals.stopping_on(received=received):
            args = build_parser().parse_args(argv)
            args.committed = False
            return int(args.func(args))
    except KeyboardInterrupt:  # Ctrl-C, or _signals.Stopped (also as the handlers are put back)
        if args is not None and args.committed:
            return 0  # the result was out and the work stands: the signal came after the command
        signum = received[0] if received else signal.SIGINT
        why = "interrupted" if signum == signal.SIGINT else f"stopped by {signal.Signals(signum).name}"
        print(f"libbpf-py: {why}", file=sys.stderr)
        return 128 + signum
    except (Error, OSError, ValueError, LookupError, TypeError, RecursionError) as exc:  # (the library's, and the OS's)
        text = exc.args[0] if isinstance(exc, KeyError) and exc.args else exc
        print(f"libbpf-py: {text}", file=sys.stderr)
        return 1


if __name__ == "__main__":
    sys.exit(main())
