"""Several BPF objects linked into one, by libbpf's static linker (what ``bpftool gen object`` does).

An object may call functions and use maps and variables another defines (``extern`` in C);
:func:`link_objects` resolves them into one ELF object and opens it.
"""

from __future__ import annotations

import os
import tempfile
from typing import TYPE_CHECKING, Any, List, Optional, Sequence, Tuple, Union

from . import _libbpf, _log
from ._checks import c_path
from ._fd import check_regular
from .elf.btf import Btf as PureBtf
from .elf.btf_check import check_linkable, validate_object
from .errors import ElfError, InvalidTypeError, InvalidValueError, LibbpfError
from .object import Object, _look, read_source

if TYPE_CHECKING:
    PathLike = Union[str, "os.PathLike[str]"]

__all__ = ["link_objects"]


def _inputs(sources: Sequence[Any]) -> List[Tuple[bytes, Optional[str]]]:
    """Each source's bytes and, for a file, its path, checked as Object.open checks them."""
    if isinstance(sources, (str, bytes, bytearray, memoryview)) or not hasattr(sources, "__iter__"):
        raise InvalidTypeError("link takes a list of objects (paths or ELF bytes)")
    inputs = [read_source(src) for src in sources]
    if not inputs:
        raise InvalidValueError("link needs at least one object")
    for i, (image, path) in enumerate(inputs):  # libbpf's linker reads what open would: the same checks first
        what = path or f"object {i} of the list"
        look = _look(image)
        if look is None:
            raise ElfError(f"{what} is not an ELF file")
        try:
            if isinstance(look, ElfError):
                raise look
            validate_object(look)
            section = look.section(".BTF")
            if section is not None:
                check_linkable(PureBtf.parse(section.data, look.byteorder))
        except ElfError as exc:
            raise ElfError(f"{what} is malformed: {exc}") from None
    return inputs


def link(sources: Sequence[Any]) -> bytes:
    """The ELF bytes of ``sources`` (paths or ELF bytes) linked into one object, in order."""
    inputs = _inputs(sources)
    lib = _libbpf.lib()
    with tempfile.TemporaryDirectory(prefix="libbpf_py-link-") as scratch:
        paths = []
        for i, (image, _) in enumerate(inputs):  # the bytes checked, not the files again (they may change)
            path = os.path.join(scratch, f"object{i}.o")
            with open(path, "wb") as f:
                f.write(image)
            paths.append(path)
        output = os.path.join(scratch, "linked.o")
        with _log.captured() as said:
            try:
                linker = lib.bpf_linker__new(c_path(output), None)
                try:
                    for path in paths:
                        lib.bpf_linker__add_file(linker, c_path(path), None)
                    lib.bpf_linker__finalize(linker)
                finally:
                    lib.bpf_linker__free(linker)
            except LibbpfError as exc:
                names = [(copy, path or f"object {i} of the list") for i, (copy, (_, path)) in
                         enumerate(zip(paths, inputs))]
                warnings = [line.split("libbpf: ", 1)[-1] for line in said.warnings][-3:]
                for copy, name in names:  # libbpf read the checked copies: say the caller's names
                    warnings = [line.replace(copy, name) for line in warnings]
                raise exc.with_detail(warnings=warnings) from None
        with open(output, "rb") as f:
            return f.read()


def link_objects(sources: Sequence[Any], *, output: Optional[PathLike] = None, **open_options: Any) -> Object:
    """One :class:`Object` from several (paths or ELF bytes), opened, not loaded; with ``output``,
    the linked object is also written there (as ``bpftool gen object OUTPUT ...`` writes it).
    ``open_options`` go to :meth:`Object.open` (``name`` defaults to ``linked``)."""
    if output is not None:
        check_regular(c_path(output, "output"), "output")  # (opening a FIFO to write blocks for ever)
    data = link(sources)
    if output is not None:
        with open(c_path(output, "output"), "wb") as f:
            f.write(data)
    open_options.setdefault("name", "linked")
    return Object.open(data, **open_options)
