"""ctypes types made from BTF: a map's key and value, a ring buffer's record, a section of global
variables, laid out exactly as the BPF program sees them, without writing them again by hand.

- integers keep their size and sign (``bool`` is ``c_bool``), enums are integers of their size
  and sign, floats ``c_float``/``c_double``, pointers ``c_uint64`` (a BPF pointer is not one of
  this process), typedefs and qualifiers what they name;
- ``char[N]`` is ``c_char * N``, other arrays ``T * N``;
- structs and unions become ``Structure``/``Union`` classes named as in C (``anon_struct_ID``
  for anonymous ones; an anonymous member's fields read as the outer type's, as in C), with
  bitfields; each is checked against BTF (every member's offset, the size) and padded where
  the compiler packed or aligned it differently than ctypes would;
- a ``char[N]`` member reads as all its N bytes, a :class:`Chars` (``bytes``) whose ``value``
  is the C string up to the first NUL (ctypes alone would cut there and lose the rest); it
  takes bytes of at most N, the rest zero-filled. A ``char[M][N]`` member's items are ctypes'
  ``c_char * N`` arrays, whose ``raw`` and ``value`` read the same way.

:meth:`Types.check` compares a ctypes type the user wrote with BTF and names the first member
that differs.
"""

from __future__ import annotations

import ctypes
import struct
from typing import Any, Dict, List, Optional, Set, Tuple, Union

from .elf import btf as _btf
from .elf.btf import Btf
from .errors import BtfTypeError, InvalidTypeError, InvalidValueError, MissingTypeError

_MAX_DEPTH = 64
# ctypes lays out an array member of a record of up to 16 bytes element by element (a pointer
# each, to pass it by value): elements of no size leave the count unbounded by the bytes
_MAX_EMPTY_ELEMENTS = 64
_MIN_BUDGET, _BUDGET_PER_BYTE = 1 << 12, 4  # members Types may make (see Types.__init__)
_UNSIGNED = {1: ctypes.c_uint8, 2: ctypes.c_uint16, 4: ctypes.c_uint32, 8: ctypes.c_uint64}
_SIGNED = {1: ctypes.c_int8, 2: ctypes.c_int16, 4: ctypes.c_int32, 8: ctypes.c_int64}


class Chars(bytes):
    """All N bytes of a ``char[N]`` member, NULs and what follows them included. As on a ctypes
    char array, ``value`` is the C string (up to the first NUL) and ``raw`` every byte; ``text``
    is the C string decoded (UTF-8, other bytes as backslash escapes)."""

    __slots__ = ()

    @property
    def value(self) -> bytes:
        return bytes(self).split(b"\0", 1)[0]

    @property
    def raw(self) -> bytes:
        return bytes(self)

    @property
    def text(self) -> str:
        return self.value.decode("utf-8", "backslashreplace")


class Types:
    """The ctypes types of one BTF, made on first use and kept."""

    def __init__(self, btf: Btf):
        self.btf = btf
        self._made: Dict[int, Any] = {}
        # members made, own and lifted from anonymous ones (ctypes makes each again in every
        # record that lifts it): bounded by the BTF's bytes, as one struct lifted many times
        # would otherwise cost the product of the counts
        self._budget = _MIN_BUDGET + _BUDGET_PER_BYTE * (len(btf.strings) + sum(12 + len(t.tail) for t in btf.types))
        self._weight: Dict[Any, int] = {}  # record class -> the members a record lifting it makes

    def __getitem__(self, name: str) -> Any:
        """The type called ``name``: ``"struct event"``, ``"union u"``, ``"enum e"``, or a typedef's
        (or any type's) bare name."""
        return self.of(self.find(name))

    def __contains__(self, name: object) -> bool:
        """Whether there is a type called ``name`` (see ``[]``): ``"struct event" in obj.btf``."""
        if not isinstance(name, str):
            return False
        try:
            self.find(name)
        except MissingTypeError:
            return False
        return True

    def check(self, name: Union[str, int], ctype: Any) -> None:
        """Raise BtfTypeError naming the first member of ``ctype`` whose offset or size differs
        from BTF's type ``name`` (a name as for ``[]``, or a type id), or the size."""
        type_id = self.find(name) if isinstance(name, str) else name
        expected = self.of(type_id)
        hint = _first_difference(expected, ctype)
        if ctypes.sizeof(ctype) != ctypes.sizeof(expected):
            raise BtfTypeError(f"{ctype.__name__} is {ctypes.sizeof(ctype)} bytes, BTF's {self._label(type_id)} "
                               f"{ctypes.sizeof(expected)}" + (f": {hint}" if hint else ""))
        if hint:
            raise BtfTypeError(f"{ctype.__name__} does not match BTF's {self._label(type_id)}: {hint}")

    def _label(self, type_id: int) -> str:
        resolved = self.btf.resolve(type_id)
        return _describe(self.btf, resolved) if self.btf.get(resolved).kind in (_btf.STRUCT, _btf.UNION) \
            else f"type {type_id}"

    def find(self, name: str) -> int:
        """The id of the type called ``name`` (see ``[]``); :class:`MissingTypeError` (a KeyError)
        when there is none."""
        kind_word, _, bare = name.partition(" ")
        kinds = {"struct": (_btf.STRUCT,), "union": (_btf.UNION,), "enum": (_btf.ENUM, _btf.ENUM64)}.get(kind_word)
        if kinds is None:
            bare, kinds = name, (_btf.TYPEDEF, _btf.STRUCT, _btf.UNION, _btf.ENUM, _btf.ENUM64, _btf.INT,
                                 _btf.FLOAT, _btf.DATASEC)
        for type_id, t in enumerate(self.btf.types, 1):
            if t.kind in kinds and self.btf.name(t) == bare:
                return type_id
        raise MissingTypeError(
            f"no type {name!r} in this BTF: clang keeps only the types a program uses, not one it reaches only "
            f"through void * (e.g. a ring buffer record) or never names; read it from the header that declares "
            f"it (libbpf_py.Btf.from_header(\"event.h\")[{name!r}]), or declare a global that names it (e.g. "
            f"`{name} *unused;`)")

    def of(self, type_id: int) -> Any:
        """The ctypes type of BTF type ``type_id``."""
        return self._make(type_id, 0)

    def _make(self, type_id: int, depth: int) -> Any:
        made = self._made.get(type_id)
        if made is not None:
            return made
        if depth > _MAX_DEPTH:
            raise BtfTypeError(f"BTF types nest deeper than {_MAX_DEPTH} levels")
        btf = self.btf
        t = btf.get(type_id) if type_id else None
        if t is None:
            raise BtfTypeError("void has no ctypes form")
        kind = t.kind
        if kind in (_btf.TYPEDEF, _btf.VOLATILE, _btf.CONST, _btf.RESTRICT, _btf.TYPE_TAG, _btf.VAR,
                    _btf.DECL_TAG):
            made = self._make(t.size_or_type, depth + 1)
        elif kind == _btf.INT:
            made = _int_type(btf, t)
        elif kind == _btf.PTR:
            made = ctypes.c_uint64
        elif kind in (_btf.ENUM, _btf.ENUM64):
            made = (_SIGNED if t.info >> 31 else _UNSIGNED).get(t.size_or_type) or ctypes.c_uint8 * t.size_or_type
        elif kind == _btf.FLOAT:
            made = {4: ctypes.c_float, 8: ctypes.c_double}.get(t.size_or_type) or ctypes.c_uint8 * t.size_or_type
        elif kind == _btf.ARRAY:
            elem, _index, count = struct.unpack_from(btf._e + "III", t.tail)
            made = _array(type_id, self._make(elem, depth + 1), count)
        elif kind in (_btf.STRUCT, _btf.UNION, _btf.DATASEC):
            made = self._record(type_id, t, depth)
        else:
            raise BtfTypeError(f"BTF type {type_id} ({_describe(btf, type_id)}) has no ctypes form")
        self._made[type_id] = made
        return made

    def _record(self, type_id: int, t: _btf.Type, depth: int) -> Any:
        btf = self.btf
        name = btf.name(t).lstrip(".") or f"anon_{'union' if t.kind == _btf.UNION else 'struct'}_{type_id}"
        members = btf.fields(t)
        base = ctypes.Union if t.kind == _btf.UNION else ctypes.Structure
        fields: List[Tuple[Any, ...]] = []
        anonymous: List[str] = []
        bitfields: List[Tuple[str, int, int, bool]] = []
        chars: List[Tuple[str, int, int]] = []  # (name, byte offset, length) of the char arrays, read whole
        lifted = 0
        for index, (member, member_type, bit_offset, bits) in enumerate(members):
            if member in _RESERVED:
                raise BtfTypeError(f"{_describe(btf, type_id)} has a member named {member!r}, which a ctypes "
                                   "type reserves for itself")
            if bits:
                if base is ctypes.Union:
                    raise BtfTypeError(f"{_describe(btf, type_id)} has a bitfield: not supported in unions")
                target = btf.get(btf.resolve(member_type))
                bitfields.append((member, bit_offset, bits, btf.signed(target)))
                continue
            ctype = self._make(member_type, depth + 1)
            if not member:
                if not hasattr(ctype, "_fields_"):
                    raise BtfTypeError(f"{_describe(btf, type_id)} has a member with no name that is no struct or "
                                       "union")
                member = f"@anon{index}"  # "@": no C member can be named so
                anonymous.append(member)
                lifted += self._spend(type_id, self._weight.get(ctype, 0))
                for inner, inner_offset, inner_bits, inner_signed in getattr(ctype, "_bitfields_", ()):
                    bitfields.append((inner, bit_offset + inner_offset, inner_bits, inner_signed))  # C reads them here
                for inner, inner_offset, length in getattr(ctype, "_chars_", ()):
                    chars.append((inner, bit_offset // 8 + inner_offset, length))
                ctype = getattr(ctype, "_storage_", ctype)  # ctypes lifts the members of the class that holds them
            elif _is_char_array(ctype):
                chars.append((member, bit_offset // 8, ctype._length_))
            fields.append((member, ctype, bit_offset))
        size = t.size_or_type
        own = self._spend(type_id, 2 * len(fields) + 1 + len(bitfields) + len(chars))  # (with padding)
        lifted_bits = _lifted(fields)
        own_bits = [b for b in bitfields if b[0] not in lifted_bits]
        made = None if own_bits else _laid_out(name, base, fields, anonymous, size, packed=False)
        if made is None:  # ctypes' natural layout differs, or bitfields: place each member explicitly
            made = _laid_out(name, base, fields + _bit_storage(own_bits), anonymous, size, packed=True)
        if made is None:
            raise BtfTypeError(f"{_describe(btf, type_id)} has a layout ctypes cannot reproduce")
        order = "little" if btf.byteorder == "little" else "big"
        for member, bit_offset, bits, signed in bitfields:
            setattr(made, member, _bit_property(bit_offset, bits, signed, order))
        made._bitfields_ = tuple(bitfields)  # (name, bit offset, bits, signed): read as properties
        made = _with_chars(made, chars) if chars else made
        self._weight[made] = own + lifted
        return made

    def _spend(self, type_id: int, members: int) -> int:
        """Count ``members`` more made for BTF type ``type_id``; BtfTypeError past the budget."""
        self._budget -= members
        if self._budget < 0:
            raise BtfTypeError(f"BTF type {type_id}: its anonymous members would make more members than the "
                               "BTF's bytes hold (one struct lifted many times?): refused")
        return members


# what ctypes reads on a record class: a member by one of these names would break it (a member
# named like a method, e.g. from_buffer, only hides it: use type(T).from_buffer(T, ...) then)
_RESERVED = frozenset({"_fields_", "_pack_", "_anonymous_", "_bitfields_", "_align_", "_layout_", "_swappedbytes_",
                       "_b_base_", "_b_needsfree_", "_objects", "_type_", "_length_", "_chars_", "_storage_"})


def _array(type_id: int, element: Any, count: int) -> Any:
    """``element * count``, refused when ctypes could not make it or a crafted count would make
    ctypes spend memory on elements that take no bytes."""
    if count > _MAX_EMPTY_ELEMENTS and ctypes.sizeof(element) == 0:
        raise BtfTypeError(f"BTF type {type_id}: an array of {count} elements of no size (more than "
                           f"{_MAX_EMPTY_ELEMENTS} are refused: ctypes would lay out each one)")
    try:
        return element * count
    except (OverflowError, ValueError, MemoryError):
        raise BtfTypeError(f"BTF type {type_id}: an array of {count} elements is too large") from None


def _is_char_array(ctype: Any) -> bool:
    return isinstance(ctype, type) and issubclass(ctype, ctypes.Array) and \
        getattr(ctype, "_type_", None) is ctypes.c_char  # (getattr: the type checker reads _type_ as a method)


def _with_chars(storage: Any, chars: List[Tuple[str, int, int]]) -> Any:
    """A subclass of the record class ``storage`` whose char arrays read and write all their
    bytes. ``storage`` keeps ctypes' own members (an anonymous member of another record is
    declared with it: ctypes lifts its members from there)."""
    namespace: Dict[str, Any] = {name: _char_property(name, offset, length) for name, offset, length in chars}
    namespace.update(_storage_=storage, _chars_=tuple(chars), __doc__=storage.__doc__)
    return type(storage.__name__, (storage,), namespace)


def _char_property(name: str, offset: int, length: int) -> property:
    """A ``char[length]`` member read as all its bytes (:class:`Chars`), written from bytes of at
    most ``length``, zero-filled."""

    def get(self: Any) -> Chars:
        return Chars(ctypes.string_at(ctypes.addressof(self) + offset, length))

    def put(self: Any, value: Any) -> None:
        if not isinstance(value, (bytes, bytearray, memoryview)) and not (
                isinstance(value, ctypes.Array) and _is_char_array(type(value))):
            raise InvalidTypeError(f"{name} is a char[{length}]: it takes bytes, not {type(value).__name__}")
        raw = bytes(value)
        if len(raw) > length:
            raise InvalidValueError(f"{name} holds {length} bytes, not {len(raw)}")
        ctypes.memmove(ctypes.addressof(self) + offset, raw.ljust(length, b"\0"), length)

    return property(get, put, doc=f"char[{length}]: all its bytes")


def _lifted(fields: List[Tuple[Any, ...]]) -> Set[str]:
    """Names of the bitfields of anonymous members (their storage is in those members)."""
    return {name for member, ctype, _ in fields if member.startswith("@anon")
            for name, *_ in getattr(ctype, "_bitfields_", ())}


def _bit_storage(bitfields: List[Tuple[str, int, int, bool]]) -> List[Tuple[Any, ...]]:
    """Byte arrays covering the bitfields (runs that touch merged), as (name, type, bit offset)."""
    spans: List[List[int]] = []
    for _, bit_offset, bits, _ in sorted(bitfields, key=lambda b: b[1]):
        first, end = bit_offset // 8, (bit_offset + bits + 7) // 8
        if spans and first < spans[-1][1]:
            spans[-1][1] = max(spans[-1][1], end)
        else:
            spans.append([first, end])
    return [(f"@bits{first}", ctypes.c_uint8 * (end - first), 8 * first) for first, end in spans]


def _bit_property(bit_offset: int, bits: int, signed: bool, order: str) -> property:
    """A bitfield read and written in the record's bytes (ctypes' own bitfields follow another
    compiler's placement rules in some Python versions)."""
    first, end = bit_offset // 8, (bit_offset + bits + 7) // 8
    width = 8 * (end - first)
    shift = bit_offset - 8 * first if order == "little" else width - (bit_offset - 8 * first) - bits
    mask = (1 << bits) - 1

    def get(self: Any) -> int:
        raw = (int.from_bytes(memoryview(self).cast("B")[first:end], order) >> shift) & mask  # type: ignore[arg-type]
        return raw - (1 << bits) if signed and raw >> (bits - 1) else raw

    def put(self: Any, value: int) -> None:
        if not -(1 << (bits - 1)) <= value < 1 << bits:
            raise InvalidValueError(f"{value} does not fit in a {bits}-bit field")
        view = memoryview(self).cast("B")
        word = int.from_bytes(view[first:end], order) & ~(mask << shift) | (value & mask) << shift  # type: ignore[arg-type]
        view[first:end] = word.to_bytes(end - first, order)  # type: ignore[arg-type]

    return property(get, put)


def _int_type(btf: Btf, t: _btf.Type) -> Any:
    encoding, size = btf.int_shape(t)[0], t.size_or_type
    if encoding & _btf.INT_BOOL and size == 1:
        return ctypes.c_bool
    if size == 1 and (encoding & _btf.INT_CHAR or btf.name(t) == "char"):
        return ctypes.c_char
    table = _SIGNED if encoding & _btf.INT_SIGNED else _UNSIGNED
    return table.get(size) or ctypes.c_uint8 * size


def _laid_out(name: str, base: Any, fields: List[Tuple[Any, ...]], anonymous: List[str], size: int,
              packed: bool) -> Any:
    """A record class whose members (name, type, bit offset) sit where BTF says, or None when
    this way of building it does not get there: ctypes' natural layout, or (``packed``) every
    member placed by explicit padding."""
    declared: List[Tuple[Any, ...]] = []
    if packed and base is ctypes.Structure:
        at = 0
        for member, ctype, bit_offset in sorted(fields, key=lambda f: f[2]):
            offset = bit_offset // 8
            if offset < at:
                return None
            if offset > at:
                declared.append((f"@pad{at}", ctypes.c_uint8 * (offset - at)))
            declared.append((member, ctype))
            at = offset + ctypes.sizeof(ctype)
        if at < size:
            declared.append(("@pad_end", ctypes.c_uint8 * (size - at)))
    else:
        declared = [(member, ctype) for member, ctype, _ in fields]
        if base is ctypes.Union and size:
            declared.append(("@size", ctypes.c_uint8 * size))
    namespace: Dict[str, Any] = {"_anonymous_": anonymous, "_fields_": declared}
    if packed:
        namespace["_pack_"] = 1
    try:
        made = type(name, (base,), namespace)
    except (TypeError, ValueError):
        return None
    if ctypes.sizeof(made) != size or any(getattr(made, member).offset * 8 != bit_offset
                                          for member, _, bit_offset in fields):
        return None
    return made


def _describe(btf: Btf, type_id: int) -> str:
    t = btf.get(type_id)
    kinds = {_btf.STRUCT: "struct", _btf.UNION: "union", _btf.FWD: "forward declaration", _btf.DATASEC: "section"}
    label = kinds.get(t.kind, f"kind {t.kind}")
    return f"{label} {btf.name(t) or '(anonymous)'}"


def _first_difference(expected: Any, ctype: Any) -> Optional[str]:
    theirs = dict((f[0], f) for f in getattr(ctype, "_fields_", ()))
    for field in getattr(expected, "_fields_", ()):
        name = field[0]
        if name.startswith("@"):
            continue
        want = getattr(getattr(expected, "_storage_", expected), name)  # ctypes' member, not a char property
        if name not in theirs:
            return f"member {name!r} (offset {want.offset}, {want.size} bytes) is missing"
        got = getattr(getattr(ctype, "_storage_", ctype), name)
        if (got.offset, got.size) != (want.offset, want.size):
            return (f"member {name!r} is at offset {got.offset} with {got.size} bytes; BTF has offset "
                    f"{want.offset} with {want.size} bytes")
    return None
