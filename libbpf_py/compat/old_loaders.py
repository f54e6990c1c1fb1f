"""Objects written for libbpf 0.x and for samples/bpf's ``bpf_load.c``, loaded as those loaders
loaded them: maps from ``struct bpf_map_def`` in a ``maps`` section (rewritten into ``.maps``
by :mod:`.rewrite`), program types from section names, nothing pinned.

- **libbpf 0.x** loads every program, typed (and given an expected attach type) by libbpf
  0.3's table of section prefixes, first match first (``xdp_prog`` is XDP, ``socket1`` a socket
  filter, ``xdp_devmap/...`` XDP for a devmap); a section it does not know refuses the object,
  as 0.x did. Static program functions load (made global for libbpf 1.x); static maps are
  refused, as 0.x from 0.4 on did. The ``version`` section is ignored.
- **bpf_load.c** loads the programs of the sections it knows (``socket``, ``kprobe/``,
  ``kretprobe/``, ``tracepoint/``, ``raw_tracepoint/``, ``xdp``, ``perf_event``,
  ``cgroup/skb``, ``cgroup/sock``, ``sockops``, ``sk_skb``, ``sk_msg``) and skips the others; a
  map-in-map takes the map at ``inner_map_idx`` as its inner template, ``numa_node`` applies
  with ``BPF_F_NUMA_NODE``, programs get no expected attach type, a ``cgroup/`` section other
  than ``cgroup/skb`` and ``cgroup/sock`` refuses the object, and after load the program of a
  ``socket/N``, ``sockops/N`` or ``kprobe/N`` section goes to key N of the last prog array.
  (It also attached kprobes and tracepoints as it loaded them; here, ``Program.attach()`` does.)
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Dict, List, Optional, Tuple

from .._abi import AttachType, MapType, ProgType
from ..elf.file import ElfFile
from ..errors import InvalidValueError, LegacyMapError
from ..hooks import HookedObject, ObjectHooks
from ..pinning import PinPolicy
from .definitions import BPF_LOAD, LIBBPF0
from .rewrite import rewrite_elf

if TYPE_CHECKING:
    Kind = Tuple[ProgType, Optional[AttachType]]

# libbpf 0.3's section_defs, in its order (the first prefix that matches wins), with the
# expected attach type each gives; LIBBPF: a section whose programs attach by BTF (fentry/,
# lsm/, iter/...), left to libbpf 1.x, which reads those names as 0.x did and resolves the target
LIBBPF = (ProgType.UNSPEC, None)
LIBBPF0_SECTIONS: List[Tuple[str, Kind]] = [
    ("socket", (ProgType.SOCKET_FILTER, None)), ("sk_reuseport", (ProgType.SK_REUSEPORT, None)),
    ("kprobe/", (ProgType.KPROBE, None)), ("uprobe/", (ProgType.KPROBE, None)),
    ("kretprobe/", (ProgType.KPROBE, None)), ("uretprobe/", (ProgType.KPROBE, None)),
    ("classifier", (ProgType.SCHED_CLS, None)), ("action", (ProgType.SCHED_ACT, None)),
    ("tracepoint/", (ProgType.TRACEPOINT, None)), ("tp/", (ProgType.TRACEPOINT, None)),
    ("raw_tracepoint/", (ProgType.RAW_TRACEPOINT, None)), ("raw_tp/", (ProgType.RAW_TRACEPOINT, None)),
    ("tp_btf/", LIBBPF), ("fentry/", LIBBPF), ("fmod_ret/", LIBBPF), ("fexit/", LIBBPF), ("fentry.s/", LIBBPF),
    ("fmod_ret.s/", LIBBPF), ("fexit.s/", LIBBPF), ("freplace/", LIBBPF), ("lsm/", LIBBPF), ("lsm.s/", LIBBPF),
    ("iter/", LIBBPF),
    ("xdp_devmap/", (ProgType.XDP, AttachType.XDP_DEVMAP)), ("xdp_cpumap/", (ProgType.XDP, AttachType.XDP_CPUMAP)),
    ("xdp", (ProgType.XDP, AttachType.XDP)), ("perf_event", (ProgType.PERF_EVENT, None)),
    ("lwt_in", (ProgType.LWT_IN, None)), ("lwt_out", (ProgType.LWT_OUT, None)),
    ("lwt_xmit", (ProgType.LWT_XMIT, None)), ("lwt_seg6local", (ProgType.LWT_SEG6LOCAL, None)),
    ("cgroup_skb/ingress", (ProgType.CGROUP_SKB, AttachType.CGROUP_INET_INGRESS)),
    ("cgroup_skb/egress", (ProgType.CGROUP_SKB, AttachType.CGROUP_INET_EGRESS)),
    ("cgroup/skb", (ProgType.CGROUP_SKB, None)),
    ("cgroup/sock_create", (ProgType.CGROUP_SOCK, AttachType.CGROUP_INET_SOCK_CREATE)),
    ("cgroup/sock_release", (ProgType.CGROUP_SOCK, AttachType.CGROUP_INET_SOCK_RELEASE)),
    ("cgroup/sock", (ProgType.CGROUP_SOCK, AttachType.CGROUP_INET_SOCK_CREATE)),
    ("cgroup/post_bind4", (ProgType.CGROUP_SOCK, AttachType.CGROUP_INET4_POST_BIND)),
    ("cgroup/post_bind6", (ProgType.CGROUP_SOCK, AttachType.CGROUP_INET6_POST_BIND)),
    ("cgroup/dev", (ProgType.CGROUP_DEVICE, AttachType.CGROUP_DEVICE)),
    ("sockops", (ProgType.SOCK_OPS, AttachType.CGROUP_SOCK_OPS)),
    ("sk_skb/stream_parser", (ProgType.SK_SKB, AttachType.SK_SKB_STREAM_PARSER)),
    ("sk_skb/stream_verdict", (ProgType.SK_SKB, AttachType.SK_SKB_STREAM_VERDICT)),
    ("sk_skb", (ProgType.SK_SKB, None)), ("sk_msg", (ProgType.SK_MSG, AttachType.SK_MSG_VERDICT)),
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
    ("cgroup/getpeername4", (ProgType.CGROUP_SOCK_ADDR, AttachType.CGROUP_INET4_GETPEERNAME)),
    ("cgroup/getpeername6", (ProgType.CGROUP_SOCK_ADDR, AttachType.CGROUP_INET6_GETPEERNAME)),
    ("cgroup/getsockname4", (ProgType.CGROUP_SOCK_ADDR, AttachType.CGROUP_INET4_GETSOCKNAME)),
    ("cgroup/getsockname6", (ProgType.CGROUP_SOCK_ADDR, AttachType.CGROUP_INET6_GETSOCKNAME)),
    ("cgroup/sysctl", (ProgType.CGROUP_SYSCTL, AttachType.CGROUP_SYSCTL)),
    ("cgroup/getsockopt", (ProgType.CGROUP_SOCKOPT, AttachType.CGROUP_GETSOCKOPT)),
    ("cgroup/setsockopt", (ProgType.CGROUP_SOCKOPT, AttachType.CGROUP_SETSOCKOPT)),
    ("struct_ops", LIBBPF), ("sk_lookup/", (ProgType.SK_LOOKUP, AttachType.SK_LOOKUP)),
]

# bpf_load.c's (samples/bpf): these prefixes load (with no expected attach type), "cgroup/" ones
# other than cgroup/skb and cgroup/sock fail the load ("Unknown event"), any other is skipped
BPF_LOAD_SECTIONS: List[Tuple[str, Kind]] = [
    ("socket", (ProgType.SOCKET_FILTER, None)),
    ("kprobe/", (ProgType.KPROBE, None)), ("kretprobe/", (ProgType.KPROBE, None)),
    ("tracepoint/", (ProgType.TRACEPOINT, None)), ("raw_tracepoint/", (ProgType.RAW_TRACEPOINT, None)),
    ("xdp", (ProgType.XDP, None)), ("perf_event", (ProgType.PERF_EVENT, None)),
    ("cgroup/skb", (ProgType.CGROUP_SKB, None)), ("cgroup/sock", (ProgType.CGROUP_SOCK, None)),
    ("sockops", (ProgType.SOCK_OPS, None)), ("sk_skb", (ProgType.SK_SKB, None)),
    ("sk_msg", (ProgType.SK_MSG, None)),
]
# bpf_load.c's tail calls (load_and_attach): after "socket" (6 characters), "sockops", "sk_skb" and
# "sk_msg" (7, one past the last two names: its own arithmetic), a "/" and a number; after "kprobe/" and
# "kretprobe/", a number. The program goes to that key (atoi: its leading digits) of the last prog array.
_SLOT_AFTER_SLASH = (("socket", 6), ("sockops", 7), ("sk_skb", 7), ("sk_msg", 7))
_SLOT_PROBES = ("kprobe/", "kretprobe/")
_DIGITS = "0123456789"  # C's isdigit (str.isdigit takes other scripts' digits too)

TABLES: Dict[str, List[Tuple[str, Kind]]] = {LIBBPF0: LIBBPF0_SECTIONS, BPF_LOAD: BPF_LOAD_SECTIONS}


# Program types whose expected attach type the kernel neither checks nor uses: it checks the attach
# call's type instead (bpf_prog_attach_check_attach_type's default), so 0.x's and none load alike
_ATTACH_TYPE_UNUSED = frozenset({ProgType.SOCK_OPS, ProgType.SK_SKB, ProgType.SK_MSG, ProgType.LIRC_MODE2,
                                 ProgType.FLOW_DISSECTOR})


def effective_attach_type(kind: Kind) -> str:
    """The expected attach type a program of ``kind`` ends up with, as far as the kernel tells
    them apart ("" for none that matters): a CGROUP_SOCK program without one gets
    INET_SOCK_CREATE (the kernel's fixup); XDP's own type is no different from none, while
    XDP_DEVMAP and XDP_CPUMAP change what the program may do and where it may go."""
    prog_type, attach = kind
    if prog_type == ProgType.CGROUP_SOCK and attach is None:
        attach = AttachType.CGROUP_INET_SOCK_CREATE
    if attach is None or prog_type in _ATTACH_TYPE_UNUSED or attach == AttachType.XDP:
        return ""
    return attach.name


def section_kind(dialect: str, section: str) -> Optional[Kind]:
    """The program type (and expected attach type) the loader of ``dialect`` gives ``section``;
    None: it gives none (libbpf 0.x then refused the object, bpf_load.c skipped the section)."""
    if dialect == BPF_LOAD and section.startswith("cgroup/") and \
            not section.startswith(("cgroup/skb", "cgroup/sock")):
        raise LegacyMapError(f"bpf_load.c refuses section {section!r} (Unknown event): it loads only "
                             "cgroup/skb and cgroup/sock among cgroup programs")
    for prefix, kind in TABLES[dialect]:
        if section.startswith(prefix):
            return kind
    return None


def tail_call_slot(section: str) -> Optional[int]:
    """bpf_load.c's prog array key for ``section`` (see ``_SLOT_AFTER_SLASH``), None when it names
    no tail call; LegacyMapError where bpf_load.c refused the section ("invalid prog number",
    "event name cannot be empty")."""
    for prefix, skip in _SLOT_AFTER_SLASH:
        if section.startswith(prefix):
            if section[skip:skip + 1] != "/":
                return None
            return _leading_number(section, section[skip + 1:], "invalid prog number")
    for prefix in _SLOT_PROBES:
        if section.startswith(prefix):
            event = section[len(prefix):]
            if not event:
                raise LegacyMapError(f"section {section!r}: event name cannot be empty (bpf_load.c refuses it)")
            return _leading_number(section, event, "") if event[0] in _DIGITS else None
    return None


def _leading_number(section: str, text: str, refusal: str) -> int:
    """What C's atoi reads of ``text`` (which must start with a digit: else bpf_load.c's ``refusal``)."""
    end = 0
    while end < len(text) and text[end] in _DIGITS:
        end += 1
    if not end:
        raise LegacyMapError(f"section {section!r}: {refusal} (bpf_load.c refuses it)")
    if end > 10 or int(text[:end]) > 0xFFFFFFFF:  # past an int: atoi's result is undefined
        raise LegacyMapError(f"section {section!r}: its prog number is no 32-bit key")
    return int(text[:end])


class OldLoader:
    """How libbpf 0.x (``"libbpf0"``) or bpf_load.c (``"bpf_load"``) loads an object: ``read``
    rewrites it and returns the hooks and a pin policy that pins nothing."""

    def __init__(self, dialect: str):
        if dialect not in TABLES:
            raise InvalidValueError(f"dialect must be {LIBBPF0!r} or {BPF_LOAD!r}, not {dialect!r}")
        self.dialect = dialect
        self.why = f"compat={dialect!r} was asked for"  # (compat="auto" says why it chose this reading)

    def read(self, elf: ElfFile, data: bytes) -> Tuple[bytes, ObjectHooks, PinPolicy]:
        """As :meth:`Iproute2.read <libbpf_py.compat.iproute2.Iproute2.read>`."""
        new_data, _ = rewrite_elf(elf, self.dialect, data)
        return new_data, SectionTypes(self.dialect, self.why), PinPolicy()

    def __repr__(self) -> str:
        return f"OldLoader({self.dialect!r})"


class SectionTypes(ObjectHooks):
    """The old loader's load set and program types after open; bpf_load.c's tail calls after load."""

    def __init__(self, dialect: str, why: str):
        self.dialect = dialect
        self.reading = dialect  # the compat= value this reading answers to
        self.why = why          # how the reading was chosen

    def opened(self, obj: HookedObject) -> None:
        has_prog_array = any(m.type == MapType.PROG_ARRAY for m in obj.maps.values())
        for program in obj.programs.values():
            section = program.section or ""
            kind = section_kind(self.dialect, section)
            if self.dialect == BPF_LOAD:
                program.autoload = kind is not None
                key = tail_call_slot(section)  # an invalid number refuses the object, as bpf_load.c did
                if key is not None and program.autoload and not has_prog_array:
                    raise LegacyMapError(f"section {section!r} is bpf_load.c's tail call into slot {key}, and the "
                                         "object has no prog array (bpf_load.c failed to store it)")
            if kind is None and self.dialect == LIBBPF0:
                raise LegacyMapError(f"libbpf 0.x gives section {section!r} no program type (it refused objects "
                                     "with such a section): rename the section, or open with another compat=")
            if kind is None or kind is LIBBPF:
                continue  # bpf_load.c skips the section; LIBBPF: libbpf 1.x reads the name as 0.x did
            program.type = kind[0]
            program.expected_attach_type = int(kind[1] or 0)  # bpf_load.c passes none; 0.x its table's
            program.flags = 0  # (1.x may have set some from the name, e.g. xdp.frags: 0.x set none)

    def loaded(self, obj: HookedObject) -> None:
        if self.dialect != BPF_LOAD:
            return
        arrays = [m for m in obj.maps.values() if m.type == MapType.PROG_ARRAY]
        for program in obj.programs.values():
            key = tail_call_slot(program.section or "")
            if key is None or not program.autoload:
                continue
            arrays[-1].update(key.to_bytes(4, "little"), program.fd.to_bytes(4, "little"))
