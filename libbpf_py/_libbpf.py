"""Finding libbpf.so and the one table of C signatures through which it is called.

Every libbpf function libbpf_py uses is declared once, in ``SIGNATURES``: return type,
argument types, how a failure is reported, and the first libbpf version that exports
it. Functions are declared lazily, on first use, so importing the package costs
nothing. A function the loaded libbpf lacks raises :class:`LibbpfFeatureError` when
called, naming the version that has it.

Hot-path functions (``HOT``) are declared with a return type only: setting ``argtypes``
makes each ctypes call 100-200 ns slower, so their callers pass arguments already in
C form (prepared pointers, ``c_uint64`` flags) and check the negative errno themselves.
Single-element map operations never sleep, so they are called without releasing the GIL
(``HOLD_GIL``), which saves another few percent a call; batch operations release it.
"""

from __future__ import annotations

import ctypes
import os
import threading
from ctypes import POINTER, c_bool, c_char_p, c_int, c_size_t, c_uint32, c_uint64, c_void_p
from typing import Any, Callable, Dict, NamedTuple, Optional, Tuple

from . import _abi
from .errors import LibbpfError, LibbpfFeatureError

LIBRARY_ENV = "LIBBPF_PY_LIBRARY"
DEFAULT_SONAME = "libbpf.so.1"
MIN_VERSION = (1, 0)


def _negative_errno(result: int, func: Any, args: Tuple[Any, ...]) -> int:
    if result < 0:
        raise LibbpfError.for_errno(-result, None, func.__name__)
    return result


def _null_sets_errno(result: Optional[int], func: Any, args: Tuple[Any, ...]) -> int:
    if not result:
        err = ctypes.get_errno() or 22  # EINVAL when libbpf left errno unset
        raise LibbpfError.for_errno(err, None, func.__name__)
    return result


class Sig(NamedTuple):
    restype: Any
    argtypes: Tuple[Any, ...]
    check: Optional[Callable[[Any, Any, Tuple[Any, ...]], Any]]
    since: str  # libbpf version node that first exports the symbol


NEG, NULL = _negative_errno, _null_sets_errno
PTR = c_void_p  # bpf_object *, bpf_map *, bpf_program *: opaque handles
U32P = POINTER(c_uint32)
SIZEP = POINTER(c_size_t)

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
    "bpf_map__is_pinned": Sig(c_bool, (PTR,), None, "0.0.6"),
    "bpf_map__pin": Sig(c_int, (PTR, c_char_p), NEG, "0.0.1"),
    "bpf_map__unpin": Sig(c_int, (PTR, c_char_p), NEG, "0.0.1"),
    "bpf_map__btf_key_type_id": Sig(c_uint32, (PTR,), None, "0.0.1"),
    "bpf_map__btf_value_type_id": Sig(c_uint32, (PTR,), None, "0.0.1"),
    # bpf_program (object-owned)
    "bpf_program__name": Sig(c_char_p, (PTR,), None, "0.0.7"),
    "bpf_program__section_name": Sig(c_char_p, (PTR,), None, "0.2.0"),
    "bpf_program__type": Sig(c_int, (PTR,), None, "0.7.0"),
    "bpf_program__set_type": Sig(c_int, (PTR, c_int), NEG, "0.0.1"),
    "bpf_program__expected_attach_type": Sig(c_int, (PTR,), None, "0.7.0"),
    "bpf_program__set_expected_attach_type": Sig(c_int, (PTR, c_int), NEG, "0.0.1"),
    "bpf_program__autoload": Sig(c_bool, (PTR,), None, "0.1.0"),
    "bpf_program__set_autoload": Sig(c_int, (PTR, c_bool), NEG, "0.1.0"),
    "bpf_program__fd": Sig(c_int, (PTR,), None, "0.0.1"),
    "bpf_program__insn_cnt": Sig(c_size_t, (PTR,), None, "0.6.0"),
    "bpf_program__set_log_buf": Sig(c_int, (PTR, c_void_p, c_size_t), NEG, "0.7.0"),
    "bpf_program__pin": Sig(c_int, (PTR, c_char_p), NEG, "0.0.1"),
    "bpf_program__unpin": Sig(c_int, (PTR, c_char_p), NEG, "0.0.1"),
    # fd-level API (bpf.h)
    "bpf_map_create": Sig(c_int, (c_int, c_char_p, c_uint32, c_uint32, c_uint32, c_void_p), NEG, "0.6.0"),
    "bpf_obj_get": Sig(c_int, (c_char_p,), NEG, "0.0.1"),
    "bpf_obj_pin": Sig(c_int, (c_int, c_char_p), NEG, "0.0.1"),
    "bpf_obj_get_info_by_fd": Sig(c_int, (c_int, c_void_p, U32P), NEG, "0.0.1"),
    "bpf_map_get_info_by_fd": Sig(c_int, (c_int, c_void_p, U32P), NEG, "1.2.0"),
    "bpf_prog_get_info_by_fd": Sig(c_int, (c_int, c_void_p, U32P), NEG, "1.2.0"),
    "bpf_map_get_fd_by_id": Sig(c_int, (c_uint32,), NEG, "0.0.1"),
    "bpf_prog_get_fd_by_id": Sig(c_int, (c_uint32,), NEG, "0.0.1"),
    "bpf_map_freeze": Sig(c_int, (c_int,), NEG, "0.0.3"),
    "bpf_prog_test_run_opts": Sig(c_int, (c_int, c_void_p), NEG, "0.2.0"),
}

# Called with prepared C arguments and checked by the caller (see the module docstring).
# The argtypes recorded in SIGNATURES document the contract; they are not applied.
_MAP_ELEM = (c_int, c_void_p, c_void_p)
_MAP_BATCH = (c_int, c_void_p, c_void_p, c_void_p, c_void_p, U32P, c_void_p)
HOLD_GIL = frozenset({"bpf_map_lookup_elem", "bpf_map_lookup_elem_flags", "bpf_map_update_elem",
                      "bpf_map_delete_elem", "bpf_map_get_next_key"})
HOT: Dict[str, Sig] = {
    "bpf_map_lookup_elem": Sig(c_int, _MAP_ELEM, None, "0.0.1"),
    "bpf_map_lookup_elem_flags": Sig(c_int, _MAP_ELEM + (c_uint64,), None, "0.0.2"),
    "bpf_map_update_elem": Sig(c_int, _MAP_ELEM + (c_uint64,), None, "0.0.1"),
    "bpf_map_delete_elem": Sig(c_int, _MAP_ELEM[:2], None, "0.0.1"),
    "bpf_map_delete_elem_flags": Sig(c_int, _MAP_ELEM[:2] + (c_uint64,), None, "0.8.0"),
    "bpf_map_get_next_key": Sig(c_int, _MAP_ELEM, None, "0.0.1"),
    "bpf_map_lookup_and_delete_elem": Sig(c_int, _MAP_ELEM, None, "0.0.1"),
    "bpf_map_lookup_and_delete_elem_flags": Sig(c_int, _MAP_ELEM + (c_uint64,), None, "0.5.0"),
    "bpf_map_lookup_batch": Sig(c_int, _MAP_BATCH, None, "0.0.7"),
    "bpf_map_lookup_and_delete_batch": Sig(c_int, _MAP_BATCH, None, "0.0.7"),
    "bpf_map_update_batch": Sig(c_int, (c_int, c_void_p, c_void_p, U32P, c_void_p), None, "0.0.7"),
    "bpf_map_delete_batch": Sig(c_int, (c_int, c_void_p, U32P, c_void_p), None, "0.0.7"),
}


class Libbpf:
    """A loaded libbpf shared object; attributes are its declared functions."""

    def __init__(self, path: str):
        try:
            self._checked = ctypes.CDLL(path, use_errno=True)
            self._raw = ctypes.CDLL(path)  # same handle; calls here skip the errno swap
            self._gil = ctypes.PyDLL(path)  # same handle; calls here keep the GIL
        except OSError as exc:
            raise LibbpfError.for_errno(
                2, f"cannot load {path!r} ({exc}); install libbpf 1.x (Debian: apt install libbpf1) "
                f"or point {LIBRARY_ENV} at a libbpf.so.1", "dlopen") from None
        self.path = path
        try:
            major = self._checked.libbpf_major_version()
            minor = self._checked.libbpf_minor_version()
        except AttributeError:
            major, minor = 0, 0
        self.version: Tuple[int, int] = (major, minor)
        if self.version < MIN_VERSION:
            raise LibbpfError.for_errno(
                95, f"{path} is libbpf {major}.{minor}; libbpf_py needs libbpf >= 1.0", "dlopen")
        self.version_string: str = self.libbpf_version_string().decode()

    def __getattr__(self, name: str) -> Callable[..., Any]:
        sig = HOT.get(name)
        handle = self._gil if name in HOLD_GIL else self._raw
        if sig is None:
            sig = SIGNATURES.get(name)
            handle = self._checked
            if sig is None:
                raise AttributeError(f"{name} is not declared in libbpf_py's signature table")
        fn: Callable[..., Any]
        try:
            fn = found = handle[name]
        except AttributeError:
            fn = self._missing(name, sig.since)
        else:
            found.restype = sig.restype
            if handle is self._checked:
                found.argtypes = sig.argtypes
                if sig.check is not None:
                    found.errcheck = sig.check
        self.__dict__[name] = fn  # declared once; later lookups never reach __getattr__
        return fn

    def _missing(self, name: str, since: str) -> Callable[..., Any]:
        loaded = self.version_string if "version_string" in self.__dict__ else "older"

        def unavailable(*args: Any) -> Any:
            raise LibbpfFeatureError(name, since, loaded)

        unavailable.__name__ = name
        return unavailable

    def resolved_path(self) -> str:
        """The file the dynamic loader chose for ``path``."""
        if os.path.isabs(self.path):
            return os.path.realpath(self.path)
        stem = "/" + self.path.split(".so")[0] + ".so"
        with open("/proc/self/maps") as maps:
            for line in maps:
                where = line.split(None, 5)[-1].strip()
                if stem in where:
                    return os.path.realpath(where)
        return self.path

    def has(self, name: str) -> bool:
        """Whether the loaded libbpf exports ``name``."""
        try:
            self._raw[name]
        except AttributeError:
            return False
        return True


_lock = threading.Lock()
_library: Optional[Libbpf] = None


def _install(path: str) -> Libbpf:
    global _library
    loaded = Libbpf(path)
    from . import _log
    _log.install(loaded)
    _library = loaded
    return loaded


def lib() -> Libbpf:
    """The process-wide libbpf, loaded on first use and wired to Python logging."""
    if _library is None:
        with _lock:
            if _library is None:
                return _install(os.environ.get(LIBRARY_ENV) or DEFAULT_SONAME)
    return _library


def use_library(path: str) -> Libbpf:
    """Load libbpf from ``path`` instead of the system's; only before first use."""
    with _lock:
        if _library is None:
            return _install(path)
        if _library.resolved_path() != os.path.realpath(path):
            raise RuntimeError(f"libbpf is already loaded from {_library.resolved_path()}")
        return _library


def version_key(text: str) -> Tuple[int, ...]:
    """'1.2.0' -> (1, 2, 0), for comparing ``Sig.since`` with the loaded version."""
    return tuple(int(part) for part in text.split("."))
