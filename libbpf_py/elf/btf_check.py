"""Validate a .BTF section before libbpf reads it.

libbpf 1.3 checks every type of an object's BTF at open (``btf_sanity_check``): each name
offset points into the string section, each referenced type id exists, each kind is known,
and a FUNC refers to a FUNC_PROTO. Older releases (Debian 12's 1.1.2) do not, and follow a
bad type id into memory past the type table (a segfault). This module makes the same checks
in Python, plus those the kernel makes: no type may contain itself (through arrays, struct
and union members, qualifiers, variables or sections; a pointer breaks the chain), no chain of
references may loop without a struct or union in it (``T *`` where ``T`` is that pointer) and
none may nest deeper than :data:`MAX_NESTING` (libbpf's walks recurse once per level: its
``btf_dump`` overflows the stack on a long chain of anonymous structs through pointers). Every
walk here is iterative, so no input can exhaust the stack.
"""

from __future__ import annotations

import array
import struct
import sys
from collections import Counter
from typing import Callable, Dict, List, Optional, Tuple

from .btf import (
    ARRAY,
    CONST,
    DATASEC,
    DECL_TAG,
    ENUM,
    ENUM64,
    FIXED_TAIL,
    FLOAT,
    FUNC,
    FUNC_PROTO,
    FWD,
    INT,
    PTR,
    RECORD_SIZE,
    RESTRICT,
    STRUCT,
    TYPE_TAG,
    TYPEDEF,
    UNION,
    VAR,
    VOLATILE,
    Btf,
    BtfError,
    Type,
)
from .file import SHT_SYMTAB, STB_GLOBAL, STB_WEAK, STT_OBJECT, ElfFile

_KIND_NAMES = {INT: "INT", PTR: "PTR", ARRAY: "ARRAY", STRUCT: "STRUCT", UNION: "UNION", ENUM: "ENUM", FWD: "FWD",
               TYPEDEF: "TYPEDEF", VOLATILE: "VOLATILE", CONST: "CONST", RESTRICT: "RESTRICT", FUNC: "FUNC",
               FUNC_PROTO: "FUNC_PROTO", VAR: "VAR", DATASEC: "DATASEC", FLOAT: "FLOAT", DECL_TAG: "DECL_TAG",
               TYPE_TAG: "TYPE_TAG", ENUM64: "ENUM64"}
_REFERS_BY_TYPE = (PTR, TYPEDEF, VOLATILE, CONST, RESTRICT, VAR, DECL_TAG, TYPE_TAG, FUNC)
_CONTAINS_BY_TYPE = (TYPEDEF, VOLATILE, CONST, RESTRICT, VAR, TYPE_TAG)  # not PTR, FUNC, DECL_TAG


def _fail(type_id: int, kind: int, what: str) -> BtfError:
    return BtfError(f"BTF type [{type_id}] ({_KIND_NAMES.get(kind, kind)}): {what}")


def validate(btf: Btf, sections: Optional[Dict[str, int]] = None) -> None:
    """Raise :class:`BtfError` naming the first bad type; return when libbpf may read ``btf``.
    ``sections`` (name → size) bounds the variables of each DATASEC named after a section."""
    count = len(btf.types)
    strings = bytes(btf.strings)
    e = btf._e
    contains: Dict[int, List[int]] = {}
    edges: Dict[int, List[int]] = {}  # type id -> every type it refers to (libbpf's walks follow them)

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
            limit = (sections or {}).get(btf.name(t))
            for i, (var, offset, size) in enumerate(btf.datasec_entries(t)):
                refs.append((f"variable {i}", var))
                inside.append(var)
                if limit is not None and offset + size > limit:
                    raise _fail(type_id, kind, f"variable {i} ({offset} + {size} bytes) lies past the end of its "
                                f"section ({limit} bytes)")
        for what, ref in refs:
            if ref > count:
                raise _fail(type_id, kind, f"{what} refers to type id {ref}, past the last type ({count})")
        if kind == FUNC and (t.size_or_type == 0 or btf.get(t.size_or_type).kind != FUNC_PROTO):
            raise _fail(type_id, kind, f"refers to type {t.size_or_type}, which is not a FUNC_PROTO")
        contains[type_id] = [ref for ref in inside if ref]
        walked = [ref for what, ref in refs if ref and what != "index type"]
        if walked:
            edges[type_id] = walked
    _refuse_self_containment(btf, contains)
    problem = _reference_problem([0] + [t.kind for t in btf.types], [0] + [t.name_off for t in btf.types], edges)
    if problem is not None:
        raise _fail(problem[0], btf.get(problem[0]).kind, problem[1])
    for type_id, t in enumerate(btf.types, 1):
        if t.kind == DATASEC:
            for i, (var, _, _) in enumerate(btf.datasec_entries(t)):
                if var and btf.get(var).kind not in (VAR, FUNC):
                    raise _fail(type_id, DATASEC, f"variable {i} is type {var}, which is no VAR (nor FUNC)")
            if btf.name(t).startswith(".struct_ops"):
                _check_struct_ops(btf, type_id, t)


def _check_struct_ops(btf: Btf, type_id: int, datasec: Type) -> None:
    """libbpf copies each member of a struct_ops variable from the section's bytes at the member's
    offset (with 32-bit sums in places): the struct must fit its variable and its members the struct.
    Each struct is walked once, each size found once: a crafted section of many variables of one
    large struct costs its bytes, not their product."""
    checked: Dict[int, None] = {}
    size_of = _memoized_size(btf)
    for i, (var, _offset, size) in enumerate(btf.datasec_entries(datasec)):
        struct_id = btf.resolve(btf.get(var).size_or_type)
        layout = btf.get(struct_id)
        if layout.kind not in (STRUCT, UNION):
            raise _fail(type_id, DATASEC, f"struct_ops variable {i} is no struct")
        if layout.size_or_type > size:
            raise _fail(type_id, DATASEC, f"struct_ops variable {i} of {size} bytes holds a struct of "
                        f"{layout.size_or_type}")
        if struct_id not in checked:
            _check_struct_ops_members(btf, struct_id, layout, size_of)
            checked[struct_id] = None


def _check_struct_ops_members(btf: Btf, struct_id: int, layout: Type, size_of: Callable[[int], Optional[int]]) -> None:
    bitfields = layout.info >> 31
    for name, member, bits in btf.members(layout):
        if bitfields and bits >> 24:  # libbpf refuses struct_ops bitfields, after reading past them
            raise _fail(struct_id, layout.kind, f"member {name!r} is a bitfield, which struct_ops cannot have")
        member_size = size_of(member)
        if member_size is None:
            raise _fail(struct_id, layout.kind, f"member {name!r} has a type of no size")
        if bits // 8 + member_size > layout.size_or_type:  # the raw offset, as libbpf reads it
            raise _fail(struct_id, layout.kind, f"member {name!r} lies past the end of the struct")


def _memoized_size(btf: Btf) -> Callable[[int], Optional[int]]:
    """``btf.size_of``, each type's size found once (a chain of arrays is walked once, not once
    per member that names it)."""
    known: Dict[int, Optional[int]] = {}

    def size_of(type_id: int) -> Optional[int]:
        chain: List[Tuple[int, int]] = []  # (array type id, elements) down to a known size or a leaf
        while type_id not in known:
            t = btf.get(btf.resolve(type_id))
            if t.kind != ARRAY:
                known[type_id] = btf.size_of(type_id)  # no array: a bounded lookup
                break
            if len(chain) > len(btf.types):
                raise BtfError(f"BTF type {type_id} contains itself (an array of itself)")
            elem, _index, count = struct.unpack_from(btf._e + "III", t.tail, 0)
            chain.append((type_id, count))
            type_id = elem
        size = known[type_id]
        for array_id, count in reversed(chain):
            size = None if size is None else size * count
            known[array_id] = size
        return size

    return size_of


def validate_object(elf: ElfFile) -> None:
    """Validate an object's ``.BTF`` (nothing to do without one); ``elf`` may be a header-only
    parse that kept the ``.BTF`` bytes. A section validated before is not walked again."""
    section = elf.section(".BTF")
    if section is None:
        return
    sizes = {s.name: s.header_size for s in elf.sections}
    symtab = next((s for s in elf.sections if s.type == SHT_SYMTAB), None)
    key = (section.data, tuple(sorted(sizes.items())), b"" if symtab is None else symtab.data)
    if key in _VALID:
        return
    if symtab is not None:
        _check_variable_symbols(elf)
    if not _looks_valid(section.data, elf.byteorder, sizes):
        validate(Btf.parse(section.data, elf.byteorder), sizes)  # the exact walk names the bad type
    _VALID[key] = None
    while len(_VALID) > _VALID_KEPT:
        del _VALID[next(iter(_VALID))]


_VALID: Dict[Tuple[bytes, Tuple[Tuple[str, int], ...], bytes], None] = {}  # (.BTF, sizes, .symtab) seen lately
_VALID_KEPT = 16


def _check_variable_symbols(elf: ElfFile) -> None:
    """libbpf places each global variable (its DATASEC offset) where its ELF symbol says, and
    copies from there with 32-bit sums: every global or weak data symbol must lie in its section."""
    for sym in elf.symbols():
        if sym.type != STT_OBJECT or sym.bind not in (STB_GLOBAL, STB_WEAK) or not 0 < sym.shndx < len(elf.sections):
            continue
        section = elf.sections[sym.shndx]
        if sym.value >= 1 << 32 or sym.value + sym.size > section.header_size:
            raise BtfError(f"symbol {sym.name!r} ({sym.value} + {sym.size} bytes) lies outside its section "
                           f"{section.name!r} ({section.header_size} bytes)")

# btf.py's tail sizes, in 32-bit words
_TAIL_WORDS = {kind: size // 4 for kind, size in FIXED_TAIL.items() if size}
_RECORD_WORDS = {kind: size // 4 for kind, size in RECORD_SIZE.items()}
_NO_TAIL = frozenset(kind for kind, size in FIXED_TAIL.items() if not size)


def _looks_valid(data: bytes, byteorder: str, sections: Dict[str, int]) -> bool:
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
    datasecs: List[int] = []  # the types DATASECs hold
    names: List[int] = [0]  # name offsets by type id
    edges: Dict[int, List[int]] = {}  # type id -> every type it refers to (as validate's)
    while i < n:
        if i + 3 > n:
            return False
        name_off, info, ref = words[i], words[i + 1], words[i + 2]
        kind, vlen = (info >> 24) & 0x1F, info & 0xFFFF
        kinds.append(kind)
        names.append(name_off)
        top_name = max(top_name, name_off)
        i += 3
        if kind in _NO_TAIL:
            if kind not in (FWD, FLOAT):
                top_ref = max(top_ref, ref)
                if ref:
                    edges[len(kinds) - 1] = [ref]
                if kind == FUNC:
                    funcs.append(ref)
                elif kind in _CONTAINS_BY_TYPE and ref:
                    contains[len(kinds) - 1] = [ref]
        elif kind in _TAIL_WORDS:
            step = _TAIL_WORDS[kind]
            if kind in (VAR, DECL_TAG):
                top_ref = max(top_ref, ref)
                if ref:
                    edges[len(kinds) - 1] = [ref]
                if kind == VAR and ref:
                    contains[len(kinds) - 1] = [ref]
            elif kind == ARRAY and i + 2 <= n:
                top_ref = max(top_ref, words[i], words[i + 1])
                if words[i]:
                    contains[len(kinds) - 1] = edges[len(kinds) - 1] = [words[i]]
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
                    name = data[strings + name_off:data.find(b"\0", strings + name_off)] if name_off < str_len else b""
                    if name.startswith(b".struct_ops"):
                        return False  # its layout is checked by the exact walk
                    limit = sections.get(name.decode("utf-8", "surrogateescape"))
                    if limit is not None and any(off + size > limit
                                                 for off, size in zip(record[1::step], record[2::step])):
                        return False
                    datasecs += record[0::step]
            if kind in (STRUCT, UNION, FUNC_PROTO, DATASEC):
                walked = [ref] if kind == FUNC_PROTO and ref else []
                walked += [t for t in record[0 if kind == DATASEC else 1::step] if t]
                if walked:
                    edges[len(kinds) - 1] = walked
            if kind == FUNC_PROTO:
                top_ref = max(top_ref, ref)
            i += step * vlen
        else:
            return False  # unknown kind
    count = len(kinds) - 1
    return (i == n and top_name < str_len and top_ref <= count
            and all(0 < ref and kinds[ref] == FUNC_PROTO for ref in funcs)
            and all(not var or kinds[var] in (VAR, FUNC) for var in datasecs)
            and _containment_problem(contains) is None
            and _reference_problem(kinds, names, edges) is None)


def _refuse_self_containment(btf: Btf, contains: Dict[int, List[int]]) -> None:
    problem = _containment_problem(contains)
    if problem is not None:
        raise _fail(problem[0], btf.get(problem[0]).kind, problem[1])


MAX_NESTING = 1024  # libbpf recurses once per nested member in places (btf__align_of): real BTF nests < 100


def _containment_problem(contains: Dict[int, List[int]]) -> Optional[Tuple[int, str]]:
    """A type that contains itself (libbpf loops for ever on it) or nests deeper than MAX_NESTING
    (libbpf's recursion overflows the stack), with why; None when there is none. Iterative: the
    types nothing left contains are peeled off one by one (Kahn's algorithm), depths carried along."""
    indegree = Counter(child for children in contains.values() for child in children)
    depth = dict.fromkeys(contains, 0)
    ready = [node for node in contains if not indegree[node]]
    while ready:
        node = ready.pop()
        below = depth.get(node, 0) + 1
        for child in contains.get(node, ()):
            if below > depth.get(child, 0):
                if below > MAX_NESTING:
                    return child, f"is nested more than {MAX_NESTING} deep"
                depth[child] = below
            indegree[child] -= 1
            if not indegree[child]:
                ready.append(child)
    looped = next((node for node, count in indegree.items() if count > 0), None)
    return None if looped is None else (looped, "contains itself")


_PASS_CONTEXT = frozenset((TYPEDEF, VOLATILE, CONST, RESTRICT, TYPE_TAG, FUNC_PROTO))


def _reference_problem(kinds: List[int], names: List[int], edges: Dict[int, List[int]], *,
                       named_stop: bool = True, limit: int = MAX_NESTING) -> Optional[Tuple[int, str]]:
    """A chain of references libbpf's recursive walks could not finish, with why; None when there is none.

    The walks (``btf_dump``'s above all) follow every reference but stop at a named struct or union
    reached through a pointer, and at a struct or union already on their way (a cycle through one
    is reported, not followed). So each type is a node twice, behind a pointer or not (node
    ``2 * id + behind``), and the strongly connected parts of that graph (Tarjan's algorithm,
    iteratively) must each hold a struct or union when they loop, and weigh no more than
    ``limit`` nodes along any path. With ``named_stop`` False, a named struct or union is walked
    behind a pointer too, as libbpf's BTF dedup (the linker) walks it.
    """
    count = len(kinds)
    composite = bytearray(count)
    stop = bytearray(count)  # a named struct or union: its members are not walked behind a pointer
    for type_id, kind in enumerate(kinds):
        if kind in (STRUCT, UNION):
            composite[type_id] = 1
            stop[type_id] = names[type_id] != 0 and named_stop

    def successors(node: int) -> List[int]:
        type_id, behind = node >> 1, node & 1
        targets = edges.get(type_id)
        if not targets or (behind and stop[type_id]):
            return []
        kind = kinds[type_id]
        if kind == PTR or (behind and kind in _PASS_CONTEXT):
            return [t << 1 | 1 for t in targets]  # behind a pointer
        return [t << 1 for t in targets]

    index = [-1] * (2 * count)
    low = [0] * (2 * count)
    depth = [0] * (2 * count)  # the longest walk from a node's component, once the component is done
    on_stack = bytearray(2 * count)
    stack: List[int] = []
    counter = 0
    for root in edges:
        if index[root << 1] >= 0:
            continue
        index[root << 1] = low[root << 1] = counter
        counter += 1
        stack.append(root << 1)
        on_stack[root << 1] = 1
        work = [(root << 1, successors(root << 1), 0)]
        while work:
            node, nexts, at = work[-1]
            while at < len(nexts):
                nxt = nexts[at]
                at += 1
                if index[nxt] < 0:
                    work[-1] = (node, nexts, at)
                    index[nxt] = low[nxt] = counter
                    counter += 1
                    stack.append(nxt)
                    on_stack[nxt] = 1
                    work.append((nxt, successors(nxt), 0))
                    break
                if on_stack[nxt] and index[nxt] < low[node]:
                    low[node] = index[nxt]
            else:
                work.pop()
                if work and low[node] < low[work[-1][0]]:
                    low[work[-1][0]] = low[node]
                if low[node] == index[node]:
                    problem = _finish_component(node, nexts, stack, on_stack, depth, successors, composite, limit)
                    if problem is not None:
                        return problem
    return None


def _finish_component(node: int, nexts: List[int], stack: List[int], on_stack: bytearray, depth: List[int],
                      successors: Callable[[int], List[int]], composite: bytearray,
                      limit: int) -> Optional[Tuple[int, str]]:
    """Pop the component ``node`` roots off Tarjan's stack, check it, and give its nodes their depth."""
    if stack[-1] == node and node not in nexts:  # one node, no loop: the common case
        stack.pop()
        on_stack[node] = 0
        below = max((depth[n] for n in nexts), default=0) + 1
        if below > limit:
            return node >> 1, f"starts a chain of references more than {limit} deep"
        depth[node] = below
        return None
    part = []
    while True:
        member = stack.pop()
        on_stack[member] = 0
        part.append(member)
        if member == node:
            break
    if not any(composite[m >> 1] for m in part):
        return node >> 1, "refers to itself through no struct or union (libbpf would follow it for ever)"
    members = set(part)
    below = max((depth[n] for m in part for n in successors(m) if n not in members), default=0) + len(part)
    if below > limit:
        return node >> 1, f"starts a chain of references more than {limit} deep"
    for m in part:
        depth[m] = below
    return None


MAX_LINK_DEPTH = 50_000  # libbpf's BTF dedup recurses once per type along a chain: 200k crashed it


def check_linkable(btf: Btf) -> None:
    """Raise :class:`BtfError` when libbpf's linker could not dedup ``btf`` (already validated):
    its walks go behind pointers into named structs too, so no chain of references may be longer
    than :data:`MAX_LINK_DEPTH` types, counting each group of types that refer to one another
    whole (real objects: 120 at most; a vmlinux: 3717)."""
    kinds, names, edges = [0], [0], {}
    for type_id, t in enumerate(btf.types, 1):
        kinds.append(t.kind)
        names.append(t.name_off)
        walked = [ref for ref in references(btf, t) if ref]
        if walked:
            edges[type_id] = walked
    problem = _reference_problem(kinds, names, edges, named_stop=False, limit=MAX_LINK_DEPTH)
    if problem is not None:
        raise _fail(problem[0], btf.get(problem[0]).kind, problem[1] + " (libbpf's linker would overflow its stack)")


def references(btf: Btf, t: Type) -> List[int]:
    """The types ``t`` refers to (not an array's index type)."""
    kind, e = t.kind, btf._e
    if kind in _REFERS_BY_TYPE:
        return [t.size_or_type]
    if kind == ARRAY:
        return [struct.unpack_from(e + "I", t.tail, 0)[0]]
    if kind in (STRUCT, UNION):
        return [member for _, member, _ in btf.members(t)]
    if kind == FUNC_PROTO:
        return [t.size_or_type] + [struct.unpack_from(e + "II", t.tail, 8 * i)[1] for i in range(t.vlen)]
    if kind == DATASEC:
        return [var for var, _, _ in btf.datasec_entries(t)]
    return []
