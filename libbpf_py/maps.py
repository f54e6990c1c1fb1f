"""BPF maps: one class for a map from an object, a pin, an id, or created standalone.

A map from an :class:`~libbpf_py.Object` is described by libbpf before load (its
definition can be edited then) and becomes live at load; its fd belongs to the object.
A map opened from a pin, an id or an fd, or created with :meth:`Map.create`, owns its
fd and closes it in :meth:`Map.close` (or when collected, as a safety net).
"""

from __future__ import annotations

import array
import contextlib
import ctypes
import errno
import os
import sys
import weakref
from collections.abc import MutableMapping
from ctypes import byref, c_uint32, c_uint64
from enum import IntEnum
from operator import attrgetter
from typing import TYPE_CHECKING, Any, Callable, Dict, Iterator, List, NoReturn, Optional, Sequence, Tuple, Union

from . import _abi, _libbpf, _signals
from ._abi import MapType, enum_or_int
from ._checks import c_name_bytes, check_uint
from ._codec import Codec, PerCpuCodec, Slot
from ._fd import fd_kind
from ._handle import BpfHandle, State, _FdKeeper, definition
from .errors import (
    NOT_SUPPORTED_ERRNOS,
    ClosedError,
    InvalidTypeError,
    InvalidValueError,
    KeyNotFoundError,
    LibbpfError,
    MissingBtfError,
    describe_errno,
)
from .info import MapInfo, btf_bytes, map_info, map_spec, possible_cpus
from .spec import MapSpec

if TYPE_CHECKING:
    from ._handle import PathLike
    from .links import Link

_ENOENT = -errno.ENOENT
_E2BIG = -errno.E2BIG
_FLAGS = {n: c_uint64(n) for n in range(8)}  # prepared u64 flag arguments; never mutated
_NO_FLAGS = _FLAGS[0]
_NO_VALUE: Any = object()  # update(mapping) has no value argument; pop(key) has no default


_U32_MAX = (1 << 32) - 1
_BATCH_BYTES = 1 << 22  # the default batch of lookup_batch: its keys and values fill at most this


def _u64(flags: int) -> c_uint64:
    """``flags`` as C's u64 (checked: ctypes would wrap -1, or 2**64, silently; True is no flag)."""
    if type(flags) is int:
        try:
            return _FLAGS[flags]
        except KeyError:
            pass
    return c_uint64(check_uint(flags, 64, "flags"))


def _field(field: str, getter: str, setter: Optional[str] = None, convert: Callable[[int], Any] = int,
           doc: str = "", bits: int = 32) -> property:
    """A definition field: libbpf's (object maps; editable before load) or the kernel's (others)."""

    def check(value: Any) -> int:
        return check_uint(int(value) if isinstance(value, IntEnum) else value, bits, field)

    return definition(getter, setter, live=attrgetter(field), convert=convert, check=check, doc=doc)


def _map_type(value: int) -> Union[MapType, int]:
    return enum_or_int(MapType, value)


def _type_label(map_type: Union[MapType, int]) -> str:
    """A map type as messages name it: ``HASH``, or ``type 42`` for one this package does not know."""
    return map_type.name if isinstance(map_type, MapType) else f"type {map_type}"


class Map(BpfHandle):
    """A BPF map. Keys and values are bytes, ints or ctypes objects; see ``key_type``."""

    _kind, _fd_kind, _skipped = "map", "map", "was not created (autocreate off)"
    _own_handle_hint = "Map.from_fd(m.fd)"
    _fd_by_id = "bpf_map_get_fd_by_id"

    # Set by _blank (instances are made there, not by __init__):
    _inner_spec: Optional[MapSpec]                 # the inner map's shape, for an object's map-in-map
    _lookup_and_delete_unsupported: bool           # learnt from the kernel: pop() looks up, then deletes
    _bloom: Optional[bool]                         # a bloom filter (known with the buffers)
    _key_type: type                                # bytes, int or a ctypes type (checked by Codec)
    _value_type: type
    _key: Optional[Slot]                           # the live map's key and value layout, made on first use
    _value: Optional[Slot]
    _spare: List[Dict[str, Any]]                   # spare element closures, each over buffers of its own
    _op: Optional[_FdKeeper]                       # the fd the element closures pass (see _element_ops)
    _mapping: Optional[Tuple[Any, memoryview]]     # mmap(): the mapping and the view handed out
    _registrations: "weakref.WeakSet[Link]"        # attach_struct_ops() made through this map's fd (no kernel link)

    @classmethod
    def _blank(cls, state: State) -> "Map":
        self = super()._blank(state)
        self._inner_spec = None
        self._bloom = None
        self._lookup_and_delete_unsupported = False
        self._key_type = bytes
        self._value_type = bytes
        self._key = self._value = None
        self._spare = []
        self._op = None
        self._mapping = None
        self._registrations = weakref.WeakSet()
        return self

    def _read_info(self, fd: int) -> MapInfo:
        return map_info(fd)

    @classmethod
    def create(cls, map_type: Union[MapType, int], key_size: int, value_size: int, max_entries: int, *,
               name: Optional[str] = None, flags: int = 0, inner_map: Optional["Map"] = None,
               map_extra: int = 0, key_type: Any = bytes, value_type: Any = bytes) -> "Map":
        """Create a map in the kernel, owned by the returned object."""
        for label, number in (("key_size", key_size), ("value_size", value_size),
                              ("max_entries", max_entries), ("flags", flags)):
            check_uint(number, 32, label)
        check_uint(map_extra, 64, "map_extra")
        if name is not None and "\0" in name:
            raise InvalidValueError(f"map name {name!r} contains a NUL byte")
        if name is not None and len(c_name_bytes(name)) >= _abi.BPF_OBJ_NAME_LEN:
            raise InvalidValueError(f"map name {name!r} is longer than {_abi.BPF_OBJ_NAME_LEN - 1} bytes")
        if inner_map is not None and not isinstance(inner_map, Map):
            raise InvalidTypeError(f"inner_map takes a live Map of the inner shape, not {type(inner_map).__name__}")
        if int(map_type) in _abi.MAP_IN_MAP_TYPES and inner_map is None:
            raise InvalidValueError("a map-in-map needs inner_map (a map of the inner shape)")
        check_uint(int(map_type) if isinstance(map_type, IntEnum) else map_type, 31, "map_type")  # a C int
        opts = _abi.new_opts(_abi.BpfMapCreateOpts)
        opts.map_flags = flags
        opts.map_extra = map_extra
        lib = _libbpf.lib()

        def create() -> int:
            with contextlib.ExitStack() as stack:
                if inner_map is not None:  # held open (not closed by another thread) until the map exists
                    opts.inner_map_fd = stack.enter_context(inner_map._fd_in_use())
                return int(lib.bpf_map_create(int(map_type), c_name_bytes(name) if name else None, key_size,
                                              value_size, max_entries, ctypes.addressof(opts)))

        self = cls._adopt(create, "bpf_map_create")
        self.key_type, self.value_type = key_type, value_type
        return self

    @classmethod
    def from_fd(cls, fd: int) -> "Map":
        """A map on a duplicate of ``fd``; the caller keeps ownership of ``fd`` itself."""
        check_uint(fd, 31, "fd")

        def dup() -> int:
            try:
                return os.dup(fd)
            except OSError as exc:
                raise LibbpfError.for_errno(exc.errno or errno.EBADF, f"fd {fd}: {exc.strerror}", "dup") from None

        return cls._adopt(dup, "dup")

    # state -----------------------------------------------------------------------------------

    def _bind(self, fd: int, missing: str) -> None:
        super()._bind(fd, missing)
        self._drop_slots()
        self._retire_op()

    def _drop(self, state: State) -> None:
        for registration in list(self._registrations):  # they pass this fd: ended while it is open
            registration.close()
        super()._drop(state)
        self._drop_slots()
        self._retire_op()
        self._unmap()

    def _unmap(self) -> None:
        mapping, self._mapping = self._mapping, None
        if mapping is not None:
            try:
                mapping[1].release()
                mapping[0].close()
            except BufferError:
                pass  # a view made from it (a slice, a numpy array) keeps the mapping until it goes

    def _retire_op(self) -> None:
        op, self._op = self._op, None
        if op is not None:
            op.retire()

    def _reset_after_fork(self) -> None:
        super()._reset_after_fork()
        self._drop_slots()  # the closures hold the old lock

    def _fail(self, ret: int, function: str) -> NoReturn:
        if self._fd < 0:
            self._raise_unusable()
        raise LibbpfError.for_errno(-ret, None, function)

    def __repr__(self) -> str:
        if self.closed:
            return f"<Map {self._display_name()} closed>"
        return (f"<Map {self.name!r} {getattr(self.type, 'name', self.type)} key={self.key_size} "
                f"value={self.value_size} max_entries={self.max_entries} fd={self._fd}>")

    # definition ------------------------------------------------------------------------------

    @property
    def name(self) -> str:
        """The name in the object (stable: libbpf renames a map that reuses a nameless pin)."""
        self._described()  # (raises once closed)
        return self._state.name(self) or ""

    type = _field("type", "bpf_map__type", "bpf_map__set_type", _map_type, "Map type (MapType).", bits=31)
    key_size = _field("key_size", "bpf_map__key_size", "bpf_map__set_key_size")
    value_size = _field("value_size", "bpf_map__value_size", "bpf_map__set_value_size")
    max_entries = _field("max_entries", "bpf_map__max_entries", "bpf_map__set_max_entries")
    flags = _field("flags", "bpf_map__map_flags", "bpf_map__set_map_flags", doc="map_flags.")
    map_extra = _field("map_extra", "bpf_map__map_extra", "bpf_map__set_map_extra", bits=64)
    btf_key_type_id = _field("btf_key_type_id", "bpf_map__btf_key_type_id", doc="The key's BTF type id (0: none).")
    btf_value_type_id = _field("btf_value_type_id", "bpf_map__btf_value_type_id",
                               doc="The value's BTF type id (0: none).")
    autocreate = definition("bpf_map__autocreate", "bpf_map__set_autocreate", live=lambda info: True, convert=bool,
                            check=bool, doc="Whether load creates this map (object maps; settable before load).")

    @property
    def inner_map(self) -> Optional[MapSpec]:
        """The inner map's shape, for an object's map-in-map.

        A copy: libbpf frees its own inner-map template at load (and when it is replaced), and
        its setters would dereference NULL on one, so the template itself is never handed out.
        To change the shape, assign a live map of the wanted shape before load.
        """
        self._described()
        return self._inner_spec

    @inner_map.setter
    def inner_map(self, template: "Map") -> None:
        """Use a live map's shape as the inner map (libbpf's bpf_map__set_inner_map_fd)."""
        if not isinstance(template, Map):
            raise InvalidTypeError(f"inner_map takes a live Map of the inner shape, not {type(template).__name__}")
        spec = template.info().spec
        self._edit("bpf_map__set_inner_map_fd", template)
        self._inner_spec = spec

    @property
    def spec(self) -> MapSpec:
        """This map's shape. Before load, the shape load will create (a PERF_EVENT_ARRAY of 0
        entries gets one per possible CPU, as libbpf sizes it); a live standalone map's, as the
        kernel reports it, with the shape of its first inner map for a map-in-map."""
        return self._read(self._described_spec, self._live_spec)

    def _described_spec(self, handle: int) -> MapSpec:
        map_type, max_entries = self.type, self.max_entries
        if map_type == MapType.PERF_EVENT_ARRAY and max_entries == 0:
            max_entries = possible_cpus()
        return MapSpec(map_type, self.key_size, self.value_size, max_entries, self.flags, self.map_extra,
                       self._inner_spec)

    def _live_spec(self, info: MapInfo) -> MapSpec:
        with self._fd_in_use() as fd:
            return map_spec(fd)

    @property
    def pin_path(self) -> Optional[str]:
        """Where this map is pinned (opened from, or pinned by this process), or for an object's
        map, where its load will pin it or pinned it; settable before load (None: no pin)."""
        return BpfHandle.pin_path.fget(self)  # type: ignore[attr-defined]

    @pin_path.setter
    def pin_path(self, path: Optional[PathLike]) -> None:
        self._state.set_pin_path(self, path)

    @property
    def is_internal(self) -> bool:
        """A map libbpf made for .data, .bss, .rodata or .kconfig."""
        return bool(self._read(self._lib.bpf_map__is_internal, lambda info: False))

    @property
    def initial_value(self) -> Optional[bytes]:
        """The contents an internal map (``.data``, ``.rodata``, ``.bss``...) is created with
        (``bpf_map__initial_value``; after load, libbpf's copy of the map's memory); None for
        any other map. Settable before load with bytes of the map's value size
        (``bpf_map__set_initial_value``); :attr:`Object.globals` then reads the new values."""
        def read(handle: int) -> Optional[bytes]:
            size = ctypes.c_size_t()
            pointer = self._lib.bpf_map__initial_value(handle, ctypes.byref(size))
            return ctypes.string_at(pointer, size.value) if pointer else None

        return self._read(read, lambda info: None)

    @initial_value.setter
    def initial_value(self, data: Any) -> None:
        try:
            value = memoryview(data).tobytes()
        except TypeError:
            raise InvalidTypeError(f"an initial value is bytes-like, not {type(data).__name__}") from None
        current = self.initial_value
        if current is None:
            raise InvalidValueError(f"map {self.name!r} is no internal map: it has no initial value")
        if len(value) != len(current):
            raise InvalidValueError(f"map {self.name!r} takes an initial value of {len(current)} bytes (its value "
                                    f"size), not {len(value)}")
        self._edit("bpf_map__set_initial_value", value)

    @property
    def is_percpu(self) -> bool:
        return int(self.type) in _abi.PERCPU_MAP_TYPES

    # codecs ----------------------------------------------------------------------------------

    @property
    def key_type(self) -> Any:
        """What keys decode to: ``bytes`` (default), ``int`` or a ctypes type; set ``"btf"`` for
        the ctypes type made from the map's BTF key type."""
        return self._key_type

    @key_type.setter
    def key_type(self, pytype: Any) -> None:
        if isinstance(pytype, str) and pytype == "btf":
            pytype = self._btf_type(0)
        Codec(self.key_size, pytype, "key")  # refuse a type of the wrong size now
        self._key_type = pytype
        self._drop_slots()

    @property
    def value_type(self) -> Any:
        """What values decode to: ``bytes`` (default), ``int`` or a ctypes type (per CPU for per-CPU
        maps); ``"btf"`` as for ``key_type``."""
        return self._value_type

    @value_type.setter
    def value_type(self, pytype: Any) -> None:
        if isinstance(pytype, str) and pytype == "btf":
            pytype = self._btf_type(1)
        Codec(self.value_size, pytype, "value")
        self._value_type = pytype
        self._drop_slots()

    def _btf_type(self, which: int) -> Any:
        """The ctypes type of the map's BTF key (0) or value (1) type: from its object's BTF, or
        for a live map from the BTF the kernel holds for it."""
        from .btf_ctypes import Types  # (imported here: few maps are typed from BTF)
        from .elf.btf import Btf

        what = ("key", "value")[which]

        with self._lock:
            handle = self._described()  # (raises once closed)
            side = self._state.side()
            getter = (self._lib.bpf_map__btf_key_type_id, self._lib.bpf_map__btf_value_type_id)[which]
            type_id = 0 if handle is None else getter(handle)
        if handle is not None and side is not None:  # its object's own BTF, asked without this map's lock
            types = side.btf                         # (an object's close takes its own lock, then the map's)
        else:  # a standalone map, or one whose Object was dropped: the BTF the kernel holds for it
            info = self.info()
            types = Types(Btf.parse(btf_bytes(info.btf_id), sys.byteorder)) if info.btf_id else None
            type_id = (info.btf_key_type_id, info.btf_value_type_id)[which]
        if not type_id or types is None:
            raise MissingBtfError(f"map {self.name!r} has no BTF {what} type")
        return types.of(type_id)

    def _slots(self) -> Tuple[Slot, Slot]:
        """The key and value buffers of the live map, made on first use (after load, or a type change)."""
        key, value = self._key, self._value
        if key is None or value is None:  # both or neither
            if self._fd < 0:
                self._raise_unusable()
            key, value = self._make_slots()
        return key, value

    def _drop_slots(self) -> None:
        self._key = self._value = None
        self._spare = []
        for operation in _ELEMENT_OPS:
            self.__dict__.pop(operation, None)

    def _make_slots(self) -> Tuple[Slot, Slot]:
        key_codec = Codec(self.key_size, self._key_type, "key")
        element = Codec(self.value_size, self._value_type, "value")
        value_codec: Union[Codec, PerCpuCodec] = PerCpuCodec(element, possible_cpus()) if self.is_percpu else element
        key, value = Slot(key_codec), Slot(value_codec)
        with self._lock:  # one fd copy however many threads get here first; a close waits, then drops all
            op = self._op
            if op is None:
                op = self._state.own_keeper()  # a standalone map's own fd
                if op is None:  # libbpf's fd closes with the object, whatever holds it: the closures get a copy
                    with self._fd_in_use() as fd:
                        try:
                            op = _FdKeeper.duplicate(fd)
                        except OSError as exc:  # EMFILE
                            raise LibbpfError.for_errno(exc.errno or errno.EMFILE, "cannot copy the map's fd for its "
                                                        "operations", "dup") from None
                self._op = op
            self._bloom = int(self.type) == MapType.BLOOM_FILTER
            self.__dict__.update(_element_ops(self, op, key, value))
            self._key, self._value = key, value  # last: who sees the buffers finds the closures
        return key, value

    def _take_spare(self, spare: List[Dict[str, Any]]) -> Dict[str, Any]:
        """A set of element closures over buffers of its own, for one call (given back to ``spare``)."""
        try:
            return spare.pop()
        except IndexError:
            key, value = self._slots()
            op = self._op
            if op is None:  # closed meanwhile
                self._raise_unusable()
            key, value = Slot(key.codec), Slot(value.codec)
            ops = _element_ops(self, op, key, value)
            ops["slots"] = key, value
            return ops

    def _contended(self, operation: str, *args: Any) -> Any:
        """An element operation that found the fast path's buffers taken (by another thread, or
        by the call a signal handler interrupted): the same operation on spare buffers."""
        spare = self._spare
        ops = self._take_spare(spare)
        try:
            return ops[operation](*args)
        finally:
            spare.append(ops)

    @contextlib.contextmanager
    def _buffers(self) -> Iterator[Tuple[Slot, Slot]]:
        """A key and a value buffer of the live map for this call alone."""
        spare = self._spare
        ops = self._take_spare(spare)
        try:
            yield ops["slots"]
        finally:
            spare.append(ops)

    # element operations --------------------------------------------------------------------
    # While the map is live, these names are shadowed by per-map closures (_element_ops) that
    # hold the fd and the prepared buffers; the methods below serve the other states.

    def _live(self, operation: str) -> Any:
        fast = self.__dict__.get(operation)
        if fast is None:
            with self._lock:  # another thread may be making them
                fast = self.__dict__.get(operation)
                if fast is None:
                    if self._fd < 0:
                        self._raise_unusable()
                    self._make_slots()
                    fast = self.__dict__[operation]
        return fast

    def lookup(self, key: Any = None, flags: int = 0) -> Any:
        """The value for ``key``, or None when there is none (``flags``: e.g. BPF_F_LOCK)."""
        return self._live("lookup")(key, flags)

    def update(self, key: Any, value: Any = _NO_VALUE, flags: int = _abi.BPF_ANY) -> None:
        """Set ``key`` to ``value`` (flags: BPF_ANY, BPF_NOEXIST, BPF_EXIST, BPF_F_LOCK).

        As ``dict.update``, ``update(mapping)`` or ``update(pairs)`` sets many entries.
        """
        return self._live("update")(key, value, flags)

    def delete(self, key: Any) -> None:
        """Remove ``key``; KeyError when it is not there."""
        return self._live("delete")(key)

    def lookup_and_delete(self, key: Any = None, flags: int = 0) -> Any:
        """Remove ``key`` and return its value, or None when there is none."""
        with self._buffers() as (k, v), self._fd_in_use() as fd:
            k.store(key)
            gil = self._lib.gil
            if flags:
                ret = gil.bpf_map_lookup_and_delete_elem_flags(fd, k.ptr, v.ptr, _u64(flags))
            else:
                ret = gil.bpf_map_lookup_and_delete_elem(fd, k.ptr, v.ptr)
            if ret < 0:
                if ret == _ENOENT:
                    return None
                self._fail(ret, "bpf_map_lookup_and_delete_elem")
            return v.load()

    def _update_many(self, entries: Any, flags: int = _abi.BPF_ANY) -> None:
        """``update(mapping[, flags])`` / ``update(pairs[, flags])``: each entry in turn, as dict.update does."""
        if entries is None:
            raise InvalidTypeError("update() takes (key, value[, flags]) or a mapping of entries")
        pairs = entries.items() if hasattr(entries, "items") else entries
        set_one = self._live("update")
        for key, value in pairs:
            set_one(key, value, flags)

    # the dict protocol (Map is registered as a MutableMapping; equality stays identity) -------

    def __getitem__(self, key: Any) -> Any:
        return self._getitem(key)  # a Python __getitem__ is the fastest m[k] (CPython inlines its frame)

    def _getitem(self, key: Any) -> Any:
        """``m[key]``: the value, KeyError when there is none (the live map's closure shadows this)."""
        return self._live("_getitem")(key)

    def __setitem__(self, key: Any, value: Any) -> None:
        """``m[key] = value``: ``update(key, value)``."""
        self.update(key, value)

    def __delitem__(self, key: Any) -> None:
        """``del m[key]``: ``delete(key)``, KeyError when it is not there."""
        self.delete(key)

    def __contains__(self, key: Any) -> bool:
        if self._bloom is None:
            self._slots()  # learns the map's type with its buffers
        if self._bloom:
            return self._bloom_has(key)
        return self.lookup(key) is not None

    def _bloom_has(self, value: Any) -> bool:
        """Whether a bloom filter may hold ``value`` (false positives are its nature)."""
        with self._buffers() as (_, v), self._fd_in_use() as fd:
            v.store(value)
            ret = self._lib.gil.bpf_map_lookup_elem(fd, None, v.ptr)
            if ret == _ENOENT:
                return False
            if ret < 0:
                self._fail(ret, "bpf_map_lookup_elem")
            return True

    def __bool__(self) -> bool:
        return True  # a map is a handle, whatever it holds (len() would walk it)

    def __len__(self) -> int:
        """The number of keys, counted by walking the live map: O(n) system calls."""
        return sum(1 for _ in self.keys())

    def get(self, key: Any, default: Any = None) -> Any:
        value = self.lookup(key)
        return default if value is None else value

    def pop(self, key: Any = _NO_VALUE, default: Any = _NO_VALUE) -> Any:
        """``pop(key[, default])``: remove ``key`` and return its value (KeyError, or ``default``,
        when it is not there). On a queue or stack, ``pop()`` takes the next value, or None when
        it is empty."""
        if key is _NO_VALUE:
            if self._keyless:
                return self.lookup_and_delete(None)
            raise InvalidTypeError("pop() needs a key on a map with keys (a queue or stack pops with no key)")
        value = self._take(key)
        if value is None:
            if default is _NO_VALUE:
                raise KeyNotFoundError(key)
            return default
        return value

    def popitem(self) -> Tuple[Any, Any]:
        """Remove and return some ``(key, value)``; KeyError when the map is empty."""
        for key in self.keys():
            value = self._take(key)
            if value is not None:
                return key, value
        raise KeyNotFoundError("popitem(): the map is empty")

    def _take(self, key: Any) -> Any:
        """Remove ``key`` and return its value (None: not there): atomically where the map type
        has BPF_MAP_LOOKUP_AND_DELETE_ELEM, else a lookup then a delete."""
        if not self._lookup_and_delete_unsupported:
            try:
                return self.lookup_and_delete(key)
            except LibbpfError as exc:
                if exc.errno not in NOT_SUPPORTED_ERRNOS:
                    raise
                self._lookup_and_delete_unsupported = True
        value = self.lookup(key)
        if value is not None:
            try:
                self.delete(key)
            except KeyError:
                return None  # taken meanwhile by someone else
        return value

    def setdefault(self, key: Any, default: Any) -> Any:
        """The value for ``key``; when there is none, ``default`` is stored (BPF_NOEXIST) and returned."""
        refused: Optional[LibbpfError] = None
        for _ in range(3):
            try:
                self.update(key, default, _abi.BPF_NOEXIST)
                return default
            except LibbpfError as exc:
                if exc.errno != errno.EEXIST:
                    raise
                value = self.lookup(key)
                if value is not None:
                    return value
                refused = exc  # deleted meanwhile, or a map type whose slots always "exist"
        assert refused is not None  # three refusals led here
        raise refused.with_detail(f"{refused.detail}: the map refuses {key!r} as existing but has no value "
                                  f"there ({getattr(self.type, 'name', self.type)} maps cannot tell)")

    def clear(self) -> None:
        """Delete every key (an array's elements cannot be deleted: the kernel refuses); a queue or
        stack is popped until empty."""
        map_type = int(self.type)
        if map_type == MapType.BLOOM_FILTER:
            raise InvalidTypeError(self._unreadable())
        if self._keyless:
            while self.lookup_and_delete(None) is not None:
                pass
            return
        keys = range(self.max_entries) if map_type in _abi.WRITE_ONLY_MAP_TYPES else list(self.keys())
        for key in keys:
            try:
                self.delete(key)
            except KeyError:
                pass  # deleted meanwhile

    @property
    def _keyless(self) -> bool:
        return int(self.type) in _abi.KEYLESS_MAP_TYPES

    # queue / stack / bloom filter (maps without keys) ----------------------------------------

    def push(self, value: Any, flags: int = _abi.BPF_ANY) -> None:
        """Push onto a queue or stack (BPF_EXIST replaces the oldest when full)."""
        self.update(None, value, flags)

    def peek(self) -> Any:
        """The next value of a queue or stack without taking it, or None when it is empty."""
        if int(self.type) == MapType.BLOOM_FILTER:
            raise InvalidTypeError(self._unreadable())
        return self.lookup(None)

    # iteration -------------------------------------------------------------------------------

    def keys(self) -> Iterator[Any]:
        """Iterate over the keys of the live map (BPF_MAP_GET_NEXT_KEY); the empty slots of a
        prog array, map-in-map array, devmap or cpumap are skipped, as their lookups say."""
        map_type = int(self.type)
        if map_type in _abi.KEYLESS_MAP_TYPES or map_type in _abi.WRITE_ONLY_MAP_TYPES:
            raise InvalidTypeError(self._unreadable())
        key_slot, value_slot = self._slots()
        current, following = Slot(key_slot.codec), Slot(key_slot.codec)
        gil, fdbox, lock = self._lib.gil, self._fdbox, self._lock
        next_key, lookup = gil.bpf_map_get_next_key, gil.bpf_map_lookup_elem
        scratch = Slot(value_slot.codec) if map_type in _abi.SLOT_ARRAY_MAP_TYPES else None
        previous = None
        while True:
            with lock:  # each step on the fd that is open now: never a reused one (-1 once closed)
                ret = next_key(fdbox[0], previous, following.ptr)
                empty = ret == 0 and scratch is not None and lookup(fdbox[0], following.ptr, scratch.ptr) == _ENOENT
            if ret != 0:
                break
            if not empty:
                yield following.load()
            current, following = following, current
            previous = current.ptr
        if ret != _ENOENT:
            self._fail(ret, "bpf_map_get_next_key")

    def _unreadable(self) -> str:
        map_type = self.type
        name = _type_label(map_type)
        if int(map_type) in _abi.KEYLESS_MAP_TYPES:
            if int(map_type) == MapType.BLOOM_FILTER:
                return f"a {name} map has no keys and gives nothing back: push(value), then `value in map`"
            return f"a {name} map has no keys: take its values with pop() (clear() pops them all)"
        return f"the slots of a {name} map cannot be read from user space: set and delete them by index"

    __iter__ = keys

    def items(self) -> Iterator[Tuple[Any, Any]]:
        """Iterate over (key, value) pairs; keys deleted meanwhile are skipped."""
        for key in self.keys():
            value = self.lookup(key)
            if value is not None:
                yield key, value

    def values(self) -> Iterator[Any]:
        for _, value in self.items():
            yield value

    # batch operations ------------------------------------------------------------------------

    def lookup_batch(self, *, batch_size: Optional[int] = None, delete: bool = False,
                     elem_flags: int = 0) -> Tuple[List[Any], List[Any]]:
        """All entries as ``(keys, values)`` lists, read (and with ``delete``, removed) in batches
        of ``batch_size`` entries (default: the whole map, or as many as fill 4 MiB when that
        is less: the buffers are as large as a batch, not as the map's capacity)."""
        self._check_batch(batch_size)
        kc, vc = (slot.codec for slot in self._slots())
        chunk = batch_size or max(1, min(self.max_entries, _BATCH_BYTES // (kc.size + vc.size)))
        function = "bpf_map_lookup_and_delete_batch" if delete else "bpf_map_lookup_batch"
        call = getattr(self._lib.raw, function)
        opts = _batch_opts(elem_flags)
        opts_ptr = byref(opts)
        token = (ctypes.c_uint8 * max(kc.size, 8))()
        count = c_uint32()
        keys: List[Any] = []
        values: List[Any] = []
        in_batch = None
        key_buf = value_buf = None
        with self._fd_in_use() as fd:
            while True:
                if key_buf is None or len(key_buf) < chunk * kc.size:
                    key_buf = ctypes.create_string_buffer(max(chunk * kc.size, 1))
                    value_buf = ctypes.create_string_buffer(max(chunk * vc.size, 1))
                count.value = chunk
                ret = call(fd, in_batch, token, key_buf, value_buf, byref(count), opts_ptr)
                if ret == -errno.ENOSPC and count.value == 0:  # a hash bucket larger than the batch
                    chunk = min(2 * chunk, _U32_MAX)  # (the count is a u32: never reached, a bucket is smaller)
                    key_buf = None
                    continue
                n = count.value
                if n:
                    keys += kc.decode_many(key_buf, n)
                    values += vc.decode_many(value_buf, n)
                if ret == _ENOENT:
                    return keys, values
                if ret < 0:
                    error = LibbpfError.for_errno(-ret, None, function)
                    error.partial = (keys, values)  # what was read (and deleted) before the failure
                    raise error
                in_batch = token

    def update_batch(self, keys: Sequence[Any], values: Sequence[Any], *, elem_flags: int = 0) -> None:
        """Set many entries in one call (BPF_MAP_UPDATE_BATCH)."""
        if len(keys) != len(values):
            raise InvalidValueError(f"{len(keys)} keys but {len(values)} values")
        self._check_batch(count=len(keys))
        key_slot, value_slot = self._slots()
        key_buf = _pack_many(key_slot.codec, keys)
        value_buf = _pack_many(value_slot.codec, values)
        opts = _batch_opts(elem_flags)
        count = c_uint32(len(keys))
        with self._fd_in_use() as fd:
            ret = self._lib.raw.bpf_map_update_batch(fd, key_buf, value_buf, byref(count), byref(opts))
        if ret < 0:
            raise LibbpfError.for_errno(-ret, f"{describe_errno(-ret)} after {count.value} of {len(keys)} entries",
                                        "bpf_map_update_batch")

    def delete_batch(self, keys: Sequence[Any], *, elem_flags: int = 0) -> None:
        """Remove many keys in one call; a missing key is a KeyError (earlier ones are gone)."""
        self._check_batch(count=len(keys))
        key_buf = _pack_many(self._slots()[0].codec, keys)
        opts = _batch_opts(elem_flags)
        count = c_uint32(len(keys))
        with self._fd_in_use() as fd:
            ret = self._lib.raw.bpf_map_delete_batch(fd, key_buf, byref(count), byref(opts))
        if ret == _ENOENT:
            raise KeyNotFoundError(keys[count.value] if count.value < len(keys) else None)
        if ret < 0:
            raise LibbpfError.for_errno(-ret, f"{describe_errno(-ret)} after {count.value} of {len(keys)} keys",
                                        "bpf_map_delete_batch")

    def _check_batch(self, batch_size: Optional[int] = None, count: int = 0) -> None:
        """Refuse what the kernel cannot take before anything is packed: the batch size and the
        count of entries are u32 (ctypes would wrap 2**32 + 1 entries to 1)."""
        if batch_size is not None:
            check_uint(batch_size, 32, "batch_size", minimum=1)
        if count > _U32_MAX:
            raise InvalidValueError(f"a batch takes at most 2**32 - 1 entries, not {count}: split it")
        map_type = self.type
        if int(map_type) not in _abi.BATCH_MAP_TYPES:
            raise LibbpfError.for_errno(errno.EOPNOTSUPP, f"{_type_label(map_type)} maps have no batch operations")

    def __reduce__(self) -> NoReturn:
        raise InvalidTypeError("a Map is a handle on a kernel object and cannot be pickled: pickle its entries "
                               "(dict(m.items())), or pass its pin path and open it with Map.from_pinned")

    # kernel object -----------------------------------------------------------------------

    def info(self) -> MapInfo:
        """The live map's attributes as the kernel reports them."""
        with self._fd_in_use() as fd:
            return map_info(fd)

    def mmap(self) -> memoryview:
        """The values of a ``BPF_F_MMAPABLE`` array as one writable ``memoryview`` over the map's
        memory (read-only once the map is frozen, as ``.rodata`` is): value ``i`` at ``i *
        stride``, the stride being ``value_size`` rounded up to 8. ``numpy.frombuffer(view,
        dtype)`` wraps it without a copy. The same view is returned each time; it is released
        when the map closes (a later access raises), unless views made from it still exist:
        the mapping then stays until they go (never a read of freed memory)."""
        import mmap

        with self._lock:
            if self._mapping is None:
                info = self.info()
                if info.type != MapType.ARRAY or not info.flags & _abi.BPF_F_MMAPABLE:
                    raise InvalidTypeError(f"map {info.name!r} cannot be mapped: only ARRAY maps created with "
                                           "BPF_F_MMAPABLE can (global data maps are)")
                size = max(((info.value_size + 7) & ~7) * info.max_entries, 1)
                with self._fd_in_use() as fd:
                    try:
                        mapping = mmap.mmap(fd, size, mmap.MAP_SHARED, mmap.PROT_READ | mmap.PROT_WRITE)
                    except PermissionError:  # frozen (or read-only for user space): read it only
                        mapping = mmap.mmap(fd, size, mmap.MAP_SHARED, mmap.PROT_READ)
                self._mapping = (mapping, memoryview(mapping))
            return self._mapping[1]

    def freeze(self) -> None:
        """Make the map read-only for user space (BPF_MAP_FREEZE)."""
        with self._fd_in_use() as fd:
            self._lib.bpf_map_freeze(fd)

    def attach_struct_ops(self) -> Link:
        """Register a loaded object's struct_ops map with the kernel (libbpf's
        bpf_map__attach_struct_ops): a ``tcp_congestion_ops`` becomes selectable by its name while
        the Link lives. ``detach()`` or ``close()`` unregisters it; twice is harmless.

        A map of ``SEC(".struct_ops.link")`` (libbpf >= 1.2) is registered through a kernel link
        of its own: the Link outlives the Object, and can be pinned. A map of ``SEC(".struct_ops")``
        is registered through the map itself (no kernel link: libbpf's link passes the object's map
        fd): that Link has no link info and cannot be pinned, it keeps the object's maps open while
        it lives, and closing the Object unregisters it first. A map registered already is EBUSY
        (EEXIST when another registration holds its name)."""
        with _signals.deferred(), self._handle_in_use() as handle:  # no signal between the attach and its Link
            if handle is None:
                raise InvalidTypeError("attach_struct_ops needs the map from its Object (libbpf's handle and the "
                                       "programs of its operations): a map opened from a pin or an id has neither")
            if self._fd < 0:
                self._raise_unusable()
            map_type = _map_type(self._lib.bpf_map__type(handle))
            if map_type != MapType.STRUCT_OPS:
                raise InvalidTypeError(f"map {self.name!r} is a {_type_label(map_type)} map, not STRUCT_OPS: only a "
                                       "struct_ops map (SEC(\".struct_ops\") or SEC(\".struct_ops.link\")) registers")
            link = _struct_ops_link_type()._make(self._lib.bpf_map__attach_struct_ops(handle), self.name)
            try:
                if fd_kind(link.fd) != "link":  # registered through this map's fd
                    link._through = self
                    self._registrations.add(link)
            except BaseException:
                link.close()
                raise
            return link


_struct_ops_link: Optional[type] = None


def _struct_ops_link_type() -> Any:
    """The Link class of attach_struct_ops, made on first use (links are imported only when attaching)."""
    global _struct_ops_link
    if _struct_ops_link is None:
        from .links import LibbpfLink, LinkInfo

        class StructOpsLink(LibbpfLink):
            """A registered struct_ops map: a kernel link (``.struct_ops.link``), or the map itself
            (``.struct_ops``: ``_through`` is the Map whose fd libbpf's link passes, kept open by
            this reference until the link is released)."""

            _through: Optional[Map] = None

            def _no_kernel_link(self, what: str) -> LibbpfError:
                return LibbpfError.for_errno(errno.EOPNOTSUPP, f"{self.program_name!r} is registered through its "
                                             f"map, without a kernel link (SEC(\".struct_ops\")): it {what}; "
                                             "SEC(\".struct_ops.link\") makes one")

            def info(self) -> LinkInfo:
                with self._lock:
                    self._current_fd()  # (raises once closed)
                    if self._through is not None:
                        raise self._no_kernel_link("has no link info (map.info() describes the map)")
                    return super().info()

            def pin(self, path: PathLike) -> None:
                if self._through is not None:
                    raise self._no_kernel_link("cannot be pinned")
                super().pin(path)

        _struct_ops_link = StructOpsLink
    return _struct_ops_link


def map_of_type(m: Any, wanted: MapType, user: str) -> MapInfo:
    """The kernel's info of ``m``, which must be a live Map of type ``wanted`` (for ``user``)."""
    if not isinstance(m, Map):
        raise InvalidTypeError(f"{user} reads a Map, not {type(m).__name__}")
    info = m.info()
    if info.type != wanted:
        raise InvalidTypeError(f"map {info.name!r} is a {getattr(info.type, 'name', info.type)} map, not {wanted.name}")
    return info


def _batch_opts(elem_flags: int) -> _abi.BpfMapBatchOpts:
    opts = _abi.new_opts(_abi.BpfMapBatchOpts)
    opts.elem_flags = check_uint(elem_flags, 64, "elem_flags")
    return opts


def _pack_many(codec: Union[Codec, PerCpuCodec],
               items: Sequence[Any]) -> Union[ctypes.Array[ctypes.c_char], bytes, None]:
    """Consecutive encoded elements in one buffer, for a batch call: ints packed by array.array
    in C (no per-item check in Python), anything else through the element encoder."""
    if isinstance(codec, Codec) and codec.fmt is not None:
        try:
            packed = array.array(codec.fmt, items)
        except (TypeError, OverflowError):
            pass  # not all ints that fit: the per-element encoder below names the offending item
        else:
            return (ctypes.c_char * (len(packed) * packed.itemsize)).from_buffer(packed) if items else None
    return b"".join([codec.encode(item) for item in items])


_ELEMENT_OPS = ("lookup", "_getitem", "update", "delete")


def _no_value(key: Any) -> None:
    return None


def _key_error(key: Any) -> NoReturn:
    raise KeyNotFoundError(key)


def _element_ops(m: Map, op: _FdKeeper, key: Slot, value: Slot) -> Dict[str, Any]:
    """The hot element operations of one live map, as closures over its buffers.

    Ints that fit a 1/2/4/8-byte slot, and bytes of the slot's size, are written straight
    into its buffer; anything else goes through the slot's checked encoder. Nothing is
    allocated per call. That key step is written out in each operation on purpose: a shared
    helper would add a Python call (~50 ns) to every operation. Lookups keep the GIL;
    updates and deletes release it on map types whose updates sleep (map-in-map waits in
    synchronize_rcu()).

    Threads share the map without a lock: a call takes the buffers' one token (``list.pop``,
    atomic), and a call that finds it taken (another thread, or a signal handler inside a
    call) runs on a spare set of closures over buffers of their own (``Map._contended``).
    The fd is read from the box of ``op``, which every closure holds: ``close()`` sets the
    box to -1 and releases the map at once, but the fd's number stays taken while a closure
    exists (``_FdKeeper``), so a call racing a close fails with ClosedError and never reaches
    a reused fd. The closures refer to the map weakly: no reference cycle, so they (and the
    number) go as soon as the map drops them, never in a later garbage collection.
    """
    lib, name, max_entries = m._lib, m._display_name(), m.max_entries
    array_like = int(m.type) in (MapType.ARRAY, MapType.PERCPU_ARRAY, MapType.PROG_ARRAY, MapType.ARRAY_OF_MAPS,
                                 MapType.CGROUP_ARRAY, MapType.PERF_EVENT_ARRAY)
    writes = lib.raw if int(m.type) in _abi.SLEEPING_UPDATE_MAP_TYPES else lib.gil
    c_lookup, c_lookup_flags = lib.gil.bpf_map_lookup_elem, lib.gil.bpf_map_lookup_elem_flags
    c_update, c_delete = writes.bpf_map_update_elem, writes.bpf_map_delete_elem
    fdbox, this = op.box, weakref.ref(m)
    token = [None]
    take, give = token.pop, token.append  # the buffers' token: held by one call at a time
    key_buf, key_view, key_ptr, store_key = key.buf, key.view, key.ptr, key.store
    value_buf, value_view, value_ptr, store_value = value.buf, value.view, value.ptr, value.store
    key_max = key.max if key.number else -1        # -1: no int fast path
    value_max = value.max if value.number else -1
    key_size = key.size
    value_size = value.size if isinstance(value.codec, Codec) else -1  # -1: per-CPU values are lists
    value_is_int = value.number and value.codec.pytype is int
    read_value = value_view.tobytes if value.codec.pytype is bytes else value.load

    def owner() -> Map:
        found = this()
        if found is None:
            raise ClosedError(f"map {name} is closed")
        return found

    def failed(ret: int, function: str) -> LibbpfError:
        if fdbox[0] < 0:
            raise ClosedError(f"map {name} is closed")
        if ret == _E2BIG and function == "bpf_map_update_elem":
            if array_like:  # an index past the end, not a full map
                return LibbpfError.for_errno(errno.E2BIG, f"map {name}: the index is out of range (max_entries "
                                             f"{max_entries}: 0 to {max_entries - 1})", function)
            return LibbpfError.for_errno(errno.E2BIG, f"map {name} is full (max_entries {max_entries})", function)
        return LibbpfError.for_errno(-ret, None, function)

    def reader(missing: Callable[[Any], Any], operation: str) -> Callable[..., Any]:
        # Each closure holds the fd's keeper in a default: while one runs (or is kept), the number stays taken.
        def read(key: Any = None, flags: int = 0, _keeper: Any = op) -> Any:
            """This live map's ``lookup(key, flags)`` (``m[key]`` raising KeyError when missing)."""
            try:
                held = take()
            except IndexError:
                return owner()._contended(operation, key, flags)
            try:
                if type(key) is int and 0 <= key <= key_max:
                    key_buf.value = key
                elif type(key) is bytes and len(key) == key_size:
                    key_view[:] = key
                else:
                    store_key(key)
                if flags:
                    ret = c_lookup_flags(fdbox[0], key_ptr, value_ptr, _u64(flags))
                else:
                    ret = c_lookup(fdbox[0], key_ptr, value_ptr)
                if ret:  # 0 or -errno
                    if ret == _ENOENT:
                        return missing(key)
                    raise failed(ret, "bpf_map_lookup_elem")
                return value_buf.value if value_is_int else read_value()
            finally:
                give(held)
        return read

    def update(key: Any, value: Any = _NO_VALUE, flags: int = _abi.BPF_ANY, _keeper: Any = op) -> None:
        """This live map's ``update(key, value, flags)`` (or ``update(mapping)``)."""
        if value is _NO_VALUE:
            return owner()._update_many(key, flags)
        try:
            held = take()
        except IndexError:
            return owner()._contended("update", key, value, flags)
        try:
            if type(key) is int and 0 <= key <= key_max:
                key_buf.value = key
            elif type(key) is bytes and len(key) == key_size:
                key_view[:] = key
            else:
                store_key(key)
            if type(value) is int and 0 <= value <= value_max:
                value_buf.value = value
            elif type(value) is bytes and len(value) == value_size:
                value_view[:] = value
            else:
                store_value(value)
            ret = c_update(fdbox[0], key_ptr, value_ptr, _u64(flags) if flags else _NO_FLAGS)
            if ret:
                raise failed(ret, "bpf_map_update_elem")
        finally:
            give(held)

    def delete(key: Any, _keeper: Any = op) -> None:
        """This live map's ``delete(key)``: KeyError when it is not there."""
        try:
            held = take()
        except IndexError:
            return owner()._contended("delete", key)
        try:
            if type(key) is int and 0 <= key <= key_max:
                key_buf.value = key
            elif type(key) is bytes and len(key) == key_size:
                key_view[:] = key
            else:
                store_key(key)
            ret = c_delete(fdbox[0], key_ptr)
            if ret:
                if ret == _ENOENT:
                    raise KeyNotFoundError(key)
                raise failed(ret, "bpf_map_delete_elem")
        finally:
            give(held)

    lookup = reader(_no_value, "lookup")
    return {"lookup": lookup, "_getitem": reader(_key_error, "_getitem"), "update": update, "delete": delete}


MutableMapping.register(Map)
