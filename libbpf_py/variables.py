"""An object's global variables by name: the ``.bss``, ``.data``, ``.rodata``, ``.data.*``,
``.rodata.*`` and ``.kconfig`` sections libbpf turns into maps, read through the object's BTF.

Before load, a write sets the section's initial value (``bpf_map__set_initial_value``): that
is how a ``const volatile`` setting reaches the program. A structure or array changed in place
before load (``obj.globals["cfg"].limit = 5``) reaches it at load. After load, reads and writes go
straight to the map's memory, mapped into this process (no syscall): the program sees a write
at once, and its writes are read at once. A frozen section (``.rodata``, ``.kconfig``) is read
from a copy taken at load, and writing it raises.

Values are ctypes values made from BTF (:mod:`btf_ctypes`): ints for integers and enums,
ctypes structures and arrays for the others (a structure of a live section reads and writes
the map's memory itself), and a ``char`` array all its bytes (a :class:`~libbpf_py.btf_ctypes.Chars`,
whose ``value`` is the C string). A write takes the same, or a dict for a structure and a list
for an array, or bytes (or str, encoded as UTF-8) for a ``char`` array: shorter than the array,
the rest is zero-filled.
"""

from __future__ import annotations

import ctypes
from collections.abc import MutableMapping
from typing import TYPE_CHECKING, Any, Dict, Iterator, List, Tuple

from ._checks import Named
from .btf_ctypes import Types
from .elf import btf as _btf
from .errors import BtfTypeError, ClosedError, InvalidTypeError, InvalidValueError, KeyNotFoundError, ReadOnlyError

if TYPE_CHECKING:
    from .maps import Map


_INT_CODES = frozenset("bBhHiIlLqQ?")  # ctypes' integer type codes (lower case: signed)


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
        self._sections: Dict[str, _Section] = Named("global data section")
        self._where: Any = Named("global variable")  # variable name -> the section values that hold it (the fast path)
        self._section_of: Dict[str, str] = Named("global variable")
        lib = obj._lib
        for m in obj.maps.values():
            if not lib.bpf_map__is_internal(m._described()):
                continue
            datasec = lib.bpf_map__btf_value_type_id(m._described())
            if not datasec or types.btf.get(datasec).kind != _btf.DATASEC:
                continue  # e.g. .rodata.str1.1: constant strings, no variables
            section_name = types.btf.name(types.btf.get(datasec))
            _check_size(section_name, types.btf.get(datasec).size_or_type, m.value_size)
            frozen = section_name == ".kconfig" or section_name.startswith(".rodata")
            section = self._sections[section_name] = _Section(m, types.of(datasec), frozen)
            for variable in _variables(section.layout):
                self._section_of.setdefault(variable, section_name)
        self._refresh()

    def _refresh(self) -> None:
        """Where each variable's value is: the initial value (before load), the map (after)."""
        loaded = self._object.loaded
        fresh = {name: _values(self._object, section, loaded) for name, section in self._sections.items()}
        for name, (values, live) in fresh.items():  # all or nothing: every section was read first
            self._sections[name].values, self._sections[name].live = values, live
        where = Named("global variable")
        where.update((variable, self._sections[name].values) for variable, name in self._section_of.items())
        self._where = where

    def _reread(self, map_name: str) -> None:
        """A section map's initial value was set (before load): its variables read the new one,
        in the values they hold (a structure read before stays the variable's own)."""
        for section in self._sections.values():
            if section.map.name == map_name and not section.live and section.values is not None:
                fresh = bytes(_values(self._object, section, False)[0])
                ctypes.memmove(ctypes.addressof(section.values), fresh, len(fresh))

    def _changed_in_place(self) -> List[Tuple[str, bytes]]:
        """(map, bytes) of each section a structure or array changed in place before load
        (``obj.globals["cfg"].limit = 5``): the initial value libbpf must take at load."""
        changed = []
        for name, section in self._sections.items():
            if section.live or section.values is None or name == ".kconfig":
                continue
            mine = bytes(section.values)
            full = _with_initial_value(self._object, section, mine)
            if full != _initial_value(self._object, section):
                changed.append((section.map.name, full))
        return changed

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
            raise ReadOnlyError(f"{name} is in {self._section_of[name]}, which is read-only once loaded")
        if section.frozen and self._section_of[name] == ".kconfig":
            raise ReadOnlyError(f"{name} is a .kconfig value: libbpf sets it at load")
        field_type = dict(_fields(section.layout))[name]
        if isinstance(value, dict) and isinstance(field_type, type) and \
                issubclass(field_type, (ctypes.Structure, ctypes.Union)):  # the members named change, the rest stay
            value = _merged(field_type, getattr(values, name), value, name)
        value = _coerce(field_type, value, name)
        if section.live:
            setattr(values, name, value)
            return
        # before load: the section's initial value, as libbpf will create the map with it; what
        # the globals read changes only once libbpf took it (a refused edit leaves both alone)
        layout = type(values)
        changed = _from_buffer(layout, bytearray(bytes(values)))
        setattr(changed, name, value)
        held = len(_initial_value(self._object, section))
        if bytes(changed)[held:] != bytes(values)[held:]:  # the section's map was made smaller
            raise InvalidValueError(f"{name} lies past the end of section {self._section_of[name]}, whose map "
                                    f"holds {held} bytes now")
        self._object._edit("map", section.map.name, "bpf_map__set_initial_value",
                           _with_initial_value(self._object, section, bytes(changed)))
        ctypes.memmove(ctypes.addressof(values), ctypes.addressof(changed), ctypes.sizeof(layout))

    def __delitem__(self, name: str) -> None:
        raise InvalidTypeError("global variables cannot be deleted")

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
        if self._sections[name].live and not self._sections[name].frozen:
            return values
        layout: Any = type(values)
        return type(layout).from_buffer_copy(layout, values)  # (through the metaclass: see _from_buffer)

    @property
    def sections(self) -> List[str]:
        return list(self._sections)

    def __repr__(self) -> str:
        return f"<Globals of {self._object.name!r}: {', '.join(self._section_of)}>"


def _check_size(section_name: str, btf_size: int, map_size: int) -> None:
    """The values of a section are as large as its BTF says: refuse a BTF that claims more than
    the map holds (a crafted size would make this process allocate it)."""
    if btf_size > map_size:
        raise BtfTypeError(f"section {section_name}: its BTF claims {btf_size} bytes, its map holds {map_size}")


def _values(obj: Any, section: _Section, loaded: bool) -> Tuple[Any, bool]:
    """The section's values: a copy of its initial value before load; after load the map's
    memory (a copy when frozen: it cannot change)."""
    layout, m = section.layout, section.map
    size = ctypes.sizeof(layout)
    if not loaded:
        values = _from_buffer(layout, bytearray(size))
        held = _initial_value(obj, section)[:size]
        ctypes.memmove(ctypes.addressof(values), held, len(held))
        return values, False
    try:
        view = m.mmap()
    except TypeError:  # not mmapable (frozen .rodata on some libbpf versions): read it once
        return _from_buffer(layout, bytearray(m.lookup(bytes(4))[:size])), True
    if view.readonly:
        return _from_buffer(layout, bytearray(view[:size])), True
    return _from_buffer(layout, view), True


def _initial_value(obj: Any, section: _Section) -> bytes:
    """The section map's initial value as libbpf holds it now (its value size: a resize changes it)."""
    length = ctypes.c_size_t()
    pointer = obj._lib.bpf_map__initial_value(section.map._described(), ctypes.byref(length))
    return ctypes.string_at(pointer, length.value) if pointer else b""


def _with_initial_value(obj: Any, section: _Section, values: bytes) -> bytes:
    """``values`` (the section's variables, as BTF lays them out) over the map's initial value,
    as long as libbpf takes it: the section map's value size, which a resize may have changed."""
    full = bytearray(_initial_value(obj, section))
    kept = min(len(values), len(full))
    full[:kept] = values[:kept]
    return bytes(full)


def _from_buffer(layout: Any, buffer: Any) -> Any:
    """``layout.from_buffer(buffer)`` through the metaclass: a variable may be named
    ``from_buffer`` and hide the class's own method."""
    return type(layout).from_buffer(layout, buffer)


def _fields(layout: Any) -> List[Tuple[str, Any]]:
    """(name, ctypes type) of a record's members (not the padding btf_ctypes adds, named "@...")."""
    fields = [(field[0], field[1]) for field in layout._fields_ if not field[0].startswith("@")]
    return fields + [(name, int) for name, *_ in getattr(layout, "_bitfields_", ())]


def _merged(ctype: Any, current: Any, changes: Dict[str, Any], name: str) -> Any:
    """A copy of the structure ``current`` with the members ``changes`` names set."""
    made = type(ctype).from_buffer_copy(ctype, bytes(current))
    known = dict(_fields(ctype))
    for key, item in changes.items():
        if key not in known:
            raise KeyNotFoundError(f"{name} ({ctype.__name__}) has no member {key!r}")
        inner = known[key]
        if isinstance(item, dict) and isinstance(inner, type) and issubclass(inner, (ctypes.Structure, ctypes.Union)):
            item = _merged(inner, getattr(made, key), item, f"{name}.{key}")
        setattr(made, key, _coerce(inner, item, f"{name}.{key}"))
    return made


def _variables(layout: Any) -> List[str]:
    return [name for name, _ in _fields(layout)]


def _coerce(ctype: Any, value: Any, name: str) -> Any:
    """``value`` as ctypes takes it for a field of ``ctype``: dicts for structures, lists for
    arrays, str for char arrays."""
    if isinstance(value, ctype) or not isinstance(ctype, type):
        return value
    if issubclass(ctype, (ctypes.Structure, ctypes.Union)) and isinstance(value, dict):
        return _merged(ctype, ctype(), value, name)
    code = getattr(ctype, "_type_", None)
    if isinstance(code, str) and code in _INT_CODES:
        if isinstance(value, float) or not isinstance(value, int):
            raise InvalidTypeError(f"{name} is an integer, not {value!r}")
        size = ctypes.sizeof(ctype)
        low, high = (-(1 << (8 * size - 1)), 1 << (8 * size - 1)) if code.islower() else (0, 1 << (8 * size))
        if code == "?":
            low, high = 0, 2
        if not low <= value < high:
            raise InvalidValueError(f"{value} does not fit in {name} ({low} to {high - 1})")
        return value
    if issubclass(ctype, ctypes.Array):
        array: Any = ctype  # (the type checker reads _type_ and _length_ as methods)
        item_type, length = array._type_, array._length_
        if isinstance(value, str) and item_type is ctypes.c_char:
            value = value.encode()
        if isinstance(value, (bytes, bytearray)) and item_type is ctypes.c_char:
            if len(value) > length:
                raise InvalidValueError(f"{name} holds {length} bytes, not {len(value)}")
            return ctype.from_buffer_copy(bytes(value).ljust(length, b"\0"))  # (an array's item takes no bytes)
        if isinstance(value, (list, tuple)):
            if len(value) > length:
                raise InvalidValueError(f"{name} holds {length} items, not {len(value)}")
            return ctype(*(_coerce(item_type, item, f"{name}[{i}]") for i, item in enumerate(value)))
    return value
