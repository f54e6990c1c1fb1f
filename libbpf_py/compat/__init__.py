"""Objects written for older loaders, loaded as those loaders loaded them.

``Object.open(src, compat=...)`` asks :func:`reader` how to read ``src``: ``"none"`` hands
the bytes to libbpf as they are; ``"iproute2"`` (or ``"auto"`` on an object with a legacy
``maps`` section) rewrites them through :mod:`libbpf_py.formats` and adds iproute2's
semantics as object hooks and a pin layout (:mod:`.iproute2`).
"""

from __future__ import annotations

from ..formats.legacy_maps import maps_section

TYPE_CHECKING = False  # typing is imported by the type checker only (see _typing.py)
if TYPE_CHECKING:
    from typing import Optional, Union

    from ..elf.file import ElfFile
    from .iproute2 import Iproute2
    Compat = Union[str, Iproute2]

COMPAT_NAMES = ("auto", "none", "iproute2")


def reader(compat: Compat, look: Optional[ElfFile], pin_root: Optional[str]) -> Optional[Iproute2]:
    """How to read an object for ``compat``, given a header-only parse of it (None when it is no
    ELF file this package reads: libbpf says what is wrong); None: as it is. ``pin_root`` is tc's
    mount for a legacy object. The shim's modules are imported only for a legacy object."""
    if not isinstance(compat, str):
        from .iproute2 import Iproute2
        if not isinstance(compat, Iproute2):
            raise ValueError(f"compat must be one of {', '.join(map(repr, COMPAT_NAMES))} or an iproute2 reader, "
                             f"not {compat!r}")
        if pin_root is not None:
            raise ValueError("pin_root and the iproute2 reader's mnt= both say where tc's tree goes: give it "
                             "once (mnt= to iproute2.open, or pin_root= to Object.open)")
        return compat
    if compat not in COMPAT_NAMES:
        raise ValueError(f"compat must be one of {', '.join(map(repr, COMPAT_NAMES))}, not {compat!r}")
    if compat == "none":
        return None
    if look is None or maps_section(look) is None:
        if compat == "iproute2":
            raise ValueError("compat='iproute2' needs a legacy object (a 'maps' section of struct bpf_elf_map)")
        return None
    from .iproute2 import Iproute2, legacy_prog_type
    return Iproute2(legacy_prog_type(look), mnt=pin_root)
