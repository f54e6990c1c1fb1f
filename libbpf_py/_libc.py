"""The few libc functions libbpf_py calls, declared once (as _libbpf.py does for libbpf).

Each raises OSError with errno on failure, except vsnprintf, which returns a length.
"""

from __future__ import annotations

import ctypes
import os
from ctypes import c_char_p, c_int, c_size_t, c_ulong, c_void_p
from typing import Any

_libc = ctypes.CDLL(None, use_errno=True)


def _declare(name: str, restype: Any, *argtypes: Any) -> Any:
    fn = getattr(_libc, name)
    fn.restype, fn.argtypes = restype, argtypes
    return fn


_statfs = _declare("statfs", c_int, c_char_p, c_void_p)
_mount = _declare("mount", c_int, c_char_p, c_char_p, c_char_p, c_ulong, c_char_p)
_umount2 = _declare("umount2", c_int, c_char_p, c_int)
vsnprintf = _declare("vsnprintf", c_int, c_void_p, c_size_t, c_char_p, c_void_p)

STATFS_SIZE = 256  # struct statfs is 120 bytes on 64-bit Linux; f_type comes first


def _raise(path: Any) -> None:
    err = ctypes.get_errno()
    raise OSError(err, os.strerror(err), os.fspath(path))


def filesystem_type(path: Any) -> int:
    """statfs(2) f_type of ``path``."""
    buf = ctypes.create_string_buffer(STATFS_SIZE)
    if _statfs(os.fsencode(path), buf) != 0:
        _raise(path)
    return ctypes.c_long.from_buffer(buf).value & 0xFFFFFFFF


def mount(source: str, target: Any, fstype: str, options: str) -> None:
    if _mount(source.encode(), os.fsencode(target), fstype.encode(), 0, options.encode()) != 0:
        _raise(target)


MNT_DETACH = 2


def umount(target: Any, lazy: bool = False) -> None:
    if _umount2(os.fsencode(target), MNT_DETACH if lazy else 0) != 0:
        _raise(target)
