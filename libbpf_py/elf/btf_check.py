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

import struct
from typing import Dict, List, Tuple

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
)
from .file import ElfError, ElfFile

_KIND_NAMES = {INT: "INT", PTR: "PTR", ARRAY: "ARRAY", STRUCT: "STRUCT", UNION: "UNION", ENUM: "ENUM", FWD: "FWD",
               TYPEDEF: "TYPEDEF", VOLATILE: "VOLATILE", CONST: "CONST", RESTRICT: "RESTRICT", FUNC: "FUNC",
               FUNC_PROTO: "FUNC_PROTO", VAR: "VAR", DATASEC: "DATASEC", FLOAT: "FLOAT", DECL_TAG: "DECL_TAG",
               TYPE_TAG: "TYPE_TAG", ENUM64: "ENUM64"}
_REFERS_BY_TYPE = (PTR, TYPEDEF, VOLATILE, CONST, RESTRICT, VAR, DECL_TAG, TYPE_TAG, FUNC)
_CONTAINS_BY_TYPE = (TYPEDEF, VOLATILE, CONST, RESTRICT, VAR, TYPE_TAG)  # not PTR, FUNC, DECL_TAG


class BtfError(ElfError):
    """The object's BTF is malformed; the message names the type."""


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
    parse that kept the ``.BTF`` bytes."""
    section = elf.section(".BTF")
    if section is not None:
        validate(Btf.parse(section.data, elf.byteorder))


def _refuse_self_containment(btf: Btf, contains: Dict[int, List[int]]) -> None:
    """A type that contains itself has no size (the kernel refuses it): an iterative DFS."""
    state: Dict[int, int] = {}  # 1: on the current path, 2: done
    for root in contains:
        if root in state:
            continue
        stack = [(root, iter(contains[root]))]
        state[root] = 1
        while stack:
            node, children = stack[-1]
            child = next(children, None)
            if child is None:
                state[node] = 2
                stack.pop()
                continue
            seen = state.get(child)
            if seen == 1:
                raise _fail(child, btf.get(child).kind, "contains itself")
            if seen is None:
                state[child] = 1
                stack.append((child, iter(contains.get(child, ()))))
