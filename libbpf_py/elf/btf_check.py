"""Validate a .BTF section before libbpf reads it.

libbpf 1.3 checks every type of an object's BTF at open (``btf_sanity_check``): each name
offset points into the string section, each referenced type id exists, each kind is known,
and a FUNC refers to a FUNC_PROTO. Older releases (Debian 12's 1.1.2) do not, and follow a
bad type id into memory past the type table (a segfault). This module makes the same checks
in Python, plus one the kernel makes: no type may contain itself (through arrays, struct
and union members, qualifiers, variables or sections; a pointer breaks the chain). Every
walk is iterative, so no input can exhaust the stack.
"""

from __future__ import annotations

import array
import struct
import sys
from collections import Counter
from typing import Dict, List, Optional, Tuple

from .btf import (
    ARRAY,
    CONST,
    DATASEC,
    DECL_TAG,
    ENUM,
    ENUM64,
    FLOAT,
    FUNC,
    FUNC_PROTO,
    FWD,
    INT,
    PTR,
    RESTRICT,
    STRUCT,
    TYPE_TAG,
    TYPEDEF,
    UNION,
    VAR,
    VOLATILE,
    Btf,
    BtfError,
)
from .file import ElfFile

_KIND_NAMES = {INT: "INT", PTR: "PTR", ARRAY: "ARRAY", STRUCT: "STRUCT", UNION: "UNION", ENUM: "ENUM", FWD: "FWD",
               TYPEDEF: "TYPEDEF", VOLATILE: "VOLATILE", CONST: "CONST", RESTRICT: "RESTRICT", FUNC: "FUNC",
               FUNC_PROTO: "FUNC_PROTO", VAR: "VAR", DATASEC: "DATASEC", FLOAT: "FLOAT", DECL_TAG: "DECL_TAG",
               TYPE_TAG: "TYPE_TAG", ENUM64: "ENUM64"}
_REFERS_BY_TYPE = (PTR, TYPEDEF, VOLATILE, CONST, RESTRICT, VAR, DECL_TAG, TYPE_TAG, FUNC)
_CONTAINS_BY_TYPE = (TYPEDEF, VOLATILE, CONST, RESTRICT, VAR, TYPE_TAG)  # not PTR, FUNC, DECL_TAG


def _fail(type_id: int, kind: int, what: str) -> BtfError:
    return BtfError(f"BTF type [{type_id}] ({_KIND_NAMES.get(kind, kind)}): {what}")


def validate(btf: Btf) -> None:
    """Raise :class:`BtfError` naming the first bad type; return when libbpf may read ``btf``."""
    count = len(btf.types)
    strings = bytes(btf.strings)
    e = btf._e
    contains: Dict[int, List[int]] = {}

    def name_ok(offset: int) -> bool:
        return offset < len(strings) and strings.find(b"\0", offset) >= 0

    for type_id, t in enumerate(btf.types, 1):
        kind = t.kind
        if kind not in _KIND_NAMES:
            raise _fail(type_id, kind, f"unknown kind {kind}")
        if not name_ok(t.name_off):
            raise _fail(type_id, kind, f"name offset {t.name_off} is outside the string section")
        refs: List[Tuple[str, int]] = []
        inside: List[int] = []
        if kind in _REFERS_BY_TYPE:
            refs.append(("type", t.size_or_type))
            if kind in _CONTAINS_BY_TYPE:
                inside.append(t.size_or_type)
        elif kind == ARRAY:
            elem, index, _ = struct.unpack_from(e + "III", t.tail, 0)
            refs += [("element type", elem), ("index type", index)]
            inside.append(elem)
        elif kind in (STRUCT, UNION):
            for i in range(t.vlen):
                name_off, member, _ = struct.unpack_from(e + "III", t.tail, 12 * i)
                if not name_ok(name_off):
                    raise _fail(type_id, kind, f"member {i} has name offset {name_off} outside the string section")
                refs.append((f"member {i}", member))
                inside.append(member)
        elif kind in (ENUM, ENUM64):
            step = 8 if kind == ENUM else 12
            for i in range(t.vlen):
                (name_off,) = struct.unpack_from(e + "I", t.tail, step * i)
                if not name_ok(name_off):
                    raise _fail(type_id, kind, f"value {i} has name offset {name_off} outside the string section")
        elif kind == FUNC_PROTO:
            refs.append(("return type", t.size_or_type))
            for i in range(t.vlen):
                name_off, param = struct.unpack_from(e + "II", t.tail, 8 * i)
                if not name_ok(name_off):
                    raise _fail(type_id, kind, f"parameter {i} has name offset {name_off} outside the string "
                                "section")
                refs.append((f"parameter {i}", param))
        elif kind == DATASEC:
            for i in range(t.vlen):
                var, _, _ = struct.unpack_from(e + "III", t.tail, 12 * i)
                refs.append((f"variable {i}", var))
                inside.append(var)
        for what, ref in refs:
            if ref > count:
                raise _fail(type_id, kind, f"{what} refers to type id {ref}, past the last type ({count})")
        if kind == FUNC and (t.size_or_type == 0 or btf.get(t.size_or_type).kind != FUNC_PROTO):
            raise _fail(type_id, kind, f"refers to type {t.size_or_type}, which is not a FUNC_PROTO")
        contains[type_id] = [ref for ref in inside if ref]
    _refuse_self_containment(btf, contains)


def validate_object(elf: ElfFile) -> None:
    """Validate an object's ``.BTF`` (nothing to do without one); ``elf`` may be a header-only
    parse that kept the ``.BTF`` bytes. A section validated before is not walked again."""
    section = elf.section(".BTF")
    if section is None or section.data in _VALID:
        return
    if not _looks_valid(section.data, elf.byteorder):
        validate(Btf.parse(section.data, elf.byteorder))  # the exact walk names the bad type
    _VALID[section.data] = None
    while len(_VALID) > _VALID_KEPT:
        del _VALID[next(iter(_VALID))]


_VALID: Dict[bytes, None] = {}  # .BTF sections validated lately, oldest first
_VALID_KEPT = 16

_TAIL_WORDS = {INT: 1, VAR: 1, DECL_TAG: 1, ARRAY: 3}
_RECORD_WORDS = {STRUCT: 3, UNION: 3, DATASEC: 3, ENUM64: 3, ENUM: 2, FUNC_PROTO: 2}
_NO_TAIL = frozenset({PTR, FWD, TYPEDEF, VOLATILE, CONST, RESTRICT, FUNC, FLOAT, TYPE_TAG})


def _looks_valid(data: bytes, byteorder: str) -> bool:
    """One pass over the raw words: True when every check of :func:`validate` passes (the fast
    path; any doubt sends the caller to the exact walk, which names the bad type)."""
    e = "<" if byteorder == "little" else ">"
    if len(data) < 24:
        return False
    magic, version, _flags, hdr_len, type_off, type_len, str_off, str_len = struct.unpack_from(
        e + "HBBIIIII", data, 0)
    start, strings = hdr_len + type_off, hdr_len + str_off
    if (magic != 0xEB9F or version != 1 or hdr_len < 24 or type_len % 4 or start + type_len > len(data)
            or strings + str_len > len(data) or not str_len or data[strings] != 0
            or data[strings + str_len - 1] != 0):
        return False  # (a string section ending in NUL makes every offset below str_len a string)
    words = array.array("I", data[start:start + type_len])
    if (byteorder == "little") != (sys.byteorder == "little"):
        words.byteswap()
    n, i = len(words), 0
    kinds: List[int] = [0]  # by type id; 0 is void
    top_ref = top_name = 0
    funcs: List[int] = []
    contains: Dict[int, List[int]] = {}  # type id -> the types it contains (not through a pointer)
    while i < n:
        if i + 3 > n:
            return False
        name_off, info, ref = words[i], words[i + 1], words[i + 2]
        kind, vlen = (info >> 24) & 0x1F, info & 0xFFFF
        kinds.append(kind)
        top_name = max(top_name, name_off)
        i += 3
        if kind in _NO_TAIL:
            if kind not in (FWD, FLOAT):
                top_ref = max(top_ref, ref)
                if kind == FUNC:
                    funcs.append(ref)
                elif kind in _CONTAINS_BY_TYPE and ref:
                    contains[len(kinds) - 1] = [ref]
        elif kind in _TAIL_WORDS:
            step = _TAIL_WORDS[kind]
            if kind in (VAR, DECL_TAG):
                top_ref = max(top_ref, ref)
                if kind == VAR and ref:
                    contains[len(kinds) - 1] = [ref]
            elif kind == ARRAY and i + 2 <= n:
                top_ref = max(top_ref, words[i], words[i + 1])
                if words[i]:
                    contains[len(kinds) - 1] = [words[i]]
            i += step
        elif kind in _RECORD_WORDS:
            step = _RECORD_WORDS[kind]
            record = words[i:i + step * vlen]
            if len(record) != step * vlen:
                return False
            if vlen:
                if kind != DATASEC:
                    top_name = max(top_name, max(record[0::step]))
                if kind in (STRUCT, UNION, FUNC_PROTO):
                    top_ref = max(top_ref, max(record[1::step]))
                    if kind != FUNC_PROTO:
                        contains[len(kinds) - 1] = [t for t in record[1::step] if t]
                elif kind == DATASEC:
                    top_ref = max(top_ref, max(record[0::step]))
                    contains[len(kinds) - 1] = [t for t in record[0::step] if t]
            if kind == FUNC_PROTO:
                top_ref = max(top_ref, ref)
            i += step * vlen
        else:
            return False  # unknown kind
    count = len(kinds) - 1
    return (i == n and top_name < str_len and top_ref <= count
            and all(0 < ref and kinds[ref] == FUNC_PROTO for ref in funcs) and _first_cycle(contains) is None)


def _refuse_self_containment(btf: Btf, contains: Dict[int, List[int]]) -> None:
    """A type that contains itself has no size (the kernel refuses it; libbpf loops on it for ever)."""
    looped = _first_cycle(contains)
    if looped is not None:
        raise _fail(looped, btf.get(looped).kind, "contains itself")


def _first_cycle(contains: Dict[int, List[int]]) -> Optional[int]:
    """A type on (or behind) a cycle of containment, None without one: the types nothing left
    contains are peeled off one by one (Kahn's algorithm, iterative); what remains loops."""
    indegree = Counter(child for children in contains.values() for child in children)
    ready = [node for node in contains if not indegree[node]]
    while ready:
        for child in contains.get(ready.pop(), ()):
            indegree[child] -= 1
            if not indegree[child]:
                ready.append(child)
    return next((node for node, count in indegree.items() if count > 0), None)
