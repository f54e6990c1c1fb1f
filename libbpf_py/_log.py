"""The package's loggers, and libbpf's print callback routed to ``libbpf_py.libbpf`` instead of stderr.

``logging`` (about 9 ms to import, with ``re`` and ``traceback``) is never imported here: a
:class:`Logger` reaches the real one only once the application has imported ``logging``.
Before that no handler can exist, and the package's ``NullHandler`` would drop the record
anyway, so nothing is lost.

libbpf hands the callback a printf format and a ``va_list``; libc's ``vsnprintf``
renders it. A ``va_list`` can be consumed once, so the first attempt formats a byte
copy of it (``va_copy`` is a plain copy on x86-64 and arm64) into a small buffer, and
only a longer message (a verifier log) is formatted again, into a buffer of its size.
"""

from __future__ import annotations

import _thread
import contextlib
import ctypes
import os
import sys
import weakref
from typing import Any, Callable, Iterator, List, Optional

from . import _abi

DEBUG, INFO, WARNING, ERROR = 10, 20, 30, 40  # logging's levels


class Logger:
    """``logging.getLogger(name)``, taken once the application has imported ``logging``;
    until then its records are dropped (they could reach no handler)."""

    __slots__ = ("name", "_logger")

    def __init__(self, name: str):
        self.name = name
        self._logger: Any = None

    def _real(self) -> Any:
        logger = self._logger
        if logger is None:
            logging = sys.modules.get("logging")
            if logging is None:
                return None
            _quiet_by_default(logging)
            logger = self._logger = logging.getLogger(self.name)
        return logger

    def isEnabledFor(self, level: int) -> bool:
        logger = self._real()
        return logger is not None and logger.isEnabledFor(level)

    def log(self, level: int, msg: str, *args: Any, stacklevel: int = 1) -> None:
        """As ``logging.Logger.log``; the record names the caller's file, function and line."""
        logger = self._real()
        if logger is not None:
            logger.log(level, msg, *args, stacklevel=stacklevel + 1)

    def debug(self, msg: str, *args: Any) -> None:
        self.log(DEBUG, msg, *args, stacklevel=2)

    def info(self, msg: str, *args: Any) -> None:
        self.log(INFO, msg, *args, stacklevel=2)

    def warning(self, msg: str, *args: Any) -> None:
        self.log(WARNING, msg, *args, stacklevel=2)

    def error(self, msg: str, *args: Any) -> None:
        self.log(ERROR, msg, *args, stacklevel=2)


_null_added = False


def _quiet_by_default(logging: Any) -> None:
    """A NullHandler on ``libbpf_py``: records go nowhere until the application configures logging
    (not to ``logging.lastResort`` on stderr)."""
    global _null_added
    if not _null_added:
        _null_added = True
        logging.getLogger("libbpf_py").addHandler(logging.NullHandler())


logger = Logger("libbpf_py.libbpf")

# enum libbpf_print_level: LIBBPF_WARN, LIBBPF_INFO, LIBBPF_DEBUG
_LEVELS = (WARNING, INFO, DEBUG)
_VA_LIST_SIZE = {"x86_64": 24, "aarch64": 32}.get(os.uname().machine)
_FIRST_TRY = 1024
_vsnprintf: Callable[..., int]  # libc's, set by install()


def format_va(fmt: int, va_list: int) -> str:
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


class _Capture(_thread._local):
    """This thread's capture; ``said`` is None outside one (a class default: no AttributeError
    raised and caught per libbpf line)."""

    said: Optional[Said] = None


_capture = _Capture()


class Said:
    """What libbpf printed in this thread while a capture was on."""

    def __init__(self, everything: bool):
        self.everything = everything
        self.warnings: List[str] = []
        self.debug: List[str] = []   # info and debug lines, when everything is captured


class _Section:
    """A quiet section or a capture in progress: held by its frame, so one that an exception
    ends before it could count itself out is forgotten with that frame."""

    __slots__ = ("__weakref__",)


class _Printer:
    """Which print function libbpf has: the Python callback, or none while only quiet sections
    run (``libbpf_set_print`` is one setting for the whole process, so a capture in any thread
    turns the callback back on). Each change sets what the live sections ask for."""

    lock = _thread.allocate_lock()
    captures: weakref.WeakSet[_Section] = weakref.WeakSet()  # in progress, in any thread
    quiet: weakref.WeakSet[_Section] = weakref.WeakSet()
    silent = False         # libbpf has no print function now
    set_print: Any = None  # libbpf_set_print, given by install()

    @classmethod
    def update(cls) -> None:
        with cls.lock:
            silent = bool(cls.quiet) and not cls.captures
            if silent != cls.silent and cls.set_print is not None:
                cls.set_print(_NO_PRINT if silent else _callback)
                cls.silent = silent

    @classmethod
    @contextlib.contextmanager
    def section(cls, sections: weakref.WeakSet[_Section]) -> Iterator[None]:
        token = _Section()
        sections.add(token)
        try:
            cls.update()
            yield
        finally:
            sections.discard(token)
            cls.update()

    @classmethod
    def reset_in_child(cls) -> None:
        """A forked child: the lock may have been held by a thread that is not there, and the
        sections of the parent's other threads never end here."""
        cls.lock = _thread.allocate_lock()
        cls.captures, cls.quiet = weakref.WeakSet(), weakref.WeakSet()
        if cls.silent and cls.set_print is not None:
            cls.set_print(_callback)
        cls.silent = False


os.register_at_fork(after_in_child=_Printer.reset_in_child)


@contextlib.contextmanager
def captured(everything: bool = False) -> Iterator[Said]:
    """Collect libbpf's warnings (and with ``everything``, its other lines) printed by this thread."""
    outer = _capture.said
    said = _capture.said = Said(everything)
    try:
        with _Printer.section(_Printer.captures):
            yield said
    finally:
        _capture.said = outer


def listening() -> bool:
    """Whether the application's logging may want a line of libbpf's."""
    return logger.isEnabledFor(WARNING)


@contextlib.contextmanager
def quiet() -> Iterator[None]:
    """libbpf prints nothing meanwhile, unless a capture (in any thread) or logging wants its
    lines: for calls whose words are only wanted when they fail and that can be made again
    to get them (opening an object)."""
    with _Printer.section(_Printer.quiet):
        yield


def _print(level: int, fmt: int, va_list: int) -> int:
    """libbpf's print callback. Most of its ~100 lines per open and load are debug lines that
    nobody reads: they return after two checks, unformatted."""
    try:
        said = _capture.said
        if level == 0:  # LIBBPF_WARN
            captured = None if said is None else said.warnings
        else:
            captured = said.debug if said is not None and said.everything else None
            if captured is None and logger._logger is None and "logging" not in sys.modules:
                return 0  # no capture, and no logging configured that could want it
        py_level = _LEVELS[level] if 0 <= level < len(_LEVELS) else DEBUG
        wanted = logger.isEnabledFor(py_level)
        if captured is not None or wanted:
            text = format_va(fmt, va_list).rstrip("\n")
            if captured is not None:
                captured.append(text)
            if wanted:
                logger.log(py_level, "%s", text)
    except KeyboardInterrupt:  # ctypes would print and drop it: raise it again once C has returned
        _thread.interrupt_main()
    except BaseException:  # never let a Python error unwind through C
        pass
    return 0


_callback = _abi.PRINT_FN(_print)  # kept alive for the life of the process
_NO_PRINT = _abi.PRINT_FN()  # NULL: libbpf prints nothing


def install(set_print: Callable[[Any], Any], vsnprintf: Callable[..., int]) -> None:
    """Route libbpf's messages (``libbpf_set_print``) to the ``libbpf_py.libbpf`` logger,
    rendering them with libc's ``vsnprintf``."""
    global _vsnprintf
    _vsnprintf = vsnprintf
    _Printer.set_print = set_print
    set_print(_callback)
