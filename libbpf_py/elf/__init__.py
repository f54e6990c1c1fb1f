"""Pure-Python ELF64 and BTF reading and rewriting (no kernel, no libbpf)."""

from .btf import Btf
from .file import ElfFile, Section, Symbol

__all__ = ["Btf", "ElfFile", "Section", "Symbol"]
