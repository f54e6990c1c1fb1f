"""Map keys and values as plain Python values, read through BTF: what ``libbpf-py map`` prints
and accepts (and what ``--json`` holds).

- integers are ints (``bool`` for a BTF bool), enums the enumerator's name (an int when no
  enumerator has the value), floats floats, pointers ints;
- a struct or union is a dict by member name (an anonymous member's fields join it, as in C;
  bitfields read as ints);
- an array is a list, and a ``char`` array (not ``__u8``) a str, up to its first NUL, when it
  holds UTF-8 text and nothing but NULs after it; otherwise a list of its chars as ints (as
  bpftool prints it), so that no byte is lost and :func:`encode` writes it back as it was;
- what BTF gives no shape (a forward declaration, void) stays bytes.

:func:`encode` is the inverse: it takes the same values (and also ints for enums, bytes for
char arrays) and builds the bytes, zero where a value leaves a member out.
"""

from __future__ import annotations

import struct
import sys
from typing import Any, Dict, Iterator, Literal, NamedTuple, Optional, Tuple

from .elf import btf as _btf
from .elf.btf import Btf
from .errors import InvalidValueError
from .info import MapInfo, btf_bytes

_MAX_DEPTH = 64  # nesting deeper than this is refused (BTF from another process is not trusted)
_MAX_SIZE = (1 << 32) - 1  # a map's key and value sizes are 32-bit


def decode(btf: Btf, type_id: int, data: bytes) -> Any:
    """The Python value of the bytes ``data`` of BTF type ``type_id``. A type that would take
    more work than its bytes can justify (arrays of empty structs, types that repeat themselves)
    is refused with ValueError."""
    return _Reader(btf, _budget(len(data))).value(type_id, bytes(data), 0, 0)


def encode(btf: Btf, type_id: int, value: Any, size: Optional[int] = None) -> bytes:
    """The bytes of BTF type ``type_id`` holding ``value`` (see the module's rules); ``size``: the
    bytes the map's key or value has, which the type must have too (checked before any allocation)."""
    found = btf.size_of(type_id)
    if found is None:
        raise InvalidValueError(f"BTF type {type_id} has no size")
    if size is not None and found != size:
        raise InvalidValueError(f"BTF type {type_id} is {found} bytes, the map's have {size}")
    if found > _MAX_SIZE:
        raise InvalidValueError(f"BTF type {type_id} is {found} bytes: more than a map's key or value holds")
    size = found
    out = bytearray(size)
    _Writer(btf, _budget(size)).put(type_id, value, out, 0, 0)
    return bytes(out)


def _budget(size: int) -> int:
    """Values a walk over ``size`` bytes may visit: eight one-bit fields a byte and the struct
    holding them, nested a few deep."""
    return 64 + 16 * size


class MapTypes(NamedTuple):
    """A live map's BTF and the ids of its key and value types (0: none)."""

    btf: Btf
    key: int
    value: int

    @classmethod
    def of(cls, info: MapInfo) -> Optional["MapTypes"]:
        """What the kernel holds for the map, or None when it was created without BTF."""
        if not info.btf_id or not (info.btf_key_type_id or info.btf_value_type_id):
            return None
        return cls(Btf.parse(btf_bytes(info.btf_id), sys.byteorder), info.btf_key_type_id,
                   info.btf_value_type_id)


def _array_shape(btf: Btf, t: _btf.Type) -> Tuple[int, int]:
    elem, _index, count = struct.unpack_from(btf._e + "III", t.tail)
    return elem, count


def _enumerators(btf: Btf, t: _btf.Type) -> Iterator[Tuple[str, int]]:
    """(name, value) of an ENUM or ENUM64, values signed when the kind flag says so."""
    signed = bool(t.info >> 31)
    for i in range(t.vlen):
        if t.kind == _btf.ENUM:
            name_off, raw = struct.unpack_from(btf._e + "Ii", t.tail, 8 * i)
            value = raw if signed else raw & 0xFFFFFFFF
        else:
            name_off, lo, hi = struct.unpack_from(btf._e + "III", t.tail, 12 * i)
            value = hi << 32 | lo
            if signed and value >= 1 << 63:
                value -= 1 << 64
        yield btf.name(_btf.Type(name_off, 0, 0)), value


def _is_bool(btf: Btf, t: _btf.Type) -> bool:
    return t.kind == _btf.INT and bool(btf.int_shape(t)[0] & _btf.INT_BOOL)


def _is_char(btf: Btf, type_id: int) -> bool:
    t = btf.get(btf.resolve(type_id))
    return t.kind == _btf.INT and t.size_or_type == 1 and (
        bool(btf.int_shape(t)[0] & _btf.INT_CHAR) or btf.name(t) == "char")  # not __u8 (unsigned char)


def _c_string(raw: bytes) -> Optional[str]:
    """The text of a char array holding UTF-8 text and only NULs after it; None when a str would
    lose bytes (then the array reads as a list)."""
    text, _, rest = raw.partition(b"\0")
    if rest.count(0) != len(rest):
        return None
    try:
        return text.decode("utf-8")
    except UnicodeDecodeError:
        return None


class _Walk:
    def __init__(self, btf: Btf, budget: int):
        self.btf = btf
        self.order: Literal["little", "big"] = "little" if btf.byteorder == "little" else "big"
        self.budget = budget  # values left to visit: bounds the work by the size of the bytes

    def _descend(self, depth: int) -> int:
        if depth >= _MAX_DEPTH:
            raise InvalidValueError(f"BTF types nest deeper than {_MAX_DEPTH} levels")
        self._spend(1)
        return depth + 1

    def _spend(self, values: int) -> None:
        """Count ``values`` more visited (a bitfield, the names of an anonymous member)."""
        self.budget -= values
        if self.budget < 0:
            raise InvalidValueError("the BTF type has more members than its bytes can hold (e.g. an array of "
                                    "empty structs, or of overlapping bitfields): not decoded")

    def _bit_range(self, bit_offset: int, bits: int) -> Tuple[int, int, int]:
        """(first byte, byte count, shift) of a bitfield inside an integer read in byte order."""
        first, count = bit_offset // 8, (bit_offset % 8 + bits + 7) // 8
        if self.order == "little":
            return first, count, bit_offset % 8
        return first, count, 8 * count - bits - bit_offset % 8


class _Reader(_Walk):
    def value(self, type_id: int, data: bytes, at: int, depth: int) -> Any:
        btf = self.btf
        depth = self._descend(depth)
        type_id = btf.resolve(type_id)
        t = btf.get(type_id) if type_id else None
        kind = t.kind if t is not None else 0
        if t is None or kind in (_btf.FWD, _btf.FUNC, _btf.FUNC_PROTO):
            return data[at:]
        size = btf.size_of(type_id) or 0
        if at + size > len(data):
            raise InvalidValueError(f"{len(data)} bytes are too few for BTF type {type_id} ({size} bytes at {at})")
        if kind == _btf.INT:
            encoding, bit_offset, bits = btf.int_shape(t)
            raw = int.from_bytes(data[at:at + size], self.order)
            if bits != 8 * size:
                raw = (raw >> bit_offset) & ((1 << bits) - 1)
            return self._int(raw, encoding, bits)
        if kind == _btf.PTR:
            return int.from_bytes(data[at:at + size], self.order)
        if kind in (_btf.ENUM, _btf.ENUM64):
            raw = int.from_bytes(data[at:at + size], self.order, signed=bool(t.info >> 31))
            return next((name for name, v in _enumerators(btf, t) if v == raw), raw)
        if kind == _btf.FLOAT:
            fmt = {4: "f", 8: "d"}.get(size)
            return struct.unpack_from(btf._e + fmt, data, at)[0] if fmt else data[at:at + size]
        if kind == _btf.ARRAY:
            elem, count = _array_shape(btf, t)
            text = _c_string(data[at:at + count]) if _is_char(btf, elem) else None
            if text is not None:
                return text
            step = btf.size_of(elem) or 0
            return [self.value(elem, data, at + i * step, depth) for i in range(count)]
        if kind == _btf.DATASEC:  # global variables: by name, as bpftool shows them
            return {btf.name(btf.get(var)): self.value(var, data, at + offset, depth)
                    for var, offset, _size in btf.datasec_entries(t)}
        if kind in (_btf.STRUCT, _btf.UNION):
            out: Dict[str, Any] = {}
            for name, member, bit_offset, bits in btf.fields(t):
                if bits:
                    self._spend(1)
                    first, count, shift = self._bit_range(bit_offset, bits)
                    raw = int.from_bytes(data[at + first:at + first + count], self.order) >> shift
                    target = btf.get(btf.resolve(member))
                    encoding = btf.int_shape(target)[0] if target.kind == _btf.INT else 0
                    item = self._int(raw & ((1 << bits) - 1), encoding, bits)
                else:
                    item = self.value(member, data, at + bit_offset // 8, depth)
                if not name and isinstance(item, dict):
                    out.update(item)  # an anonymous struct or union: its members are this one's
                else:
                    out[name] = item
            return out
        return data[at:at + size]

    @staticmethod
    def _int(raw: int, encoding: int, bits: int) -> Any:
        if encoding & _btf.INT_BOOL:
            return bool(raw)
        if encoding & _btf.INT_SIGNED and raw >= 1 << (bits - 1):
            return raw - (1 << bits)
        return raw


class _Writer(_Walk):
    def put(self, type_id: int, value: Any, out: bytearray, at: int, depth: int) -> None:
        btf = self.btf
        depth = self._descend(depth)
        type_id = btf.resolve(type_id)
        t = btf.get(type_id) if type_id else None
        size = btf.size_of(type_id) if t is not None else None
        if t is None or size is None or t.kind in (_btf.FWD, _btf.FUNC, _btf.FUNC_PROTO):
            raise InvalidValueError(f"BTF type {type_id} has no shape to write")
        kind = t.kind
        if kind in (_btf.STRUCT, _btf.UNION):
            self._record(t, value, out, at, depth)
        elif kind == _btf.DATASEC:
            if not isinstance(value, dict):
                raise InvalidValueError(f"expected a dict of variables, got {value!r}")
            left = dict(value)
            for var, offset, _size in btf.datasec_entries(t):
                name = btf.name(btf.get(var))
                if name in left:
                    self.put(var, left.pop(name), out, at + offset, depth)
            if left:
                raise InvalidValueError(f"section {btf.name(t)} has no variable {sorted(left)[0]!r}")
        elif kind == _btf.ARRAY:
            elem, count = _array_shape(btf, t)
            if _is_char(btf, elem) and isinstance(value, (str, bytes)):
                raw = value.encode() if isinstance(value, str) else value
                if len(raw) > count:
                    raise InvalidValueError(f"{value!r} is longer than its char[{count}]")
                out[at:at + len(raw)] = raw
                return
            if not isinstance(value, (list, tuple)) or len(value) > count:
                raise InvalidValueError(f"expected a list of at most {count} items, got {value!r}")
            step = btf.size_of(elem) or 0
            for i, item in enumerate(value):
                self.put(elem, item, out, at + i * step, depth)
        elif kind == _btf.FLOAT and size in (4, 8):
            if isinstance(value, bool) or not isinstance(value, (int, float)):
                raise InvalidValueError(f"expected a number, got {value!r}")
            try:
                struct.pack_into(btf._e + {4: "f", 8: "d"}[size], out, at, value)
            except (OverflowError, struct.error):
                raise InvalidValueError(f"{value!r} does not fit in a {size}-byte float") from None
        elif kind in (_btf.INT, _btf.PTR, _btf.ENUM, _btf.ENUM64):
            number = self._number(t, value)
            bits = btf.int_shape(t)[2] if kind == _btf.INT else 8 * size
            self._check_range(number, bits, btf.signed(t), f"a {size}-byte integer", _is_bool(btf, t))
            out[at:at + size] = (number & ((1 << (8 * size)) - 1)).to_bytes(size, self.order)
        else:
            raise InvalidValueError(f"BTF type {type_id} (kind {kind}) cannot be written from {value!r}")

    def _record(self, t: _btf.Type, value: Any, out: bytearray, at: int, depth: int) -> None:
        if not isinstance(value, dict):
            raise InvalidValueError(f"expected a dict for struct {self.btf.name(t) or '(anonymous)'}, got {value!r}")
        left = dict(value)
        for name, member, bit_offset, bits in self.btf.fields(t):
            if not name:  # an anonymous struct or union takes its members from this dict
                inner = self.btf.get(self.btf.resolve(member))
                names = [n for n, _, _, _ in self.btf.fields(inner)] if inner.kind in (
                    _btf.STRUCT, _btf.UNION) else []
                self._spend(len(names))
                mine = {n: left.pop(n) for n in names if n in left}
                if mine:
                    self.put(member, mine, out, at + bit_offset // 8, depth)
                continue
            if name not in left:
                continue
            item = left.pop(name)
            if bits:
                self._spend(1)
                target = self.btf.get(self.btf.resolve(member))
                number = self._number(target, item)
                first, count, shift = self._bit_range(bit_offset, bits)
                self._check_range(number, bits, self.btf.signed(target), name)
                mask = ((1 << bits) - 1) << shift
                span = slice(at + first, at + first + count)
                word = int.from_bytes(out[span], self.order) & ~mask | (number << shift) & mask
                out[span] = word.to_bytes(count, self.order)
            else:
                self.put(member, item, out, at + bit_offset // 8, depth)
        if left:
            raise InvalidValueError(f"struct {self.btf.name(t) or '(anonymous)'} has no member {sorted(left)[0]!r}")

    def _number(self, t: _btf.Type, value: Any) -> int:
        if t.kind in (_btf.ENUM, _btf.ENUM64) and isinstance(value, str):
            for name, number in _enumerators(self.btf, t):
                if name == value:
                    return number
            raise InvalidValueError(f"enum {self.btf.name(t) or '(anonymous)'} has no enumerator {value!r}")
        if not isinstance(value, int):
            raise InvalidValueError(f"expected an integer, got {value!r}")
        return int(value)

    @staticmethod
    def _check_range(number: int, bits: int, signed: bool, what: str, boolean: bool = False) -> None:
        low, high = (-(1 << (bits - 1)), 1 << (bits - 1)) if signed else (0, 1 << bits)
        if boolean:
            low, high = 0, 2
        if not low <= number < high:
            kind = "bool" if boolean else f"{'signed' if signed else 'unsigned'} {bits} bits"
            raise InvalidValueError(f"{number} does not fit in {what} ({kind}: {low} to {high - 1})")
