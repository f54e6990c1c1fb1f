"""Pin policies: where each map (and program) of an object is pinned.

A policy is a plain object that answers, per map, "no pin" (None) or "this path", and the
same for programs. :class:`PinByName` is libbpf's ``LIBBPF_PIN_BY_NAME`` made explicit;
iproute2's layout is another policy over the same mechanism (:mod:`.session`).
"""

from __future__ import annotations

import os
from typing import TYPE_CHECKING, Iterable, List, Optional, Set, Union

from .._bpffs import check_root
from ..errors import InvalidValueError, MapIncompatibleError
from ..spec import Difference

if TYPE_CHECKING:
    Selection = Union[None, str, Iterable[str]]

    from .._bpffs import PathLike

if TYPE_CHECKING:
    from ..maps import Map
    from ..programs import Program

NAME_MAX = 255


def check_name(name: str, what: str = "map") -> str:
    """``name`` if it is safe as one path component under a pin root, else ValueError."""
    if not name or name in (".", "..") or "/" in name or "\0" in name:
        raise InvalidValueError(f"{what} name {name!r} cannot be a pin name: it would escape the pin root")
    if len(os.fsencode(name)) > NAME_MAX:
        raise InvalidValueError(f"{what} name {name[:32]!r}... is longer than NAME_MAX ({NAME_MAX} bytes)")
    if "." in name:  # bpffs refuses new entries whose name contains a dot (EPERM)
        raise InvalidValueError(f"{what} name {name!r} contains '.', which bpffs does not allow in a pin name")
    return name


class PinPolicy:
    """Decides pin paths. The base policy pins nothing (but the paths set on maps with
    ``m.pin_path = ...``); subclass it, call ``super().__init__(root, ...)`` and override
    ``map_path`` (and ``program_path``): every answer is a path or None.

    ``root`` is the directory the policy pins under (it must be on bpffs, or ``mount=True``);
    ``on_mismatch="replace"`` lets a load replace an incompatible map pin, or a program pin,
    after it succeeded, instead of refusing.
    """

    root: Optional[str]
    on_mismatch: str = "error"
    mount: bool = False

    def __init__(self, root: Optional[PathLike] = None, *, on_mismatch: str = "error", mount: bool = False):
        if on_mismatch not in ("error", "replace"):
            raise InvalidValueError(f"on_mismatch must be 'error' or 'replace', not {on_mismatch!r}")
        self.mount = mount
        self.root = None if root is None else check_root(root, mount=mount)
        self.on_mismatch = on_mismatch

    def map_path(self, m: Map, requested: bool) -> Optional[str]:
        """Where to pin map ``m``; ``requested`` says its definition asked for pinning."""
        return None

    def program_path(self, p: Program) -> Optional[str]:
        """Where to pin program ``p`` after load."""
        return None

    def setup(self) -> None:
        """Called at the start of every load, before any decision (e.g. to lay out a tree)."""

    def incompatible(self, path: str, differences: List[Difference], map_name: str) -> Exception:
        """The error for a pinned map that does not match (a layout may word it its own way)."""
        return MapIncompatibleError(path, differences, map_name)

    def __repr__(self) -> str:
        return f"{type(self).__name__}({self.root!r}, on_mismatch={self.on_mismatch!r})"


def _selection(value: Selection, what: str) -> Union[None, str, Set[str]]:
    if value is None:
        return None
    if isinstance(value, str):
        if value == "all":
            return value
        raise InvalidValueError(f"{what} must be None, 'all' or a collection of names, not {value!r}")
    return set(value)


class PinByName(PinPolicy):
    """Pin maps (and optionally programs) as ``root/<name>``, reusing compatible pins.

    ``maps``: None pins the maps whose definition asks for it (``LIBBPF_PIN_BY_NAME``);
    ``"all"`` pins every map except libbpf's internal ``.data``/``.bss``/``.rodata`` maps;
    a collection of names pins those maps as well. ``programs``: None, ``"all"`` or names.
    ``on_mismatch="replace"`` replaces an incompatible pin with the new map after a
    successful load; ``mount=True`` mounts bpffs on ``root`` when it is not on one.
    """

    root: str

    def __init__(self, root: PathLike, *, maps: Selection = None, programs: Selection = None,
                 on_mismatch: str = "error", mount: bool = False):
        super().__init__(root, on_mismatch=on_mismatch, mount=mount)
        self.maps = _selection(maps, "maps")
        self.programs = _selection(programs, "programs")

    def map_path(self, m: Map, requested: bool) -> Optional[str]:
        name = m.name
        chosen = self.maps
        if requested or (chosen == "all" and not m.is_internal) or (isinstance(chosen, set) and name in chosen):
            return os.path.join(self.root, check_name(name))
        return None

    def program_path(self, p: Program) -> Optional[str]:
        chosen = self.programs
        if chosen == "all" or (isinstance(chosen, set) and p.name in chosen):
            return os.path.join(self.root, check_name(p.name, "program"))
        return None

    def __repr__(self) -> str:
        return (f"PinByName({self.root!r}, maps={self.maps!r}, programs={self.programs!r}, "
                f"on_mismatch={self.on_mismatch!r})")
