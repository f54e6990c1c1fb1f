"""Opening an object as a tc or ip command would load it."""

from __future__ import annotations

import os
from typing import TYPE_CHECKING, Any, Dict, Optional

from ..compat.iproute2 import Iproute2
from ..errors import InvalidValueError
from ..object import Object
from ..pinning import PinPolicy

if TYPE_CHECKING:
    from ..object import Source


def open_as_tc(src: Source, prog_type: str = "sched_cls", section: Optional[str] = None, *,
               name: Optional[str] = None, pinning: Optional[PinPolicy] = None, mnt: Optional[str] = None,
               pinning_db: Optional[Dict[int, str]] = None, mount: bool = False, **object_options: Any) -> Object:
    """Open a legacy tc/ip object as ``tc`` (or ``ip``) would load it; returns an unloaded Object.

    ``prog_type`` is the command's program type (``sched_cls`` for ``tc filter``, ``sched_act``
    for ``tc action``, ``xdp`` for ``ip link``, ``lwt_*`` for ``ip route``); ``section`` overrides
    its default section. Pins follow iproute2's layout under ``mnt`` (``$TC_BPF_MNT`` or the
    bpffs mount tc would find), custom ids from ``pinning_db`` (default: iproute2's database);
    ``pinning`` replaces the layout with another policy. Other options go to :meth:`Object.open`.
    """
    how = Iproute2(prog_type, section, mnt=mnt, pinning_db=pinning_db, mount=mount)
    return Object.open(src, name=name, compat=how, pinning=pinning, **object_options)


def graft(map: str, key: Optional[int], src: Source, *, section: str, prog_type: str = "sched_cls",
          mnt: Optional[str] = None, pinning_db: Optional[Dict[int, str]] = None) -> int:
    """What ``tc exec bpf graft MAP [key KEY] obj SRC sec SECTION`` does: load ``section`` of
    ``src`` as tc loads it (a legacy or a BTF object; its maps pinned or reused as that load
    would), then put the program at ``key`` of the pinned prog array ``map``. ``map`` is a pin
    path, or ``m:PATH`` relative to the command's directory under the mount (``m:globals/jmp_tc``
    is ``<mnt>/tc/globals/jmp_tc``); ``key`` None takes the key from a section named ``id/key``.
    The pinned map must be a prog array of 4-byte keys and values (tc's check). Returns the
    grafted program's id; the prog array keeps the program after the object is closed."""
    from .._abi import MapType
    from ..compat.iproute2 import PIN_SUBDIRS, tail_call_section
    from ..compat.iproute2_pins import Iproute2Pinning
    from ..maps import Map

    if key is None:
        found = tail_call_section(section)
        if found is None:
            raise InvalidValueError(f"no key given, and section {section!r} does not say one (as id/key)")
        key = found[1]
    if map.startswith("m:"):
        if prog_type not in PIN_SUBDIRS:
            raise InvalidValueError(f"prog_type must be one of {sorted(PIN_SUBDIRS)}, not {prog_type!r}")
        root = Iproute2Pinning([], "", mnt=mnt).root
        map = os.path.join(root, PIN_SUBDIRS[prog_type], map[2:])
    with Map.from_pinned(map) as target:
        info = target.info()
        if (info.type, info.key_size, info.value_size) != (MapType.PROG_ARRAY, 4, 4):
            raise InvalidValueError(f"{map} holds a {getattr(info.type, 'name', info.type)} map of "
                                    f"{info.key_size}-byte keys "
                                    f"and {info.value_size}-byte values: tc grafts into a PROG_ARRAY of 4 and 4")
        if isinstance(key, bool) or not isinstance(key, int) or not 0 <= key < info.max_entries:
            raise InvalidValueError(f"key {key!r} is not a slot of {map} (0 to {info.max_entries - 1})")
        target.key_type = target.value_type = int
        with open_as_tc(src, prog_type, section, mnt=mnt, pinning_db=pinning_db) as obj:
            obj.load()
            try:
                program = next((p for p in obj.programs.values() if p.section == section and p.autoload), None)
                if program is None:
                    raise InvalidValueError(f"no program in section {section!r}")
                target[key] = program.fd
                return program.info().id
            except BaseException:  # nothing grafted: the pins this load made go (reused ones stay)
                unpin_made(obj)
                raise


def unpin_made(obj: Object) -> None:
    """Remove the pins ``obj``'s load made (not those it reused), when what the load was for
    failed after it (a graft, an attachment): as if the command had never run."""
    for m in obj.maps.values():
        if m.pin_path and m.name not in obj.reused_maps:
            try:
                m.unpin()
            except OSError:
                pass  # removed or replaced meanwhile: not this load's any more
