"""tc and ip as commands: an object loaded, attached and grafted as iproute2 does it.

``open(src, prog_type, section)`` opens an object as that command would load it (a legacy
object through :mod:`libbpf_py.compat`'s iproute2 reading, a BTF one as Debian's tc loads it);
``attach_filter(dev, direction, program, object_name=, section=)`` leaves what ``tc filter
add`` leaves, ``attach_xdp`` what ``ip link set dev X xdp`` leaves; ``graft(map, key, src,
section=)`` does what ``tc exec bpf graft`` does; ``filters`` and ``detach_filter`` list and
remove bpf filters whoever added them.
"""

from .attaching import Filter, attach_filter, attach_xdp, detach_filter, filters
from .loading import graft
from .loading import open_as_tc as open

__all__ = ["Filter", "attach_filter", "attach_xdp", "detach_filter", "filters", "graft", "open"]
