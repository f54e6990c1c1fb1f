"""``compat="auto"`` on an object with a legacy ``maps`` section: which loader was it written for?

Each reading is tried: iproute2's (``struct bpf_elf_map``; it needs a ``classifier`` or
``action`` section, the sections tc loads without being told), libbpf 0.x's and bpf_load.c's
(``struct bpf_map_def`` of 20 and 28 bytes: longer definitions must be zero past them). A
reading fits when its loader would accept the object and load at least one program. Of the
readings that fit, each gives an outcome: which sections load and as what type, and for each
map its shape, whether it is pinned, and its inner template. One outcome: that reading (the
iproute2's when it fits, else the one whose struct has the section's stride). Two or more
outcomes: ValueError naming the
``compat=`` values to choose from, and how they differ.
"""

from __future__ import annotations

from ..elf.file import SHF_EXECINSTR, ElfFile
from ..formats.legacy_maps import BPF_LOAD, LIBBPF0, LegacyMap, LegacyMapError, read_map_defs, read_maps

TYPE_CHECKING = False  # typing is imported by the type checker only (see _typing.py)
if TYPE_CHECKING:
    from typing import Any, Dict, List, Optional, Tuple


def _program_sections(elf: ElfFile) -> List[str]:
    return [s.name for s in elf.sections if s.flags & SHF_EXECINSTR and s.name != ".text" and s.header_size]


def _maps_outcome(maps: List[LegacyMap], pinned: bool) -> Tuple[Any, ...]:
    by_index = {m.index: m for m in maps}
    out = []
    for m in maps:
        template: Optional[str] = None
        if m.template >= 0:
            template = by_index[m.template].name
        elif m.inner_id:
            template = next((t.name for t in maps if t.id == m.inner_id and t is not m), None)
        out.append((m.name, m.type, m.size_key, m.size_value, m.max_elem, m.flags,
                    pinned and m.pinning != 0, template, m.numa_node))
    return tuple(out)


def outcomes(elf: ElfFile) -> Dict[str, Tuple[Any, ...]]:
    """The readings that fit ``elf``, each with what it would load."""
    from .iproute2 import PROG_TYPES, tail_call_section
    from .old_loaders import section_kind, tail_call_slot

    sections = _program_sections(elf)
    found: Dict[str, Tuple[Any, ...]] = {}
    try:
        _, maps = read_maps(elf)  # (its refusal is raised by choose() when no reading fits)
        for command in ("sched_cls", "sched_act"):
            prog_type, default = PROG_TYPES[command]
            if default in sections:
                loaded = tuple(sorted((s, int(prog_type)) for s in sections
                                      if s == default or tail_call_section(s) is not None))
                found["iproute2"] = (loaded, _maps_outcome(maps, pinned=True))
                break
    except LegacyMapError:
        pass
    for dialect in (BPF_LOAD, LIBBPF0):
        try:
            _, maps = read_map_defs(elf, dialect)
        except LegacyMapError:
            continue
        try:
            kinds = {s: section_kind(dialect, s) for s in sections}
            if dialect == BPF_LOAD:
                for s in sections:
                    tail_call_slot(s)
        except LegacyMapError:
            continue  # its loader refuses one of the sections
        if dialect == LIBBPF0 and any(kind is None for kind in kinds.values()):
            continue  # 0.x could not type a program: it refused the object
        loaded = tuple(sorted((s, int(kind[0])) for s, kind in kinds.items() if kind is not None))
        if loaded:
            found[dialect] = (loaded, _maps_outcome(maps, pinned=False))
    return found


def choose(elf: ElfFile, pin_root: Optional[str]) -> Any:
    """The reader for the only outcome; ValueError when none fits or two differ."""
    found = outcomes(elf)
    if not found:
        read_maps(elf)  # iproute2's own refusal, when it has one: the format these sections are named for
        raise LegacyMapError("the legacy 'maps' section fits no known loader: iproute2's needs a 'classifier' "
                             "or 'action' section (or iproute2.open(src, prog_type=...) to say which command), "
                             "libbpf 0.x's and bpf_load.c's need 20- or 28-byte definitions with nothing "
                             "non-zero past them")
    distinct = {outcome for outcome in found.values()}
    if len(distinct) > 1:
        names = sorted(found)
        raise ValueError(f"this object reads as written for {' or '.join(names)}, and they load it differently "
                         f"({_difference(found)}): pass compat= one of {', '.join(map(repr, names))}")
    chosen = "iproute2" if "iproute2" in found else _native_to_stride(elf, found)
    if chosen == "iproute2":
        from .iproute2 import Iproute2, legacy_prog_type
        return Iproute2(legacy_prog_type(elf), mnt=pin_root)
    from .old_loaders import OldLoader
    return OldLoader(chosen)


def _native_to_stride(elf: ElfFile, found: Dict[str, Tuple[Any, ...]]) -> str:
    """Of readings that load alike, the one whose struct has the section's stride (20 bytes:
    libbpf 0.x's, 28: bpf_load.c's); else the first."""
    from ..formats.legacy_maps import maps_section, read_map_defs

    section = maps_section(elf)
    stride = read_map_defs(elf, LIBBPF0)[0] if section is not None and LIBBPF0 in found else 0
    if stride == 20 and LIBBPF0 in found:
        return LIBBPF0
    return next(iter(found))


def _difference(found: Dict[str, Tuple[Any, ...]]) -> str:
    (first, a), (second, b) = list(found.items())[:2]
    if a[0] != b[0]:
        return f"{first} loads sections {[s for s, _ in a[0]]}, {second} {[s for s, _ in b[0]]} (with their types)"
    for left, right in zip(a[1], b[1]):
        if left != right:
            return f"map {left[0]!r}: pinned {left[6]} / {right[6]}, inner template {left[7]} / {right[7]}, " \
                   f"numa node {left[8]} / {right[8]}"
    return "their maps differ"
