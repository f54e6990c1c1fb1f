"""An object's global variables by name: the ``.bss``, ``.data``, ``.rodata``, ``.data.*``,
``.rodata.*`` and ``.kconfig`` sections libbpf turns into maps, read through the object's BTF.

Before load, a write sets the section's initial value (``bpf_map__set_initial_value``): that
is how a ``const volatile`` setting reaches the program. After load, reads and writes go
straight to the map's memory, mapped into this process (no syscall): the program sees a write
at once, and its writes are read at once. A frozen section (``.rodata``, ``.kconfig``) is read
from a copy taken at load, and writing it raises.

Values are ctypes values made from BTF (:mod:`btf_ctypes`): ints for integers and enums,
ctypes structures and arrays for the others (a structure of a live section reads and writes
the map's memory itself). A write takes the same, or a dict for a structure and a list for an
array, or bytes for a ``char`` array.
"""

from __future__ import annotations

import ctypes
from collections.abc import MutableMapping

from .btf_ctypes import Types
from .elf import btf as _btf
from .errors import ClosedError

TYPE_CHECKING = False  # typing is imported by the type checker only (see _typing.py)
if TYPE_CHECKING:
    from typing import Any, Dict, Iterator, List, Tuple

    from .maps import Map


class _Section:
    """One section: its map, its ctypes layout, and where its values are now."""

    def __init__(self, m: Map, layout: Any, frozen: bool):
        self.map, self.layout, self.frozen = m, layout, frozen
        self.values: Any = None   # an instance of layout: a copy before load, the map's memory after
        self.live = False


class _Closed:
    def __getitem__(self, name: str) -> Any:
        raise ClosedError("the object of these globals is closed")

    def get(self, name: str, default: Any = None) -> Any:
        raise ClosedError("the object of these globals is closed")


class Globals(MutableMapping):  # type: ignore[type-arg]
    """The global variables of one :class:`~libbpf_py.Object`, by name."""

    def __init__(self, obj: Any, types: Types):
        self._object = obj
        self._sections: Dict[str, _Section] = {}
        self._where: Any = {}   # variable name -> the section values that hold it (the fast path)
        self._section_of: Dict[str, str] = {}
        lib = obj._lib
        for m in obj.maps.values():
            if not lib.bpf_map__is_internal(m._handle):
                continue
            datasec = lib.bpf_map__btf_value_type_id(m._handle)
            if not datasec or types.btf.get(datasec).kind != _btf.DATASEC:
                continue  # e.g. .rodata.str1.1: constant strings, no variables
            section_name = types.btf.name(types.btf.get(datasec))
            frozen = section_name == ".kconfig" or section_name.startswith(".rodata")
            section = self._sections[section_name] = _Section(m, types.of(datasec), frozen)
            for variable in _variables(section.layout):
                self._section_of.setdefault(variable, section_name)
        self._refresh()

    def _refresh(self) -> None:
        """Where each variable's value is: the initial value (before load), the map (after)."""
        loaded = self._object.loaded
        for section in self._sections.values():
            section.values, section.live = _values(self._object, section, loaded)
        self._where = {variable: self._sections[name].values for variable, name in self._section_of.items()}

    def _closed(self) -> None:
        """The object closed: nothing more is read or written through these globals."""
        self._where = _Closed()
        for section in self._sections.values():
            section.values = None

    # the mapping ------------------------------------------------------------------------------

    def __getitem__(self, name: str) -> Any:
        return getattr(self._where[name], name)

    def __setitem__(self, name: str, value: Any) -> None:
        values = self._where[name]
        section = self._sections[self._section_of[name]]
        if section.live and section.frozen:
            raise PermissionError(f"{name} is in {self._section_of[name]}, which is read-only once loaded")
        if section.frozen and self._section_of[name] == ".kconfig":
            raise PermissionError(f"{name} is a .kconfig value: libbpf sets it at load")
        field_type = dict(_fields(section.layout))[name]
        setattr(values, name, _coerce(field_type, value, name))
        if not section.live:  # the section's initial value, as libbpf will create the map with it
            self._object._edit("map", section.map.name, "bpf_map__set_initial_value", bytes(values))

    def __delitem__(self, name: str) -> None:
        raise TypeError("global variables cannot be deleted")

    def __iter__(self) -> Iterator[str]:
        return iter(self._section_of)

    def __len__(self) -> int:
        return len(self._section_of)

    def __contains__(self, name: object) -> bool:
        return name in self._section_of

    def section(self, name: str) -> Any:
        """The values of section ``name`` (``".bss"``...) as one ctypes structure: after load, for
        a section that is not frozen, the map's memory itself (``obj.globals.section(".bss").packets``
        reads it with no lookup at all). Before load, and for a frozen section, a copy."""
        values = self._sections[name].values
        if values is None:
            raise ClosedError("the object of these globals is closed")
        return values if self._sections[name].live and not self._sections[name].frozen else \
            type(values).from_buffer_copy(values)

    @property
    def sections(self) -> List[str]:
        return list(self._sections)

    def __repr__(self) -> str:
        return f"<Globals of {self._object.name!r}: {', '.join(self._section_of)}>"


def _values(obj: Any, section: _Section, loaded: bool) -> Tuple[Any, bool]:
    """The section's values: a copy of its initial value before load; after load the map's
    memory (a copy when frozen: it cannot change)."""
    layout, m = section.layout, section.map
    size = ctypes.sizeof(layout)
    if not loaded:
        length = ctypes.c_size_t()
        pointer = obj._lib.bpf_map__initial_value(m._handle, ctypes.byref(length))
        data = ctypes.string_at(pointer, min(length.value, size)) if pointer else b""
        return layout.from_buffer(bytearray(data.ljust(size, b"\0"))), False
    try:
        view = m.mmap()
    except TypeError:  # not mmapable (frozen .rodata on some libbpf versions): read it once
        m_key = bytes(4)
        return layout.from_buffer_copy(m.lookup(m_key)[:size]), True
    if view.readonly:
        return layout.from_buffer_copy(view[:size]), True
    return layout.from_buffer(view), True


def _fields(layout: Any) -> List[Tuple[str, Any]]:
    return [(field[0], field[1]) for field in layout._fields_ if not field[0].startswith(("_pad", "_bits"))]


def _variables(layout: Any) -> List[str]:
    return [name for name, _ in _fields(layout)]


def _coerce(ctype: Any, value: Any, name: str) -> Any:
    """``value`` as ctypes takes it for a field of ``ctype``: dicts for structures, lists for
    arrays, str for char arrays."""
    if isinstance(value, ctype) or not isinstance(ctype, type):
        return value
    if issubclass(ctype, (ctypes.Structure, ctypes.Union)) and isinstance(value, dict):
        made = ctype()
        known = dict(_fields(ctype))
        for key, item in value.items():
            if key not in known and not hasattr(ctype, key):
                raise KeyError(f"{name} ({ctype.__name__}) has no member {key!r}")
            setattr(made, key, _coerce(known.get(key, int), item, f"{name}.{key}"))
        return made
    if issubclass(ctype, ctypes.Array):
        array: Any = ctype  # (the type checker reads _type_ and _length_ as methods)
        item_type, length = array._type_, array._length_
        if isinstance(value, str) and item_type is ctypes.c_char:
            value = value.encode()
        if isinstance(value, (bytes, bytearray)) and item_type is ctypes.c_char:
            if len(value) > length:
                raise ValueError(f"{name} holds {length} bytes, not {len(value)}")
            return value
        if isinstance(value, (list, tuple)):
            if len(value) > length:
                raise ValueError(f"{name} holds {length} items, not {len(value)}")
            return ctype(*(_coerce(item_type, item, f"{name}[{i}]") for i, item in enumerate(value)))
    return value
