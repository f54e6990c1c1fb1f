"""Legacy map definitions in a ``maps`` section, read as the loader each was written for.

- ``struct bpf_elf_map`` with iproute2's rules (:func:`read_maps`, below);
- ``struct bpf_map_def`` of libbpf 0.x (5 ``__u32``: type, key_size, value_size, max_entries,
  map_flags; 20 bytes) and samples/bpf's ``bpf_load.c`` variant (7: plus inner_map_idx and
  numa_node; 28 bytes), with those loaders' rules (:func:`read_map_defs`).

iproute2 (include/bpf_elf.h, lib/bpf_legacy.c) keeps maps in a section named exactly
``maps`` as nine ``__u32``: type, size_key, size_value, max_elem, flags, id, pinning,
inner_id, inner_idx. The number of maps is the number of GLOBAL NOTYPE/OBJECT symbols in
that section; the stride is the section size divided by it, and must be 16 to 36 bytes
(a shorter entry, such as the 20-byte ``struct bpf_map_def`` of old libbpf samples, is
zero-filled). The refusals below keep iproute2's reasons.
"""

from __future__ import annotations

import struct
from typing import List, NamedTuple, Optional, Tuple

from .. import _abi
from .._abi import MapType
from ..elf.file import (
    SHF_EXECINSTR,
    SHT_PROGBITS,
    STB_GLOBAL,
    STB_LOCAL,
    STT_NOTYPE,
    STT_OBJECT,
    STT_SECTION,
    ElfFile,
    Section,
    Symbol,
)
from ..errors import LegacyMapError

MAPS_SECTION = "maps"
ELF_MAX_MAPS = 64
FULL_STRIDE = 36
MIN_STRIDE = 16

PIN_NONE, PIN_OBJECT_NS, PIN_GLOBAL_NS = 0, 1, 2
NO_INNER_IDX = 0xFFFFFFFF

FIELDS = ("type", "size_key", "size_value", "max_elem", "flags", "id", "pinning", "inner_id", "inner_idx")


class LegacyMap(NamedTuple):
    """One legacy map definition, with the symbol that names it."""

    name: str
    index: int  # type: ignore[assignment]  # position in the section (st_value / stride); shadows tuple.index
    offset: int         # st_value in the original section
    type: int
    size_key: int
    size_value: int
    max_elem: int
    flags: int
    id: int
    pinning: int
    inner_id: int
    inner_idx: int
    template: int = -1  # bpf_load.c: the index of the map whose shape is a map-in-map's inner template
    numa_node: int = 0  # bpf_load.c: applied when flags has BPF_F_NUMA_NODE

    @property
    def definition(self) -> Tuple[int, ...]:
        """The nine fields, in struct order."""
        return tuple(getattr(self, f) for f in FIELDS)


def maps_section(elf: ElfFile) -> Optional[Section]:
    """The legacy ``maps`` section, or None when the object has none."""
    section = elf.section(MAPS_SECTION)
    if section is None or section.type != SHT_PROGBITS:
        return None
    return section


def program_sections(elf: ElfFile) -> List[str]:
    """The names of the sections that hold programs (code, not .text's subprograms), in order."""
    return [s.name for s in elf.sections if s.flags & SHF_EXECINSTR and s.name != ".text" and s.header_size]


def map_symbols(elf: ElfFile, section: Section) -> List[Tuple[int, Symbol]]:
    """(symbol index, symbol) of every map symbol, as iproute2 counts them."""
    shndx = elf.index_of(section)
    return [(i, sym) for i, sym in enumerate(elf.symbols())
            if sym.shndx == shndx and sym.bind == STB_GLOBAL and sym.type in (STT_NOTYPE, STT_OBJECT)]


def read_maps(elf: ElfFile) -> Tuple[int, List[LegacyMap]]:
    """(stride, maps in index order) of the legacy section; (0, []) when there is none."""
    section = maps_section(elf)
    if section is None:
        return 0, []
    symbols = map_symbols(elf, section)
    count, size = len(symbols), len(section.data)
    if not 1 <= count <= ELF_MAX_MAPS:
        raise LegacyMapError(f"{count} maps not supported in current map section (1 to {ELF_MAX_MAPS})")
    if size % count or size % 4:
        raise LegacyMapError("number of BPF map symbols is not a multiple of struct bpf_elf_map")
    stride = size // count
    if stride > FULL_STRIDE:
        raise LegacyMapError(f"struct bpf_elf_map of {stride} bytes not supported, coming from a future version?")
    if stride < MIN_STRIDE:
        raise LegacyMapError(f"struct bpf_elf_map of {stride} bytes is too small, not supported")
    by_offset = {sym.value: sym for _, sym in symbols}
    e = "<" if elf.byteorder == "little" else ">"
    maps = []
    for index in range(count):
        sym = by_offset.get(index * stride)
        if sym is None:
            raise LegacyMapError("different struct bpf_elf_map in use: no map symbol at offset "
                                 f"{index * stride} (stride {stride})")
        raw = section.data[index * stride:(index + 1) * stride].ljust(FULL_STRIDE, b"\0")
        maps.append(LegacyMap(sym.name, index, sym.value, *struct.unpack(e + "9I", raw)))
    names = [m.name for m in maps]
    for name in names:
        if names.count(name) > 1:  # one would shadow the other (edits, pins): tc's second pin would fail
            raise LegacyMapError(f"two map definitions are named {name!r}")
    for m in maps:
        if m.type == MapType.STRUCT_OPS:
            raise LegacyMapError(f"map {m.name!r} has type STRUCT_OPS (26), which a map definition cannot "
                                 "create (its kernel call would fail: struct_ops maps come from .struct_ops)")
    return stride, maps


LIBBPF0, BPF_LOAD = "libbpf0", "bpf_load"
_DEF_FIELDS = {LIBBPF0: 5, BPF_LOAD: 7}  # u32 fields each loader's struct has


def read_map_defs(elf: ElfFile, dialect: str) -> Tuple[int, List[LegacyMap]]:
    """(stride, maps in section order) as libbpf 0.x (``dialect="libbpf0"``) or samples/bpf's
    bpf_load.c (``"bpf_load"``) read them: one map per symbol in the section (named by it), the
    stride the section size over their number; a stride shorter than the loader's struct is
    zero-filled, and bytes beyond it must be zero (both loaders refuse "unknown" non-zero
    options). bpf_load.c's inner_map_idx must name an earlier map (it is created first)."""
    section = maps_section(elf)
    if section is None:
        return 0, []
    shndx = elf.index_of(section)
    symbols = sorted((sym for sym in elf.symbols() if sym.shndx == shndx and sym.name and sym.type != STT_SECTION),
                     key=lambda sym: sym.value)
    count, size = len(symbols), len(section.data)
    if not count or not size or size % count:
        raise LegacyMapError(f"cannot tell the size of a map definition: {size} bytes for {count} map symbols")
    stride = size // count
    fields = _DEF_FIELDS[dialect]
    e = "<" if elf.byteorder == "little" else ">"
    maps = []
    for index, sym in enumerate(symbols):
        if sym.bind == STB_LOCAL:  # (libbpf 0.3 itself accepted them; later 0.x refused "static maps")
            raise LegacyMapError(f"map {sym.name!r} is static: libbpf 0.x (from 0.4) and libbpf 1.x refuse static "
                                 "maps; make it global")
        if sym.value % stride or sym.value + stride > size:
            raise LegacyMapError(f"map {sym.name!r} does not start a {stride}-byte definition")
        raw = section.data[sym.value:sym.value + stride]
        if any(raw[4 * fields:]):
            raise LegacyMapError(f"map {sym.name!r} has unrecognized, non-zero options beyond its "
                                 f"{4 * fields}-byte definition (this format's loader refuses it)")
        values = struct.unpack(e + f"{fields}I", raw[:4 * fields].ljust(4 * fields, b"\0"))
        kind, key, value, max_entries, flags = values[:5]
        inner, numa = (values[5], values[6]) if dialect == BPF_LOAD else (0, 0)
        template = -1
        if dialect == BPF_LOAD and kind in (MapType.ARRAY_OF_MAPS, MapType.HASH_OF_MAPS):
            if inner >= index:
                raise LegacyMapError(f"map {sym.name!r}: inner_map_idx {inner} is not an earlier map "
                                     "(bpf_load.c creates maps in order)")
            template = inner
        maps.append(LegacyMap(sym.name, index, sym.value, kind, key, value, max_entries, flags, 0, PIN_NONE, 0,
                              NO_INNER_IDX, template, numa if flags & _abi.BPF_F_NUMA_NODE else 0))
    names = [m.name for m in maps]
    for name in names:
        if names.count(name) > 1:
            raise LegacyMapError(f"two map definitions are named {name!r}")
    for m in maps:
        if m.type == MapType.STRUCT_OPS:
            raise LegacyMapError(f"map {m.name!r} has type STRUCT_OPS (26), which a map definition cannot create")
        if m.template >= 0 and maps[m.template].type in (MapType.ARRAY_OF_MAPS, MapType.HASH_OF_MAPS):
            raise LegacyMapError(f"map {m.name!r}: its inner template {maps[m.template].name!r} is itself a "
                                 "map-in-map")
    return stride, maps


def inner_template(maps: List[LegacyMap], outer: LegacyMap) -> LegacyMap:
    """The map whose shape a map-in-map's inner maps take: bpf_load.c's map at ``inner_map_idx``,
    iproute2's map of id ``inner_id``; LegacyMapError when there is none (the loader could not
    create the outer map)."""
    if outer.template >= 0:
        return maps[outer.template]
    if outer.inner_id == 0:
        raise LegacyMapError(f"map {outer.name!r} cannot be created since no inner map ID is defined")
    for m in maps:
        if m.id == outer.inner_id:
            if m.type in _abi.MAP_IN_MAP_TYPES:
                raise LegacyMapError(f"map {outer.name!r}: its inner map {m.name!r} is itself a map-in-map")
            return m
    raise LegacyMapError(f"map {outer.name!r} cannot be loaded: inner map with ID {outer.inner_id} not found")
