"""Legacy ``struct bpf_elf_map`` definitions, read with iproute2's rules.

iproute2 (include/bpf_elf.h, lib/bpf_legacy.c) keeps maps in a section named exactly
``maps`` as nine ``__u32``: type, size_key, size_value, max_elem, flags, id, pinning,
inner_id, inner_idx. The number of maps is the number of GLOBAL NOTYPE/OBJECT symbols in
that section; the stride is the section size divided by it, and must be 16 to 36 bytes
(a shorter entry, such as the 20-byte ``struct bpf_map_def`` of old libbpf samples, is
zero-filled). The refusals below keep iproute2's reasons.
"""

from __future__ import annotations

import struct

from .._abi import MapType
from ..elf.file import SHT_PROGBITS, STB_GLOBAL, STT_NOTYPE, STT_OBJECT, ElfError, ElfFile, Section, Symbol

TYPE_CHECKING = False  # typing is imported by the type checker only (see _typing.py)
if TYPE_CHECKING:
    from typing import List, NamedTuple, Optional, Tuple
else:
    from .._typing import NamedTuple

MAPS_SECTION = "maps"
ELF_MAX_MAPS = 64
FULL_STRIDE = 36
MIN_STRIDE = 16

PIN_NONE, PIN_OBJECT_NS, PIN_GLOBAL_NS = 0, 1, 2
NO_INNER_IDX = 0xFFFFFFFF

FIELDS = ("type", "size_key", "size_value", "max_elem", "flags", "id", "pinning", "inner_id", "inner_idx")


class LegacyMapError(ElfError):
    """A legacy ``maps`` section that iproute2 itself would refuse."""


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
