"""What is pinned on bpffs, whatever its kind: a map, a program or a link (as ``bpftool ... show
pinned`` finds out), one pin or a whole tree."""

from __future__ import annotations

import os
from typing import TYPE_CHECKING, Iterator, Tuple, Union

from .. import _libbpf, _signals
from .._checks import c_path
from .._fd import OwnedFd, fd_kind
from ..errors import InvalidValueError
from ..links import Link
from ..maps import Map
from ..programs import Program

if TYPE_CHECKING:
    from .._handle import PathLike

    Pinned = Union[Map, Program, Link]


def open_pinned(path: PathLike) -> Pinned:
    """The map, program or link pinned at ``path``, as a handle the caller closes; ValueError
    when the pin holds another kind of BPF object (e.g. a BTF object)."""
    encoded = c_path(path)
    with _signals.deferred():
        with OwnedFd(_libbpf.lib().bpf_obj_get(encoded)) as fd:
            kind = fd_kind(fd.fileno())
    if kind == "map":
        return Map.from_pinned(path)
    if kind == "prog":
        return Program.from_pinned(path)
    if kind == "link":
        return Link.from_pinned(path)
    raise InvalidValueError(f"{os.fspath(path)!r} holds a BPF object that is not a map, program or link")


def walk_pinned(root: PathLike) -> Iterator[Tuple[str, str, Pinned]]:
    """(path, kind, handle) of every map, program and link pinned under ``root``, in path
    order, each handle closed when the walk moves on (use it inside the loop). Files that are
    not pins (bpffs' own ``maps.debug``...) and pins removed meanwhile are skipped."""
    for directory, dirs, files in os.walk(os.fspath(root)):
        dirs.sort()
        for name in sorted(files):
            path = os.path.join(directory, name)
            try:
                handle = open_pinned(path)
            except (OSError, ValueError):
                continue
            with handle:
                yield path, _kind(handle), handle


def _kind(handle: Union[Map, Program, Link]) -> str:
    return "map" if isinstance(handle, Map) else "prog" if isinstance(handle, Program) else "link"
