"""libbpf_py: the system's libbpf, from Python, through ctypes.

Importing the package loads nothing: ctypes, libbpf.so and the C declarations come in
on first use of a name below, so ``import libbpf_py`` stays cheap for command-line tools.
"""

from __future__ import annotations

import importlib

from .errors import ClosedError, LibbpfError, LibbpfFeatureError, MapIncompatibleError, VerifierError

TYPE_CHECKING = False  # importing typing would cost ~9 ms; see errors.py

try:
    from ._version import version as __version__
except ImportError:  # a source tree without setuptools-scm's generated file
    __version__ = "0.0.0+unknown"

_LAZY = {
    "Object": "object",
    "Map": "maps",
    "MapInfo": "maps",
    "MapSpec": "maps",
    "possible_cpus": "maps",
    "Program": "programs",
    "ProgInfo": "programs",
    "TestRunResult": "programs",
    "MapType": "_abi",
    "ProgType": "_abi",
    "BPF_ANY": "_abi",
    "BPF_NOEXIST": "_abi",
    "BPF_EXIST": "_abi",
    "BPF_F_LOCK": "_abi",
    "use_library": "_libbpf",
    "PinByName": "pinning",
    "PinPolicy": "pinning",
    "Difference": "pinning",
}

__all__ = [
    "BPF_ANY", "BPF_EXIST", "BPF_F_LOCK", "BPF_NOEXIST", "ClosedError", "Difference", "LibbpfError",
    "LibbpfFeatureError", "PinByName", "PinPolicy",
    "Map", "MapIncompatibleError", "MapInfo", "MapSpec", "MapType", "Object", "ProgInfo", "ProgType", "Program",
    "TestRunResult", "VerifierError", "__version__", "libbpf_version", "libbpf_version_string", "library_path",
    "possible_cpus", "use_library",
]

if TYPE_CHECKING:
    from typing import Any, List, Tuple

    from ._abi import BPF_ANY, BPF_EXIST, BPF_F_LOCK, BPF_NOEXIST, MapType, ProgType
    from ._libbpf import use_library
    from .maps import Map, MapInfo, MapSpec, possible_cpus
    from .object import Object
    from .pinning import Difference, PinByName, PinPolicy
    from .programs import ProgInfo, Program, TestRunResult


def __getattr__(name: str) -> Any:
    """Import public names on first use; every ``BPF_*`` constant of ``_abi`` is public."""
    module = _LAZY.get(name) or ("_abi" if name.startswith("BPF_") else None)
    if module is None:
        raise AttributeError(f"module 'libbpf_py' has no attribute {name!r}")
    value = getattr(importlib.import_module(f".{module}", __name__), name)
    globals()[name] = value
    return value


def __dir__() -> List[str]:
    return __all__


def libbpf_version() -> Tuple[int, int]:
    """(major, minor) of the libbpf actually loaded, as the library reports it."""
    from ._libbpf import lib
    return lib().version


def libbpf_version_string() -> str:
    """The loaded libbpf's own version string, e.g. 'v1.1'."""
    from ._libbpf import lib
    return lib().version_string


def library_path() -> str:
    """The file libbpf was loaded from (resolved through the dynamic loader)."""
    from ._libbpf import lib
    return lib().resolved_path()
