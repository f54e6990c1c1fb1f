"""What is attached to a hook now, whoever attached it (tc, ip, bpftool, another process, this
one): the kernel's answer, as ids.

- :func:`xdp`: a device's XDP programs per mode (libbpf's ``bpf_xdp_query``, over netlink) and
  the XDP links that hold them;
- :func:`tc`: a device's tcx programs and links (kernel >= 6.6) and its cls_bpf filters on
  the clsact qdisc (netlink, through pyroute2);
- :func:`cgroup`: a cgroup's programs of one attach type, its attach flags, and their links;
- :func:`netns`: a network namespace's flow dissector or sk_lookup programs and their links.

Devices are named in the calling thread's network namespace (or given by ifindex). Nothing is
changed by a query: no qdisc is made, nothing is attached or detached.
"""

from __future__ import annotations

import contextlib
import ctypes
import errno
import os
from ctypes import Structure, c_size_t, c_uint8, c_uint32, c_uint64, c_void_p
from typing import TYPE_CHECKING, Dict, Iterator, List, NamedTuple, Optional, Sequence, Set, Tuple, Union

from . import _libbpf
from ._abi import AttachType, LinkType, new_opts
from ._checks import c_path, check_uint
from ._fd import OwnedFd, check_namespace_file, open_path
from .errors import NOT_SUPPORTED_ERRNOS, InvalidTypeError, InvalidValueError, LibbpfError, MissingDependencyError
from .info import kernel_ids
from .links import LinkInfo, link_info
from .netdev import device_index

if TYPE_CHECKING:
    from ._handle import PathLike
    from .iproute2.attaching import Filter

__all__ = ["AttachedProgram", "CgroupQuery", "NetnsQuery", "TcQuery", "XdpQuery", "cgroup", "netns", "tc", "xdp"]

BPF_F_QUERY_EFFECTIVE = 1 << 0
BPF_F_ALLOW_OVERRIDE, BPF_F_ALLOW_MULTI = 1 << 0, 1 << 1
_XDP_MODES = ("none", "drv", "skb", "hw", "multi")  # enum XDP_ATTACHED_* of linux/if_link.h
_TCX = {"ingress": AttachType.TCX_INGRESS, "egress": AttachType.TCX_EGRESS}
_NETNS_TYPES = (AttachType.FLOW_DISSECTOR, AttachType.SK_LOOKUP)
_NO_LINK_ID = 0xFFFFFFFF  # what link_ids hold until the kernel writes them (a link id is never this)


class BpfXdpQueryOpts(Structure):
    """struct bpf_xdp_query_opts up to attach_mode, as libbpf 0.7 has it (later ones add fields
    after it: ``sz`` says which)."""

    _fields_ = [("sz", c_size_t), ("prog_id", c_uint32), ("drv_prog_id", c_uint32), ("hw_prog_id", c_uint32),
                ("skb_prog_id", c_uint32), ("attach_mode", c_uint8)]


class BpfProgQueryOpts(Structure):
    """struct bpf_prog_query_opts as libbpf 1.3 has it; libbpf 1.0 to 1.2 know it up to
    ``prog_attach_flags`` (``sz`` then stops there: the link fields stay unasked)."""

    _fields_ = [("sz", c_size_t), ("query_flags", c_uint32), ("attach_flags", c_uint32), ("prog_ids", c_void_p),
                ("count", c_uint32), ("prog_attach_flags", c_void_p), ("link_ids", c_void_p),
                ("link_attach_flags", c_void_p), ("revision", c_uint64)]


_QUERY_OPTS_BEFORE_LINKS = BpfProgQueryOpts.link_ids.offset  # sizeof the struct in libbpf < 1.3


class XdpQuery(NamedTuple):
    """A device's XDP hook: the program of each mode (0: none) and the links that hold them."""

    mode: str            # "none", "skb" (generic), "drv" (native), "hw" (offloaded), or "multi" (several)
    prog_id: int         # the program, when one mode is used (0 when none, or several: see the mode's own id)
    skb_prog_id: int
    drv_prog_id: int
    hw_prog_id: int
    link_ids: Tuple[int, ...]  # the XDP links holding them (none: attached through netlink, as ip does)


class AttachedProgram(NamedTuple):
    """One program of a hook, in the order the hook runs them."""

    prog_id: int
    link_id: int | None  # the link holding it; 0: none (attached without a link); None: not known (see tc)


class TcQuery(NamedTuple):
    """A device's tc hook in one direction: tcx first (it runs before the clsact qdisc), then
    the cls_bpf filters, as ``tc filter show`` lists them."""

    tcx: Tuple[AttachedProgram, ...]
    revision: int | None  # tcx's revision (each attach and detach changes it); None: no tcx or libbpf < 1.3
    filters: Tuple[Filter, ...]


class CgroupQuery(NamedTuple):
    """A cgroup's programs of one attach type, with the cgroup's attach flags."""

    attach_flags: int    # BPF_F_ALLOW_OVERRIDE | BPF_F_ALLOW_MULTI, as the programs were attached (0: exclusive)
    programs: Tuple[AttachedProgram, ...]
    revision: int | None  # the kernel's revision of the list, where it keeps one (None otherwise)

    @property
    def multi(self) -> bool:
        """Attached with BPF_F_ALLOW_MULTI (links always are): several programs, each of them runs."""
        return bool(self.attach_flags & BPF_F_ALLOW_MULTI)

    @property
    def override(self) -> bool:
        """Attached with BPF_F_ALLOW_OVERRIDE: a program of a sub-cgroup replaces this one there."""
        return bool(self.attach_flags & BPF_F_ALLOW_OVERRIDE)


class NetnsQuery(NamedTuple):
    """A network namespace's flow dissector or sk_lookup programs."""

    programs: Tuple[AttachedProgram, ...]


# the queries --------------------------------------------------------------------------------

def xdp(dev: Union[str, int]) -> XdpQuery:
    """The XDP programs on ``dev`` (a name in this thread's network namespace, or an ifindex),
    per mode, and the ids of the XDP links that hold them.

    The links are found among the kernel's links by device index and program: a link reports
    no network namespace, so a link of the same program on a device of the same index in
    another namespace would be counted too."""
    ifindex = device_index(dev)
    opts = new_opts(BpfXdpQueryOpts)
    _libbpf.lib().bpf_xdp_query(ifindex, 0, ctypes.addressof(opts))
    mode = _XDP_MODES[opts.attach_mode] if opts.attach_mode < len(_XDP_MODES) else str(opts.attach_mode)
    attached = {opts.skb_prog_id, opts.drv_prog_id, opts.hw_prog_id} - {0}
    links = tuple(info.id for info in _links(LinkType.XDP)
                  if info.ifindex == ifindex and info.prog_id in attached) if attached else ()
    return XdpQuery(mode, opts.prog_id, opts.skb_prog_id, opts.drv_prog_id, opts.hw_prog_id, links)


def tc(dev: Union[str, int], direction: str = "ingress") -> TcQuery:
    """What runs on ``dev``'s tc hook in ``direction`` (``"ingress"`` or ``"egress"``): the tcx
    programs with their links (kernel >= 6.6; the link ids and the revision need libbpf >= 1.3),
    and the bpf filters of the clsact qdisc (needs pyroute2; none when the device has no
    clsact qdisc, which is not made)."""
    if direction not in _TCX:
        raise InvalidValueError(f"direction must be 'ingress' or 'egress', not {direction!r}")
    ifindex = device_index(dev)
    try:
        _, programs, revision = _query(ifindex, _TCX[direction], 0)
    except LibbpfError as exc:
        if exc.errno not in NOT_SUPPORTED_ERRNOS:  # a kernel before 6.6 has no tcx (EINVAL)
            raise
        programs, revision = [], None
    return TcQuery(tuple(programs), revision, tuple(_filters(ifindex, direction)))


def cgroup(path: Union[PathLike, int], attach_type: Union[AttachType, int], *,
           effective: bool = False) -> CgroupQuery:
    """The programs of ``attach_type`` (e.g. ``AttachType.CGROUP_INET_EGRESS``) on the cgroup v2
    directory ``path`` (or an fd of it), with the cgroup's attach flags and each program's link;
    with ``effective``, those that run for its processes, inherited from its ancestors too."""
    attach_type = _attach_type(attach_type)
    with _opened(path, "cgroup") as fd:
        flags, programs, revision = _query(fd, attach_type, BPF_F_QUERY_EFFECTIVE if effective else 0)
        cgroups = _cgroup_ids(fd, effective)
    if any(program.link_id is None for program in programs):  # the kernel did not say: find them
        programs = _paired(programs, [info for info in _links(LinkType.CGROUP)
                                      if info.cgroup_id in cgroups and info.attach_type == attach_type])
    return CgroupQuery(flags, tuple(programs), revision)


def netns(path: Union[PathLike, int], attach_type: Union[AttachType, int]) -> NetnsQuery:
    """The ``AttachType.FLOW_DISSECTOR`` or ``AttachType.SK_LOOKUP`` programs of a network
    namespace (``/proc/PID/ns/net``, ``/run/netns/NAME``, or an fd of one), with their links."""
    attach_type = _attach_type(attach_type)
    if attach_type not in _NETNS_TYPES:
        raise InvalidValueError(f"a network namespace has FLOW_DISSECTOR and SK_LOOKUP programs, not "
                                f"{getattr(attach_type, 'name', attach_type)}")
    with _opened(path, "network namespace") as fd:
        check_namespace_file(fd, f"fd {path}" if isinstance(path, int) else os.fsdecode(c_path(path)))
        _, programs, _ = _query(fd, attach_type, 0)
        inode = os.fstat(fd).st_ino
    if any(program.link_id is None for program in programs):
        programs = _paired(programs, [info for info in _links(LinkType.NETNS)
                                      if info.netns_ino == inode and info.attach_type == attach_type])
    return NetnsQuery(tuple(programs))


# helpers ------------------------------------------------------------------------------------

def _attach_type(value: Union[AttachType, int]) -> Union[AttachType, int]:
    if isinstance(value, bool) or not isinstance(value, int):
        raise InvalidTypeError(f"an attach type is an AttachType, not {type(value).__name__}")
    check_uint(int(value), 31, "attach_type")
    try:
        return AttachType(value)
    except ValueError:
        return int(value)


@contextlib.contextmanager
def _opened(target: Union[PathLike, int], what: str) -> Iterator[int]:
    """An fd of ``target`` (the caller's fd, or the path opened read-only) for the body, whose
    EBADF (the kernel's answer for a file of another kind) says the target is no ``what``."""
    try:
        if isinstance(target, int) and not isinstance(target, bool):
            yield check_uint(target, 31, "fd")
            return
        with open_path(c_path(target, what), what) as owned:
            yield owned.fileno()
    except LibbpfError as exc:
        if exc.errno != errno.EBADF:
            raise
        shown = f"fd {target}" if isinstance(target, int) else os.fsdecode(c_path(target, what))
        raise exc.with_detail(f"{exc.detail}: {shown} is no {what}") from None


def _query(target: int, attach_type: int, query_flags: int) -> Tuple[int, List[AttachedProgram], Optional[int]]:
    """BPF_PROG_QUERY: (attach flags, the programs in order, the revision) of a hook; a link id
    is None where the kernel (or a libbpf before 1.3) did not report it, as is the revision."""
    lib = _libbpf.lib()
    with_links = lib.version >= (1, 3)
    effective = bool(query_flags & BPF_F_QUERY_EFFECTIVE)
    room = 0
    while True:
        opts = new_opts(BpfProgQueryOpts)
        if not with_links:
            opts.sz = _QUERY_OPTS_BEFORE_LINKS
        opts.query_flags = query_flags
        ids = (c_uint32 * max(room, 1))()
        link_ids = (c_uint32 * max(room, 1))(*([_NO_LINK_ID] * max(room, 1)))
        if room:
            opts.prog_ids, opts.count = ctypes.addressof(ids), room
            if with_links and not effective:  # (the kernel refuses per-program fields for the effective list)
                opts.link_ids = ctypes.addressof(link_ids)
        try:
            lib.bpf_prog_query_opts(target, attach_type, ctypes.addressof(opts))
        except LibbpfError as exc:
            if exc.errno == errno.ENOSPC and room:  # more were attached meanwhile
                room = max(opts.count, room * 2)
                continue
            raise
        if not room and opts.count:  # first the count, then the ids (with room for a few more)
            room = opts.count + 4
            continue
        count = min(opts.count, room)
        revision = opts.revision if with_links and opts.revision else None
        programs = [AttachedProgram(ids[i], None if link_ids[i] == _NO_LINK_ID else link_ids[i])
                    for i in range(count)]
        return opts.attach_flags, programs, revision


def _links(kind: LinkType) -> Iterator[LinkInfo]:
    """The info of every kernel link of ``kind`` now (those gone meanwhile are skipped)."""
    lib = _libbpf.lib()
    for link_id in kernel_ids("link"):
        try:
            fd = OwnedFd(lib.bpf_link_get_fd_by_id(link_id))
        except LibbpfError:
            continue  # released since the ids were read
        with fd:
            info = link_info(fd.fileno())
        if info.type == kind:
            yield info


def _paired(programs: Sequence[AttachedProgram], links: Sequence[LinkInfo]) -> List[AttachedProgram]:
    """Each program with the id of a link that holds it (0: none); a link holds one program, so
    links are taken in order of id (the order they were made) and used once."""
    free: Dict[int, List[int]] = {}
    for info in sorted(links, key=lambda info: info.id):
        free.setdefault(info.prog_id, []).append(info.id)
    paired = []
    for program in programs:
        held = free.get(program.prog_id)
        paired.append(program._replace(link_id=held.pop(0) if held else 0))
    return paired


def _cgroup_ids(fd: int, with_ancestors: bool) -> Set[int]:
    """The id of the cgroup at ``fd`` (its inode number), and with ``with_ancestors`` those of the
    cgroups above it, up to the root of its cgroup2 mount."""
    ids = {os.fstat(fd).st_ino}
    if with_ancestors:
        path = os.readlink(f"/proc/self/fd/{fd}")
        while not os.path.ismount(path) and path != os.path.dirname(path):
            path = os.path.dirname(path)
            ids.add(os.stat(path).st_ino)
    return ids


def _filters(ifindex: int, direction: str) -> List[Filter]:
    """The bpf filters of the device's clsact qdisc in ``direction`` (none without one)."""
    try:
        import pyroute2  # type: ignore[import-untyped, import-not-found, unused-ignore]  # noqa: F401
    except ImportError:
        raise MissingDependencyError("query.tc lists cls_bpf filters through netlink, with pyroute2: pip install "
                                     "libbpf-py[netlink] (Debian: apt install python3-pyroute2)") from None
    from .iproute2.attaching import filters

    return filters(ifindex, direction)
