"""Argument checks done in Python before a value reaches C, and names as they cross the boundary."""

from __future__ import annotations

import os
from typing import Any, Dict

from .errors import InvalidTypeError, InvalidValueError, KeyNotFoundError


def check_uint(value: Any, bits: int, what: str, minimum: int = 0) -> int:
    """``value`` if it is an int in [minimum, 2**bits), else ValueError (ctypes would wrap it silently)."""
    if isinstance(value, bool) or not isinstance(value, int) or not minimum <= value < 1 << bits:
        raise InvalidValueError(f"{what} must be an int in [{minimum}, 2**{bits}), got {value!r}")
    return value


def c_path(path: Any, what: str = "path") -> bytes:
    """``path`` as the bytes C receives, or ValueError when it holds a NUL byte (C would cut it there)."""
    try:
        encoded = os.fsencode(path)
    except TypeError:
        raise InvalidTypeError(f"{what} must be a str, bytes or os.PathLike, not {type(path).__name__}") from None
    if b"\0" in encoded:
        raise InvalidValueError(f"{what} {os.fsdecode(encoded)!r} contains a NUL byte")
    return encoded


def c_name(raw: bytes) -> str:
    """A name from C (map, program, section, object): any bytes, kept through surrogateescape."""
    return raw.decode("utf-8", "surrogateescape")


def c_name_bytes(name: str) -> bytes:
    """A name for C: the bytes ``c_name`` came from (UTF-8 for any other text)."""
    return name.encode("utf-8", "surrogateescape")


class Named(Dict[str, Any]):
    """Things by name (an object's maps, its programs, its global variables): a name that is not
    there is a KeyNotFoundError saying which are."""

    def __init__(self, what: str):
        super().__init__()
        self.what = what

    def __missing__(self, name: Any) -> Any:
        raise KeyNotFoundError(f"no {self.what} named {name!r}; there are {', '.join(map(repr, self)) or 'none'}")
