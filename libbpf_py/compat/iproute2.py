"""Loading a legacy tc/ip object as iproute2 does, on top of the rewrite and libbpf.

What tc's legacy loader does, and how it is reproduced here:

- every program loaded from the object gets the command's type (``prog_type``); only the
  selected section and the ``<id>/<key>`` tail-call sections whose prog array exists are
  loaded (the others get ``autoload = False``);
- maps are pinned with iproute2's layout (:class:`Iproute2Pinning`), reused after a
  per-field check, and — unlike tc — a failed load removes the pins it made;
- after load, each inner map whose ``inner_idx`` is not -1 is put at that slot of every
  map-in-map whose ``inner_id`` is its ``id``, if that outer map was created by this load (an
  outer reused from a pin keeps its slots: tc only rewrites them when some other map-in-map
  of the same object was newly created, a quirk not reproduced);
- each tail-call program goes into its prog array at its key, whether the array was reused
  or not (as tc does).
"""

from __future__ import annotations

import errno
from typing import Dict, List, Optional, Tuple

from .. import _abi
from .._abi import MapType, ProgType
from ..elf.file import ElfFile
from ..errors import InvalidValueError, LibbpfError
from ..hooks import HookedObject, ObjectHooks
from ..maps import Map
from ..pinning import PinPolicy
from ..programs import Program
from .definitions import NO_INNER_IDX, LegacyMap, program_sections
from .iproute2_pins import Iproute2Pinning, scan_uint
from .rewrite import rewrite_elf

try:  # CPython's own SHA-1: hashlib would load OpenSSL (~2 ms) for one digest per legacy load
    from _sha1 import sha1 as _sha1  # type: ignore[import-not-found]
except ImportError:  # pragma: no cover - an interpreter without it
    from hashlib import sha1 as _sha1

# command type → (program type, default section), as tc, ip link and ip route set them
PROG_TYPES: Dict[str, Tuple[ProgType, str]] = {
    "sched_cls": (ProgType.SCHED_CLS, "classifier"),
    "sched_act": (ProgType.SCHED_ACT, "action"),
    "xdp": (ProgType.XDP, "prog"),
    "lwt_in": (ProgType.LWT_IN, "prog"),
    "lwt_out": (ProgType.LWT_OUT, "prog"),
    "lwt_xmit": (ProgType.LWT_XMIT, "prog"),
    "lwt_seg6local": (ProgType.LWT_SEG6LOCAL, "prog"),
}

# the command's directory under the bpffs mount (xdp and ip are symlinks to tc/ as tc lays them out)
PIN_SUBDIRS = {"sched_cls": "tc", "sched_act": "tc", "xdp": "xdp", "lwt_in": "ip", "lwt_out": "ip",
               "lwt_xmit": "ip", "lwt_seg6local": "ip"}


def implied_command(sections: List[str]) -> Optional[str]:
    """The tc command a legacy object's program sections imply when none is named: sched_cls for
    a ``classifier`` section, else sched_act for an ``action`` one, else None."""
    return next((command for command in ("sched_cls", "sched_act") if PROG_TYPES[command][1] in sections), None)


def legacy_prog_type(elf: ElfFile) -> str:
    """For ``compat="iproute2"`` on an object with legacy maps: :func:`implied_command`, or
    ValueError when it implies none."""
    command = implied_command(program_sections(elf))
    if command is None:
        raise InvalidValueError("a legacy iproute2 object without a 'classifier' or 'action' section: open it with "
                                "libbpf_py.iproute2.open(src, prog_type=...) to say which command would load it")
    return command


class Iproute2:
    """How one tc/ip command loads a legacy object: ``read`` rewrites it and returns the hooks
    and pin layout that give it iproute2's semantics.

    ``prog_type`` is the command's program type (``sched_cls`` for ``tc filter``, ``sched_act``
    for ``tc action``, ``xdp`` for ``ip link``, ``lwt_*`` for ``ip route``); ``section`` overrides
    its default section. Pins follow iproute2's layout under ``mnt`` (``$TC_BPF_MNT`` or the
    bpffs mount tc would find), custom ids from ``pinning_db`` (default: iproute2's database).
    """

    def __init__(self, prog_type: str = "sched_cls", section: Optional[str] = None, *, mnt: Optional[str] = None,
                 pinning_db: Optional[Dict[int, str]] = None, mount: bool = False):
        if prog_type not in PROG_TYPES:
            raise InvalidValueError(f"prog_type must be one of {sorted(PROG_TYPES)}, not {prog_type!r}")
        self.prog_type = prog_type
        self.section = section or PROG_TYPES[prog_type][1]
        self.mnt = mnt
        self.pinning_db = pinning_db
        self.mount = mount
        self.why = f"loaded as the {prog_type} command loads it"  # (compat="auto" says why it chose it)

    def read(self, elf: ElfFile, data: bytes) -> Tuple[bytes, ObjectHooks, PinPolicy]:
        """(what libbpf opens, the hooks, the pin layout) for the object ``data``, whose whole
        parse is ``elf`` (rewritten in place)."""
        new_data, maps = rewrite_elf(elf, "iproute2", data)
        pinning = Iproute2Pinning(maps, _sha1(data).hexdigest(), subdir=PIN_SUBDIRS[self.prog_type],
                                  mnt=self.mnt, pinning_db=self.pinning_db, mount=self.mount)
        return new_data, Iproute2Semantics(maps, PROG_TYPES[self.prog_type][0], self.section, self.why), pinning


class Iproute2Semantics(ObjectHooks):
    """tc's rules as Object hooks: program types and the load set after open; map-in-map and tail
    calls after load. ``maps`` are the object's legacy map definitions."""

    reading = "iproute2"  # the compat= value this reading answers to

    def __init__(self, maps: List[LegacyMap], prog_type: ProgType, section: str, why: str = "asked for"):
        self.why = why  # how the reading was chosen
        self.maps = maps
        self.prog_type = prog_type
        self.section = section
        self.prog_arrays: Dict[int, LegacyMap] = {}
        for m in maps:  # the first prog array with an id (0 included) gets its tail calls, as in tc
            if m.type == MapType.PROG_ARRAY:
                self.prog_arrays.setdefault(m.id, m)
        # (reused prog array, key, the program that was there): kept open, or the overwrite would free it
        self._replaced: List[Tuple[Map, int, Optional[Program]]] = []

    def opened(self, obj: HookedObject) -> None:
        selected = []
        sections = set()
        for prog in obj.programs.values():
            section = prog.section
            assert section is not None  # every program of an object has one
            sections.add(section)
            load = section == self.section or self._tail_call(section) is not None
            prog.autoload = load
            if load:
                prog.type = self.prog_type
                if section == self.section:
                    selected.append(prog)
        if not selected:
            raise LibbpfError.for_errno(errno.ENOENT, f"no program in section {self.section!r} "
                                        f"(the object has {sorted(sections)})")

    def loaded(self, obj: HookedObject) -> None:
        """Fill map-in-map slots and prog arrays."""
        for outer, inner in inserted_inner_maps(self.maps):
            if outer.name in obj.reused_maps:
                continue
            try:
                obj.maps[outer.name].update(inner.inner_idx, obj.maps[inner.name].fd)
            except LibbpfError as exc:  # the only OSError a map update (or an fd) raises
                raise exc.with_detail(
                    f"cannot insert map {inner.name!r} into {outer.name!r} at index {inner.inner_idx} "
                    f"({exc.detail}); outer map has {outer.max_elem} elements, or different map specs are "
                    "used for outer and inner map") from None
        for prog in obj.programs.values():
            section = prog.section
            assert section is not None  # every program of an object has one
            tail = self._tail_call(section)
            if tail is None or not prog.autoload:
                continue
            array = self.prog_arrays[tail[0]]
            target = obj.maps[array.name]
            if array.name in obj.reused_maps:  # outlives a failed load: keep what to put back
                self._replaced.append((target, tail[1], _program_at(target, tail[1])))
            try:
                target.update(tail[1], prog.fd)
            except LibbpfError as exc:  # the only OSError a map update (or an fd) raises
                raise exc.with_detail(
                    f"tail call key {tail[1]} for map {array.id} ({array.name!r}): {exc.detail}"
                    + (", out of bounds?" if exc.errno == errno.E2BIG else "")) from None

    def _tail_call(self, section: str) -> Optional[Tuple[int, int]]:
        """(prog array id, key) when ``section`` is a tail call into one of the object's prog
        arrays (and not the selected section), else None."""
        tail = tail_call_section(section)
        if tail is None or section == self.section or tail[0] not in self.prog_arrays:
            return None
        return tail

    def rolled_back(self, obj: HookedObject) -> None:
        """Put back the programs this load replaced in prog arrays reused from pins."""
        while self._replaced:
            array, key, old = self._replaced.pop()
            if old is None:
                array.pop(key, None)
                continue
            with old:
                array.update(key, old.fd)

    def committed(self, obj: HookedObject) -> None:
        while self._replaced:
            old = self._replaced.pop()[2]
            if old is not None:
                old.close()


def _program_at(array: Map, key: int) -> Optional[Program]:
    """The program at ``key`` of a live prog array (a handle of its own), or None when the slot is empty."""
    with Map.from_fd(array.fd) as view:
        view.key_type = view.value_type = int
        prog_id = view.lookup(key)
    if prog_id is None:
        return None
    try:
        return Program.from_id(prog_id)
    except FileNotFoundError:  # replaced and freed meanwhile
        return None


def inserted_inner_maps(maps: List[LegacyMap]) -> List[Tuple[LegacyMap, LegacyMap]]:
    """(outer, inner) pairs to wire after load: every inner map whose ``inner_idx`` is not -1
    goes into every map-in-map whose ``inner_id`` is its ``id`` (iproute2's rule)."""
    pairs = []
    for inner in maps:
        if inner.id == 0 or inner.inner_id != 0 or inner.inner_idx == NO_INNER_IDX:
            continue
        for outer in maps:
            if outer.type in _abi.MAP_IN_MAP_TYPES and outer.inner_id == inner.id:
                pairs.append((outer, inner))
    return pairs


def tail_call_section(name: str) -> Optional[Tuple[int, int]]:
    """(prog array id, key) for a section iproute2 reads as ``sscanf("%i/%i")``: ``42/0``, also
    ``0x2a/1``, ``42/1/v2`` (the rest is ignored) or ``-1/0`` (ids are unsigned)."""
    first = scan_uint(name)
    if first is None or name[first[1]:first[1] + 1] != "/":
        return None
    second = scan_uint(name, first[1] + 1)
    return None if second is None else (first[0], second[0])
