"""Objects written for older loaders, loaded as those loaders loaded them.

``Object.open(src, compat=...)`` asks :func:`reader` how to read ``src``: ``"none"`` hands
the bytes to libbpf as they are; ``"iproute2"``, ``"libbpf0"`` and ``"bpf_load"`` rewrite a
legacy ``maps`` section through :mod:`libbpf_py.formats` and add that loader's semantics as
object hooks and a pin layout (:mod:`.iproute2`, :mod:`.old_loaders`); ``"auto"`` takes the
only reading that fits a legacy object, and refuses to guess between two that would load it
differently (:mod:`.choosing`).
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Optional, Union

from ..errors import InvalidValueError
from ..formats.legacy_maps import maps_section

if TYPE_CHECKING:
    from ..elf.file import ElfFile
    from .iproute2 import Iproute2
    from .old_loaders import OldLoader
    Compat = Union[str, Iproute2]
    Reader = Union[Iproute2, OldLoader]

COMPAT_NAMES = ("auto", "none", "iproute2", "libbpf0", "bpf_load")


def reader(compat: Compat, look: Optional[ElfFile], pin_root: Optional[str]) -> Optional[Reader]:
    """How to read an object for ``compat``, given a header-only parse of it (None when it is no
    ELF file this package reads: libbpf says what is wrong); None: as it is. ``pin_root`` is tc's
    mount for a legacy object. The shim's modules are imported only for a legacy object."""
    if not isinstance(compat, str):
        from .iproute2 import Iproute2
        if not isinstance(compat, Iproute2):
            raise InvalidValueError(f"compat must be one of {', '.join(map(repr, COMPAT_NAMES))} or an iproute2 "
                                    "reader, "
                                    f"not {compat!r}")
        if pin_root is not None:
            raise InvalidValueError("pin_root and the iproute2 reader's mnt= both say where tc's tree goes: give it "
                                    "once (mnt= to iproute2.open, or pin_root= to Object.open)")
        return compat
    if compat not in COMPAT_NAMES:
        raise InvalidValueError(f"compat must be one of {', '.join(map(repr, COMPAT_NAMES))}, not {compat!r}")
    if compat == "none":
        return None
    if compat in ("libbpf0", "bpf_load"):  # with a maps section or without: both loaders opened either
        from .old_loaders import OldLoader
        return OldLoader(compat)
    if look is None or maps_section(look) is None:
        if compat != "auto":
            raise InvalidValueError(f"compat={compat!r} needs an object with a legacy 'maps' section of map "
                                    "definitions")
        return None
    if compat == "iproute2":
        from .iproute2 import Iproute2, legacy_prog_type
        return Iproute2(legacy_prog_type(look), mnt=pin_root)
    from .choosing import choose
    return choose(look, pin_root)
