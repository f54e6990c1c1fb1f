"""Opening an object as a tc or ip command would load it."""

from __future__ import annotations

from ..compat.iproute2 import Iproute2
from ..object import Object
from ..pinning import PinPolicy

TYPE_CHECKING = False  # typing is imported by the type checker only (see _typing.py)
if TYPE_CHECKING:
    from typing import Any, Dict, Optional

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
