"""tc and ip as commands: an object loaded, attached and grafted as iproute2 does it.

``open(src, prog_type, section)`` opens an object as that command would load it (a legacy
object through :mod:`libbpf_py.compat`'s iproute2 reading, a BTF one as Debian's tc loads it);
``attach_filter(dev, direction, program, object_name=, section=)`` leaves what ``tc filter
add`` leaves, ``attach_xdp`` what ``ip link set dev X xdp`` leaves; ``graft(map, key, src,
section=)`` does what ``tc exec bpf graft`` does; ``filters`` and ``detach_filter`` list and
remove bpf filters whoever added them.

Each name is imported on first use: a process that only loads an object never imports the
attaching side (links, netlink).
"""

from __future__ import annotations

import sys
from typing import TYPE_CHECKING, Any, List

from ..errors import UnavailableError

_PUBLIC = {  # public name -> (module, its name there)
    "Filter": ("attaching", "Filter"),
    "attach_filter": ("attaching", "attach_filter"),
    "attach_xdp": ("attaching", "attach_xdp"),
    "detach_filter": ("attaching", "detach_filter"),
    "filters": ("attaching", "filters"),
    "graft": ("loading", "graft"),
    "open": ("loading", "open_as_tc"),
}

__all__ = ["Filter", "attach_filter", "attach_xdp", "detach_filter", "filters", "graft", "open"]

if TYPE_CHECKING:
    from .attaching import Filter as Filter
    from .attaching import attach_filter as attach_filter
    from .attaching import attach_xdp as attach_xdp
    from .attaching import detach_filter as detach_filter
    from .attaching import filters as filters
    from .loading import graft as graft
    from .loading import open_as_tc as open


def __getattr__(name: str) -> Any:
    """Import a public name on first use and keep it as a module attribute."""
    if name not in _PUBLIC:
        raise UnavailableError(f"module {__name__!r} has no attribute {name!r}")
    module, attribute = _PUBLIC[name]
    __import__(f"{__name__}.{module}")
    value = getattr(sys.modules[f"{__name__}.{module}"], attribute)
    globals()[name] = value
    return value


def __dir__() -> List[str]:
    return __all__
