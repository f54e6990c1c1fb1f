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
from typing import Dict, List, NamedTuple, Optional, Tuple

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
    SHT_STRTAB,
    ElfFile,
)

_NOT_C_NAME = re.compile(rb"[^A-Za-z0-9_]")
_SOURCE_FILE = re.compile(rb"[^\0]*\.c\0")


class EmbeddedObject(NamedTuple):
    """A BPF object found inside another file."""

    name: str     # as bpftool's skeleton names it (and libbpf its internal maps): "execsnoop_bpf"
    offset: int   # where its ELF image starts in the file
    data: bytes   # the image: Object.open() takes it


_SCAN_BUDGET = 1 << 22  # section header entries read per file at most (a real binary: a few hundred)


def find_embedded(data: bytes) -> List[EmbeddedObject]:
    """Every BPF object image in ``data`` (a file's bytes), in file order. A section header table
    several headers share is measured once, and no more than _SCAN_BUDGET entries are read in
    all: a file of fake headers made to cost more is refused (ElfError)."""
    found: List[EmbeddedObject] = []
    scan = _Scan()
    at = data.find(ELF_MAGIC)
    while at >= 0:
        image = _image_at(data, at, scan)
        if image is not None:
            found.append(EmbeddedObject(_name_of(image, len(found)), at, image))
            at = data.find(ELF_MAGIC, at + len(image))
        else:
            at = data.find(ELF_MAGIC, at + 1)
    return found


_TABLE_ENTRY = struct.Struct("<4xI16xQQ24x")  # sh_type, sh_offset, sh_size of a little-endian entry


class _Scan:
    """What one file's scan measured: each section header table's furthest section end, and the
    entries it may still read."""

    def __init__(self) -> None:
        self.extents: Dict[Tuple[int, int], int] = {}  # (table's offset, entries) -> furthest end
        self.left = _SCAN_BUDGET


def _image_at(data: bytes, at: int, scan: _Scan) -> Optional[bytes]:
    """The BPF object image whose ELF header is at ``at``, or None when there is none there: the
    header's fields as clang writes them, its sections within the file, its section-name table a
    string table; whether libbpf can read the rest, Object.open checks."""
    if len(data) - at < EHDR_SIZE or data[at + 4] != ELFCLASS64 or data[at + 5] not in (ELFDATA2LSB, ELFDATA2MSB):
        return None
    e = "<" if data[at + 5] == ELFDATA2LSB else ">"
    e_type, machine, version = struct.unpack_from(e + "HHI", data, at + 16)
    (shoff,) = struct.unpack_from(e + "Q", data, at + 40)
    ehsize, _phentsize, phnum, shentsize, shnum, shstrndx = struct.unpack_from(e + "6H", data, at + 52)
    if (e_type != ET_REL or machine != EM_BPF or version != 1 or ehsize != EHDR_SIZE or phnum or
            shentsize != SHDR_SIZE or not 0 < shstrndx < shnum or shoff < EHDR_SIZE):
        return None
    table = at + shoff
    if table + shnum * SHDR_SIZE > len(data):
        return None
    key = (table, shnum)
    if key not in scan.extents:  # the furthest end of a section, relative to the image's start
        scan.left -= shnum
        if scan.left < 0:
            raise ElfError(f"more than {_SCAN_BUDGET} section headers to read for its candidate ELF headers at "
                           f"offset {at} and before: not a plain executable")
        entry = _TABLE_ENTRY if e == "<" else struct.Struct(">4xI16xQQ24x")
        scan.extents[key] = max((sh_offset + sh_size for sh_type, sh_offset, sh_size in
                                 entry.iter_unpack(data[table:table + shnum * SHDR_SIZE]) if sh_type != SHT_NOBITS),
                                default=0)
    end = max(shoff + shnum * SHDR_SIZE, scan.extents[key])  # (a section past the table, not what clang writes)
    if end > len(data) - at:
        return None
    names_type, names_offset, names_size = struct.unpack_from(e + "4xI16xQQ", data, table + shstrndx * SHDR_SIZE)
    if names_type != SHT_STRTAB or names_offset + names_size > end or not names_size:
        return None
    return data[at:at + end]


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
