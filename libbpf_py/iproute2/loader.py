"""Open a legacy tc/ip object with iproute2's semantics, on top of the rewrite and libbpf.

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

import builtins
import errno
import hashlib
import os
from typing import TYPE_CHECKING, Any, Dict, List, Optional, Tuple, Union

from .._abi import MapType, ProgType
from ..elf.file import ElfError, ElfFile
from ..errors import LibbpfError
from ..pinning import PinPolicy
from .layout import Iproute2Pinning
from .legacy import LegacyMap, maps_section
from .rewrite import inserted_inner_maps, rewrite, tail_call_section

if TYPE_CHECKING:
    from ..object import Object

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

Source = Union[str, "os.PathLike[str]", bytes, bytearray, memoryview]


def read_source(src: Source) -> Tuple[bytes, Optional[str]]:
    """The object's bytes and, for a file, its path."""
    if isinstance(src, (bytes, bytearray, memoryview)):
        return bytes(src), None
    with builtins.open(src, "rb") as f:  # this module's own open() is the shim's entry point
        return f.read(), os.fspath(src)


def default_object_name(path: Optional[str]) -> Optional[str]:
    """The name libbpf gives an object opened from ``path`` (basename up to the first dot)."""
    return None if path is None else os.path.basename(path).split(".")[0]


def legacy_prog_type(data: bytes) -> Optional[str]:
    """For ``Object.open``'s detection: None when ``data`` has no legacy maps, else the tc
    command type its sections imply (``classifier`` → sched_cls, ``action`` → sched_act)."""
    try:
        elf = ElfFile.parse(data, headers_only=True)
    except ElfError:
        return None  # not for the shim: libbpf reports what is wrong with it
    if maps_section(elf) is None:
        return None
    sections = {s.name for s in elf.sections}
    for prog_type in ("sched_cls", "sched_act"):
        if PROG_TYPES[prog_type][1] in sections:
            return prog_type
    raise ValueError("a legacy iproute2 object without a 'classifier' or 'action' section: open it with "
                     "libbpf_py.iproute2.open(src, prog_type=...) to say which command would load it")


def open(src: Source, prog_type: str = "sched_cls", section: Optional[str] = None, *,
         name: Optional[str] = None, pinning: Optional[PinPolicy] = None, mnt: Optional[str] = None,
         pinning_db: Optional[Dict[int, str]] = None, mount: bool = False, **object_options: Any) -> Object:
    """Open a legacy tc/ip object as ``tc`` (or ``ip``) would load it; returns an unloaded Object.

    ``prog_type`` is the command's program type (``sched_cls`` for ``tc filter``, ``sched_act``
    for ``tc action``, ``xdp`` for ``ip link``, ``lwt_*`` for ``ip route``); ``section`` overrides
    its default section. Pins follow iproute2's layout under ``mnt`` (``$TC_BPF_MNT`` or the
    bpffs mount tc would find), custom ids from ``pinning_db`` (default: iproute2's database);
    ``pinning`` replaces the layout with another policy.
    """
    from ..object import Object

    if prog_type not in PROG_TYPES:
        raise ValueError(f"prog_type must be one of {sorted(PROG_TYPES)}, not {prog_type!r}")
    program_type, default_section = PROG_TYPES[prog_type]
    data, path = read_source(src)
    new_data, maps = rewrite(data)
    if pinning is None:
        pinning = Iproute2Pinning(maps, hashlib.sha1(data).hexdigest(), subdir=PIN_SUBDIRS[prog_type], mnt=mnt,
                                  pinning_db=pinning_db,
                                  mount=mount)
    obj = Object.open(new_data, name=name or default_object_name(path), pinning=pinning, compat="none",
                      **object_options)
    shim = Iproute2Semantics(maps, program_type, section or default_section)
    try:
        shim.configure(obj)
    except BaseException:
        obj.close()
        raise
    obj.legacy_maps = maps
    obj._after_load.append(shim.wire)
    return obj


class Iproute2Semantics:
    """Program types and the load set before load; map-in-map and tail calls after it."""

    def __init__(self, maps: List[LegacyMap], prog_type: ProgType, section: str):
        self.maps = maps
        self.prog_type = prog_type
        self.section = section
        self.prog_arrays: Dict[int, LegacyMap] = {}
        for m in maps:  # the first prog array with an id (0 included) gets its tail calls, as in tc
            if m.type == MapType.PROG_ARRAY:
                self.prog_arrays.setdefault(m.id, m)

    def configure(self, obj: Object) -> None:
        selected = []
        sections = set()
        for prog in obj.programs.values():
            section = prog.section
            assert section is not None  # every program of an object has one
            sections.add(section)
            tail = tail_call_section(section)
            load = section == self.section or (tail is not None and tail[0] in self.prog_arrays
                                               and section != self.section)
            prog.autoload = load
            if load:
                prog.type = self.prog_type
                if section == self.section:
                    selected.append(prog)
        if not selected:
            raise LibbpfError.for_errno(errno.ENOENT, f"no program in section {self.section!r} "
                                        f"(the object has {sorted(sections)})", "iproute2.open")

    def wire(self, obj: Object) -> None:
        """After load: fill map-in-map slots and prog arrays."""
        for outer, inner in inserted_inner_maps(self.maps):
            if outer.name in obj.reused_maps:
                continue
            try:
                obj.maps[outer.name].update(inner.inner_idx, obj.maps[inner.name].fd)
            except LibbpfError as exc:  # the only OSError a map update (or an fd) raises
                raise LibbpfError.for_errno(
                    exc.errno, f"cannot insert map {inner.name!r} into {outer.name!r} at index {inner.inner_idx} "
                    f"({exc.strerror}); outer map has {outer.max_elem} elements, or different map specs are "
                    "used for outer and inner map", "iproute2.wire") from None
        for prog in obj.programs.values():
            section = prog.section
            assert section is not None  # every program of an object has one
            tail = tail_call_section(section)
            if tail is None or section == self.section or tail[0] not in self.prog_arrays:
                continue
            array = self.prog_arrays[tail[0]]
            try:
                obj.maps[array.name].update(tail[1], prog.fd)
            except LibbpfError as exc:  # the only OSError a map update (or an fd) raises
                raise LibbpfError.for_errno(
                    exc.errno, f"tail call key {tail[1]} for map {array.id} ({array.name!r}): {exc.strerror}"
                    + (", out of bounds?" if exc.errno == errno.E2BIG else ""), "iproute2.wire") from None
