"""A BPF object file: open (inspect and edit maps and programs), load, use, close.

The open phase and the loaded phase are one Python object with a clear rule: edits to
the definition (``max_entries``, program ``type``, ``autoload``...) are accepted until
:meth:`Object.load`, and refused with EBUSY after it; anything used after
:meth:`Object.close` raises :class:`~libbpf_py.ClosedError`.

Every edit is also recorded, so that when the verifier rejects a program and its log did
not fit the buffer, the object can be opened again with the same edits and loaded once
more only to read the whole log (with pinning switched off, so bpffs is not touched).
"""

from __future__ import annotations

import _thread
import ctypes
import enum
import errno
import os
import sys
import weakref
from typing import (
    TYPE_CHECKING,
    Any,
    Dict,
    FrozenSet,
    Iterable,
    Iterator,
    List,
    Mapping,
    NoReturn,
    Optional,
    Set,
    Tuple,
    Union,
)

from . import _abi, _libbpf, _log, _signals
from ._abi import MapType, enum_or_int
from ._checks import Named, c_name, c_path
from ._fd import check_regular, read_file
from .elf.btf_check import validate_object
from .elf.file import SHT_PROGBITS, SHT_REL, STT_FUNC, ElfFile
from .errors import (
    PRIVILEGE_HINT,
    ClosedError,
    ElfError,
    InvalidTypeError,
    InvalidValueError,
    KeyNotFoundError,
    LibbpfError,
    LibbpfFeatureError,
    MissingBtfError,
    UsageError,
    VerifierError,
)
from .maps import Map
from .pinning import PinPolicy
from .pinning.pins import live_map_id, pinned_map_id, unlink_quietly
from .programs import Program
from .spec import MapSpec

if TYPE_CHECKING:
    from .btf_ctypes import Types
    from .hooks import ObjectHooks
    from .links import Link
    from .pinning.session import PinSession
    from .variables import Globals
    Source = Union[str, "os.PathLike[str]", bytes, bytearray, memoryview]
    Edit = Tuple[str, str, str, Any]  # (kind, name, setter, value)
    LogBuffers = Dict[str, "ctypes.Array[ctypes.c_char]"]

    from ._handle import PathLike
    from .compat import Compat


DEFAULT_LOG_SIZE = 1 << 16
MAX_LOG_SIZE = 1 << 24  # the kernel's limit on older releases (UINT_MAX >> 8)
BYTES_NAME = "object"  # the name of an object opened from bytes without name= (libbpf would derive one from a pointer)
# What a program load fails with when the verifier rejects it (ENOSPC: its log did not fit).
_VERIFIER_ERRNOS = frozenset({errno.EACCES, errno.EINVAL, errno.E2BIG, errno.ENOSPC})
_NEXT = {"map": "bpf_object__next_map", "program": "bpf_object__next_program"}
log = _log.Logger("libbpf_py")


def _check_source(src: Any) -> Any:
    """``src`` when it is a path or bytes; TypeError before anything is read (an int would be an fd)."""
    if isinstance(src, (str, bytes, bytearray, memoryview, os.PathLike)):
        return src
    raise InvalidTypeError(f"an object is opened from a path or its bytes, not {type(src).__name__}")


def read_source(src: Source) -> Tuple[bytes, Optional[str]]:
    """The object's bytes and, for a file, its path."""
    _check_source(src)
    if isinstance(src, (bytes, bytearray, memoryview)):
        return bytes(src), None
    return read_file(c_path(src, "object path"), "object", "open"), os.fsdecode(src)


def _look(data: bytes) -> Union[ElfFile, ElfError, None]:
    """The section headers (and the BTF) of an object; None when it is no ELF file at all (libbpf
    says so), the ElfError when it is one this package finds malformed."""
    if data[:4] != b"\x7fELF":
        return None
    try:
        return ElfFile.parse(data, headers_only=True, keep=(".BTF", ".symtab", "maps"))
    except ElfError as exc:
        return exc


def _has_legacy_maps(look: Optional[ElfFile]) -> bool:
    """Whether the section headers show a legacy ``maps`` section (the old formats keep their map
    definitions there; libbpf 1.x refuses it)."""
    section = None if look is None else look.section("maps")
    return section is not None and section.type == SHT_PROGBITS


def default_name(path: Optional[str]) -> str:
    """The name libbpf gives an object opened from ``path`` (basename up to the first dot),
    or ``"object"`` for one opened from bytes."""
    return BYTES_NAME if path is None else os.path.basename(path).split(".")[0]


def _iter_handles(lib: _libbpf.Libbpf, kind: str, obj: int) -> Iterator[Tuple[str, int]]:
    """(name, handle) of every map or program of libbpf's object ``obj``."""
    step = getattr(lib, _NEXT[kind])
    name_fn = lib.bpf_map__name if kind == "map" else lib.bpf_program__name
    handle = step(obj, None)
    while handle:
        yield c_name(name_fn(handle)), handle
        handle = step(obj, handle)


_REUSED = "reused pinned map at '"  # libbpf's debug line, 1.1 to 1.8, then the path and a quote


def _reused_paths(lines: List[str]) -> List[str]:
    """The pins libbpf says it reused, from its debug lines."""
    paths = []
    for line in lines:
        start = line.find(_REUSED)
        if start >= 0:
            start += len(_REUSED)
            end = line.find("'", start)
            paths.append(line[start:end] if end >= 0 else line[start:])
    return paths


def _in_libbpf_words(exc: LibbpfError, said: _log.Said) -> LibbpfError:
    """``exc`` with what libbpf warned about meanwhile (e.g. which map failed, and why)."""
    if exc.errno == errno.EPERM and PRIVILEGE_HINT in exc.detail:
        return exc  # libbpf's own words would point at RLIMIT_MEMLOCK: the capability is what lacks
    details = [line[len("libbpf: "):] if line.startswith("libbpf: ") else line for line in said.warnings
               if "failed to load object" not in line and "BEGIN PROG LOAD LOG" not in line]
    return exc.with_detail(warnings=details[-3:]) if details else exc


class _Undo:
    """What a failing (or interrupted) load has to undo, as far as it got."""

    def __init__(self, obj: Object, session: Optional[PinSession]):
        self.obj = obj
        self.session = session
        self.loaded = False        # libbpf's load succeeded
        self.committed = False     # the session committed its pins
        self.hooks: List[ObjectHooks] = []  # hooks whose ``loaded`` ran (or raised)
        self.native_pins: Dict[str, int] = {}  # without a session: path -> id of the map libbpf pinned there

    def run(self) -> None:
        """Undo as far as the load got; every step runs, and the first error of one is raised after."""
        obj, session = self.obj, self.session
        obj._phase = _Phase.FAILED
        first: Optional[BaseException] = None
        if self.loaded:
            for hook in reversed(self.hooks):
                try:
                    hook.rolled_back(obj)
                except BaseException as exc:  # one hook's failure must not stop the undo
                    log.error("hook %r failed to undo its changes: %r", hook, exc)
                    first = first or exc
        try:
            if session is not None:
                if self.committed:
                    session.undo_commit()
                else:
                    session.rollback(loaded=self.loaded)  # libbpf removed the pins of its own failed load
            elif self.loaded:
                for path, map_id in self.native_pins.items():
                    if pinned_map_id(path) == map_id:
                        unlink_quietly(path)
        except BaseException as exc:
            first = first or exc
        finally:
            if self.loaded:
                obj._unbind_failed()
        if first is not None:
            raise first


def _release(close_object: Any, ptr: int, fds: List[int], boxes: List[List[int]]) -> None:
    """Free libbpf's object and close the fds the Python object owns (once: via weakref.finalize),
    all of it even when a signal arrives meanwhile; the maps' and programs' fd boxes say -1 first."""
    with _signals.deferred(in_finalizer=True):
        for box in boxes:
            box[0] = -1
        try:
            close_object(ptr)
        finally:
            while fds:
                os.close(fds.pop())


_live_objects: weakref.WeakSet[Object] = weakref.WeakSet()


def _after_fork_in_child() -> None:
    """In a forked child: an object's lock held by another thread of the parent would never be
    released, and a load that thread was running never ends here."""
    for obj in list(_live_objects):
        obj._lock = _thread.RLock()
        if obj._phase is _Phase.LOADING:
            obj._phase = _Phase.FAILED


os.register_at_fork(after_in_child=_after_fork_in_child)


class _Core:
    """libbpf's ``struct bpf_object`` and what must live as long as it (buffers libbpf reads, the
    fds of inner-map templates). The Object and each of its maps and programs hold it, so it is
    freed when the last of them goes, or at ``Object.close()``: there is no reference cycle to
    wait for the garbage collector on, and a map kept from a dropped Object stays usable."""

    __slots__ = ("ptr", "kept", "fds", "boxes", "close", "__weakref__")

    def __init__(self, lib: _libbpf.Libbpf, ptr: int, kept: List[object]):
        self.ptr = ptr
        self.kept = kept
        self.fds: List[int] = []
        self.boxes: List[List[int]] = []  # the fd boxes of the maps and programs
        self.close = weakref.finalize(self, _release, lib.bpf_object__close, ptr, self.fds, self.boxes)


class _Phase(enum.Enum):
    """Where an object's one load stands."""

    OPEN = "open"          # editable: nothing reached the kernel yet
    LOADING = "loading"    # inside load() (its hooks run then)
    LOADED = "loaded"
    FAILED = "failed"      # the load raised: nothing of it may be used (open the file again)


class _ObjectSide:
    """What the object's maps and programs may ask of it (:class:`~._handle.ObjectSide`): its
    edits, its pins, why an item has no fd, its BTF. Weak: an item never keeps its Object."""

    __slots__ = ("_object", "__weakref__")

    def __init__(self, obj: Object):
        self._object = weakref.ref(obj)

    def _get(self) -> Object:
        obj = self._object()
        if obj is None:
            raise ClosedError("the object was dropped")
        return obj

    def edit(self, kind: str, name: str, setter: str, value: Any) -> None:
        self._get()._edit(kind, name, setter, value)

    def planned_pin_path(self, kind: str, name: str) -> Optional[str]:
        obj = self._get()
        return obj._planned_pin_path(obj._maps[name]) if kind == "map" else None

    def set_pin_path(self, kind: str, name: str, path: Optional[PathLike]) -> None:
        assert kind == "map"  # (only a map's pin path is settable: programs are pinned with pin())
        obj = self._get()
        obj._set_pin_path(obj._maps[name], path)

    def not_live(self, what: str) -> LibbpfError:
        return self._get()._not_live(what)

    @property
    def btf(self) -> Types:
        return self._get().btf


class Object:
    """An opened BPF ELF object and, after :meth:`load`, its live maps and programs."""

    # Set by open (instances are made there, not by __init__):
    name: str
    reused_maps: FrozenSet[str]      # names of maps a pin policy reused at load
    hooks: Tuple[ObjectHooks, ...]   # run after open and after load (the iproute2 shim's semantics among them)
    _lib: _libbpf.Libbpf
    _path: Optional[bytes]           # the file opened, or None when opened from bytes
    _data: Optional[bytes]           # the ELF bytes, or None when opened from a file
    _options: Dict[str, Optional[PathLike]]  # open options, kept for the diagnostic reload
    _log_size: int
    _edits: List[Edit]               # each edit of the definition, in order
    _types: Optional[Types]          # the object's BTF as ctypes types, made on first use
    _globals: Optional[Globals]      # its global variables, made on first use
    _phase: _Phase                   # where its one load stands
    _closed: bool                    # closed (in any phase)
    _lock: _thread.RLock           # load, close and edits, one thread at a time
    _pinning: Optional[PinPolicy]
    _pin_requested: Set[str]         # under a policy: maps whose definition asked for a pin (LIBBPF_PIN_BY_NAME)
    _explicit_pins: Dict[str, Optional[str]]  # under a policy: pin paths set on maps (None: no pin)
    _side: _ObjectSide               # what its maps and programs see of it
    _handles: Dict[Any, int]         # libbpf's struct bpf_map / bpf_program of each of its maps and programs
    _core: _Core                     # libbpf's struct bpf_object and what lives as long as it
    _maps: Dict[str, Map]
    _programs: Dict[str, Program]

    def __init__(self) -> None:
        raise InvalidTypeError("use Object.open(path_or_bytes)")

    @classmethod
    def open(cls, src: Source, *, name: Optional[str] = None, compat: Compat = "auto",
             hooks: Iterable[ObjectHooks] = (), pinning: Optional[PinPolicy] = None,
             pin_root: Optional[PathLike] = None, kconfig: Optional[str] = None,
             btf_custom_path: Optional[str] = None, token_path: Optional[PathLike] = None,
             log_size: int = DEFAULT_LOG_SIZE, check_btf: bool = True) -> "Object":
        """Open an ELF object from a path or its bytes; nothing reaches the kernel before :meth:`load`.

        ``compat`` says how to read an old format (``"auto"`` detects one: see :mod:`libbpf_py.compat`);
        ``pinning`` is a pin policy (:class:`PinByName`), ``pin_root`` libbpf's own for
        ``LIBBPF_PIN_BY_NAME``; ``token_path`` a bpffs that delegates BPF to an unprivileged user
        namespace (a BPF token, libbpf >= 1.4); ``hooks`` run after open and load; ``check_btf`` validates the
        headers and BTF in Python first, as libbpf crashes or hangs on some bad ones. The guide's
        "getting started" and "pinning" pages say more of each.
        """
        if not isinstance(log_size, int) or not 128 <= log_size <= MAX_LOG_SIZE:
            raise InvalidValueError(f"log_size must be an int in [128, {MAX_LOG_SIZE}], got {log_size!r}")
        if pinning is not None and pin_root is not None:
            raise InvalidValueError("give either a pinning policy or libbpf's pin_root, not both")
        try:
            hooks = tuple(hooks)
        except TypeError:
            raise InvalidTypeError(f"hooks takes an iterable of ObjectHooks, not {type(hooks).__name__}") from None
        if pinning is not None and not isinstance(pinning, PinPolicy):
            raise InvalidTypeError(f"pinning takes a PinPolicy (e.g. PinByName), not {type(pinning).__name__}")
        data: Optional[bytes]
        path: Optional[str]
        if compat == "none" and not check_btf and not isinstance(src, (bytes, bytearray, memoryview)):
            data, path = None, os.fspath(_check_source(src))  # libbpf reads the file itself
            check_regular(c_path(path), "object", "open")  # (a directory leaks libbpf's fd; a FIFO blocks)
        else:
            data, path = read_source(src)
            look = _look(data)
            if check_btf:
                if isinstance(look, ElfError):  # what libbpf would read next is not safe to hand it
                    raise ElfError(f"malformed ELF object ({look}); its BTF cannot be checked, and libbpf may "
                                   "crash or hang on it (check_btf=False hands it over anyway)")
                if look is not None:
                    validate_object(look)
            look = None if isinstance(look, ElfError) else look
            if compat != "none" and (compat != "auto" or _has_legacy_maps(look)):
                from .compat import read  # (only for an old object, or a reading named)

                old = read(compat, look, data, None if pin_root is None else os.fspath(pin_root))
                if old is not None:
                    data = old.data
                    hooks = (old.hooks, *hooks)
                    pinning, pin_root = pinning or old.pinning, None
        if data is not None and not data:
            raise InvalidValueError("empty object: no ELF bytes given")
        self = object.__new__(cls)
        self._lib = lib = _libbpf.lib()
        self._path, self._data = (None if path is None or data is not None else c_path(path)), data
        if token_path is not None and lib.version < (1, 4):
            raise LibbpfFeatureError("bpf_object_open_opts.bpf_token_path", "1.4.0", lib.version_string)
        self._options = dict(name=name or default_name(path), pin_root=pin_root, kconfig=kconfig,
                             btf_custom_path=btf_custom_path, token_path=token_path)
        self._log_size = log_size
        self._edits = []
        self._types = None
        self._globals = None
        self._phase, self._closed = _Phase.OPEN, False
        self._lock = _thread.RLock()
        self._pinning = pinning
        self._pin_requested = set()
        self._explicit_pins = {}
        self.hooks = hooks
        self._side = _ObjectSide(self)
        _live_objects.add(self)
        self.reused_maps = frozenset()
        self._maps, self._programs = Named("map"), Named("program")
        with _signals.deferred() as signals:  # the object is closed again, whatever arrives before it is returned
            kept: List[object] = []
            self._core = _Core(lib, self._open_handle(kept), kept)
            try:
                self._describe()
                for hook in hooks:
                    hook.opened(self)
                signals.run_noted()
            except BaseException:
                self.close()
                raise
        return self

    def _describe(self) -> None:
        """The Python face of libbpf's open object: its name, maps and programs."""
        lib = self._lib
        self.name = c_name(lib.bpf_object__name(self._ptr))
        self._maps = Named("map")
        struct_ops = []
        self._handles = {}
        for map_name, handle in _iter_handles(lib, "map", self._ptr):
            m = self._maps[map_name] = Map._of_object(self._side, self._core, handle, map_name)
            self._handles[m] = handle
            if lib.bpf_map__type(handle) == MapType.STRUCT_OPS:
                struct_ops.append(map_name)
            inner = lib.bpf_map__inner_map(handle)
            if inner:  # copied now: libbpf frees its template at load
                m._inner_spec = MapSpec(enum_or_int(MapType, lib.bpf_map__type(inner)), lib.bpf_map__key_size(inner),
                                        lib.bpf_map__value_size(inner), lib.bpf_map__max_entries(inner),
                                        lib.bpf_map__map_flags(inner), lib.bpf_map__map_extra(inner))
        self._programs = Named("program")
        for prog_name, handle in _iter_handles(lib, "program", self._ptr):
            p = self._programs[prog_name] = Program._of_object(self._side, self._core, handle, prog_name)
            self._handles[p] = handle
        declared = self._struct_ops_declared() if struct_ops else frozenset()
        for name in struct_ops:
            if name not in declared:
                raise ElfError(f"map {name!r} has type STRUCT_OPS but is not declared in a .struct_ops section: "
                               "libbpf cannot create it (it crashes trying)")
        if self._pinning is not None:  # the policy decides: remember what the definitions asked for
            for m in self._maps.values():
                if lib.bpf_map__pin_path(self._handles[m]):
                    self._pin_requested.add(m.name)
                lib.bpf_map__set_pin_path(self._handles[m], None)

    def _open_handle(self, keep_alive: List[object]) -> int:
        """A new ``struct bpf_object *``; what libbpf reads from goes into ``keep_alive``."""
        options = self._options
        opts = _abi.new_opts(_abi.BpfObjectOpenOpts)
        for field, value in (("object_name", options["name"]), ("pin_root_path", options["pin_root"]),
                             ("kconfig", options["kconfig"]), ("btf_custom_path", options["btf_custom_path"]),
                             ("bpf_token_path", options["token_path"])):
            if value is not None:
                setattr(opts, field, c_path(value, field))  # libbpf copies the strings at open
        def open_it() -> int:
            if self._data is not None:
                buffer = ctypes.create_string_buffer(self._data, len(self._data))
                keep_alive.append(buffer)  # libbpf may read the image until the object closes
                return int(self._lib.bpf_object__open_mem(buffer, len(self._data), ctypes.addressof(opts)))
            return int(self._lib.bpf_object__open_file(self._path, ctypes.addressof(opts)))

        if not _log.listening():  # libbpf's ~100 lines of an open cost a Python callback each: none then
            try:
                with _log.quiet():
                    return open_it()
            except LibbpfError:
                pass  # opened again below, which fails the same way, for the exception in libbpf's words
        with _log.captured() as said:
            try:
                return open_it()
            except LibbpfError as exc:
                raise _in_libbpf_words(exc, said) from None

    # state -----------------------------------------------------------------------------------

    @property
    def _ptr(self) -> int:
        return self._core.ptr

    @property
    def loaded(self) -> bool:
        return self._phase is _Phase.LOADED

    @property
    def closed(self) -> bool:
        return self._closed

    def _check_open(self) -> None:
        if self._closed:
            raise ClosedError(f"object {self.name!r} is closed")

    @property
    def maps(self) -> Mapping[str, Map]:
        """The object's maps by name, in ELF order (internal .data/.bss/.rodata maps included)."""
        self._check_open()
        return self._maps

    @property
    def programs(self) -> Mapping[str, Program]:
        """The object's programs by function name."""
        self._check_open()
        return self._programs

    @property
    def btf(self) -> Types:
        """The object's BTF as ctypes types: ``obj.btf["struct event"]`` (see :mod:`btf_ctypes`)."""
        with self._lock:
            self._check_open()
            if self._types is None:  # (imported here: most loads never need BTF's ctypes types)
                from .btf_ctypes import Types
                from .elf.btf import Btf

                size = ctypes.c_uint32()
                btf = self._lib.bpf_object__btf(self._ptr)
                if not btf:
                    raise MissingBtfError(f"object {self.name!r} has no BTF (compiled without -g)")
                raw = self._lib.btf__raw_data(btf, ctypes.byref(size))
                self._types = Types(Btf.parse(ctypes.string_at(raw, size.value), sys.byteorder))
            return self._types

    @property
    def globals(self) -> Globals:
        """The object's global variables by name (see :class:`~libbpf_py.variables.Globals`):
        ``obj.globals["threshold"] = 7`` before load sets its initial value; after load reads
        and writes go to the map's memory."""
        with self._lock:
            self._check_open()
            if self._globals is None:
                from .variables import Globals

                self._globals = Globals(self, self.btf)
            return self._globals

    def _check_editable(self, kind: str, name: str, what: str) -> None:
        self._check_open()
        if self._phase is not _Phase.OPEN:
            raise LibbpfError.for_errno(errno.EBUSY, f"{kind} {name!r} can only be changed before load()", what)

    def _elf(self) -> ElfFile:
        """The object's ELF, parsed again (ElfError, OSError when that fails)."""
        data = self._data
        if data is None:
            assert self._path is not None  # an object is opened from a file or from bytes
            data = read_source(os.fsdecode(self._path))[0]
        return ElfFile.parse(data)

    def _struct_ops_declared(self) -> FrozenSet[str]:
        """Names of the maps declared in a .struct_ops section, read from the ELF (none when unreadable)."""
        try:
            elf = self._elf()
            sections = {i for i, s in enumerate(elf.sections) if s.name.startswith(".struct_ops")}
            return frozenset(sym.name for sym in elf.symbols() if sym.shndx in sections)
        except (ElfError, OSError):
            return frozenset()  # none known: no map may become one

    def _insns_refusal(self, program: str, count: int) -> Optional[str]:
        """Why program ``program``'s instructions cannot be replaced by ``count`` others, None when
        they can: libbpf applies at load what the ELF says of the old ones at their offsets (ELF
        relocations, CO-RE relocations: written into whatever instruction is there then) and hands
        the kernel their line and function info (refused past the new end)."""
        if self._data is None:
            return ("its object keeps no bytes to count its relocations in (opened with compat='none' and "
                    "check_btf=False: open it without those, or from its bytes)")
        section = next(os.fsdecode(self._lib.bpf_program__section_name(handle)) for found, handle in
                       _iter_handles(self._lib, "program", self._ptr) if found == program)
        try:
            elf = ElfFile.parse(self._data)
            index = elf.sections_named().get(section)
            symbol = next((sym for sym in elf.symbols() if sym.shndx == index and sym.type == STT_FUNC
                           and sym.name == program), None)
            if index is None or symbol is None:
                return "its instructions are not found in the ELF (no symbol of its name in its section)"
            within = range(symbol.value, symbol.value + symbol.size)
            relocated = sum(offset in within for rel in elf.sections if rel.type == SHT_REL and rel.info == index
                            for offset, _, _ in elf.iter_relocations(rel))
            if relocated:
                return (f"it has {relocated} relocation(s) (maps, globals, calls), which libbpf applies at load at "
                        "their offsets, to whatever instructions are there then")
            return self._ext_refusal(elf, section, within, count)
        except ElfError as exc:
            return f"its ELF cannot be read ({exc})"

    @staticmethod
    def _ext_refusal(elf: ElfFile, section: str, within: range, count: int) -> Optional[str]:
        ext, btf = elf.section(".BTF.ext"), elf.section(".BTF")
        if ext is None or btf is None:
            return None
        from .elf.btf import Btf as PureBtf
        from .elf.btf import Type
        from .elf.btf_ext import instruction_offsets

        pure = PureBtf.parse(btf.data, elf.byteorder)
        records = instruction_offsets(ext.data, elf.byteorder, lambda offset: pure.name(Type(offset, 0, 0)))
        core = [off for off in records.get(("core_relo", section), []) if off in within]
        if core:
            return (f"it has {len(core)} CO-RE relocation(s), which libbpf writes at load into the instructions "
                    "at their offsets, whatever they are then")
        past = [off for kind in ("line_info", "func_info") for off in records.get((kind, section), [])
                if off in within and (off - within.start) // 8 >= count]
        if past:
            return (f"its line or function info (built with -g) names instructions past the new {count}: libbpf "
                    "hands it to the kernel, which refuses it")
        return None

    def _edit(self, kind: str, name: str, setter: str, value: Any) -> None:
        """Apply (and record, for a diagnostic reload) one edit of the definition."""
        with self._lock:
            self._edit_locked(kind, name, setter, value)

    def _edit_locked(self, kind: str, name: str, setter: str, value: Any) -> None:
        self._check_editable(kind, name, setter)
        fixed = {"bpf_map__set_max_entries": "max_entries", "bpf_map__set_key_size": "key_size",
                 "bpf_map__set_type": "type"}
        if setter in fixed and kind == "map" and self._maps[name].is_internal and \
                value != getattr(self._maps[name], fixed[setter]):
            # libbpf maps a global data section's memory as one entry of its value size: another shape
            # makes the kernel's mapping land over its smaller buffer (a crash in 1.1 and 1.7)
            raise InvalidValueError(f"map {name!r} holds a global data section: its {fixed[setter]} cannot change "
                                    "(only its value_size, on libbpf >= 1.2)")
        if setter == "bpf_map__set_value_size" and self._lib.version < (1, 2) and \
                self._maps[name].is_internal and value != self._maps[name].value_size:
            # libbpf 1.1 keeps a global data section's memory at its old size: its initial value
            # is then read, and written, past the end (1.2 remaps it, and fixes its BTF)
            raise LibbpfFeatureError(f"bpf_map__set_value_size of {name!r} (a global data section)", "1.2.0",
                                     self._lib.version_string)
        if setter == "bpf_program__set_insns":
            why = self._insns_refusal(name, len(value) // 8)
            if why is not None:
                raise InvalidValueError(f"program {name!r}: {why}; set_insns replaces only instructions nothing "
                                        "else in the object refers to")
        if setter == "bpf_map__set_type" and MapType.STRUCT_OPS in (value, self._maps[name].type) and \
                value != self._maps[name].type:
            raise InvalidValueError(f"map {name!r} cannot change to or from STRUCT_OPS: struct_ops maps are declared "
                                    "in a .struct_ops section (libbpf crashes on any other)")
        if isinstance(value, Map):  # libbpf keeps the fd number: hand it a duplicate this object owns
            with value._fd_in_use() as fd:  # not closed (its number reused) by another thread meanwhile
                value = os.dup(fd)
            self._core.fds.append(value)
        self._apply(self._ptr, (kind, name, setter, value))
        self._edits.append((kind, name, setter, value))
        if setter == "bpf_map__set_initial_value" and self._globals is not None:
            self._globals._reread(name)  # (its own writes come here too: the values it keeps are libbpf's)
        if setter == "bpf_program__set_attach_target" and value[0]:  # the target's fd: closed with the object
            self._core.fds.append(value[0])

    def _apply(self, obj: int, edit: Edit) -> None:
        kind, name, setter, value = edit
        for found, handle in _iter_handles(self._lib, kind, obj):
            if found == name:
                if setter == "bpf_map__set_initial_value":  # bytes: libbpf copies them
                    self._lib.bpf_map__set_initial_value(handle, value, len(value))
                elif setter == "bpf_program__set_insns":  # bytes of 8-byte instructions: libbpf copies them
                    self._lib.bpf_program__set_insns(handle, ctypes.create_string_buffer(value, len(value)),
                                                     len(value) // 8)
                elif isinstance(value, tuple):  # a setter of several values
                    getattr(self._lib, setter)(handle, *value)
                else:
                    getattr(self._lib, setter)(handle, value)
                return
        raise KeyNotFoundError(f"no {kind} named {name!r}")

    def _planned_pin_path(self, m: Map) -> Optional[str]:
        """Where load will pin ``m`` (before load), or libbpf pinned it (after, without a policy)."""
        if self._pinning is not None:
            from .pinning.session import planned_map_path  # (an object without a policy never needs it)
            return planned_map_path(self._pinning, m, m.name in self._pin_requested, self._explicit_pins)
        with self._lock:  # libbpf's description stays valid: a close waits
            self._check_open()
            path = self._lib.bpf_map__pin_path(self._handles[m])
        return os.fsdecode(path) if path else None

    def _set_pin_path(self, m: Map, path: Optional[PathLike]) -> None:
        """Pin ``m`` at ``path`` at load (None: not at all), whatever the policy says."""
        if self._pinning is None:
            self._edit("map", m.name, "bpf_map__set_pin_path", None if path is None else c_path(path))
            return
        with self._lock:
            self._check_editable("map", m.name, "bpf_map__set_pin_path")
            explicit = None if path is None else os.fsdecode(c_path(os.path.abspath(path), "pin_path"))
            self._explicit_pins[m.name] = explicit

    def _not_live(self, what: str) -> LibbpfError:
        if self._phase is _Phase.FAILED:
            return LibbpfError.for_errno(errno.EBADF, f"{what} is unusable: the object's load failed (open it again)")
        return LibbpfError.for_errno(errno.EBADF, f"{what} is not loaded yet: call load()")

    # load ------------------------------------------------------------------------------------

    def load(self) -> "Object":
        """Create the maps and load the programs; :class:`VerifierError` carries the log.

        A load either stands whole or is undone whole: when anything fails after libbpf loaded
        (a hook, the pins' commit) or a signal arrives before the load stands (Ctrl-C), the pins
        this load made are removed, replaced ones put back, hooks asked to undo their changes,
        and the object is left unusable; the signal's handler then runs once (KeyboardInterrupt).
        A signal that arrives while the finished load releases its locks is delivered as load()
        returns: ``loaded`` is then True, as the pins say.
        """
        with self._lock:  # another thread's load or close waits for this one
            self._check_open()
            if self._phase is not _Phase.OPEN:
                raise LibbpfError.for_errno(errno.EBUSY, f"object {self.name!r} was already loaded"
                                            + (" (and failed)" if self._phase is _Phase.FAILED else ""),
                                            "bpf_object__load")
            self._phase = _Phase.LOADING
            try:
                return self._load()
            finally:
                if self._phase is _Phase.LOADING:  # (an exception before the undo said FAILED)
                    self._phase = _Phase.FAILED

    def _load(self) -> "Object":
        with _signals.deferred() as signals:
            session = None
            if self._pinning is not None:
                from .pinning.session import PinSession
                session = PinSession(self._pinning, self._maps.values(), self._programs.values(),
                                     self._pin_requested, self._explicit_pins)
            undo = _Undo(self, session)
            fresh: Dict[Map, str] = {}
            try:
                if session is not None:
                    session.prepare()  # may already make maps reuse pinned fds: no second try after this
                else:
                    fresh = self._new_native_pins()
                if self._globals is not None:  # a structure or array of a global changed in place
                    for name, data in self._globals._changed_in_place():
                        self._apply(self._ptr, ("map", name, "bpf_map__set_initial_value", data))
                        self._edits.append(("map", name, "bpf_map__set_initial_value", data))
                logs = self._attach_logs(self._ptr, self._log_size)
                self._core.kept.append(logs)  # libbpf keeps the pointers; they cannot be unset after load
                with _log.captured(everything=session is not None) as said:
                    try:
                        self._lib.bpf_object__load(self._ptr)
                    except LibbpfError as exc:
                        raise self._explain(_in_libbpf_words(exc, said), logs) from None
                undo.loaded = True
                if session is not None:  # a pin another loader made meanwhile, which libbpf reused
                    session.libbpf_reused(_reused_paths(said.debug))
                self._bind_loaded(session)
                if session is not None:
                    session.record_ids()  # what is pinned is checked by id, also after a hook closed a map
                undo.native_pins = {path: live_map_id(m) for m, path in fresh.items()}
                for hook in self.hooks:  # e.g. the iproute2 shim's map-in-map and tail-call wiring
                    undo.hooks.append(hook)
                    hook.loaded(self)
                if session is not None:
                    session.commit()
                    undo.committed = True
            except BaseException:
                undo.run()
                raise
            try:  # the last moment the load can be undone: the handlers of signals that arrived run now
                signals.run_noted()
            except BaseException:  # Ctrl-C (or a handler's error): the load is undone
                undo.run()
                raise
            # The load stands: a signal from here on is delivered as load() returns, obj.loaded True.
            self._phase = _Phase.LOADED
            if session is not None:
                for plan in session.plans:
                    plan.map._pinned_at = plan.path
                for pin in session.program_pins:
                    pin.program._pinned_at = pin.path
                session.finish()
            for hook in self.hooks:
                hook.committed(self)
            if self._globals is not None:  # from the initial values to the maps' memory
                self._globals._refresh()
        return self

    def _new_native_pins(self) -> Dict[Map, str]:
        """Without a policy: the maps libbpf will pin (LIBBPF_PIN_BY_NAME, pin_root) where no pin is yet."""
        lib = self._lib
        fresh = {}
        for m in self._maps.values():
            handle = self._handles[m]
            path = lib.bpf_map__pin_path(handle)
            if path and lib.bpf_map__autocreate(handle) and not os.path.lexists(path):
                fresh[m] = os.fsdecode(path)
        return fresh

    def _bind_loaded(self, session: Optional[PinSession]) -> None:
        """Give every map and program the fd libbpf made for it."""
        lib = self._lib
        # libbpf >= 1.3 gives maps that were not created a placeholder fd: ask autocreate first.
        for m in self._maps.values():
            handle = self._handles[m]
            fd = lib.bpf_map__fd(handle) if lib.bpf_map__autocreate(handle) else -1
            m._bind(fd if fd >= 0 else -1, m._skipped)
        for p in self._programs.values():
            handle = self._handles[p]
            fd = lib.bpf_program__fd(handle) if lib.bpf_program__autoload(handle) else -1
            p._bind(fd if fd >= 0 else -1, p._skipped)
        self.reused_maps = frozenset(plan.map.name for plan in session.plans if plan.action == "reuse") \
            if session is not None else frozenset()

    def _unbind_failed(self) -> None:
        """A load that failed after libbpf succeeded: nothing of it may be used."""
        self._phase = _Phase.FAILED
        for item in list(self._maps.values()) + list(self._programs.values()):
            item._bind(-1, "is unusable: the object's load failed (open it again)")

    def _attach_logs(self, obj: int, size: int, only: Optional[str] = None) -> LogBuffers:
        logs: LogBuffers = {}
        for name, handle in _iter_handles(self._lib, "program", obj):
            if only is None or name == only:
                buf = ctypes.create_string_buffer(size)
                self._lib.bpf_program__set_log_buf(handle, buf, size)
                logs[name] = buf
        return logs

    def _explain(self, exc: LibbpfError, logs: LogBuffers) -> LibbpfError:
        """The verifier's rejection of the failing program, or ``exc`` when no program log exists."""
        for name, buf in logs.items():
            text = buf.value
            if not text:
                continue
            if exc.errno not in _VERIFIER_ERRNOS:  # e.g. EMFILE, ENOMEM: the verifier had its say, and passed
                return exc.with_detail(f"{exc.detail}: program {name!r} could not be loaded after verification")
            truncated = len(text) >= len(buf) - 1
            err = exc.errno
            if truncated:
                text, truncated, err = self._diagnose(name, len(buf), text, err)
            code = errno.errorcode.get(err, str(err))
            rejected = VerifierError(err, f"program {name!r} rejected by the kernel verifier ({code})",
                                     "bpf_object__load", program=name,
                                     log=text.decode(errors="replace"), truncated=truncated)
            return rejected.with_detail(warnings=exc.warnings)  # libbpf's own words on the load, too
        return exc

    def _diagnose(self, program: str, size: int, text: bytes, err: int) -> Tuple[bytes, bool, int]:
        """Load a fresh copy of the object, without pins, to read a log too long for ``size``.

        Returns the longest log read, whether it is still cut short, and the load's errno (a
        truncated log makes the kernel answer ENOSPC instead of the verifier's own error).
        """
        while size < MAX_LOG_SIZE:
            size = min(size * 16, MAX_LOG_SIZE)
            keep_alive: List[object] = []
            obj = self._open_handle(keep_alive)
            try:
                for edit in self._edits:
                    self._apply(obj, edit)
                for _, handle in _iter_handles(self._lib, "map", obj):
                    self._lib.bpf_map__set_pin_path(handle, None)
                logs = self._attach_logs(obj, size, only=program)
                try:
                    self._lib.bpf_object__load(obj)
                except LibbpfError as exc:
                    err = exc.errno
                text = logs[program].value
            finally:
                self._lib.bpf_object__close(obj)
            if len(text) < size - 1:
                return text, False, err
        return text, True, err

    # close -----------------------------------------------------------------------------------

    def attach_all(self) -> List[Link]:
        """Attach every loaded program whose section names its hook (what a skeleton's attach
        does: ``tp/``, ``raw_tp/``, ``kprobe/``, ``fentry/``, ``lsm/``...); programs whose section
        names none (``xdp``, ``tc``, ``cgroup_skb/...``) are left for their ``attach_*`` method.
        If one fails, the links made so far are detached and the error raised."""
        links: List[Link] = []
        try:
            for program in self.programs.values():
                if program._fd < 0:
                    continue  # not loaded (autoload off)
                try:
                    links.append(program.attach())
                except LibbpfError as exc:
                    if exc.errno != errno.EOPNOTSUPP:
                        raise
        except BaseException:
            for link in links:
                link.detach()
            raise
        return links

    def as_libbpf(self) -> int:
        """libbpf's ``struct bpf_object *`` as an int, for libbpf functions the binding does not
        wrap (``bpf.libbpf()``): valid until the object closes; editing it behind the binding's
        back is yours to keep consistent."""
        self._check_open()
        return self._ptr

    def close(self) -> None:
        """Close the object with all its maps and programs; safe to call twice. From another
        thread, it waits for a load in progress; from inside one (a hook) it is refused."""
        reentered = self._lock._is_owned()  # type: ignore[attr-defined]  # (a handler inside an edit, pin_path...)
        with _signals.deferred(), self._lock:
            if self._closed:
                return
            if self._phase is _Phase.LOADING:
                raise UsageError(f"close() of object {self.name!r} from inside its own load() (a hook): "
                                 "raise from the hook to stop the load, or close after load() returns")
            items = list(self._maps.values()) + list(self._programs.values())
            # re-entered from an operation of the object or of an item (a signal's handler): that operation may
            # still read libbpf's object, or pass an fd
            in_use = reentered or any(item._in_use_here() for item in items)
            if self._globals is not None:
                self._globals._closed()
            for item in items:
                item._invalidate()
            self._closed = True
            if not in_use:  # else an operation may still pass an fd: the finalizer frees libbpf's object later
                self._core.close()
                self._core.kept.clear()

    def __reduce__(self) -> NoReturn:
        raise InvalidTypeError("an Object holds libbpf's state and kernel objects and cannot be pickled: open the "
                               "file again in the other process (pin what it must share)")

    def __enter__(self) -> "Object":
        return self

    def __exit__(self, *exc: Any) -> None:
        self.close()

    def __repr__(self) -> str:
        state = "closed" if self._closed else self._phase.name.lower()
        return f"<Object {self.name!r} {state} maps={list(self._maps)} programs={list(self._programs)}>"
