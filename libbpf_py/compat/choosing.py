"""``compat="auto"`` on an object with a legacy ``maps`` section: which loader was it written for?

Each reading is worked out in full, without the kernel: iproute2's (``struct bpf_elf_map``; tc
loads a ``classifier`` or ``action`` section unless told which), libbpf 0.x's and bpf_load.c's
(``struct bpf_map_def``). A reading *fits* when its loader would have loaded the object: it
accepts the definitions and the sections, loads at least one program, and can create every
map (a map-in-map needs an inner template) and fill every slot it fills (bpf_load.c's tail
calls need a prog array). What a reading that fits loads is its :class:`Outcome`.

- One outcome (one reading, or several that load the object alike): that one, iproute2's when
  it is among them, else the one whose struct has the definitions' stride.
- Outcomes that differ only because bpf_load.c fills a prog array from numbered sections
  (``socket/N``, ``kprobe/N``, ``sockops/N``, its tail-call convention): bpf_load.c's, and the
  reason is given (``why``, and the ``libbpf_py`` logger at INFO).
- Otherwise a ValueError names the ``compat=`` values to choose from and each difference.
- None fits: a LegacyMapError with each loader's reason (naming the sections it could not load).
"""

from __future__ import annotations

from typing import Any, Callable, Dict, List, NamedTuple, Optional, Tuple, Union

from .. import _abi
from .._log import Logger
from ..elf.file import ElfFile
from ..errors import InvalidValueError, LegacyMapError
from .definitions import (
    BPF_LOAD,
    LIBBPF0,
    LegacyMap,
    inner_template,
    maps_section,
    program_sections,
    read_map_defs,
    read_maps,
)
from .iproute2 import PROG_TYPES, Iproute2, implied_command, inserted_inner_maps, tail_call_section
from .old_loaders import OldLoader, effective_attach_type, section_kind, tail_call_slot

IPROUTE2 = "iproute2"
_log = Logger("libbpf_py")


class Outcome(NamedTuple):
    """What one reading loads, in terms two readings can be compared in."""

    programs: Tuple[Tuple[str, str, str], ...]   # (section, program type, expected attach type) it loads
    slots: Tuple[Tuple[str, int, str], ...]      # (map, key, section or map) filled after load
    maps: Tuple[Tuple[str, Tuple[Any, ...]], ...]  # (name, shape: see _MAP_FACTS)


_MAP_FACTS = ("type", "key size", "value size", "max entries", "flags", "pinned", "inner template", "numa node")


def _maps(maps: List[LegacyMap], pinned: bool, reader: str) -> Tuple[Tuple[str, Tuple[Any, ...]], ...]:
    """Each map's shape; LegacyMapError when the reading cannot create a map-in-map."""
    out = []
    for m in maps:
        template = None
        if m.type in _abi.MAP_IN_MAP_TYPES:
            try:
                template = inner_template(maps, m).name
            except LegacyMapError as exc:
                raise LegacyMapError(f"{exc} ({reader} had no inner template to create it with)") from None
        out.append((m.name, (m.type, m.size_key, m.size_value, m.max_elem, m.flags, pinned and m.pinning != 0,
                             template, m.numa_node)))
    return tuple(out)


def _as_iproute2(elf: ElfFile, sections: List[str]) -> Outcome:
    _, maps = read_maps(elf)
    command = implied_command(sections)
    if command is None:
        raise LegacyMapError(f"tc loads a 'classifier' or 'action' section unless told which, and the sections "
                             f"are {sections} (iproute2.open(src, prog_type=..., section=...) tells it)")
    prog_type, default = PROG_TYPES[command]
    arrays: Dict[int, LegacyMap] = {}
    for m in maps:
        if m.type == _abi.MapType.PROG_ARRAY:
            arrays.setdefault(m.id, m)
    programs = [(default, prog_type.name, "")]
    slots = [(outer.name, inner.inner_idx, inner.name) for outer, inner in inserted_inner_maps(maps)]
    for section in sections:
        tail = tail_call_section(section)
        if tail is not None and section != default and tail[0] in arrays:
            programs.append((section, prog_type.name, ""))
            slots.append((arrays[tail[0]].name, tail[1], section))
    return Outcome(tuple(sorted(programs)), tuple(sorted(slots)), _maps(maps, True, "tc"))


def _as_old_loader(dialect: str) -> Callable[[ElfFile, List[str]], Outcome]:
    def read(elf: ElfFile, sections: List[str]) -> Outcome:
        _, maps = read_map_defs(elf, dialect)
        kinds = {s: section_kind(dialect, s) for s in sections}
        untyped = [s for s, kind in kinds.items() if kind is None]
        if dialect == LIBBPF0 and untyped:
            raise LegacyMapError(f"libbpf 0.x gives no program type to section(s) {untyped} (it refused such objects)")
        programs = tuple(sorted((s, kind[0].name, effective_attach_type(kind)) for s, kind in kinds.items()
                                if kind is not None))
        if not programs:
            raise LegacyMapError(f"bpf_load.c loads none of the sections {sections} (it skipped those it did not "
                                 "know)" if dialect == BPF_LOAD else "libbpf 0.x finds no program in it")
        slots = []
        if dialect == BPF_LOAD:
            arrays = [m for m in maps if m.type == _abi.MapType.PROG_ARRAY]
            for section, _, _ in programs:
                key = tail_call_slot(section)
                if key is None:
                    continue
                if not arrays:
                    raise LegacyMapError(f"section {section!r} is bpf_load.c's tail call into slot {key}, and "
                                         "there is no prog array (bpf_load.c failed to store it)")
                slots.append((arrays[-1].name, key, section))
        return Outcome(programs, tuple(sorted(slots)),
                       _maps(maps, False, "libbpf 0.x" if dialect == LIBBPF0 else "bpf_load.c"))
    return read


_READINGS: Dict[str, Callable[[ElfFile, List[str]], Outcome]] = {
    IPROUTE2: _as_iproute2, BPF_LOAD: _as_old_loader(BPF_LOAD), LIBBPF0: _as_old_loader(LIBBPF0)}


def readings(elf: ElfFile) -> Dict[str, Union[Outcome, str]]:
    """Each reading's outcome, or why its loader would not have loaded ``elf``."""
    sections = program_sections(elf)
    found: Dict[str, Union[Outcome, str]] = {}
    for name, read in _READINGS.items():
        try:
            found[name] = read(elf, sections)
        except LegacyMapError as exc:
            found[name] = str(exc)
    return found


def choose(elf: ElfFile, pin_root: Optional[str]) -> Any:
    """The reader ``compat="auto"`` takes (its ``why`` says why); ValueError when two readings
    would load the object differently, LegacyMapError when none fits."""
    found = readings(elf)
    fits = {name: outcome for name, outcome in found.items() if isinstance(outcome, Outcome)}
    if not fits:
        reasons = "; ".join(f"{name}: {reason}" for name, reason in found.items())
        raise LegacyMapError(f"no loader of the legacy formats would have loaded this object ({reasons})")
    chosen, why = _pick(elf, fits)
    _log.info("%s", f"compat='auto' reads this object as written for {chosen}: {why}")
    if chosen == IPROUTE2:
        command = implied_command(program_sections(elf))
        assert command is not None  # iproute2's reading fits only with one
        reader: Any = Iproute2(command, mnt=pin_root)
    else:
        reader = OldLoader(chosen)
    reader.why = why
    return reader


def _pick(elf: ElfFile, fits: Dict[str, Outcome]) -> Tuple[str, str]:
    names = sorted(fits)
    if len(set(fits.values())) == 1:
        why = "the only reading that fits" if len(fits) == 1 else \
            f"the readings that fit ({', '.join(names)}) load it alike"
        return (IPROUTE2 if IPROUTE2 in fits else _by_stride(elf, fits)), why
    slots = fits[BPF_LOAD].slots if BPF_LOAD in fits else ()
    if slots and set(fits) == {BPF_LOAD, LIBBPF0} and fits[BPF_LOAD]._replace(slots=()) == fits[LIBBPF0]:
        sections = [section for _, _, section in slots]
        return BPF_LOAD, (f"sections {sections} are bpf_load.c's tail calls into {slots[0][0]!r}, which libbpf "
                          "0.x's reading leaves empty (compat='libbpf0' loads it so)")
    raise InvalidValueError(f"this object reads as written for {' or '.join(names)}, and they load it differently "
                            f"({_differences(fits)}): pass compat= one of {', '.join(map(repr, names))}")


def _by_stride(elf: ElfFile, fits: Dict[str, Outcome]) -> str:
    """Of old-loader readings that load alike, the one whose struct has the definitions' stride
    (20 bytes: libbpf 0.x's, else bpf_load.c's 28)."""
    if LIBBPF0 in fits and maps_section(elf) is not None and read_map_defs(elf, LIBBPF0)[0] == 20:
        return LIBBPF0
    return BPF_LOAD if BPF_LOAD in fits else LIBBPF0


def _differences(fits: Dict[str, Outcome]) -> str:
    """Each way the outcomes differ: the sections each reading loads, the slots each fills, and
    every fact of a map the readings disagree on."""
    said = []

    def each(describe: Callable[[Outcome], Any]) -> str:
        return "; ".join(f"{name}: {describe(outcome)}" for name, outcome in sorted(fits.items()))

    outcomes = list(fits.values())
    if len({o.programs for o in outcomes}) > 1:
        said.append("sections loaded: " + each(lambda o: ", ".join(
            f"{s!r} ({t.lower()}{', ' + a.lower() if a else ''})" for s, t, a in o.programs)))
    if len({o.slots for o in outcomes}) > 1:
        said.append("slots filled after load: " + each(
            lambda o: ", ".join(f"{m!r}[{k}] = {what!r}" for m, k, what in o.slots) or "none"))
    unknown = (None,) * len(_MAP_FACTS)  # (a map another reading does not see)
    for name in dict.fromkeys(name for o in outcomes for name, _ in o.maps):
        for i, fact in enumerate(_MAP_FACTS):
            def value(o: Outcome, name: str = name, i: int = i) -> Any:
                return dict(o.maps).get(name, unknown)[i]
            if len({value(o) for o in outcomes}) > 1:
                said.append(f"map {name!r} {fact}: " + each(value))
    return "; ".join(said)
