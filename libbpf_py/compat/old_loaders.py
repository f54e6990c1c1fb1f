"""Objects written for libbpf 0.x and for samples/bpf's ``bpf_load.c``, loaded as those loaders
loaded them: maps from ``struct bpf_map_def`` in a ``maps`` section (rewritten into ``.maps``
by :mod:`libbpf_py.formats.rewrite`), program types from section names, nothing pinned.

- **libbpf 0.x** loads every program. Section names matched by prefix (``xdp_prog`` is XDP,
  ``socket1`` a socket filter); where libbpf 1.x recognizes the name itself, its reading
  stands (the two agree on every name both know). A section neither knows leaves its program
  without a type, and the load fails as 0.x's did. The ``version`` section is ignored.
- **bpf_load.c** loads the programs of the sections it knows (``socket``, ``kprobe/``,
  ``kretprobe/``, ``tracepoint/``, ``raw_tracepoint/``, ``xdp``, ``perf_event``,
  ``cgroup/skb``, ``cgroup/sock``, ``sockops``, ``sk_skb``, ``sk_msg``) and skips the others; a
  map-in-map takes the map at ``inner_map_idx`` as its inner template, and ``numa_node``
  applies with ``BPF_F_NUMA_NODE``. (It also attached kprobes and tracepoints as it loaded them;
  here, ``Program.attach()`` does that.)
"""

from __future__ import annotations

from .._abi import AttachType, ProgType
from ..formats.legacy_maps import BPF_LOAD, LIBBPF0
from ..formats.rewrite import rewrite
from ..hooks import HookedObject, ObjectHooks
from ..pinning import PinPolicy

TYPE_CHECKING = False  # typing is imported by the type checker only (see _typing.py)
if TYPE_CHECKING:
    from typing import Dict, List, Optional, Tuple

    Kind = Tuple[ProgType, Optional[AttachType]]

# libbpf 0.x's section prefixes (longest first where one starts another), as its sloppy matching read them
LIBBPF0_SECTIONS: List[Tuple[str, Kind]] = [
    ("socket", (ProgType.SOCKET_FILTER, None)),
    ("sk_reuseport", (ProgType.SK_REUSEPORT, None)),
    ("kretprobe/", (ProgType.KPROBE, None)), ("kprobe/", (ProgType.KPROBE, None)),
    ("uretprobe/", (ProgType.KPROBE, None)), ("uprobe/", (ProgType.KPROBE, None)),
    ("classifier", (ProgType.SCHED_CLS, None)), ("action", (ProgType.SCHED_ACT, None)),
    ("tracepoint/", (ProgType.TRACEPOINT, None)), ("tp/", (ProgType.TRACEPOINT, None)),
    ("raw_tracepoint/", (ProgType.RAW_TRACEPOINT, None)), ("raw_tp/", (ProgType.RAW_TRACEPOINT, None)),
    ("xdp", (ProgType.XDP, None)), ("perf_event", (ProgType.PERF_EVENT, None)),
    ("lwt_in", (ProgType.LWT_IN, None)), ("lwt_out", (ProgType.LWT_OUT, None)),
    ("lwt_xmit", (ProgType.LWT_XMIT, None)), ("lwt_seg6local", (ProgType.LWT_SEG6LOCAL, None)),
    ("cgroup_skb/ingress", (ProgType.CGROUP_SKB, AttachType.CGROUP_INET_INGRESS)),
    ("cgroup_skb/egress", (ProgType.CGROUP_SKB, AttachType.CGROUP_INET_EGRESS)),
    ("cgroup/skb", (ProgType.CGROUP_SKB, None)),
    ("cgroup/sock", (ProgType.CGROUP_SOCK, AttachType.CGROUP_INET_SOCK_CREATE)),
    ("cgroup/dev", (ProgType.CGROUP_DEVICE, AttachType.CGROUP_DEVICE)),
    ("sockops", (ProgType.SOCK_OPS, AttachType.CGROUP_SOCK_OPS)),
    ("sk_skb/stream_parser", (ProgType.SK_SKB, AttachType.SK_SKB_STREAM_PARSER)),
    ("sk_skb/stream_verdict", (ProgType.SK_SKB, AttachType.SK_SKB_STREAM_VERDICT)),
    ("sk_skb", (ProgType.SK_SKB, None)),
    ("sk_msg", (ProgType.SK_MSG, AttachType.SK_MSG_VERDICT)),
    ("lirc_mode2", (ProgType.LIRC_MODE2, AttachType.LIRC_MODE2)),
    ("flow_dissector", (ProgType.FLOW_DISSECTOR, AttachType.FLOW_DISSECTOR)),
    ("cgroup/bind4", (ProgType.CGROUP_SOCK_ADDR, AttachType.CGROUP_INET4_BIND)),
    ("cgroup/bind6", (ProgType.CGROUP_SOCK_ADDR, AttachType.CGROUP_INET6_BIND)),
    ("cgroup/connect4", (ProgType.CGROUP_SOCK_ADDR, AttachType.CGROUP_INET4_CONNECT)),
    ("cgroup/connect6", (ProgType.CGROUP_SOCK_ADDR, AttachType.CGROUP_INET6_CONNECT)),
    ("cgroup/sendmsg4", (ProgType.CGROUP_SOCK_ADDR, AttachType.CGROUP_UDP4_SENDMSG)),
    ("cgroup/sendmsg6", (ProgType.CGROUP_SOCK_ADDR, AttachType.CGROUP_UDP6_SENDMSG)),
    ("cgroup/recvmsg4", (ProgType.CGROUP_SOCK_ADDR, AttachType.CGROUP_UDP4_RECVMSG)),
    ("cgroup/recvmsg6", (ProgType.CGROUP_SOCK_ADDR, AttachType.CGROUP_UDP6_RECVMSG)),
    ("cgroup/sysctl", (ProgType.CGROUP_SYSCTL, AttachType.CGROUP_SYSCTL)),
    ("cgroup/getsockopt", (ProgType.CGROUP_SOCKOPT, AttachType.CGROUP_GETSOCKOPT)),
    ("cgroup/setsockopt", (ProgType.CGROUP_SOCKOPT, AttachType.CGROUP_SETSOCKOPT)),
]

# bpf_load.c's (samples/bpf): these prefixes load, any other section is skipped
BPF_LOAD_SECTIONS: List[Tuple[str, Kind]] = [
    ("socket", (ProgType.SOCKET_FILTER, None)),
    ("kprobe/", (ProgType.KPROBE, None)), ("kretprobe/", (ProgType.KPROBE, None)),
    ("tracepoint/", (ProgType.TRACEPOINT, None)), ("raw_tracepoint/", (ProgType.RAW_TRACEPOINT, None)),
    ("xdp", (ProgType.XDP, None)), ("perf_event", (ProgType.PERF_EVENT, None)),
    ("cgroup/skb", (ProgType.CGROUP_SKB, None)), ("cgroup/sock", (ProgType.CGROUP_SOCK, None)),
    ("sockops", (ProgType.SOCK_OPS, None)), ("sk_skb", (ProgType.SK_SKB, None)),
    ("sk_msg", (ProgType.SK_MSG, None)),
]

TABLES: Dict[str, List[Tuple[str, Kind]]] = {LIBBPF0: LIBBPF0_SECTIONS, BPF_LOAD: BPF_LOAD_SECTIONS}


def section_kind(dialect: str, section: str) -> Optional[Kind]:
    """The program type (and expected attach type) the loader of ``dialect`` gives ``section``."""
    for prefix, kind in TABLES[dialect]:
        if section.startswith(prefix):
            return kind
    return None


class OldLoader:
    """How libbpf 0.x (``"libbpf0"``) or bpf_load.c (``"bpf_load"``) loads an object: ``read``
    rewrites it and returns the hooks and a pin policy that pins nothing."""

    def __init__(self, dialect: str):
        if dialect not in TABLES:
            raise ValueError(f"dialect must be {LIBBPF0!r} or {BPF_LOAD!r}, not {dialect!r}")
        self.dialect = dialect

    def read(self, data: bytes) -> Tuple[bytes, ObjectHooks, PinPolicy]:
        new_data, _ = rewrite(data, self.dialect)
        return new_data, SectionTypes(self.dialect), PinPolicy()

    def __repr__(self) -> str:
        return f"OldLoader({self.dialect!r})"


class SectionTypes(ObjectHooks):
    """The old loader's load set and program types, after open."""

    def __init__(self, dialect: str):
        self.dialect = dialect
        self.reading = dialect  # the compat= value this reading answers to

    def opened(self, obj: HookedObject) -> None:
        for program in obj.programs.values():
            kind = section_kind(self.dialect, program.section or "")
            if self.dialect == BPF_LOAD:
                program.autoload = kind is not None
            elif program.type != ProgType.UNSPEC:
                continue  # libbpf 1.x read the name itself (the same reading as 0.x)
            if kind is not None:
                program.type = kind[0]
                if kind[1] is not None:
                    program.expected_attach_type = kind[1]
