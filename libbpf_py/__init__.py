"""libbpf_py: the system's libbpf, from Python, through ctypes.

Importing the package loads nothing: ctypes, libbpf.so and the C declarations come in
on first use of a name below, so ``import libbpf_py`` stays cheap for command-line tools.
``_PUBLIC`` is the one list of public names: it resolves them on first use, makes
``__all__`` and ``dir()``, and the ``TYPE_CHECKING`` imports below must match it (a unit
test compares them).
"""

from __future__ import annotations

import sys
from typing import TYPE_CHECKING, Any, List, Tuple

from .errors import BtfTypeError as BtfTypeError
from .errors import ClosedError as ClosedError
from .errors import ElfError as ElfError
from .errors import Error as Error
from .errors import InvalidTypeError as InvalidTypeError
from .errors import InvalidValueError as InvalidValueError
from .errors import KeyNotFoundError as KeyNotFoundError
from .errors import LegacyMapError as LegacyMapError
from .errors import LibbpfError as LibbpfError
from .errors import LibbpfFeatureError as LibbpfFeatureError
from .errors import MapIncompatibleError as MapIncompatibleError
from .errors import MissingBtfError as MissingBtfError
from .errors import MissingDependencyError as MissingDependencyError
from .errors import MissingTypeError as MissingTypeError
from .errors import ReadOnlyError as ReadOnlyError
from .errors import UnavailableError as UnavailableError
from .errors import UsageError as UsageError
from .errors import VerifierError as VerifierError
from .errors import __all__ as _ERRORS

try:
    from ._version import version as _scm_version
except ImportError:  # a source tree without setuptools-scm's generated file
    _scm_version = "0.0.0+unknown"
__version__: str = _scm_version

# public name -> the module (relative to this package) that defines it; a subpackage maps to itself
_PUBLIC = {
    # objects, maps, programs
    "Object": "object",
    "ObjectHooks": "hooks",
    "Btf": "btf",
    "HeaderCompileError": "btf",
    "link_objects": "linker",
    "embedded_objects": "embedded",
    "embedded_object": "embedded",
    "EmbeddedObject": "embedded",
    "Map": "maps",
    "MapSpec": "spec",
    "Difference": "spec",
    "MapInfo": "info",
    "ProgInfo": "info",
    "possible_cpus": "info",
    "Program": "programs",
    "TestRunResult": "programs",
    "LineInfo": "info",
    "enable_stats": "stats",
    "Stats": "stats",
    # attachments
    "Link": "links",
    "LinkInfo": "links",
    "AttachType": "_abi",
    "LinkType": "_abi",
    "XdpFlags": "_abi",
    "MapFlags": "_abi",
    "XdpAction": "_abi",
    "TcAction": "_abi",
    "libbpf": "_libbpf",
    # events
    "RingBuffer": "ringbuf",
    "UserRingBuffer": "ringbuf",
    "PerfBuffer": "perfbuf",
    # pinning
    "PinByName": "pinning",
    "PinPolicy": "pinning",
    # kernel enums and constants
    "MapType": "_abi",
    "ProgType": "_abi",
    "BPF_ANY": "_abi",
    "BPF_NOEXIST": "_abi",
    "BPF_EXIST": "_abi",
    "BPF_F_LOCK": "_abi",
    # the library
    "use_library": "_libbpf",
    "Token": "token",
    "TokenDelegation": "token",
    # subpackages
    "compat": "compat",
    "elf": "elf",
    "iproute2": "iproute2",
    "query": "query",
    "probe": "probe",
    "tracing": "tracing",
}

_EAGER = (*_ERRORS, "__version__", "libbpf_version", "libbpf_version_string", "library_path")

__all__ = sorted((*_EAGER, *_PUBLIC))

if TYPE_CHECKING:
    from . import compat as compat
    from . import elf as elf
    from . import iproute2 as iproute2
    from . import probe as probe
    from . import query as query
    from . import tracing as tracing
    from ._abi import BPF_ANY as BPF_ANY
    from ._abi import BPF_EXIST as BPF_EXIST
    from ._abi import BPF_F_LOCK as BPF_F_LOCK
    from ._abi import BPF_NOEXIST as BPF_NOEXIST
    from ._abi import AttachType as AttachType
    from ._abi import LinkType as LinkType
    from ._abi import MapFlags as MapFlags
    from ._abi import MapType as MapType
    from ._abi import ProgType as ProgType
    from ._abi import TcAction as TcAction
    from ._abi import XdpAction as XdpAction
    from ._abi import XdpFlags as XdpFlags
    from ._libbpf import libbpf as libbpf
    from ._libbpf import use_library as use_library
    from .btf import Btf as Btf
    from .btf import HeaderCompileError as HeaderCompileError
    from .embedded import EmbeddedObject as EmbeddedObject
    from .embedded import embedded_object as embedded_object
    from .embedded import embedded_objects as embedded_objects
    from .hooks import ObjectHooks as ObjectHooks
    from .info import LineInfo as LineInfo
    from .info import MapInfo as MapInfo
    from .info import ProgInfo as ProgInfo
    from .info import possible_cpus as possible_cpus
    from .linker import link_objects as link_objects
    from .links import Link as Link
    from .links import LinkInfo as LinkInfo
    from .maps import Map as Map
    from .object import Object as Object
    from .perfbuf import PerfBuffer as PerfBuffer
    from .pinning import PinByName as PinByName
    from .pinning import PinPolicy as PinPolicy
    from .programs import Program as Program
    from .programs import TestRunResult as TestRunResult
    from .ringbuf import RingBuffer as RingBuffer
    from .ringbuf import UserRingBuffer as UserRingBuffer
    from .spec import Difference as Difference
    from .spec import MapSpec as MapSpec
    from .stats import Stats as Stats
    from .stats import enable_stats as enable_stats
    from .token import Token as Token
    from .token import TokenDelegation as TokenDelegation


def __getattr__(name: str) -> Any:
    """Import a public name (or subpackage) on first use and keep it as a module attribute."""
    module = _PUBLIC.get(name)
    if module is None:
        raise UnavailableError(f"module 'libbpf_py' has no attribute {name!r}")
    __import__(f"{__name__}.{module}")  # importlib itself would cost ~0.5 ms more
    found = sys.modules[f"{__name__}.{module}"]
    value = found if module == name else getattr(found, name)
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
