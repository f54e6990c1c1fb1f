"""The iproute2 compatibility shim: legacy ``tc``/``ip`` objects through libbpf 1.x.

``rewrite(data) -> (new_data, maps)`` turns the legacy ``maps`` section into BTF-defined
maps (pure, no kernel). Loading with iproute2's semantics (pin layout, map-in-map wiring,
tail calls) builds on it.
"""

from .layout import Iproute2Pinning, find_bpffs_mount, parse_pinning_db
from .legacy import LegacyMap, LegacyMapError
from .loader import PROG_TYPES, open
from .rewrite import rewrite

__all__ = ["Iproute2Pinning", "LegacyMap", "LegacyMapError", "PROG_TYPES", "find_bpffs_mount", "open",
           "parse_pinning_db", "rewrite"]
