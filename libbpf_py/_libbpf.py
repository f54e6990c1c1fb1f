"""The one door to C: libbpf (and the few libc functions the package needs), declared in one table.

Each row of ``SIGNATURES`` (libbpf) and ``LIBC`` gives a function's return type, argument
types, how a failure is reported, the first libbpf version that exports it, and how it is
called. The convention shows at every call site:

- ``lib.f(...)`` (``CHECKED``): ctypes converts the arguments, a failure raises
  :class:`LibbpfError` (``OSError`` for libc), and the GIL is released during the call.
- ``lib.raw.f(...)`` (``RAW``): for hot paths. Arguments must already be in C form
  (prepared pointers, ``c_uint64`` flags): applying ``argtypes`` costs 100-200 ns a call. The
  negative errno comes back for the caller to check. The GIL is released: the call may
  sleep (map-in-map updates wait in ``synchronize_rcu()``, batch operations are long).
- ``lib.gil.f(...)`` (``GIL``): as ``raw``, with the GIL kept. Only for calls that never sleep
  (element operations on most maps), where it saves a few percent.

``SIGNATURES`` holds the functions the package itself calls, with the exact types, callbacks
and conventions it wants. Every other function libbpf exports comes from the generated
``_libbpf_functions`` (scripts/gen_signatures.py reads libbpf's own headers and libbpf.map),
checked: an ``int`` result is a negative errno, a pointer from a constructor NULL with errno.

Functions are declared on first use, so importing the package costs nothing; a function
the loaded libbpf lacks raises :class:`LibbpfFeatureError` when called, naming the version
that has it.
"""

from __future__ import annotations

import _thread
import ctypes
import os
from ctypes import POINTER, c_bool, c_char_p, c_int, c_int32, c_size_t, c_uint32, c_uint64, c_ulong, c_void_p
from typing import TYPE_CHECKING, Any, Callable, Dict, NamedTuple, Optional, Tuple

from . import _abi, _log
from .errors import LibbpfError, LibbpfFeatureError, UnavailableError, UsageError

if TYPE_CHECKING:
    Checker = Callable[[Any, Any, Tuple[Any, ...]], Any]

LIBRARY_ENV = "LIBBPF_PY_LIBRARY"
DEFAULT_SONAME = "libbpf.so.1"
MIN_VERSION = (1, 0)

# how a row may be called (a row may allow RAW | GIL)
CHECKED, RAW, GIL = 1, 2, 4
_ACCESSOR = {CHECKED: "lib.{}", RAW: "lib.raw.{}", GIL: "lib.gil.{}"}


def _negative_errno(result: int, func: Any, args: Tuple[Any, ...]) -> int:
    if result < 0:
        raise LibbpfError.for_errno(-result, None, func.__name__)
    return result


def _null_sets_errno(result: Optional[int], func: Any, args: Tuple[Any, ...]) -> int:
    if not result:
        err = ctypes.get_errno() or 22  # EINVAL when libbpf left errno unset
        raise LibbpfError.for_errno(err, None, func.__name__)
    return result


def _none_sets_errno(result: Optional[bytes], func: Any, args: Tuple[Any, ...]) -> bytes:
    """A string result: None (NULL) raises LibbpfError(errno); an empty string is a result."""
    if result is None:
        raise LibbpfError.for_errno(ctypes.get_errno() or 22, None, func.__name__)
    return result


def _libc_error(result: int, func: Any, args: Tuple[Any, ...]) -> int:
    """A libc checker: -1 raises LibbpfError(errno) naming the function."""
    if result == -1:
        raise LibbpfError.for_errno(ctypes.get_errno(), None, func.__name__)
    return result


def _libc_path_error(path_arg: int) -> Checker:
    """A libc checker: -1 raises LibbpfError(errno) naming the path in argument ``path_arg``."""

    def check(result: int, func: Any, args: Tuple[Any, ...]) -> int:
        if result == -1:
            err = ctypes.get_errno()
            raise LibbpfError.for_errno(err, f"{os.strerror(err)}: {os.fsdecode(args[path_arg])}", func.__name__)
        return result

    return check


class Sig(NamedTuple):
    restype: Any
    argtypes: Tuple[Any, ...]
    check: Optional[Checker]
    since: str          # libbpf version node that first exports the symbol ("" for libc)
    how: int = CHECKED  # CHECKED, or RAW and/or GIL


NEG, NULL = _negative_errno, _null_sets_errno
PTR = c_void_p  # bpf_object *, bpf_map *, bpf_program *: opaque handles
U32P = POINTER(c_uint32)
_MAP_ELEM = (c_int, c_void_p, c_void_p)
_MAP_BATCH = (c_int, c_void_p, c_void_p, c_void_p, c_void_p, U32P, c_void_p)
FAST = RAW | GIL  # element operations: GIL kept, or released on map types whose updates sleep

SIGNATURES: Dict[str, Sig] = {
    # library
    "libbpf_major_version": Sig(c_uint32, (), None, "0.6.0"),
    "libbpf_minor_version": Sig(c_uint32, (), None, "0.6.0"),
    "libbpf_version_string": Sig(c_char_p, (), None, "0.6.0"),
    "libbpf_set_print": Sig(c_void_p, (_abi.PRINT_FN,), None, "0.0.1"),
    "libbpf_num_possible_cpus": Sig(c_int, (), NEG, "0.0.4"),
    # bpf_object
    "bpf_object__open_file": Sig(PTR, (c_char_p, c_void_p), NULL, "0.0.6"),
    "bpf_object__open_mem": Sig(PTR, (c_void_p, c_size_t, c_void_p), NULL, "0.0.6"),
    "bpf_object__load": Sig(c_int, (PTR,), NEG, "0.0.1"),
    "bpf_object__close": Sig(None, (PTR,), None, "0.0.1"),
    "bpf_object__name": Sig(c_char_p, (PTR,), None, "0.0.1"),
    "bpf_object__next_map": Sig(PTR, (PTR, PTR), None, "0.6.0"),
    "bpf_object__btf": Sig(PTR, (PTR,), None, "0.0.2"),
    "btf__raw_data": Sig(c_void_p, (PTR, U32P), None, "0.6.0"),
    "btf__find_by_name_kind": Sig(c_int32, (PTR, c_char_p, c_uint32), None, "0.0.6"),  # < 0: none (asked per kind)
    "bpf_object__next_program": Sig(PTR, (PTR, PTR), None, "0.6.0"),
    # bpf_map (object-owned, before and after load)
    "bpf_map__name": Sig(c_char_p, (PTR,), None, "0.0.1"),
    "bpf_map__type": Sig(c_int, (PTR,), None, "0.1.0"),
    "bpf_map__set_type": Sig(c_int, (PTR, c_int), NEG, "0.1.0"),
    "bpf_map__key_size": Sig(c_uint32, (PTR,), None, "0.1.0"),
    "bpf_map__set_key_size": Sig(c_int, (PTR, c_uint32), NEG, "0.1.0"),
    "bpf_map__value_size": Sig(c_uint32, (PTR,), None, "0.1.0"),
    "bpf_map__set_value_size": Sig(c_int, (PTR, c_uint32), NEG, "0.1.0"),
    "bpf_map__max_entries": Sig(c_uint32, (PTR,), None, "0.1.0"),
    "bpf_map__set_max_entries": Sig(c_int, (PTR, c_uint32), NEG, "0.1.0"),
    "bpf_map__map_flags": Sig(c_uint32, (PTR,), None, "0.1.0"),
    "bpf_map__set_map_flags": Sig(c_int, (PTR, c_uint32), NEG, "0.1.0"),
    "bpf_map__map_extra": Sig(c_uint64, (PTR,), None, "0.6.0"),
    "bpf_map__set_map_extra": Sig(c_int, (PTR, c_uint64), NEG, "0.6.0"),
    "bpf_map__autocreate": Sig(c_bool, (PTR,), None, "0.8.0"),
    "bpf_map__set_autocreate": Sig(c_int, (PTR, c_bool), NEG, "0.8.0"),
    "bpf_map__is_internal": Sig(c_bool, (PTR,), None, "0.0.3"),
    "bpf_map__fd": Sig(c_int, (PTR,), None, "0.0.1"),
    "bpf_map__inner_map": Sig(PTR, (PTR,), None, "0.4.0"),
    "bpf_map__set_inner_map_fd": Sig(c_int, (PTR, c_int), NEG, "0.0.1"),
    "bpf_map__reuse_fd": Sig(c_int, (PTR, c_int), NEG, "0.0.1"),
    "bpf_map__set_pin_path": Sig(c_int, (PTR, c_char_p), NEG, "0.0.6"),
    "bpf_map__pin_path": Sig(c_char_p, (PTR,), None, "0.5.0"),
    "bpf_map__btf_key_type_id": Sig(c_uint32, (PTR,), None, "0.0.1"),
    "bpf_map__initial_value": Sig(c_void_p, (PTR, POINTER(c_size_t)), None, "0.5.0"),
    "bpf_map__set_initial_value": Sig(c_int, (PTR, c_void_p, c_size_t), NEG, "0.0.8"),
    "bpf_map__btf_value_type_id": Sig(c_uint32, (PTR,), None, "0.0.1"),
    # bpf_program (object-owned)
    "bpf_program__name": Sig(c_char_p, (PTR,), None, "0.0.7"),
    "bpf_program__section_name": Sig(c_char_p, (PTR,), None, "0.2.0"),
    "bpf_program__type": Sig(c_int, (PTR,), None, "0.7.0"),
    "bpf_program__set_type": Sig(c_int, (PTR, c_int), NEG, "0.0.1"),
    "bpf_program__expected_attach_type": Sig(c_int, (PTR,), None, "0.7.0"),
    "bpf_program__set_expected_attach_type": Sig(c_int, (PTR, c_int), NEG, "0.0.1"),
    "bpf_program__flags": Sig(c_uint32, (PTR,), None, "0.6.0"),
    "bpf_program__set_flags": Sig(c_int, (PTR, c_uint32), NEG, "0.6.0"),
    "bpf_program__autoload": Sig(c_bool, (PTR,), None, "0.1.0"),
    "bpf_program__set_autoload": Sig(c_int, (PTR, c_bool), NEG, "0.1.0"),
    "bpf_program__fd": Sig(c_int, (PTR,), None, "0.0.1"),
    "bpf_program__insn_cnt": Sig(c_size_t, (PTR,), None, "0.6.0"),
    "bpf_program__set_log_buf": Sig(c_int, (PTR, c_void_p, c_size_t), NEG, "0.7.0"),
    # attachments: a libbpf struct bpf_link *, or NULL with errno
    "bpf_program__attach": Sig(PTR, (PTR,), NULL, "0.0.7"),
    "bpf_program__attach_tracepoint": Sig(PTR, (PTR, c_char_p, c_char_p), NULL, "0.0.4"),
    "bpf_program__attach_raw_tracepoint": Sig(PTR, (PTR, c_char_p), NULL, "0.0.4"),
    "bpf_program__attach_kprobe": Sig(PTR, (PTR, c_bool, c_char_p), NULL, "0.0.4"),
    "bpf_program__attach_perf_event": Sig(PTR, (PTR, c_int), NULL, "0.0.4"),
    "bpf_program__attach_iter": Sig(PTR, (PTR, c_void_p), NULL, "0.0.9"),
    "bpf_program__attach_kprobe_multi_opts": Sig(PTR, (PTR, c_char_p, c_void_p), NULL, "0.8.0"),
    "bpf_program__attach_uprobe_opts": Sig(PTR, (PTR, c_int, c_char_p, c_size_t, c_void_p), NULL, "0.5.0"),
    "bpf_program__attach_cgroup": Sig(PTR, (PTR, c_int), NULL, "0.0.8"),
    "bpf_program__attach_netns": Sig(PTR, (PTR, c_int), NULL, "0.0.9"),
    "bpf_xdp_attach": Sig(c_int, (c_int, c_int, c_uint32, c_void_p), NEG, "0.7.0"),
    "bpf_xdp_detach": Sig(c_int, (c_int, c_uint32, c_void_p), NEG, "0.7.0"),
    "bpf_xdp_query_id": Sig(c_int, (c_int, c_int, U32P), NEG, "0.7.0"),
    "bpf_tc_hook_create": Sig(c_int, (c_void_p,), NEG, "0.4.0"),
    "bpf_tc_attach": Sig(c_int, (c_void_p, c_void_p), NEG, "0.4.0"),
    "bpf_tc_detach": Sig(c_int, (c_void_p, c_void_p), NEG, "0.4.0"),
    "bpf_tc_query": Sig(c_int, (c_void_p, c_void_p), NEG, "0.4.0"),
    "bpf_link__fd": Sig(c_int, (PTR,), None, "0.0.8"),
    "bpf_link__destroy": Sig(c_int, (PTR,), None, "0.0.4"),
    # ring buffers (poll and consume call back into Python: the GIL is released, as for every checked call)
    "ring_buffer__new": Sig(PTR, (c_int, _abi.RINGBUF_SAMPLE_FN, c_void_p, c_void_p), NULL, "0.0.9"),
    "ring_buffer__add": Sig(c_int, (PTR, c_int, _abi.RINGBUF_SAMPLE_FN, c_void_p), NEG, "0.0.9"),
    "ring_buffer__poll": Sig(c_int, (PTR, c_int), None, "0.0.9"),
    "ring_buffer__consume": Sig(c_int, (PTR,), None, "0.0.9"),
    "ring_buffer__consume_n": Sig(c_int, (PTR, c_size_t), None, "1.5.0"),
    "ring_buffer__epoll_fd": Sig(c_int, (PTR,), None, "0.3.0"),
    "ring_buffer__free": Sig(None, (PTR,), None, "0.0.9"),
    "user_ring_buffer__new": Sig(PTR, (c_int, c_void_p), NULL, "1.1.0"),
    "user_ring_buffer__reserve": Sig(c_void_p, (PTR, c_uint32), NULL, "1.1.0"),
    "user_ring_buffer__reserve_blocking": Sig(c_void_p, (PTR, c_uint32, c_int), NULL, "1.1.0"),
    "user_ring_buffer__submit": Sig(None, (PTR, c_void_p), None, "1.1.0"),
    "user_ring_buffer__free": Sig(None, (PTR,), None, "1.1.0"),
    "perf_buffer__new": Sig(PTR, (c_int, c_size_t, _abi.PERFBUF_SAMPLE_FN, _abi.PERFBUF_LOST_FN, c_void_p,
                                  c_void_p), NULL, "0.6.0"),
    "perf_buffer__poll": Sig(c_int, (PTR, c_int), None, "0.0.4"),
    "perf_buffer__consume": Sig(c_int, (PTR,), None, "0.0.9"),
    "perf_buffer__epoll_fd": Sig(c_int, (PTR,), None, "0.2.0"),
    "perf_buffer__free": Sig(None, (PTR,), None, "0.0.4"),
    # fd-level API (bpf.h)
    "bpf_link_create": Sig(c_int, (c_int, c_int, c_int, c_void_p), NEG, "0.0.8"),
    "bpf_iter_create": Sig(c_int, (c_int,), NEG, "0.0.9"),
    "bpf_link_get_next_id": Sig(c_int, (c_uint32, U32P), None, "0.0.9", GIL),
    "bpf_link_get_fd_by_id": Sig(c_int, (c_uint32,), NEG, "0.0.9"),
    "bpf_link_update": Sig(c_int, (c_int, c_int, c_void_p), NEG, "0.0.8"),
    "bpf_link_detach": Sig(c_int, (c_int,), NEG, "0.1.0"),
    "bpf_map_create": Sig(c_int, (c_int, c_char_p, c_uint32, c_uint32, c_uint32, c_void_p), NEG, "0.6.0"),
    "bpf_obj_get": Sig(c_int, (c_char_p,), NEG, "0.0.1"),
    "bpf_obj_pin": Sig(c_int, (c_int, c_char_p), NEG, "0.0.1"),
    "bpf_obj_get_info_by_fd": Sig(c_int, (c_int, c_void_p, U32P), NEG, "0.0.1"),
    "bpf_map_get_fd_by_id": Sig(c_int, (c_uint32,), NEG, "0.0.1"),
    "bpf_prog_get_fd_by_id": Sig(c_int, (c_uint32,), NEG, "0.0.1"),
    "bpf_btf_get_fd_by_id": Sig(c_int, (c_uint32,), NEG, "0.0.1"),
    "bpf_map_get_next_id": Sig(c_int, (c_uint32, U32P), None, "0.0.1", GIL),
    "bpf_prog_get_next_id": Sig(c_int, (c_uint32, U32P), None, "0.0.1", GIL),
    "bpf_map_freeze": Sig(c_int, (c_int,), NEG, "0.0.3"),
    "bpf_prog_test_run_opts": Sig(c_int, (c_int, c_void_p), NEG, "0.2.0"),
    # map elements: prepared arguments, the caller checks the negative errno
    "bpf_map_lookup_elem": Sig(c_int, _MAP_ELEM, None, "0.0.1", FAST),
    "bpf_map_lookup_elem_flags": Sig(c_int, _MAP_ELEM + (c_uint64,), None, "0.0.2", FAST),
    "bpf_map_update_elem": Sig(c_int, _MAP_ELEM + (c_uint64,), None, "0.0.1", FAST),
    "bpf_map_delete_elem": Sig(c_int, _MAP_ELEM[:2], None, "0.0.1", FAST),
    "bpf_map_get_next_key": Sig(c_int, _MAP_ELEM, None, "0.0.1", GIL),
    "bpf_map_lookup_and_delete_elem": Sig(c_int, _MAP_ELEM, None, "0.0.1", GIL),
    "bpf_map_lookup_and_delete_elem_flags": Sig(c_int, _MAP_ELEM + (c_uint64,), None, "0.5.0", GIL),
    "bpf_map_lookup_batch": Sig(c_int, _MAP_BATCH, None, "0.0.7", RAW),
    "bpf_map_lookup_and_delete_batch": Sig(c_int, _MAP_BATCH, None, "0.0.7", RAW),
    "bpf_map_update_batch": Sig(c_int, (c_int, c_void_p, c_void_p, U32P, c_void_p), None, "0.0.7", RAW),
    "bpf_map_delete_batch": Sig(c_int, (c_int, c_void_p, U32P, c_void_p), None, "0.0.7", RAW),
}

LIBC: Dict[str, Sig] = {
    "statfs": Sig(c_int, (c_char_p, c_void_p), _libc_path_error(0), ""),
    "mount": Sig(c_int, (c_char_p, c_char_p, c_char_p, c_ulong, c_char_p), _libc_path_error(1), ""),
    "umount2": Sig(c_int, (c_char_p, c_int), _libc_path_error(0), ""),
    "vsnprintf": Sig(c_int, (c_void_p, c_size_t, c_void_p, c_void_p), None, ""),
    "setns": Sig(c_int, (c_int, c_int), _libc_error, ""),
}


def generated_sig(name: str) -> Optional[Sig]:
    """The row of a function the package does not call itself, from the generated table."""
    from ._libbpf_functions import FUNCTIONS  # (read only when such a function is first asked for)

    row = FUNCTIONS.get(name)
    if row is None:
        return None
    restype, argtypes, check, since = row
    checker = {"neg": NEG, "null": _none_sets_errno if restype == "c_char_p" else NULL}.get(check)
    return Sig(None if restype == "None" else getattr(ctypes, restype),
               tuple(getattr(ctypes, a) for a in argtypes), checker, since)


def libbpf_sig(name: str) -> Optional[Sig]:
    """A libbpf function's row: the package's own, else the generated one."""
    return SIGNATURES.get(name) or generated_sig(name)


class _Convention:
    """The functions of one library called one way (checked, raw or GIL-holding), declared on first use."""

    def __init__(self, library: "Library", how: int, handle: ctypes.CDLL):
        self._library = library
        self._how = how
        self._handle = handle

    def __getattr__(self, name: str) -> Callable[..., Any]:
        sig = self._library.lookup(name)
        if sig is None:
            raise UnavailableError(self._library.unknown(name))
        if not sig.how & self._how:
            ways = " or ".join(_ACCESSOR[how].format(name) for how in (CHECKED, RAW, GIL) if sig.how & how)
            raise UnavailableError(f"{name} is declared to be called as {ways}")
        fn: Callable[..., Any]
        try:
            fn = found = self._handle[name]
        except AttributeError:
            fn = self._library.missing(name, sig.since)
        else:
            found.restype = sig.restype
            if self._how == CHECKED:
                found.argtypes = sig.argtypes
                if sig.check is not None:
                    found.errcheck = sig.check
        self.__dict__[name] = fn  # declared once; later lookups never reach __getattr__
        return fn


class Library:
    """A shared object and its table; ``lib.f`` is checked, ``lib.raw.f`` and ``lib.gil.f`` are not."""

    def __init__(self, path: Optional[str], lookup: Callable[[str], Optional[Sig]]):
        self.path = path
        self.lookup = lookup
        self._checked = _Convention(self, CHECKED, ctypes.CDLL(path, use_errno=True))
        self.raw = _Convention(self, RAW, ctypes.CDLL(path))   # same handle; no errno swap
        self.gil = _Convention(self, GIL, ctypes.PyDLL(path))  # same handle; the GIL is kept

    def __getattr__(self, name: str) -> Callable[..., Any]:
        fn = getattr(self._checked, name)
        self.__dict__[name] = fn
        return fn

    def unknown(self, name: str) -> str:
        return f"{name} is not declared in libbpf_py's table of libc functions"

    def missing(self, name: str, since: str) -> Callable[..., Any]:
        raise UnavailableError(f"{name} is not exported by {self.path or 'this process'}")

    def has(self, name: str) -> bool:
        """Whether the library exports ``name``."""
        try:
            self.raw._handle[name]
        except AttributeError:
            return False
        return True


class Libbpf(Library):
    """The loaded libbpf: its version, and its functions through the table."""


    def __init__(self, path: str):
        try:
            super().__init__(path, libbpf_sig)
        except OSError as exc:
            raise LibbpfError.for_errno(
                2, f"cannot load {path!r} ({exc}); install libbpf 1.x (Debian: apt install libbpf1) "
                f"or point {LIBRARY_ENV} at a libbpf.so.1", "dlopen") from None
        try:
            major, minor = self.libbpf_major_version(), self.libbpf_minor_version()
        except LibbpfFeatureError:
            major, minor = 0, 0
        self.version: Tuple[int, int] = (major, minor)
        if self.version < MIN_VERSION:
            raise LibbpfError.for_errno(
                95, f"{path} is libbpf {major}.{minor}; libbpf_py needs libbpf >= 1.0", "dlopen")
        self.version_string: str = self.libbpf_version_string().decode()

    def unknown(self, name: str) -> str:
        from ._libbpf_functions import SOURCE_VERSION

        return f"{name} is not a libbpf function (libbpf {SOURCE_VERSION}'s libbpf.map has no such symbol)"

    def missing(self, name: str, since: str) -> Callable[..., Any]:
        loaded = self.__dict__.get("version_string", "older")

        def unavailable(*args: Any) -> Any:
            raise LibbpfFeatureError(name, since, loaded)

        unavailable.__name__ = name
        return unavailable

    def resolved_path(self) -> str:
        """The file the dynamic loader chose for ``path``."""
        assert self.path is not None  # libbpf always has one
        if os.path.isabs(self.path):
            return os.path.realpath(self.path)
        stem = "/" + self.path.split(".so")[0] + ".so"
        with open("/proc/self/maps") as maps:
            for line in maps:
                where = line.split(None, 5)[-1].strip()
                if stem in where:
                    return os.path.realpath(where)
        return self.path


_lock = _thread.allocate_lock()
_library: Optional[Libbpf] = None
_libc: Optional[Library] = None


def _install(path: str) -> Libbpf:
    global _library
    loaded = Libbpf(path)
    _log.install(loaded.libbpf_set_print, libc().vsnprintf)
    _library = loaded
    return loaded


def lib() -> Libbpf:
    """The process-wide libbpf, loaded on first use and wired to Python logging."""
    if _library is None:
        with _lock:
            if _library is None:
                return _install(os.environ.get(LIBRARY_ENV) or DEFAULT_SONAME)
    return _library


def libbpf() -> Libbpf:
    """The loaded libbpf: every function it exports, by its C name, declared from libbpf's own
    headers: ``libbpf().bpf_map__fd(m.as_libbpf())``. Checked: a negative errno or a NULL with
    errno raises LibbpfError; a function this libbpf lacks raises LibbpfFeatureError naming the
    version that has it. ``.raw.f`` / ``.gil.f`` as the table allows; ``.version`` and
    ``.path`` say which libbpf it is."""
    return lib()


def libc() -> Library:
    """The C library of this process, through the ``LIBC`` table."""
    global _libc
    if _libc is None:
        _libc = Library(None, LIBC.get)
    return _libc


def use_library(path: str) -> Libbpf:
    """Load libbpf from ``path`` instead of the system's; only before first use."""
    with _lock:
        if _library is None:
            return _install(path)
        if _library.resolved_path() != os.path.realpath(path):
            raise UsageError(f"libbpf is already loaded from {_library.resolved_path()}")
        return _library


def version_key(text: str) -> Tuple[int, ...]:
    """'1.2.0' -> (1, 2, 0), for comparing ``Sig.since`` with the loaded version."""
    return tuple(int(part) for part in text.split("."))
