"""The iproute2 compatibility shim: legacy ``tc``/``ip`` objects through libbpf 1.x.

``rewrite(data) -> (new_data, maps)`` turns the legacy ``maps`` section into BTF-defined
maps (pure, no kernel). Loading with iproute2's semantics (pin layout, map-in-map wiring,
tail calls) builds on it.
"""

from .legacy import LegacyMap, LegacyMapError
from .rewrite import rewrite

__all__ = ["LegacyMap", "LegacyMapError", "rewrite"]
