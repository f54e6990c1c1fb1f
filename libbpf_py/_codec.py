"""Keys and values: Python objects to the bytes of a map slot and back.

A :class:`Codec` knows one element size and the Python type values decode to
(``bytes``, ``int`` or a ctypes type). It accepts, whatever that type, ``bytes``-like
objects and ctypes instances of exactly the size, and non-negative ints that fit
(in the host's byte order, as the kernel stores them). A wrong size is a
``ValueError`` before anything reaches C.

A :class:`Slot` is one reusable C buffer for a map's key or value with its pointer
prepared once: the map operations fill it and pass ``slot.ptr`` without building a
ctypes object per call.
"""

from __future__ import annotations

import ctypes
import sys
from ctypes import c_uint8, c_uint16, c_uint32, c_uint64, c_void_p
from typing import TYPE_CHECKING, Any, Dict, List, Literal, Sequence

from .errors import InvalidTypeError, InvalidValueError

if TYPE_CHECKING:
    UintFormat = Literal["B", "H", "I", "Q"]  # struct/array/memoryview codes of the unsigned C ints

_UINT_FOR_SIZE = {1: c_uint8, 2: c_uint16, 4: c_uint32, 8: c_uint64}
_FORMAT_FOR_SIZE: Dict[int, UintFormat] = {1: "B", 2: "H", 4: "I", 8: "Q"}
BYTEORDER = sys.byteorder


def _describe(obj: Any) -> str:
    return type(obj).__name__


class Codec:
    """Encodes and decodes one key or value of ``size`` bytes."""

    __slots__ = ("size", "pytype", "what", "fmt", "_max")

    def __init__(self, size: int, pytype: Any = bytes, what: str = "value"):
        if pytype is not bytes and pytype is not int:
            if not _is_ctype(pytype):
                raise InvalidTypeError(f"{what} type must be bytes, int or a ctypes type, not {pytype!r}")
            if ctypes.sizeof(pytype) != size:
                raise InvalidValueError(f"{what} type {pytype.__name__} is {ctypes.sizeof(pytype)} bytes, "
                                        f"the map's {what} is {size}")
        self.size = size
        self.pytype = pytype
        self.what = what
        self.fmt = _FORMAT_FOR_SIZE.get(size) if pytype is int else None
        self._max = (1 << (8 * size)) - 1

    def encode(self, obj: Any) -> bytes:
        """The slot bytes for ``obj`` (checked for size and range)."""
        if isinstance(obj, int):  # bools too, as array.array packs them for the batch operations
            if not 0 <= obj <= self._max:
                raise InvalidValueError(f"{self.what} {obj} does not fit in {self.size} unsigned bytes")
            return int(obj).to_bytes(self.size, BYTEORDER)
        if isinstance(obj, (str, float)) or obj is None:
            raise InvalidTypeError(f"{self.what} must be bytes, an int or a ctypes object, not {_describe(obj)}")
        try:
            view = memoryview(obj)
        except TypeError:
            hint = " (for many entries: update(mapping, flags=...), flags by keyword)" if hasattr(obj, "items") else ""
            raise InvalidTypeError(f"{self.what} must be bytes, an int or a ctypes object, "
                                   f"not {_describe(obj)}{hint}") from None
        if view.nbytes != self.size:
            raise InvalidValueError(f"{self.what} must be {self.size} bytes, got {view.nbytes}")
        return view.tobytes()

    def decode(self, raw: Any) -> Any:
        """The Python value for slot bytes ``raw`` (bytes or a byte memoryview)."""
        pytype = self.pytype
        if pytype is bytes:
            return bytes(raw)
        if pytype is int:
            return int.from_bytes(raw, BYTEORDER)
        return pytype.from_buffer_copy(raw)

    def decode_many(self, raw: Any, count: int) -> List[Any]:
        """Decode ``count`` consecutive elements of a byte buffer."""
        view = memoryview(raw).cast("B")[: count * self.size]
        if self.fmt is not None:
            return view.cast(self.fmt).tolist()
        size = self.size
        decode = self.decode
        return [decode(view[i:i + size]) for i in range(0, count * size, size)]


def _is_ctype(pytype: Any) -> bool:
    if not isinstance(pytype, type):
        return False
    try:
        ctypes.sizeof(pytype)
    except TypeError:
        return False
    return True


class Slot:
    """A reusable C buffer for one key or value, with its pointer prepared once."""

    __slots__ = ("codec", "size", "buf", "view", "ptr", "number", "max")

    def __init__(self, codec: "Codec | PerCpuCodec"):
        self.codec = codec
        self.size = codec.size
        uint = _UINT_FOR_SIZE.get(self.size)
        self.buf = uint() if uint is not None else (c_uint8 * max(self.size, 1))()
        self.number = uint is not None and isinstance(codec, Codec)  # `buf.value = int` works
        self.view = memoryview(self.buf).cast("B")[: self.size]
        self.ptr = c_void_p(ctypes.addressof(self.buf)) if self.size else c_void_p()
        self.max = (1 << (8 * self.size)) - 1

    def store(self, obj: Any) -> None:
        """Write ``obj`` into the buffer (same checks as ``Codec.encode``)."""
        if type(obj) is int and self.number and 0 <= obj <= self.max:
            self.buf.value = obj
        elif not self.size:
            if obj is not None:
                raise InvalidValueError(f"this map has no {self.codec.what}s; pass None, not {_describe(obj)}")
        else:
            self.view[:] = self.codec.encode(obj)

    def load(self) -> Any:
        """The buffer's content, decoded."""
        if self.number and self.codec.pytype is int:
            return self.buf.value
        return self.codec.decode(self.view)


class PerCpuCodec:
    """Per-CPU values: one element per possible CPU, each padded to 8 bytes."""

    __slots__ = ("elem", "ncpus", "stride", "size", "what")
    pytype = list  # what values decode to (as Codec.pytype): a list, one entry per CPU

    def __init__(self, elem: Codec, ncpus: int):
        self.elem = elem
        self.ncpus = ncpus
        self.stride = (elem.size + 7) & ~7
        self.size = self.stride * ncpus
        self.what = elem.what

    def encode(self, values: Sequence[Any]) -> bytes:
        if not isinstance(values, (list, tuple)):
            raise InvalidTypeError(f"a per-CPU {self.what} is a list with one entry per possible CPU "
                                   f"({self.ncpus}), not {_describe(values)}")
        if len(values) != self.ncpus:
            raise InvalidValueError(f"a per-CPU {self.what} needs {self.ncpus} entries (one per possible CPU), "
                                    f"got {len(values)}")
        pad = b"\0" * (self.stride - self.elem.size)
        return b"".join(self.elem.encode(v) + pad for v in values)

    def decode(self, raw: Any) -> List[Any]:
        view = memoryview(raw).cast("B")
        size, decode = self.elem.size, self.elem.decode
        return [decode(view[i:i + size]) for i in range(0, self.size, self.stride)]

    def decode_many(self, raw: Any, count: int) -> List[List[Any]]:
        view = memoryview(raw).cast("B")
        return [self.decode(view[i:i + self.size]) for i in range(0, count * self.size, self.size)]
