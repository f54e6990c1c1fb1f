"""Network devices for attaching: a device's index from its name, its clsact hook, and Links
for attachments that netlink makes (a cls_bpf filter, a legacy XDP program) in the namespace
they were made in, whichever the caller is in when it detaches them."""

from __future__ import annotations

import contextlib
import ctypes
import errno
import os
from typing import Callable, Iterator, Optional, Tuple, Union

from . import _abi, _libbpf
from ._abi import LinkType
from ._checks import check_uint
from ._fd import OwnedFd
from .errors import InvalidTypeError, LibbpfError
from .links import LinkInfo, NetlinkAttachment


def tc_hook(ifindex: int, point: int) -> _abi.BpfTcHook:
    """The clsact hook of a device, made (the qdisc) when missing, as tc makes it."""
    hook = _abi.new_opts(_abi.BpfTcHook)
    hook.ifindex, hook.attach_point = ifindex, point
    try:
        _libbpf.lib().bpf_tc_hook_create(ctypes.addressof(hook))
    except LibbpfError as exc:
        if exc.errno != errno.EEXIST:  # the device's clsact qdisc, made by whoever came first
            raise
    return hook


def netlink_link(program_name: str, ifindex: int, prog_id: int, holder: Callable[[], int],
                 remove: Callable[[], None], tc_place: Tuple[Optional[int], Optional[int]] = (None, None)
                 ) -> NetlinkAttachment:
    """A Link for an attachment that netlink made (no kernel link: a cls_bpf filter, a legacy
    XDP program) in this thread's network namespace. ``holder()`` says which program id the
    place holds now (0: none), ``remove()`` takes it away; both run in that namespace, whichever
    the caller is in, and ``remove`` only while the place still holds ``prog_id``."""
    netns = OwnedFd(os.open(_THREAD_NETNS, os.O_RDONLY | os.O_CLOEXEC))  # where the ifindex means the device

    def holding() -> bool:
        try:
            return holder() == prog_id
        except LibbpfError as exc:
            if exc.errno in (errno.ENOENT, errno.ENODEV, errno.EINVAL):
                return False  # removed meanwhile (tc filter del, the device or its namespace gone)
            raise

    def detach() -> None:
        with netns, _in_netns(netns.fileno()):
            if holding():  # never another program put at the same place since
                remove()

    def info() -> LinkInfo:
        with _in_netns(netns.fileno()):
            return LinkInfo(LinkType.UNSPEC, 0, prog_id if holding() else 0, ifindex=ifindex)

    return NetlinkAttachment._make(program_name, detach, info, *tc_place)


def cls_bpf_link(program_name: str, hook: _abi.BpfTcHook, handle: int, priority: int,
                 prog_id: int) -> NetlinkAttachment:
    """A Link for the cls_bpf filter at ``handle``/``priority`` of ``hook`` (see netlink_link)."""
    lib = _libbpf.lib()

    def place() -> _abi.BpfTcOpts:
        opts = _abi.new_opts(_abi.BpfTcOpts)
        opts.handle, opts.priority = handle, priority
        return opts

    def holder() -> int:
        query = place()
        lib.bpf_tc_query(ctypes.addressof(hook), ctypes.addressof(query))
        return int(query.prog_id)

    def remove() -> None:
        gone = place()  # held by this frame while C reads it
        lib.bpf_tc_detach(ctypes.addressof(hook), ctypes.addressof(gone))

    return netlink_link(program_name, hook.ifindex, prog_id, holder, remove, (handle, priority))


_THREAD_NETNS = "/proc/thread-self/ns/net"
_CLONE_NEWNET = 0x40000000


@contextlib.contextmanager
def _in_netns(fd: int) -> Iterator[None]:
    """This thread in the network namespace of ``fd`` for the body (netlink works by namespace)."""
    if os.stat(fd).st_ino == os.stat(_THREAD_NETNS).st_ino:
        yield
        return
    with OwnedFd(os.open(_THREAD_NETNS, os.O_RDONLY | os.O_CLOEXEC)) as here:
        _libbpf.libc().setns(fd, _CLONE_NEWNET)
        try:
            yield
        finally:
            _libbpf.libc().setns(here.fileno(), _CLONE_NEWNET)


def device_index(dev: Union[str, int]) -> int:
    """The ifindex of a device named in this network namespace, or the ifindex given, once a
    device there has it (LibbpfError ENODEV otherwise: a netlink query would just find nothing)."""
    if isinstance(dev, bool) or not isinstance(dev, (int, str)):
        raise InvalidTypeError(f"a device is a name or an ifindex, not {type(dev).__name__}")
    if isinstance(dev, int):
        check_uint(dev, 31, "ifindex", minimum=1)
    import socket  # here: at the top it would bring selectors and math (~1.8 ms) to every load

    try:
        if isinstance(dev, int):
            socket.if_indextoname(dev)
            return dev
        return socket.if_nametoindex(dev)
    except OSError:
        shown = f"with ifindex {dev}" if isinstance(dev, int) else repr(dev)
        raise LibbpfError.for_errno(errno.ENODEV, f"no network device {shown} in this network namespace") from None
