"""Exceptions raised by libbpf_py.

libbpf 1.x reports failure as a negative errno; it becomes a :class:`LibbpfError`, an
:class:`OSError` that also remembers which libbpf function failed. Where Python has a
more precise built-in class for that errno (``FileNotFoundError`` for ENOENT,
``PermissionError`` for EPERM, ...), the raised exception is an instance of both, so
``except FileNotFoundError`` works as it would for a plain file operation.
"""

from __future__ import annotations

import errno as _errno
import os
import re
from typing import TYPE_CHECKING, Any, Dict, Iterable, List, NamedTuple, Optional, Tuple, Type

if TYPE_CHECKING:
    from .spec import Difference

__all__ = [
    "Error",
    "LibbpfError",
    "VerifierError",
    "MapIncompatibleError",
    "LibbpfFeatureError",
    "ClosedError",
    "ElfError",
    "LegacyMapError",
    "BtfTypeError",
    "MissingTypeError",
    "MissingBtfError",
    "InvalidValueError",
    "InvalidTypeError",
    "KeyNotFoundError",
    "UsageError",
    "ReadOnlyError",
    "UnavailableError",
    "MissingDependencyError",
]


class Error(Exception):
    """The root of every exception libbpf_py raises: ``except libbpf_py.Error`` catches the
    library's and nothing else. Each class also keeps the built-in base a Python user expects
    (an OSError, a ValueError, a KeyError...)."""


class InvalidValueError(Error, ValueError):
    """A value refused before any C call (out of range, the wrong size, an unknown name)."""


class InvalidTypeError(Error, TypeError):
    """An argument of a type the call does not take, or an operation the handle's kind has not."""


class KeyNotFoundError(Error, KeyError):
    """A map holds no such key, or an object no map or program of that name."""


class UsageError(Error, RuntimeError):
    """An operation not allowed where it was called: from a callback of the same buffer, from a
    hook of the object's own load, in a forked child."""


class ReadOnlyError(Error, PermissionError):
    """A write to what is read-only from user space (a loaded ``.rodata`` or ``.kconfig``)."""


class UnavailableError(Error, AttributeError):
    """An attribute this handle cannot have (e.g. a libbpf function the signature table lacks)."""


class MissingDependencyError(Error, ImportError):
    """An optional dependency is not installed (pyroute2, for netlink)."""


class MissingBtfError(Error, LookupError):
    """BTF was asked of an object, map or program that has none (built without ``-g``)."""


# libbpf's own error codes (enum libbpf_errno in libbpf.h), beyond the system's errno range.
LIBBPF_ERRNO_MESSAGES = {
    4000: "libelf failed to read the object",
    4001: "not a valid BPF ELF object",
    4002: "missing or malformed 'version' section",
    4003: "object built for the other byte order",
    4004: "internal libbpf error",
    4005: "relocation failed",
    4006: "program load failed",
    4007: "the kernel verifier rejected the program",
    4008: "program too large",
    4009: "wrong kernel version in the object",
    4010: "the kernel does not support this program type",
    4011: "netlink reply from the wrong process",
    4012: "netlink reply out of sequence",
    4013: "malformed netlink message",
}


# The kernel's internal ENOTSUPP leaks to user space from some map operations; strerror knows it not.
ENOTSUPP = 524
KERNEL_ERRNO_MESSAGES = {ENOTSUPP: "operation not supported"}
# What the kernel answers to an operation a map, link or hook type does not have (or a kernel too old).
NOT_SUPPORTED_ERRNOS = (_errno.EINVAL, _errno.EOPNOTSUPP, ENOTSUPP)


_CAP_SYS_ADMIN, _CAP_BPF = 21, 39
PRIVILEGE_HINT = ("loading BPF needs CAP_BPF (with CAP_PERFMON for tracing programs and CAP_NET_ADMIN for "
                  "networking ones) or root")


def lacks_bpf_capability() -> bool:
    """Whether this process has neither CAP_BPF nor CAP_SYS_ADMIN (read from /proc/self/status)."""
    try:
        with open("/proc/self/status") as status:
            for line in status:
                if line.startswith("CapEff:"):
                    caps = int(line.split()[1], 16)
                    return not caps & (1 << _CAP_BPF | 1 << _CAP_SYS_ADMIN)
    except (OSError, ValueError):
        pass
    return False


def describe_errno(err: int) -> str:
    """strerror, extended with the kernel's internal ENOTSUPP and libbpf's private codes."""
    return LIBBPF_ERRNO_MESSAGES.get(err) or KERNEL_ERRNO_MESSAGES.get(err) or os.strerror(err)


class LibbpfError(Error, OSError):
    """A call into C failed: ``errno``, ``function`` (the C function; None when found before
    any call), ``detail`` in words and ``warnings`` (what libbpf printed meanwhile) make the
    message, and :meth:`with_detail` adds context. After a failed ``Map.lookup_batch``,
    ``partial`` holds the ``(keys, values)`` read before the failure."""

    # Always set by __init__ (and _rebuild), unlike a plain OSError's, which may be None.
    errno: int
    strerror: str
    function: Optional[str]
    detail: str
    warnings: Tuple[str, ...]
    partial: Tuple[List[Any], List[Any]]

    def __init__(self, err: int, detail: Optional[str] = None, function: Optional[str] = None):
        self.function = function
        self.detail = detail or describe_errno(err)
        self.warnings = ()
        super().__init__(err, self._compose())

    def _compose(self) -> str:
        text = f"{self.function}: {self.detail}" if self.function else self.detail
        return f"{text} ({'; '.join(self.warnings)})" if self.warnings else text

    def with_detail(self, detail: Optional[str] = None, *, warnings: Iterable[str] = ()) -> "LibbpfError":
        """A copy of this error (same class, errno, function) with another ``detail`` and/or
        libbpf's ``warnings`` added."""
        copy = type(self).__new__(type(self))
        copy.__dict__.update(self.__dict__)
        if detail is not None:
            copy.detail = detail
        copy.warnings = (*self.warnings, *warnings)
        OSError.__init__(copy, self.errno, copy._compose())
        return copy

    def __reduce__(self) -> Tuple[Any, ...]:  # keep the class, errno and attributes across pickling (multiprocessing)
        base = getattr(type(self), "_libbpf_base", None)
        return (_rebuild, (base or type(self), base is not None, self.errno, self.strerror), dict(self.__dict__))

    @classmethod
    def for_errno(cls, err: int, detail: Optional[str] = None, function: Optional[str] = None) -> "LibbpfError":
        """An instance of ``cls`` that is also the built-in OSError subclass for ``err``; a bpf()
        call refused for lack of privilege says which capability it needs."""
        if err == _errno.EPERM and function and function.startswith("bpf_") and lacks_bpf_capability():
            detail = f"{detail or describe_errno(err)}: {PRIVILEGE_HINT}"
        return _specialised(cls, err)(err, detail, function)


def _rebuild(base: Type[LibbpfError], specialised: bool, err: int, text: str) -> LibbpfError:
    cls = _specialised(base, err) if specialised else base
    exc = cls.__new__(cls)
    OSError.__init__(exc, err, text)
    return exc


class SourceLine(NamedTuple):
    """A line of a program's source, as the verifier's log quotes it (``file`` None and
    ``line`` 0 when the kernel did not say where: before Linux 6.4 it quoted the text only)."""

    file: Optional[str]
    line: int
    text: str

    def __str__(self) -> str:
        return f"{self.file}:{self.line}: {self.text}" if self.file else self.text


# "; <source text> @ <file>:<line>" (Linux >= 6.4), or "; <source text>" before it
_SOURCE_LINE = re.compile(r"^; (?P<text>.*?)(?: @ (?P<file>[^\s:][^:]*):(?P<line>\d+))?$")


def last_source_line(log: str) -> Optional[SourceLine]:
    """The last source line a verifier log quotes (the one of the instruction that failed),
    from the BTF line info the program was loaded with; None without line info."""
    for entry in reversed(log.splitlines()):
        found = _SOURCE_LINE.match(entry)
        if found is None:
            continue
        text, line = found.group("text").strip(), int(found.group("line") or 0)
        if found.group("file") is not None and (line == 0 or not text):
            continue  # a record for compiler-made code (line 0): not a line of the source
        if text:
            return SourceLine(found.group("file"), line, text)
    return None


class VerifierError(LibbpfError):
    """The kernel refused to load a program; ``log`` holds the verifier's log and ``source``
    the source line where it stopped (when the object carries BTF line info)."""

    def __init__(self, err: int, detail: Optional[str] = None, function: Optional[str] = None,
                 *, program: str = "", log: str = "", truncated: bool = False):
        super().__init__(err, detail, function)
        self.program = program
        self.log = log
        self.truncated = truncated

    @property
    def source(self) -> Optional[SourceLine]:
        """The source line of the instruction the verifier refused (read from its log)."""
        return last_source_line(self.log) if self.log else None

    def __str__(self) -> str:
        head = super().__str__()
        if not self.log:
            return head
        source = self.source
        where = f"\nat {source}" if source is not None else ""
        tail = self.log.rstrip("\n").splitlines()[-20:]
        note = " (truncated)" if self.truncated else ""
        return f"{head}{where}\nverifier log of {self.program!r}{note}, last lines:\n" + "\n".join(tail)


class MapIncompatibleError(LibbpfError):
    """A pinned map does not match the definition; ``differences`` lists each field.

    ``detail`` replaces the default wording (a pin layout may word it as its tool did).
    """

    def __init__(self, path: str, differences: Iterable[Difference], map_name: str = "",
                 detail: Optional[str] = None):
        self.path = path
        self.map_name = map_name
        self.differences = list(differences)
        listed = "; ".join(str(d) for d in self.differences)
        super().__init__(_errno.EINVAL, detail or f"pinned map {path!r} is incompatible: {listed}")


class LibbpfFeatureError(LibbpfError):
    """The loaded libbpf lacks a function; the message says which version has it."""

    def __init__(self, function: str, needs: str, loaded: str):
        self.needs = needs
        self.loaded = loaded
        super().__init__(_errno.ENOTSUP, f"needs libbpf >= {needs}, the loaded libbpf is {loaded}", function)


class ClosedError(Error, ValueError):
    """An object, map or program was used after it (or its owner) was closed."""


class ElfError(Error, ValueError):
    """The bytes are not an ELF object this package can read or rewrite."""


class LegacyMapError(ElfError):
    """A legacy ``maps`` section that its own loader would have refused."""


class BtfTypeError(Error, TypeError):
    """A BTF type has no faithful ctypes form (a forward declaration, an unusual layout), or a
    ctypes type does not match BTF; the message names the type and member."""


class MissingTypeError(Error, KeyError):
    """No type of that name in the BTF; the message says why clang may have left it out, and
    what to do instead."""

    def __str__(self) -> str:  # the message as written (KeyError's own shows its repr)
        return str(self.args[0]) if self.args else ""


_SPECIALISED: "Dict[Tuple[type, int], Type[LibbpfError]]" = {}


def _specialised(cls: Type[LibbpfError], err: int) -> Type[LibbpfError]:
    """``cls`` combined with the built-in OSError subclass Python uses for ``err``."""
    key = (cls, err)
    found = _SPECIALISED.get(key)
    if found is None:
        builtin = type(OSError(err, ""))
        if builtin is OSError:
            found = cls
        else:
            found = type(f"{cls.__name__}[{builtin.__name__}]", (cls, builtin),
                         {"__module__": __name__, "_libbpf_base": cls})
        _SPECIALISED[key] = found
    return found
