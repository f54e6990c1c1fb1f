"""BTF (the .BTF section): read it, append types and strings, write it back.

Types are kept as raw records (a 12-byte head and the kind's trailing data) so that an
existing section survives a round trip byte for byte; appending never renumbers a type or
moves a string, which keeps ``.BTF.ext`` valid. Layout facts: include/uapi/linux/btf.h.
"""

from __future__ import annotations

import struct
from typing import Iterable, List, Optional, Sequence, Tuple

from ..errors import ElfError


class BtfError(ElfError):
    """The object's BTF is malformed; the message names the type."""


BTF_MAGIC = 0xEB9F
HEADER_SIZE = 24

INT, PTR, ARRAY, STRUCT, UNION, ENUM, FWD, TYPEDEF, VOLATILE, CONST, RESTRICT = range(1, 12)
FUNC, FUNC_PROTO, VAR, DATASEC, FLOAT, DECL_TAG, TYPE_TAG, ENUM64 = range(12, 20)
VAR_GLOBAL_ALLOCATED = 1
INT_SIGNED, INT_CHAR, INT_BOOL = 1, 2, 4  # an INT's encoding bits

_MODIFIERS = (TYPEDEF, VOLATILE, CONST, RESTRICT, TYPE_TAG)


# What follows a type's 12-byte head, by kind: a tail of fixed size, or one record per vlen.
FIXED_TAIL = {INT: 4, VAR: 4, DECL_TAG: 4, ARRAY: 12, PTR: 0, FWD: 0, TYPEDEF: 0, VOLATILE: 0, CONST: 0,
              RESTRICT: 0, FUNC: 0, FLOAT: 0, TYPE_TAG: 0}
RECORD_SIZE = {STRUCT: 12, UNION: 12, DATASEC: 12, ENUM64: 12, ENUM: 8, FUNC_PROTO: 8}


def _tail_size(kind: int, vlen: int) -> int:
    """Bytes that follow the 12-byte head of a type of this kind."""
    if kind in RECORD_SIZE:
        return RECORD_SIZE[kind] * vlen
    if kind in FIXED_TAIL:
        return FIXED_TAIL[kind]
    raise ElfError(f"unknown kind {kind}")


class Type:
    """One BTF type record: ``name_off``, ``info``, ``size_or_type`` and the kind's tail bytes."""

    __slots__ = ("name_off", "info", "size_or_type", "tail")

    def __init__(self, name_off: int, info: int, size_or_type: int, tail: bytes = b""):
        self.name_off, self.info, self.size_or_type, self.tail = name_off, info, size_or_type, tail

    def __repr__(self) -> str:
        return f"<btf.Type kind={self.kind} vlen={self.vlen} name_off={self.name_off}>"

    def __eq__(self, other: object) -> bool:
        return isinstance(other, Type) and (self.name_off, self.info, self.size_or_type, self.tail) == \
            (other.name_off, other.info, other.size_or_type, other.tail)

    __hash__ = None  # type: ignore[assignment]  # mutable, as a dataclass is

    @property
    def kind(self) -> int:
        return (self.info >> 24) & 0x1F

    @property
    def vlen(self) -> int:
        return self.info & 0xFFFF


def info_word(kind: int, vlen: int = 0, kind_flag: int = 0) -> int:
    return (kind_flag << 31) | (kind << 24) | vlen


class Btf:
    """A whole .BTF section. Type ids start at 1 (``types[0]`` is id 1)."""

    def __init__(self, byteorder: str, types: Optional[List[Type]] = None, strings: Optional[bytearray] = None):
        self.byteorder = byteorder
        self.types: List[Type] = [] if types is None else types
        self.strings = bytearray(b"\0") if strings is None else strings

    def __eq__(self, other: object) -> bool:
        return isinstance(other, Btf) and (self.byteorder, self.types, self.strings) == \
            (other.byteorder, other.types, other.strings)

    __hash__ = None  # type: ignore[assignment]  # mutable

    @property
    def _e(self) -> str:
        return "<" if self.byteorder == "little" else ">"

    # reading ---------------------------------------------------------------------------------

    @classmethod
    def parse(cls, data: bytes, byteorder: str) -> "Btf":
        e = "<" if byteorder == "little" else ">"
        if len(data) < HEADER_SIZE:
            raise ElfError(".BTF is shorter than its header")
        magic, version, _flags, hdr_len, type_off, type_len, str_off, str_len = struct.unpack_from(
            e + "HBBIIIII", data, 0)
        if magic != BTF_MAGIC or version != 1:
            raise ElfError(".BTF has a bad magic number or version")
        base = hdr_len
        if hdr_len < HEADER_SIZE or base + type_off + type_len > len(data) or base + str_off + str_len > len(data):
            raise ElfError(".BTF header points outside the section")
        strings = bytearray(data[base + str_off: base + str_off + str_len])
        if not strings or strings[0] != 0:
            raise ElfError(".BTF string section must start with a NUL byte")
        types: List[Type] = []
        pos, end = base + type_off, base + type_off + type_len
        while pos < end:
            if pos + 12 > end:
                raise BtfError(f"BTF type [{len(types) + 1}]: the type section ends inside it")
            name_off, info, size_or_type = struct.unpack_from(e + "III", data, pos)
            try:
                tail = _tail_size((info >> 24) & 0x1F, info & 0xFFFF)
            except ElfError as exc:
                raise BtfError(f"BTF type [{len(types) + 1}]: {exc}") from None
            if pos + 12 + tail > end:
                raise BtfError(f"BTF type [{len(types) + 1}]: the type section ends inside it")
            types.append(Type(name_off, info, size_or_type, data[pos + 12: pos + 12 + tail]))
            pos += 12 + tail
        btf = cls(byteorder, types, strings)
        for type_id, t in enumerate(types, 1):
            try:
                btf.name(t)  # every name offset must resolve
            except ElfError as exc:
                raise BtfError(f"BTF type [{type_id}]: {exc}") from None
        return btf

    def name(self, t: Type) -> str:
        off = t.name_off
        if off >= len(self.strings):
            raise ElfError(f"BTF name offset {off} is outside the string section")
        end = self.strings.find(b"\0", off)
        if end < 0:
            raise ElfError(f"BTF name at {off} is not NUL-terminated")
        return self.strings[off:end].decode("utf-8", "surrogateescape")  # round-trips any bytes

    def get(self, type_id: int) -> Type:
        if not 1 <= type_id <= len(self.types):
            raise ElfError(f"BTF type id {type_id} does not exist")
        return self.types[type_id - 1]

    def find(self, name: str, kind: int) -> Optional[int]:
        """The id of the first type of ``kind`` named ``name``."""
        for i, t in enumerate(self.types, 1):
            if t.kind == kind and self.name(t) == name:
                return i
        return None

    def members(self, t: Type) -> List[Tuple[str, int, int]]:
        """(name, type id, bit offset) of a STRUCT or UNION."""
        out = []
        for i in range(t.vlen):
            name_off, type_id, offset = struct.unpack_from(self._e + "III", t.tail, 12 * i)
            out.append((self.name(Type(name_off, 0, 0)), type_id, offset))
        return out

    def int_shape(self, t: Type) -> Tuple[int, int, int]:
        """(encoding, bit offset, bits) of an INT."""
        word = struct.unpack_from(self._e + "I", t.tail)[0]
        return (word >> 24) & 0x0F, (word >> 16) & 0xFF, word & 0xFF

    def signed(self, t: Type) -> bool:
        """Whether an INT, ENUM or ENUM64 is signed."""
        if t.kind == INT:
            return bool(self.int_shape(t)[0] & INT_SIGNED)
        return t.kind in (ENUM, ENUM64) and bool(t.info >> 31)

    def fields(self, t: Type) -> List[Tuple[str, int, int, int]]:
        """(name, type id, bit offset, bitfield bits or 0) of a STRUCT's or UNION's members (a
        bitfield's width from the kind flag, or from an old-style INT of fewer bits than its
        size), or of a DATASEC's variables."""
        if t.kind == DATASEC:
            return [(self.name(self.get(var)), var, 8 * offset, 0) for var, offset, _ in self.datasec_entries(t)]
        flagged = bool(t.info >> 31)
        out = []
        for name, member_type, offset in self.members(t):
            bits, bit_offset = (offset >> 24, offset & 0xFFFFFF) if flagged else (0, offset)
            target = self.get(self.resolve(member_type))
            if not bits and target.kind == INT:
                int_bits = self.int_shape(target)[2]
                if int_bits != 8 * target.size_or_type:
                    bits = int_bits
            out.append((name, member_type, bit_offset, bits))
        return out

    def datasec_entries(self, t: Type) -> List[Tuple[int, int, int]]:
        """(var type id, offset, size) of a DATASEC."""
        return [struct.unpack_from(self._e + "III", t.tail, 12 * i) for i in range(t.vlen)]

    def resolve(self, type_id: int) -> int:
        """Skip typedefs, qualifiers, variables and tags (as libbpf's btf__resolve_size does)."""
        seen = 0
        while self.get(type_id).kind in _MODIFIERS or self.get(type_id).kind in (VAR, DECL_TAG):
            type_id = self.get(type_id).size_or_type
            seen += 1
            if seen > 64:
                raise ElfError("BTF modifier chain loops")
        return type_id

    def size_of(self, type_id: int) -> Optional[int]:
        """Byte size of a type, or None when BTF does not give one (e.g. a forward declaration).

        Iterative and bounded: a crafted chain of arrays, or one that contains itself, raises
        ElfError instead of exhausting the stack.
        """
        count = 1
        for _ in range(len(self.types) + 1):
            t = self.get(self.resolve(type_id))
            if t.kind in (INT, STRUCT, UNION, ENUM, ENUM64, FLOAT, DATASEC):
                return count * t.size_or_type
            if t.kind == PTR:
                return count * 8
            if t.kind != ARRAY:
                return None
            type_id, _index, nelems = struct.unpack_from(self._e + "III", t.tail, 0)
            count *= nelems
        raise ElfError(f"BTF type {type_id} contains itself (an array of itself)")

    # writing ---------------------------------------------------------------------------------

    def add_string(self, text: str) -> int:
        encoded = text.encode("utf-8", "surrogateescape") + b"\0"
        start = 0
        while True:  # reuse an identical whole string
            found = self.strings.find(encoded, start)
            if found < 0:
                break
            if found == 0 or self.strings[found - 1] == 0:
                return found
            start = found + 1
        offset = len(self.strings)
        self.strings += encoded
        return offset

    def add(self, t: Type) -> int:
        self.types.append(t)
        return len(self.types)

    def add_int(self, name: str, size: int, signed: bool = False) -> int:
        encoding = INT_SIGNED if signed else 0
        return self.add(Type(self.add_string(name), info_word(INT), size,
                             struct.pack(self._e + "I", (encoding << 24) | (size * 8))))

    def add_ptr(self, target: int) -> int:
        return self.add(Type(0, info_word(PTR), target))

    def add_array(self, elem: int, index: int, nelems: int) -> int:
        return self.add(Type(0, info_word(ARRAY), 0, struct.pack(self._e + "III", elem, index, nelems)))

    def add_struct(self, name: str, members: Sequence[Tuple[str, int, int]], size: int) -> int:
        """A STRUCT of (name, type id, bit offset) members."""
        tail = b"".join(struct.pack(self._e + "III", self.add_string(n), t, off) for n, t, off in members)
        return self.add(Type(self.add_string(name) if name else 0, info_word(STRUCT, len(members)), size, tail))

    def add_var(self, name: str, type_id: int, linkage: int = VAR_GLOBAL_ALLOCATED) -> int:
        return self.add(Type(self.add_string(name), info_word(VAR), type_id, struct.pack(self._e + "I", linkage)))

    def add_datasec(self, name: str, entries: Iterable[Tuple[int, int, int]], size: int) -> int:
        entries = list(entries)
        tail = b"".join(struct.pack(self._e + "III", *entry) for entry in entries)
        return self.add(Type(self.add_string(name), info_word(DATASEC, len(entries)), size, tail))

    def set_datasec(self, type_id: int, name: str, entries: Sequence[Tuple[int, int, int]], size: int) -> None:
        """Rewrite a DATASEC in place (same id): name, entries, size."""
        t = self.get(type_id)
        t.name_off = self.add_string(name)
        t.info = info_word(DATASEC, len(entries))
        t.size_or_type = size
        t.tail = b"".join(struct.pack(self._e + "III", *entry) for entry in entries)

    def to_bytes(self) -> bytes:
        e = self._e
        body = b"".join(struct.pack(e + "III", t.name_off, t.info, t.size_or_type) + t.tail for t in self.types)
        header = struct.pack(e + "HBBIIIII", BTF_MAGIC, 1, 0, HEADER_SIZE, 0, len(body), len(body),
                             len(self.strings))
        return header + body + bytes(self.strings)
