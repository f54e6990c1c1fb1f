"""libbpf's print callback, routed to the ``libbpf_py.libbpf`` logger instead of stderr.

libbpf hands the callback a printf format and a ``va_list``; libc's ``vsnprintf``
renders it. A ``va_list`` can be consumed once, so the first attempt formats a byte
copy of it (``va_copy`` is a plain copy on x86-64 and arm64) into a small buffer, and
only a longer message (a verifier log) is formatted again, into a buffer of its size.
"""

from __future__ import annotations

import _thread
import contextlib
import ctypes
import logging
import os
import threading
from typing import Any, Callable, Iterator, List, Optional

from . import _abi

logger = logging.getLogger("libbpf_py.libbpf")
logging.getLogger("libbpf_py").addHandler(logging.NullHandler())

# enum libbpf_print_level: LIBBPF_WARN, LIBBPF_INFO, LIBBPF_DEBUG
_LEVELS = (logging.WARNING, logging.INFO, logging.DEBUG)
_VA_LIST_SIZE = {"x86_64": 24, "aarch64": 32}.get(os.uname().machine)
_FIRST_TRY = 1024
_vsnprintf: Callable[..., int]  # libc's, set by install()


def format_va(fmt: bytes, va_list: int) -> str:
    """Render a printf format with its va_list (consumes the va_list)."""
    if _VA_LIST_SIZE is not None:
        copy = ctypes.create_string_buffer(_VA_LIST_SIZE)
        ctypes.memmove(copy, va_list, _VA_LIST_SIZE)
        buf = ctypes.create_string_buffer(_FIRST_TRY)
        needed = _vsnprintf(buf, _FIRST_TRY, fmt, copy)
        if needed < _FIRST_TRY:
            return buf.value.decode(errors="replace")
        size = needed + 1
    else:
        size = 1 << 16  # unknown va_list layout: one pass into a large buffer
    buf = ctypes.create_string_buffer(size)
    _vsnprintf(buf, size, fmt, va_list)
    return buf.value.decode(errors="replace")


_capture = threading.local()


class Said:
    """What libbpf printed in this thread while a capture was on."""

    def __init__(self, everything: bool):
        self.everything = everything
        self.warnings: List[str] = []
        self.debug: List[str] = []   # info and debug lines, when everything is captured


@contextlib.contextmanager
def captured(everything: bool = False) -> Iterator[Said]:
    """Collect libbpf's warnings (and with ``everything``, its other lines) printed by this thread."""
    outer = getattr(_capture, "said", None)
    said = _capture.said = Said(everything)
    try:
        yield said
    finally:
        _capture.said = outer


def _print(level: int, fmt: bytes, va_list: int) -> int:
    try:
        py_level = _LEVELS[level] if 0 <= level < len(_LEVELS) else logging.DEBUG
        said = getattr(_capture, "said", None)
        captured: Optional[List[str]] = None
        if said is not None:
            captured = said.warnings if py_level == logging.WARNING else said.debug if said.everything else None
        if captured is not None or logger.isEnabledFor(py_level):
            text = format_va(fmt, va_list).rstrip("\n")
            if captured is not None:
                captured.append(text)
            if logger.isEnabledFor(py_level):
                logger.log(py_level, "%s", text)
    except KeyboardInterrupt:  # ctypes would print and drop it: raise it again once C has returned
        _thread.interrupt_main()
    except BaseException:  # never let a Python error unwind through C
        pass
    return 0


_callback = _abi.PRINT_FN(_print)  # kept alive for the life of the process


def install(set_print: Callable[[Any], Any], vsnprintf: Callable[..., int]) -> None:
    """Route libbpf's messages (``libbpf_set_print``) to the ``libbpf_py.libbpf`` logger,
    rendering them with libc's ``vsnprintf``."""
    global _vsnprintf
    _vsnprintf = vsnprintf
    set_print(_callback)
