"""A minimal ELF64 relocatable-object reader and writer (pure Python, no kernel).

Enough for rewriting BPF objects: sections with their bytes, the symbol table, adding
sections and strings, and writing the file back with a fresh layout. Every offset and
index read from the input is checked once, here, so callers never see a truncated or
out-of-range structure: malformed input raises :class:`ElfError` (a ``ValueError``).
"""

from __future__ import annotations

import struct
from typing import Dict, Iterator, List, NamedTuple, Optional, Tuple

from ..errors import ElfError

ELF_MAGIC = b"\x7fELF"
ELFCLASS64 = 2
ELFDATA2LSB, ELFDATA2MSB = 1, 2
ET_REL = 1
EM_NONE, EM_BPF = 0, 247

SHT_NULL, SHT_PROGBITS, SHT_SYMTAB, SHT_STRTAB, SHT_REL, SHT_NOBITS = 0, 1, 2, 3, 9, 8
SHF_EXECINSTR = 0x4
SHN_UNDEF, SHN_LORESERVE = 0, 0xFF00

STB_LOCAL, STB_GLOBAL, STB_WEAK = 0, 1, 2
STT_NOTYPE, STT_OBJECT, STT_FUNC, STT_SECTION = 0, 1, 2, 3

EHDR_SIZE, SHDR_SIZE, SYM_SIZE = 64, 64, 24
MAX_ALIGN = 1 << 16  # BPF objects align sections to 8 at most; anything huge is corruption


class Section:
    """One section header and its bytes (empty for SHT_NOBITS and SHT_NULL)."""

    __slots__ = ("name", "sh_name", "type", "flags", "addr", "link", "info", "addralign", "entsize", "data",
                 "nobits_size", "header_size")

    def __init__(self, name: str, sh_name: int, type: int, flags: int, addr: int, link: int, info: int,
                 addralign: int, entsize: int, data: bytes = b"", nobits_size: int = 0, header_size: int = 0):
        self.name, self.sh_name, self.type, self.flags, self.addr = name, sh_name, type, flags, addr
        self.link, self.info, self.addralign, self.entsize, self.data = link, info, addralign, entsize, data
        self.nobits_size = nobits_size  # the size of an SHT_NOBITS section, which has no bytes in the file
        self.header_size = header_size  # sh_size as read (also for a header-only parse, which keeps no bytes)

    def __repr__(self) -> str:
        return f"<Section {self.name!r} type={self.type} size={self.size}>"

    def __eq__(self, other: object) -> bool:
        return isinstance(other, Section) and all(getattr(self, f) == getattr(other, f) for f in self.__slots__)

    __hash__ = None  # type: ignore[assignment]  # mutable

    @property
    def size(self) -> int:
        return self.nobits_size if self.type == SHT_NOBITS else len(self.data)


class Symbol(NamedTuple):
    """One entry of ``.symtab``."""

    name: str
    st_name: int
    info: int
    other: int
    shndx: int
    value: int
    size: int

    @property
    def bind(self) -> int:
        return self.info >> 4

    @property
    def type(self) -> int:
        return self.info & 0xF

    def with_info(self, bind: int, sym_type: int) -> "Symbol":
        return self._replace(info=(bind << 4) | sym_type)


class ElfFile:
    """A parsed ELF64 relocatable object: header fields and sections, editable, writable."""

    def __init__(self, ident: bytes, machine: int, version: int, flags: int, shstrndx: int,
                 sections: Optional[List[Section]] = None):
        self.ident, self.machine, self.version, self.flags, self.shstrndx = ident, machine, version, flags, shstrndx
        self.sections: List[Section] = [] if sections is None else sections
        self._unread: List[Tuple[Section, slice]] = []  # a quick look's sections whose bytes wait in _source
        self._source = b""

    def __eq__(self, other: object) -> bool:
        return isinstance(other, ElfFile) and (self.ident, self.machine, self.version, self.flags, self.shstrndx,
                                               self.sections) == (other.ident, other.machine, other.version,
                                                                  other.flags, other.shstrndx, other.sections)

    __hash__ = None  # type: ignore[assignment]  # mutable

    @property
    def byteorder(self) -> str:
        return "little" if self.ident[5] == ELFDATA2LSB else "big"

    @property
    def _e(self) -> str:
        return "<" if self.byteorder == "little" else ">"

    # reading -----------------------------------------------------------------------------

    @classmethod
    def parse(cls, data: bytes, *, headers_only: bool = False, keep: Tuple[str, ...] = ()) -> "ElfFile":
        """Parse ``data``; ``headers_only`` reads the bytes of the section-name table and of the
        sections named in ``keep`` only (a quick look: :meth:`complete` reads the rest)."""
        data = bytes(data)
        if len(data) < EHDR_SIZE or data[:4] != ELF_MAGIC:
            raise ElfError("not an ELF file (bad magic)")
        if data[4] != ELFCLASS64:
            raise ElfError("only 64-bit ELF objects are supported")
        if data[5] not in (ELFDATA2LSB, ELFDATA2MSB):
            raise ElfError("unknown ELF byte order")
        e = "<" if data[5] == ELFDATA2LSB else ">"
        (e_type, machine, version, _entry, _phoff, shoff, flags, ehsize, _phentsize, phnum, shentsize, shnum,
         shstrndx) = struct.unpack_from(e + "HHIQQQIHHHHHH", data, 16)
        if e_type != ET_REL:
            raise ElfError(f"not a relocatable object (e_type {e_type}); BPF objects are ET_REL")
        if machine not in (EM_NONE, EM_BPF):
            raise ElfError(f"not a BPF object (e_machine {machine})")
        if phnum:
            raise ElfError("a relocatable BPF object has no program headers")
        if ehsize != EHDR_SIZE or shentsize != SHDR_SIZE:
            raise ElfError("unexpected ELF header or section header size")
        if shnum == 0 or shoff + shnum * SHDR_SIZE > len(data) or shoff < EHDR_SIZE:
            raise ElfError("section header table is missing or outside the file")
        if shstrndx >= shnum:
            raise ElfError("section name table index out of range")
        raw = []
        extents = []
        headers = struct.Struct(e + "IIQQQQIIQQ").iter_unpack(data[shoff:shoff + shnum * SHDR_SIZE])
        for i, (sh_name, sh_type, sh_flags, sh_addr, sh_offset, sh_size, sh_link, sh_info, sh_align,
                sh_entsize) in enumerate(headers):
            if sh_type not in (SHT_NOBITS, SHT_NULL) and sh_offset + sh_size > len(data):
                raise ElfError(f"section {i} lies outside the file")
            if sh_align > MAX_ALIGN or sh_align & (sh_align - 1):
                raise ElfError(f"section {i} has an invalid alignment ({sh_align})")
            if sh_link >= shnum and sh_type in (SHT_SYMTAB, SHT_REL):
                raise ElfError(f"section {i} links to a section that does not exist")
            raw.append(Section("", sh_name, sh_type, sh_flags, sh_addr, sh_link, sh_info, sh_align, sh_entsize,
                               b"", sh_size if sh_type == SHT_NOBITS else 0, sh_size))
            extents.append((sh_offset, 0 if sh_type in (SHT_NOBITS, SHT_NULL) else sh_size))
        names_offset, names_size = extents[shstrndx]
        names = data[names_offset:names_offset + names_size]
        if raw[shstrndx].type != SHT_STRTAB:
            raise ElfError("section name table is not a string table")
        for i, s in enumerate(raw):
            s.name = _string_at(names, s.sh_name, "section name")
            _check_size(i, s)
        wanted = {i for i, s in enumerate(raw) if not headers_only or i == shstrndx or s.name in keep}
        wanted |= {raw[i].link for i in list(wanted) if raw[i].type == SHT_SYMTAB}  # its names come along
        elf = cls(data[:16], machine, version, flags, shstrndx, raw)
        for i, (offset, size) in enumerate(extents):
            if size and i in wanted:
                raw[i].data = data[offset:offset + size]
            elif size:
                elf._unread.append((raw[i], slice(offset, offset + size)))
        if elf._unread:
            elf._source = data
        return elf

    def complete(self) -> "ElfFile":
        """Read the bytes of the sections a quick look left out (see :meth:`parse`); itself."""
        for section, extent in self._unread:
            section.data = self._source[extent]
        self._unread, self._source = [], b""
        return self

    def section(self, name: str) -> Optional[Section]:
        """The first section called ``name``."""
        for s in self.sections:
            if s.name == name:
                return s
        return None

    def index_of(self, section: Section) -> int:
        for i, s in enumerate(self.sections):
            if s is section:
                return i
        raise ElfError(f"section {section.name!r} is not in this file")

    def symtab(self) -> Tuple[int, Section]:
        """Index and section of ``.symtab`` (the only SHT_SYMTAB)."""
        for i, s in enumerate(self.sections):
            if s.type == SHT_SYMTAB:
                return i, s
        raise ElfError("no symbol table (.symtab): a stripped object cannot be loaded")

    def symbols(self) -> List[Symbol]:
        _, symtab = self.symtab()
        if symtab.entsize != SYM_SIZE or len(symtab.data) % SYM_SIZE:
            raise ElfError("symbol table has an unexpected entry size")
        names = self.sections[symtab.link].data
        out = []
        for off in range(0, len(symtab.data), SYM_SIZE):
            st_name, info, other, shndx, value, size = struct.unpack_from(self._e + "IBBHQQ", symtab.data, off)
            if shndx < SHN_LORESERVE and shndx >= len(self.sections):
                raise ElfError(f"symbol {off // SYM_SIZE} refers to section {shndx}, which does not exist")
            out.append(Symbol(_string_at(names, st_name, "symbol name"), st_name, info, other, shndx, value, size))
        return out

    def sections_named(self) -> Dict[str, int]:
        return {s.name: i for i, s in enumerate(self.sections)}

    def iter_relocations(self, rel: Section) -> Iterator[Tuple[int, int, int]]:
        """(offset, symbol index, type) of each entry of an SHT_REL section."""
        if rel.entsize != 16 or len(rel.data) % 16:
            raise ElfError(f"relocation section {rel.name!r} has an unexpected entry size")
        for off in range(0, len(rel.data), 16):
            r_offset, r_info = struct.unpack_from(self._e + "QQ", rel.data, off)
            yield r_offset, r_info >> 32, r_info & 0xFFFFFFFF

    # editing ---------------------------------------------------------------------------------

    def add_string(self, table: Section, text: str) -> int:
        """Append ``text`` to a string table (or find it there) and return its offset."""
        encoded = text.encode("utf-8", "surrogateescape") + b"\0"
        found = _find_string(table.data, encoded)
        if found is not None:
            return found
        offset = len(table.data)
        table.data += encoded
        return offset

    def rename(self, section: Section, name: str) -> None:
        section.sh_name = self.add_string(self.sections[self.shstrndx], name)
        section.name = name

    def add_section(self, name: str, sh_type: int, data: bytes, *, flags: int = 0, link: int = 0, info: int = 0,
                    addralign: int = 1, entsize: int = 0) -> Section:
        """Append a section at the end, so every existing index stays valid."""
        section = Section(name, 0, sh_type, flags, 0, link, info, addralign, entsize, data)
        self.rename(section, name)
        self.sections.append(section)
        return section

    def set_symbols(self, symbols: List[Symbol]) -> None:
        """Rewrite ``.symtab`` from ``symbols`` (same order; locals first, as ELF requires)."""
        _, symtab = self.symtab()
        out = bytearray()
        for sym in symbols:
            out += struct.pack(self._e + "IBBHQQ", sym.st_name, sym.info, sym.other, sym.shndx, sym.value, sym.size)
        symtab.data = bytes(out)

    # writing ---------------------------------------------------------------------------------

    def to_bytes(self) -> bytes:
        """The file, laid out afresh: header, section bytes in index order, section headers."""
        e = self._e
        out = bytearray(EHDR_SIZE)
        offsets = []
        for s in self.sections:
            if s.type in (SHT_NULL, SHT_NOBITS):
                offsets.append(len(out) if s.type == SHT_NOBITS else 0)
                continue
            out += b"\0" * (-len(out) % max(s.addralign, 1))
            offsets.append(len(out))
            out += s.data
        out += b"\0" * (-len(out) % 8)
        shoff = len(out)
        for s, offset in zip(self.sections, offsets):
            out += struct.pack(e + "IIQQQQIIQQ", s.sh_name, s.type, s.flags, s.addr, offset, s.size,
                               s.link, s.info, s.addralign, s.entsize)
        header = struct.pack(e + "HHIQQQIHHHHHH", ET_REL, self.machine, self.version, 0, 0, shoff, self.flags,
                             EHDR_SIZE, 0, 0, SHDR_SIZE, len(self.sections), self.shstrndx)
        out[:16] = self.ident
        out[16:EHDR_SIZE] = header
        return bytes(out)


MAX_SECTION_SIZE = (1 << 32) - 1  # libbpf keeps a section's size in 32 bits (a map's value_size, a DATASEC's size)


def _check_size(index: int, section: Section) -> None:
    """Refuse a section size libbpf would cut to its low 32 bits (an SHT_NOBITS ``.bss`` has no
    bytes in the file to bound it): libbpf 1.x would make a map of the size that is left."""
    size = section.header_size
    if size > MAX_SECTION_SIZE:
        raise ElfError(f"section {index} ({section.name!r}) claims {size} bytes, more than the 32 bits libbpf "
                       f"keeps of a section's size (a .bss would become a map of {size & MAX_SECTION_SIZE} bytes)")


def _string_at(table: bytes, offset: int, what: str) -> str:
    if offset >= len(table) and not (offset == 0 and not table):
        raise ElfError(f"{what} offset {offset} is outside its string table")
    end = table.find(b"\0", offset)
    if end < 0:
        raise ElfError(f"{what} at offset {offset} is not NUL-terminated")
    return table[offset:end].decode("utf-8", "surrogateescape")  # round-trips any bytes


def _find_string(table: bytes, encoded: bytes) -> Optional[int]:
    """Offset of a whole NUL-terminated string in a table (not a suffix of a longer one)."""
    start = 0
    while True:
        found = table.find(encoded, start)
        if found < 0:
            return None
        if found == 0 or table[found - 1] == 0:
            return found
        start = found + 1
