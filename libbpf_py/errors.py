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
from typing import Dict, Optional, Tuple, Type

__all__ = [
    "LibbpfError",
    "VerifierError",
    "MapIncompatibleError",
    "LibbpfFeatureError",
    "ClosedError",
    "raise_errno",
]


class LibbpfError(OSError):
    """A libbpf call failed; ``errno`` is the error, ``function`` the C function."""

    function: Optional[str]

    def __init__(self, err: int, message: Optional[str] = None, function: Optional[str] = None):
        text = message or os.strerror(err)
        if function:
            text = f"{function}: {text}"
        super().__init__(err, text)
        self.function = function

    def __reduce__(self):  # keep errno/function across pickling (multiprocessing)
        return (_rebuild, (type(self), self.errno, self.strerror, self.function))

    @classmethod
    def for_errno(cls, err: int, message: Optional[str] = None, function: Optional[str] = None) -> "LibbpfError":
        """An instance of ``cls`` that is also the built-in OSError subclass for ``err``."""
        return _specialised(cls, err)(err, message, function)


def _rebuild(cls, err, text, function):
    exc = cls.__new__(cls)
    OSError.__init__(exc, err, text)
    exc.function = function
    return exc


class VerifierError(LibbpfError):
    """The kernel refused to load a program; ``log`` holds the verifier's log."""

    def __init__(self, err: int, message: Optional[str] = None, function: Optional[str] = None,
                 *, program: str = "", log: str = "", truncated: bool = False):
        super().__init__(err, message, function)
        self.program = program
        self.log = log
        self.truncated = truncated

    def __str__(self) -> str:
        head = super().__str__()
        if not self.log:
            return head
        tail = self.log.rstrip("\n").splitlines()[-20:]
        note = " (truncated)" if self.truncated else ""
        return f"{head}\nverifier log of {self.program!r}{note}, last lines:\n" + "\n".join(tail)


class MapIncompatibleError(LibbpfError):
    """A pinned map does not match the definition; ``differences`` lists each field."""

    def __init__(self, path: str, differences, map_name: str = ""):
        self.path = path
        self.map_name = map_name
        self.differences = list(differences)
        detail = "; ".join(str(d) for d in self.differences)
        super().__init__(_errno.EINVAL, f"pinned map {path!r} is incompatible: {detail}")


class LibbpfFeatureError(LibbpfError):
    """The loaded libbpf lacks a function; the message says which version has it."""

    def __init__(self, function: str, needs: str, loaded: str):
        self.needs = needs
        self.loaded = loaded
        super().__init__(_errno.ENOTSUP, f"needs libbpf >= {needs}, the loaded libbpf is {loaded}", function)


class ClosedError(ValueError):
    """An object, map or program was used after it (or its owner) was closed."""


_SPECIALISED: Dict[Tuple[type, int], Type[LibbpfError]] = {}


def _specialised(cls: Type[LibbpfError], err: int) -> Type[LibbpfError]:
    """``cls`` combined with the built-in OSError subclass Python uses for ``err``."""
    key = (cls, err)
    found = _SPECIALISED.get(key)
    if found is None:
        builtin = type(OSError(err, ""))
        if builtin is OSError:
            found = cls
        else:
            found = type(f"{cls.__name__}[{builtin.__name__}]", (cls, builtin), {"__module__": __name__})
        _SPECIALISED[key] = found
    return found


def raise_errno(ret: int, function: str, message: Optional[str] = None) -> None:
    """Raise the LibbpfError for libbpf's negative return value ``ret``."""
    raise LibbpfError.for_errno(-ret if ret < 0 else ret, message, function)
