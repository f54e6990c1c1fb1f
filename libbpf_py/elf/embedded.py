"""BPF objects embedded in other files: a libbpf skeleton (``bpftool gen skeleton``) compiles its
object into the executable as a byte array, an ELF image of its own (``e_machine`` EM_BPF).

An image is found by its ELF header and measured by its section headers (clang writes the table
last), then parsed whole: a stray ``\\x7fELF`` in the host's bytes is no object. Its name is the one
``bpftool gen skeleton`` gives it, and libbpf names its internal maps after: the source file's
name with ``.c`` dropped and every character that cannot be in a C name made ``_``
(``execsnoop.bpf.c`` → ``execsnoop_bpf``), the file read from the object's BTF line info.
"""

from __future__ import annotations

import re
import struct
from typing import List, NamedTuple, Optional

from ..errors import ElfError
from .btf import Btf
from .file import (
    EHDR_SIZE,
    ELF_MAGIC,
    ELFCLASS64,
    ELFDATA2LSB,
    ELFDATA2MSB,
    EM_BPF,
    ET_REL,
    SHDR_SIZE,
    SHT_NOBITS,
    ElfFile,
)

_NOT_C_NAME = re.compile(rb"[^A-Za-z0-9_]")
_SOURCE_FILE = re.compile(rb"[^\0]*\.c\0")


class EmbeddedObject(NamedTuple):
    """A BPF object found inside another file."""

    name: str     # as bpftool's skeleton names it (and libbpf its internal maps): "execsnoop_bpf"
    offset: int   # where its ELF image starts in the file
    data: bytes   # the image: Object.open() takes it


def find_embedded(data: bytes) -> List[EmbeddedObject]:
    """Every BPF object image in ``data`` (a file's bytes), in file order."""
    found: List[EmbeddedObject] = []
    at = data.find(ELF_MAGIC)
    while at >= 0:
        image = _image_at(data, at)
        if image is not None:
            found.append(EmbeddedObject(_name_of(image, len(found)), at, image))
            at = data.find(ELF_MAGIC, at + len(image))
        else:
            at = data.find(ELF_MAGIC, at + 1)
    return found


def _image_at(data: bytes, at: int) -> Optional[bytes]:
    """The BPF object image whose ELF header is at ``at``, or None when there is none there."""
    if len(data) - at < EHDR_SIZE or data[at + 4] != ELFCLASS64 or data[at + 5] not in (ELFDATA2LSB, ELFDATA2MSB):
        return None
    e = "<" if data[at + 5] == ELFDATA2LSB else ">"
    e_type, machine = struct.unpack_from(e + "HH", data, at + 16)
    shoff, = struct.unpack_from(e + "Q", data, at + 40)
    shentsize, shnum = struct.unpack_from(e + "HH", data, at + 58)
    if e_type != ET_REL or machine != EM_BPF or shentsize != SHDR_SIZE or not shnum:
        return None
    end = shoff + shnum * SHDR_SIZE
    if end > len(data) - at:
        return None
    for i in range(shnum):  # a section past the table (not what clang writes) counts too
        sh_type, = struct.unpack_from(e + "I", data, at + shoff + i * SHDR_SIZE + 4)
        sh_offset, sh_size = struct.unpack_from(e + "QQ", data, at + shoff + i * SHDR_SIZE + 24)
        if sh_type != SHT_NOBITS:
            end = max(end, sh_offset + sh_size)
    if end > len(data) - at:
        return None
    image = data[at:at + end]
    try:
        ElfFile.parse(image, headers_only=True)
    except ElfError:
        return None
    return image


def _name_of(image: bytes, index: int) -> str:
    """bpftool's name for the object: its source file's (from BTF), else ``object<index>``."""
    try:
        elf = ElfFile.parse(image, headers_only=True, keep=(".BTF",))
        section = elf.section(".BTF")
        strings = bytes(Btf.parse(section.data, elf.byteorder).strings) if section is not None else b""
    except ElfError:
        strings = b""
    sources = [m.group()[:-1] for m in _SOURCE_FILE.finditer(strings) if m.start() == 0 or
               strings[m.start() - 1] == 0]
    if not sources:
        return f"object{index}"
    stem = sources[0].rsplit(b"/", 1)[-1][:-2]
    return _NOT_C_NAME.sub(b"_", stem).decode("ascii")
