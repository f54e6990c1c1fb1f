"""tc and ip: legacy objects loaded, pinned and wired as iproute2 does (the iproute2 shim).

``open(src, prog_type, section)`` opens an object as that command would load it;
``attach_filter(dev, direction, program, object_name=, section=)`` leaves what ``tc filter add``
leaves; ``graft(map, key, src, section=)`` does what ``tc exec bpf graft`` does;
``rewrite(data) -> (new_data, maps)`` turns a legacy ``maps`` section into BTF-defined maps
(pure, no kernel); ``Iproute2Pinning`` is tc's pin layout as a pin policy.
"""

from ..compat.iproute2 import PROG_TYPES, Iproute2, Iproute2Semantics
from ..compat.iproute2_pins import Iproute2Pinning, find_bpffs_mount, parse_pinning_db, read_pinning_db
from ..formats.legacy_maps import LegacyMap
from ..formats.rewrite import rewrite
from .attaching import Filter, attach_filter, attach_xdp, detach_filter, filters
from .loading import graft
from .loading import open_as_tc as open

__all__ = ["Filter", "Iproute2", "Iproute2Pinning", "Iproute2Semantics", "LegacyMap",
           "PROG_TYPES", "attach_filter", "attach_xdp", "detach_filter", "filters", "find_bpffs_mount", "graft", "open",
           "parse_pinning_db", "read_pinning_db", "rewrite"]
