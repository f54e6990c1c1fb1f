""".BTF.ext: what an object says about its instructions beside their code: function info, line
info and CO-RE relocations, each record at an instruction's byte offset in its section. libbpf
carries them over to what it loads (the line info to the kernel; the CO-RE relocations into the
instructions themselves)."""

from __future__ import annotations

import struct
from typing import Callable, Dict, List, Tuple

from ..errors import ElfError

KINDS = ("func_info", "line_info", "core_relo")
_MAGIC = 0xEB9F


def instruction_offsets(ext: bytes, byteorder: str, name_at: Callable[[int], str]) -> Dict[Tuple[str, str], List[int]]:
    """(kind, section name) -> the byte offsets of the instructions each record of ``kind``
    ("func_info", "line_info", "core_relo") names in that section; ``name_at`` reads a name
    from the object's .BTF strings. ElfError for a malformed section."""
    e = "<" if byteorder == "little" else ">"
    if len(ext) < 24:
        raise ElfError(".BTF.ext is shorter than its header")
    magic, _version, _flags, hdr_len = struct.unpack_from(e + "HBBI", ext, 0)
    if magic != _MAGIC or hdr_len < 24 or hdr_len > len(ext):
        raise ElfError(".BTF.ext has a bad magic number or header")
    blocks = list(struct.unpack_from(e + "4I", ext, 8))
    if hdr_len >= 32:
        blocks += struct.unpack_from(e + "2I", ext, 24)
    found: Dict[Tuple[str, str], List[int]] = {}
    for kind, (offset, length) in zip(KINDS, zip(blocks[0::2], blocks[1::2])):
        start, end = hdr_len + offset, hdr_len + offset + length
        if not length:
            continue
        if end > len(ext) or length < 4:
            raise ElfError(f".BTF.ext's {kind} lies outside the section")
        (size,) = struct.unpack_from(e + "I", ext, start)
        if size < 4:
            raise ElfError(f".BTF.ext's {kind} has records of {size} bytes")
        at = start + 4
        while at < end:
            if at + 8 > end:
                raise ElfError(f".BTF.ext's {kind} ends inside a section's header")
            name_off, count = struct.unpack_from(e + "II", ext, at)
            at += 8
            if at + count * size > end:
                raise ElfError(f".BTF.ext's {kind} ends inside a section's records")
            offsets = found.setdefault((kind, name_at(name_off)), [])
            offsets += [struct.unpack_from(e + "I", ext, at + i * size)[0] for i in range(count)]
            at += count * size
    return found
