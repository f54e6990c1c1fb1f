"""What the ``libbpf-py`` command is built from, for programs that want it too: ``compare`` (one
object loaded by libbpf_py and by bpftool or tc, each into a scratch bpffs, what the kernel
holds compared item by item: it runs the native tools, mounts bpffs and makes network
namespaces), ``compare_native`` (a libbpf-tools binary run, and its embedded object loaded by
libbpf_py as it loaded it) and ``open_pinned``/``walk_pinned`` (whatever is pinned, opened as its
own kind). Not imported by ``import libbpf_py``: ``from libbpf_py.tools import compare``."""

from .comparison import Comparison, compare
from .native import NativeLoad, compare_native, load_like, run_native
from .pinned import open_pinned, walk_pinned

__all__ = ["Comparison", "NativeLoad", "compare", "compare_native", "load_like", "open_pinned", "run_native",
           "walk_pinned"]
