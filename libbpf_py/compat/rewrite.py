"""Rewrite an object with a legacy ``maps`` section into one libbpf 1.x opens: BTF-defined maps
in ``.maps``.

What changes (and nothing else):
- the ``maps`` section becomes ``.maps``, laid out afresh with one slot per map, each slot
  as large as the largest map definition; its bytes are zero (libbpf never reads them);
- each map symbol moves to its new slot and becomes a GLOBAL OBJECT of the slot's size —
  relocations name the symbol, not an offset, so they stay byte for byte the same;
- ``.BTF`` gets, per map, a libbpf-style definition struct (``type``, ``key``/``key_size``,
  ``value``/``value_size`` or ``values`` for a map-in-map, ``max_entries``, ``map_flags``),
  where every number is the element count of an array of 1-byte ints, so any u32 fits
  (an array's byte size must stay below 2**32); an existing ``.BTF`` keeps every type id
  and string offset (so ``.BTF.ext`` stays valid) and its ``maps`` DATASEC is renamed and
  pointed at the new structs; an object without BTF gets a new ``.BTF`` section at the end;
- a map annotated with ``BPF_ANNOTATE_KV_PAIR`` keeps its key and value types.

Pinning, ids, map-in-map slots and tail calls are not expressible in ``.maps``; the loader
applies them (see :mod:`libbpf_py.compat.iproute2`) from the returned descriptions.
"""

from __future__ import annotations

from typing import Dict, List, Optional, Tuple

from .. import _abi
from ..elf import btf as B
from ..elf.file import (
    SHF_EXECINSTR,
    SHT_PROGBITS,
    STB_GLOBAL,
    STB_LOCAL,
    STT_FUNC,
    STT_NOTYPE,
    STT_OBJECT,
    STT_SECTION,
    ElfFile,
    Section,
    Symbol,
)
from ..errors import ElfError, LegacyMapError
from .definitions import LegacyMap, inner_template, maps_section, read_map_defs, read_maps

BTF_MAPS_SECTION = ".maps"
KV_PREFIX = "____btf_map_"


def rewrite(data: bytes, dialect: str = "iproute2") -> Tuple[bytes, List[LegacyMap]]:
    """``(new_bytes, maps)`` of the object ``data`` (see :func:`rewrite_elf`)."""
    return rewrite_elf(ElfFile.parse(data), dialect, data)


def rewrite_elf(elf: ElfFile, dialect: str, data: bytes) -> Tuple[bytes, List[LegacyMap]]:
    """``(new_bytes, maps)`` of ``elf``, the whole parse of ``data`` (rewritten in place). An
    object without a legacy ``maps`` section comes back unchanged, but that the old loaders'
    static program functions become global (:func:`_program_symbols`). ``dialect`` says which
    loader's definitions the section holds: ``"iproute2"`` (struct bpf_elf_map), ``"libbpf0"`` or
    ``"bpf_load"`` (struct bpf_map_def, see :func:`read_map_defs`)."""
    _, maps = read_maps(elf) if dialect == "iproute2" else read_map_defs(elf, dialect)
    if not maps:  # old loaders opened objects without maps too: their static programs loaded
        if dialect != "iproute2" and _program_symbols(elf, static_allowed=True):
            return elf.to_bytes(), []
        return bytes(data), []
    if elf.section(BTF_MAPS_SECTION) is not None:
        raise LegacyMapError("the object has both a legacy 'maps' section and BTF-defined '.maps'; "
                             "mixing them is not supported")
    btf_section = elf.section(".BTF")
    btf = B.Btf.parse(btf_section.data, elf.byteorder) if btf_section is not None else B.Btf(elf.byteorder)
    builder = _DefinitionBuilder(btf, maps)
    structs = [builder.definition(m) for m in maps]
    slot = max(size for _, size in structs)

    section = maps_section(elf)
    assert section is not None  # read_maps found the maps in it
    elf.rename(section, BTF_MAPS_SECTION)
    section.data = bytes(slot * len(maps))
    section.addralign = max(section.addralign, 8)
    _move_map_symbols(elf, section, maps, slot)
    _program_symbols(elf, static_allowed=dialect != "iproute2")

    variables = _map_variables(btf, maps)
    entries = []
    for m, (struct_id, _) in zip(maps, structs):
        var_id = variables.get(m.name)
        if var_id is None:
            var_id = btf.add_var(m.name, struct_id)
        else:
            btf.get(var_id).size_or_type = struct_id
        entries.append((var_id, m.index * slot, slot))
    old_datasec = btf.find("maps", B.DATASEC)
    if old_datasec is not None:
        btf.set_datasec(old_datasec, BTF_MAPS_SECTION, entries, slot * len(maps))
    else:
        btf.add_datasec(BTF_MAPS_SECTION, entries, slot * len(maps))

    if btf_section is not None:
        btf_section.data = btf.to_bytes()
    else:
        elf.add_section(".BTF", SHT_PROGBITS, btf.to_bytes(), addralign=4)
    return elf.to_bytes(), maps


def _move_map_symbols(elf: ElfFile, section: Section, maps: List[LegacyMap], slot: int) -> None:
    shndx = elf.index_of(section)
    index_of = {m.offset: m.index for m in maps}
    symbols = elf.symbols()
    for i, sym in enumerate(symbols):  # GLOBAL and WEAK alike (old loaders bound both): libbpf wants GLOBAL
        if sym.shndx == shndx and sym.bind != STB_LOCAL and sym.type != STT_SECTION and sym.value in index_of:
            symbols[i] = sym.with_info(STB_GLOBAL, STT_OBJECT)._replace(value=index_of[sym.value] * slot, size=slot)
    elf.set_symbols(symbols)


def _program_symbols(elf: ElfFile, static_allowed: bool = False) -> bool:
    """Give every program section the one GLOBAL FUNC at offset 0 that libbpf 1.x needs.

    iproute2 loads a whole section as one program and ignores its symbols; libbpf makes one
    program per GLOBAL FUNC symbol and none for a section without one. A NOTYPE symbol at the
    start of the section (hand-written or old assembly) becomes that FUNC; a section with no
    symbol there gets one named after it. Static functions outside .text are refused, as
    libbpf 1.x cannot load them. True when a symbol changed.
    """
    symbols = elf.symbols()
    symtab_index, symtab = elf.symtab()
    names = elf.sections[symtab.link]
    changed = False
    for index, sec in enumerate(elf.sections):
        if not sec.flags & SHF_EXECINSTR or sec.name == ".text" or not sec.data:
            continue
        at_start = [i for i, sym in enumerate(symbols) if sym.shndx == index and sym.value == 0
                    and sym.type in (STT_FUNC, STT_NOTYPE) and sym.name]
        for i in at_start:
            if symbols[i].type == STT_FUNC and symbols[i].bind == STB_LOCAL:
                if static_allowed:  # libbpf 0.x and bpf_load.c loaded them: libbpf 1.x needs them global
                    symbols[i] = symbols[i].with_info(STB_GLOBAL, STT_FUNC)
                    changed = True
                    continue
                raise ElfError(f"program {symbols[i].name!r} in section {sec.name!r} is static; libbpf 1.x "
                               "loads only non-static program functions (remove 'static' and rebuild)")
        if any(symbols[i].type == STT_FUNC for i in at_start):
            continue
        globals_at_start = [i for i in at_start if symbols[i].bind == STB_GLOBAL]
        if globals_at_start:
            i = globals_at_start[0]
            symbols[i] = symbols[i].with_info(STB_GLOBAL, STT_FUNC)._replace(size=len(sec.data))
        else:
            # each non-word character becomes "_", as re.sub(r"\W", "_", name) would
            name = "prog_" + "".join(c if c.isalnum() or c == "_" else "_" for c in sec.name)
            symbols.append(Symbol(name, elf.add_string(names, name), (STB_GLOBAL << 4) | STT_FUNC, 0, index, 0,
                                  len(sec.data)))
        changed = True
    if changed:
        elf.set_symbols(symbols)
    return changed


def _map_variables(btf: B.Btf, maps: List[LegacyMap]) -> Dict[str, int]:
    """VAR ids of the maps in an existing ``maps`` DATASEC (objects built with -g)."""
    found: Dict[str, int] = {}
    datasec = btf.find("maps", B.DATASEC)
    if datasec is None:
        return found
    names = {m.name for m in maps}
    for var_id, _, _ in btf.datasec_entries(btf.get(datasec)):
        var = btf.get(var_id)
        if var.kind == B.VAR and btf.name(var) in names:
            found[btf.name(var)] = var_id
    return found


class _DefinitionBuilder:
    """Appends libbpf-style map definition structs to a BTF."""

    def __init__(self, btf: B.Btf, maps: List[LegacyMap]):
        self.btf = btf
        self.maps = maps
        self._u8 = self._int("unsigned char", 1)
        self._index = self._int("__ARRAY_SIZE_TYPE__", 4)
        self._numbers: Dict[int, int] = {}

    def _int(self, name: str, size: int) -> int:
        for i, t in enumerate(self.btf.types, 1):
            if t.kind == B.INT and t.size_or_type == size and self.btf.name(t) == name:
                return i
        return self.btf.add_int(name, size)

    def _number(self, value: int) -> int:
        """PTR → ARRAY[value] of 1-byte ints: how BTF map definitions spell a number."""
        if value not in self._numbers:
            self._numbers[value] = self.btf.add_ptr(self.btf.add_array(self._u8, self._index, value))
        return self._numbers[value]

    def _kv_types(self, m: LegacyMap) -> Tuple[Optional[int], Optional[int]]:
        """Key and value type ids from a ``____btf_map_<name>`` annotation, when sizes agree."""
        kv = self.btf.find(KV_PREFIX + m.name, B.STRUCT)
        if kv is None:
            return None, None
        members = {name: type_id for name, type_id, _ in self.btf.members(self.btf.get(kv))}
        key, value = members.get("key"), members.get("value")
        if key is None or value is None or len(members) != 2:
            return None, None
        return (key if self.btf.size_of(key) == m.size_key else None,
                value if self.btf.size_of(value) == m.size_value else None)

    def definition(self, m: LegacyMap, inner: bool = False) -> Tuple[int, int]:
        """(struct id, struct size) of the definition of ``m``."""
        members: List[Tuple[str, int]] = [("type", self._number(m.type))]
        key_type, value_type = (None, None) if inner else self._kv_types(m)
        if key_type is not None:
            members.append(("key", self.btf.add_ptr(key_type)))
        elif m.size_key:
            members.append(("key_size", self._number(m.size_key)))
        outer = m.type in _abi.MAP_IN_MAP_TYPES and not inner
        if not outer:
            if value_type is not None:
                members.append(("value", self.btf.add_ptr(value_type)))
            elif m.size_value:
                members.append(("value_size", self._number(m.size_value)))
        members.append(("max_entries", self._number(m.max_elem)))
        if m.flags:
            members.append(("map_flags", self._number(m.flags)))
        if m.numa_node:
            members.append(("numa_node", self._number(m.numa_node)))
        size = 8 * len(members)
        fields = [(name, type_id, 64 * i) for i, (name, type_id) in enumerate(members)]
        if outer:  # the inner template's shape, as libbpf's `values` of a map-in-map
            template = inner_template(self.maps, m)
            inner_id, _ = self.definition(template, inner=True)
            values = self.btf.add_array(self.btf.add_ptr(inner_id), self._index, 0)
            fields.append(("values", values, 64 * len(members)))
        return self.btf.add_struct("", fields, size), size
