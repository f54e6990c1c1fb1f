"""The BPF objects an executable carries (a libbpf skeleton embeds its object as an ELF image):
``embedded_objects("/usr/sbin/execsnoop")`` lists them; ``Object.open(found.data, name=found.name)``
opens one as the tool's own skeleton does (the name is the one its internal maps are named after).
"""

from __future__ import annotations

import errno
import os
from typing import List, Optional, Union

from ._checks import c_path
from ._fd import read_file
from .elf.embedded import EmbeddedObject, find_embedded
from .errors import InvalidTypeError, KeyNotFoundError, LibbpfError

__all__ = ["EmbeddedObject", "embedded_objects", "embedded_object", "is_host_binary"]

PathOrBytes = Union[str, "os.PathLike[str]", "os.PathLike[bytes]", bytes, bytearray, memoryview]
_CONTENTS = (bytes, bytearray, memoryview)  # as Object.open: bytes are the file's contents, a str is a path


def embedded_objects(binary: PathOrBytes) -> List[EmbeddedObject]:
    """The BPF objects inside ``binary`` (a path, or the file's bytes), in file order: each with
    its name, its offset in the file and its bytes. An empty list for a file without any."""
    if isinstance(binary, _CONTENTS):
        return find_embedded(bytes(binary))
    return find_embedded(read_file(c_path(binary, "binary"), "binary", "open"))


def embedded_object(binary: PathOrBytes, name: Optional[str] = None) -> EmbeddedObject:
    """The one BPF object inside ``binary`` (or the one called ``name``); LibbpfError (ENOENT)
    for a file without any, KeyNotFoundError when ``name`` or the choice is not clear."""
    if name is not None and not isinstance(name, str):
        raise InvalidTypeError(f"name must be a str, not {type(name).__name__}")
    found = embedded_objects(binary)
    shown = "the bytes given" if isinstance(binary, _CONTENTS) else os.fsdecode(c_path(binary, "binary"))
    if not found:
        raise LibbpfError.for_errno(errno.ENOENT, f"{shown} embeds no BPF object (an ELF image of e_machine EM_BPF)")
    if name is None and len(found) == 1:
        return found[0]
    chosen = [o for o in found if o.name == name]
    if len(chosen) != 1:
        names = ", ".join(o.name for o in found)
        raise KeyNotFoundError(f"{shown} embeds {len(found)} BPF objects ({names}): name the one to use"
                               if name is None else f"{shown} embeds no BPF object named {name!r} ({names})")
    return chosen[0]


def is_host_binary(path: PathOrBytes) -> bool:
    """Whether ``path`` is an ELF file other than a BPF object (an executable or a library,
    which may embed BPF objects); False for anything else, or unreadable."""
    if isinstance(path, _CONTENTS):
        head = bytes(path[:20])
    else:
        try:
            head = read_file(c_path(path, "path"), "file", limit=20)
        except LibbpfError:
            return False
    machine = head[18:20]
    return len(head) == 20 and head[:4] == b"\x7fELF" and machine not in (b"\xf7\x00", b"\x00\xf7", b"\x00\x00")
