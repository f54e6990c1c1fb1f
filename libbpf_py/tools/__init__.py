"""What the ``libbpf-py`` command is built from, for programs that want it too: ``compare`` (one
object loaded by libbpf_py and by bpftool or tc, each into a scratch bpffs, what the kernel
holds compared item by item: it runs the native tools, mounts bpffs and makes network
namespaces) and ``open_pinned``/``walk_pinned`` (whatever is pinned, opened as its own kind).
Not imported by ``import libbpf_py``: ``from libbpf_py.tools import compare``."""

from .comparison import Comparison, compare
from .pinned import open_pinned, walk_pinned

__all__ = ["Comparison", "compare", "open_pinned", "walk_pinned"]
