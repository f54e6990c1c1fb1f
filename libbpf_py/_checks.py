"""Argument checks done in Python before a value reaches a fixed-width C field."""

from __future__ import annotations

from typing import Any


def check_uint(value: Any, bits: int, what: str, minimum: int = 0) -> int:
    """``value`` if it is an int in [minimum, 2**bits), else ValueError (ctypes would wrap it silently)."""
    if isinstance(value, bool) or not isinstance(value, int) or not minimum <= value < 1 << bits:
        raise ValueError(f"{what} must be an int in [{minimum}, 2**{bits}), got {value!r}")
    return value
