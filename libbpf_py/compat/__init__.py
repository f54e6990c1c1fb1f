"""Every old object format, loaded as its own loader loaded it: objects written for iproute2's tc
and ip (``struct bpf_elf_map``), for libbpf 0.x (``struct bpf_map_def``) and for samples/bpf's
``bpf_load.c``, all of which keep map definitions in a ``maps`` section that libbpf 1.x refuses.

:func:`read` is the one door in: the object's ELF, parsed once, goes in; the bytes libbpf opens
(the definitions rewritten into BTF-defined ``.maps``), the hooks that give the old loader's
semantics, and its pin layout come out. ``Object.open`` imports this package only when the
section headers show a legacy ``maps`` section or a reading is named (``compat=``).

- :mod:`.definitions` reads the ``maps`` section as each loader did; :mod:`.rewrite` turns it
  into ``.maps`` (pure: bytes in, bytes out);
- :mod:`.iproute2` and :mod:`.iproute2_pins`: tc's semantics and pin layout;
  :mod:`.old_loaders`: libbpf 0.x's and bpf_load.c's;
- :mod:`.choosing`: ``compat="auto"``, which reading fits.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, NamedTuple, Optional, Union

from ..elf.file import ElfFile
from ..errors import InvalidValueError
from ..hooks import ObjectHooks
from ..pinning import PinPolicy
from .definitions import LegacyMap, maps_section
from .iproute2 import PROG_TYPES, Iproute2, Iproute2Semantics, legacy_prog_type
from .iproute2_pins import Iproute2Pinning, find_bpffs_mount, parse_pinning_db, read_pinning_db
from .old_loaders import OldLoader
from .rewrite import rewrite

if TYPE_CHECKING:
    Compat = Union[str, Iproute2]
    Reader = Union[Iproute2, OldLoader]

__all__ = ["COMPAT_NAMES", "PROG_TYPES", "Iproute2", "Iproute2Pinning", "Iproute2Semantics", "LegacyMap",
           "OldLoader", "Rewritten", "find_bpffs_mount", "parse_pinning_db", "read", "read_pinning_db", "rewrite"]

COMPAT_NAMES = ("auto", "none", "iproute2", "libbpf0", "bpf_load")


class Rewritten(NamedTuple):
    """An old object made ready for libbpf 1.x."""

    data: bytes           # what libbpf opens
    hooks: ObjectHooks    # the old loader's semantics (program types, load set, slots filled after load)
    pinning: PinPolicy    # its pin layout (a policy that pins nothing for libbpf 0.x and bpf_load.c)


def read(compat: Compat, elf: Optional[ElfFile], data: bytes, pin_root: Optional[str]) -> Optional[Rewritten]:
    """``data`` read for ``compat``; ``elf``: a parse of it (headers only will do; None when it is
    no ELF file this package reads). None: libbpf opens ``data`` as it is. ``pin_root`` is tc's
    mount for a legacy object."""
    how = _reader(compat, elf, pin_root)
    if how is None:
        return None
    whole = ElfFile.parse(data) if elf is None else elf.complete()  # (None: the parse says what is wrong)
    return Rewritten(*how.read(whole, data))


def _reader(compat: Compat, elf: Optional[ElfFile], pin_root: Optional[str]) -> Optional[Reader]:
    if not isinstance(compat, str):
        if not isinstance(compat, Iproute2):
            raise InvalidValueError(f"compat must be one of {', '.join(map(repr, COMPAT_NAMES))} or an iproute2 "
                                    f"reader, not {compat!r}")
        if pin_root is not None:
            raise InvalidValueError("pin_root and the iproute2 reader's mnt= both say where tc's tree goes: give it "
                                    "once (mnt= to iproute2.open, or pin_root= to Object.open)")
        return compat
    if compat not in COMPAT_NAMES:
        raise InvalidValueError(f"compat must be one of {', '.join(map(repr, COMPAT_NAMES))}, not {compat!r}")
    if compat == "none":
        return None
    if compat in ("libbpf0", "bpf_load"):  # with a maps section or without: both loaders opened either
        return OldLoader(compat)
    if elf is None or maps_section(elf) is None:
        if compat != "auto":
            raise InvalidValueError(f"compat={compat!r} needs an object with a legacy 'maps' section of map "
                                    "definitions")
        return None
    if compat == "iproute2":
        return Iproute2(legacy_prog_type(elf), mnt=pin_root)
    from .choosing import choose
    return choose(elf, pin_root)
