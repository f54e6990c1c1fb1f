"""Attaching as tc and ip do: what ``tc filter add ... bpf da obj F sec S`` leaves (netlink
through pyroute2, imported here only: ``pip install libbpf-py[netlink]``), and what ``ip link
set dev X xdp obj F sec S`` leaves (netlink through libbpf's bpf_xdp_attach)."""

from __future__ import annotations

import ctypes
import errno
import os
from typing import Any, List, NamedTuple, Optional, Union

from .. import _libbpf, _signals
from .._abi import TC_EGRESS, TC_INGRESS, BpfTcHook, BpfTcOpts, XdpFlags, new_opts
from .._checks import check_uint
from ..errors import InvalidValueError, LibbpfError, MissingDependencyError
from ..links import Link
from ..netdev import cls_bpf_link, device_index, netlink_link, tc_hook
from ..programs import Program

ETH_P_ALL = 0x0003          # tc's default protocol ("protocol all")
_PARENTS = {"ingress": (0xFFFFFFF2, TC_INGRESS), "egress": (0xFFFFFFF3, TC_EGRESS)}  # clsact's minors
_FIRST_AUTO_PRIORITY = 0xC000  # what the kernel gives the first filter added without a priority


def _pyroute2() -> Any:
    try:
        import pyroute2  # type: ignore[import-untyped, import-not-found, unused-ignore]
    except ImportError:
        raise MissingDependencyError("attach_filter needs pyroute2 for netlink: pip install libbpf-py[netlink] "
                                     "(Debian: apt install python3-pyroute2)") from None
    return pyroute2


def attach_filter(dev: Union[str, int], direction: str, program: Program, *, object_name: str, section: str,
                  priority: int = 0, handle: int = 0) -> Link:
    """Leave what ``tc filter add dev DEV {ingress|egress} bpf da obj OBJECT sec SECTION [pref
    PRIORITY] [handle HANDLE]`` leaves: a clsact qdisc (made when missing), a cls_bpf filter for
    all protocols, direct-action, named ``OBJECT:[SECTION]`` (the object's file name, as ``tc
    filter show`` prints it), at ``priority`` and ``handle`` (0: what tc's kernel would choose).

    The Link removes exactly that filter, while it holds ``program``; ``dev`` is a name in the
    caller's network namespace or an ifindex."""
    if direction not in _PARENTS:
        raise InvalidValueError(f"direction must be 'ingress' or 'egress', not {direction!r}")
    check_uint(priority, 16, "priority")
    check_uint(handle, 32, "handle")
    name = f"{os.path.basename(object_name)}:[{section}]"
    if "\0" in name:
        raise InvalidValueError(f"filter name {name!r} contains a NUL byte")
    parent, point = _PARENTS[direction]
    ifindex = device_index(dev)
    hook = tc_hook(ifindex, point)
    pyroute2 = _pyroute2()
    with pyroute2.IPRoute() as ipr:
        if not priority:  # the kernel's choice, made here so that the Link knows where its filter is
            taken = {f["info"] >> 16 for f in ipr.get_filters(index=ifindex, parent=parent)}
            priority = min(taken, default=_FIRST_AUTO_PRIORITY + 1) - 1
            if priority < 1:  # pref 1 is taken: the highest free one, from where the kernel starts
                priority = next((p for p in range(_FIRST_AUTO_PRIORITY, 0, -1) if p not in taken), 0)
                if not priority:
                    raise LibbpfError.for_errno(errno.ENOSPC, f"every tc priority of {dev} {direction} is taken")
        handle = handle or 1
        prog_id = program.info().id
        with _signals.deferred(), program._fd_in_use() as fd:  # the filter added and its Link made, or neither
            try:
                ipr.tc("add-filter", "bpf", ifindex, handle, fd=fd, name=name, parent=parent, prio=priority,
                       protocol=ETH_P_ALL, direct_action=True)
            except pyroute2.NetlinkError as exc:
                raise LibbpfError.for_errno(exc.code or errno.EINVAL, f"cannot add the filter {name} at pref "
                                            f"{priority} handle {handle:#x}: {os.strerror(exc.code or 22)}") from None
            return cls_bpf_link(program.name, hook, handle, priority, prog_id)


# ip link set dev DEV {xdp|xdpgeneric|xdpdrv|xdpoffload} obj F sec S
_IP_XDP_MODES = {None: 0, "xdpgeneric": XdpFlags.SKB_MODE, "xdpdrv": XdpFlags.DRV_MODE,
                 "xdpoffload": XdpFlags.HW_MODE}


class Filter(NamedTuple):
    """A bpf filter on a device's clsact hook, as ``tc filter show`` lists it."""

    priority: int
    handle: int
    name: str       # OBJECT:[SECTION] for tc's (and attach_filter's), or what its maker set
    prog_id: int
    direct_action: bool


def filters(dev: Union[str, int], direction: str) -> List[Filter]:
    """The bpf filters on ``dev``'s ``ingress`` or ``egress`` hook, whoever added them (none
    when the device has no clsact qdisc: listing makes none)."""
    if direction not in _PARENTS:
        raise InvalidValueError(f"direction must be 'ingress' or 'egress', not {direction!r}")
    parent, point = _PARENTS[direction]
    ifindex = device_index(dev)
    hook = new_opts(BpfTcHook)  # (the hook as bpf_tc_query reads it; bpf_tc_hook_create would add a qdisc)
    hook.ifindex, hook.attach_point = ifindex, point
    found = []
    with _pyroute2().IPRoute() as ipr:
        if not any(q["index"] == ifindex and q.get_attr("TCA_KIND") == "clsact" for q in ipr.get_qdiscs(ifindex)):
            return []
        for f in ipr.get_filters(index=ifindex, parent=parent):
            options = f.get_attr("TCA_OPTIONS")
            if f.get_attr("TCA_KIND") != "bpf" or options is None or not f["handle"]:
                continue  # the chain's head entry, or another classifier
            query = new_opts(BpfTcOpts)
            query.handle, query.priority = f["handle"], f["info"] >> 16
            _libbpf.lib().bpf_tc_query(ctypes.addressof(hook), ctypes.addressof(query))
            found.append(Filter(query.priority, query.handle, options.get_attr("TCA_BPF_NAME") or "", query.prog_id,
                                bool((options.get_attr("TCA_BPF_FLAGS") or 0) & 1)))
    return found


def detach_filter(dev: Union[str, int], direction: str, *, priority: int, handle: int) -> None:
    """Remove the bpf filter at ``priority``/``handle`` of ``dev``'s hook, whoever added it (as
    ``tc filter del dev DEV ingress pref P handle H bpf``)."""
    if direction not in _PARENTS:
        raise InvalidValueError(f"direction must be 'ingress' or 'egress', not {direction!r}")
    check_uint(priority, 16, "priority", minimum=1)
    check_uint(handle, 32, "handle", minimum=1)
    hook = tc_hook(device_index(dev), _PARENTS[direction][1])
    place = new_opts(BpfTcOpts)
    place.handle, place.priority = handle, priority
    _libbpf.lib().bpf_tc_detach(ctypes.addressof(hook), ctypes.addressof(place))


def attach_xdp(dev: Union[str, int], program: Program, *, mode: Optional[str] = None, force: bool = False) -> Link:
    """Leave what ``ip link set dev DEV {xdp|xdpgeneric|xdpdrv|xdpoffload} [-force] obj F sec S``
    leaves: the program on the device's XDP hook without a BPF link (netlink, as ip sets it),
    refused while another program is there unless ``force``; ``ip link show`` reports it as it
    reports ip's. The Link removes it (from its own network namespace) while it holds ``program``."""
    if mode not in _IP_XDP_MODES:
        raise InvalidValueError(f"mode must be one of {', '.join(map(repr, _IP_XDP_MODES))}, not {mode!r}")
    lib = _libbpf.lib()
    ifindex = device_index(dev)
    flags = int(_IP_XDP_MODES[mode]) | (0 if force else int(XdpFlags.UPDATE_IF_NOEXIST))
    mode_flags = int(_IP_XDP_MODES[mode])
    with _signals.deferred(), program._fd_in_use() as fd:
        lib.bpf_xdp_attach(ifindex, fd, flags, None)

        def holder() -> int:
            prog_id = ctypes.c_uint32()
            lib.bpf_xdp_query_id(ifindex, mode_flags, ctypes.byref(prog_id))
            return prog_id.value

        def remove() -> None:
            lib.bpf_xdp_detach(ifindex, mode_flags, None)

        return netlink_link(program.name, ifindex, program.info().id, holder, remove)
