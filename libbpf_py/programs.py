"""BPF programs: from an object (editable before load) or opened from a pin or an id."""

from __future__ import annotations

import ctypes
import errno
import os
from enum import IntEnum
from operator import attrgetter
from typing import TYPE_CHECKING, Any, Callable, List, NamedTuple, NoReturn, Optional, Sequence, Union

from . import _abi, _signals
from ._abi import AttachType, ProgType, XdpFlags, enum_or_int
from ._checks import c_name, c_path, check_uint
from ._fd import OwnedFd, check_namespace_file, check_regular, open_path
from ._handle import BpfHandle, Definition, definition
from .errors import NOT_SUPPORTED_ERRNOS, InvalidTypeError, InvalidValueError, LibbpfError, UnavailableError
from .info import ProgInfo, prog_info

if TYPE_CHECKING:  # (attaching imports links and netdev when it first runs: a load needs neither)
    from ._handle import PathLike
    from .info import LineInfo
    from .links import Link

INSN_SIZE = 8  # sizeof(struct bpf_insn)
CTX_OUT_SIZE = 1024  # room for any context struct the kernel copies back (__sk_buff is 192 bytes)
_TRACEFS_USERS = ("bpf_program__attach", "bpf_program__attach_tracepoint", "bpf_program__attach_tracepoint_opts",
                  "bpf_program__attach_kprobe", "bpf_program__attach_kprobe_opts",
                  "bpf_program__attach_kprobe_multi_opts")  # libbpf >= 1.2 matches patterns in tracefs
_TC_DIRECTIONS = {"ingress": _abi.TC_INGRESS, "egress": _abi.TC_EGRESS}
XDP_MODES = {None: 0, "skb": XdpFlags.SKB_MODE, "drv": XdpFlags.DRV_MODE, "hw": XdpFlags.HW_MODE}
TRACEFS = ("/sys/kernel/tracing", "/sys/kernel/debug/tracing")


class TestRunResult(NamedTuple):
    """Outcome of BPF_PROG_TEST_RUN."""

    retval: int
    data: bytes
    duration_ns: int
    ctx: bytes | None  # (annotations readable by typing.get_type_hints without typing's names)


def _object_only(field: str) -> Callable[[Any], Any]:
    def unknown(info: Any) -> Any:
        raise UnavailableError(f"{field} is known only for an object's programs")
    return unknown


_U32_MAX = (1 << 32) - 1


def _as_bytes(data: Any, what: str) -> bytes:
    """``data``'s bytes, refused before they are copied when the kernel's u32 size cannot say
    how many there are (ctypes would wrap 2**32 + 64 to 64)."""
    if isinstance(data, str):
        raise InvalidTypeError(f"{what} must be bytes-like, not str")
    try:
        view = memoryview(data)
    except TypeError:
        raise InvalidTypeError(f"{what} must be bytes-like, not {type(data).__name__}") from None
    with view:
        if view.nbytes > _U32_MAX:
            raise InvalidValueError(f"{what} of {view.nbytes} bytes is too large: BPF_PROG_TEST_RUN takes at most "
                                    "2**32 - 1 bytes")
        return view.tobytes()


def _checked_uint(what: str, bits: int = 32) -> Callable[[Any], int]:
    """A definition's check: an int (or IntEnum) that fits libbpf's argument, never a bool."""
    def check(value: Any) -> int:
        return check_uint(int(value) if isinstance(value, IntEnum) else value, bits, what)
    return check


class Program(BpfHandle):
    """A BPF program: editable before its object loads, then runnable, pinnable, inspectable."""

    _kind, _fd_kind, _skipped = "program", "prog", "was not loaded (autoload off)"
    _own_handle_hint = "Program.from_id(p.info().id)"
    _fd_by_id = "bpf_prog_get_fd_by_id"

    def _read_info(self, fd: int) -> ProgInfo:
        return prog_info(fd)

    def __reduce__(self) -> NoReturn:
        raise InvalidTypeError("a Program is a handle on a kernel object and cannot be pickled: pass its pin path "
                               "or id and open it with Program.from_pinned or Program.from_id")

    def __repr__(self) -> str:
        state = "closed" if self.closed else f"fd={self._fd}"
        return f"<Program {self._display_name()} {state}>"

    # definition ------------------------------------------------------------------------------

    @property
    def name(self) -> str:
        return self._state.name(self) or ""

    section = definition("bpf_program__section_name", live=lambda info: None,
                         convert=lambda value: None if value is None else c_name(value),
                         doc="ELF section the program came from (an object's programs only; None for others).")

    type = definition("bpf_program__type", "bpf_program__set_type", live=attrgetter("type"),
                      convert=lambda value: enum_or_int(ProgType, value), check=_checked_uint("type", 31),
                      doc="Program type (ProgType).")
    expected_attach_type = definition("bpf_program__expected_attach_type", "bpf_program__set_expected_attach_type",
                                      live=_object_only("expected_attach_type"),
                                      check=_checked_uint("expected_attach_type", 31))
    flags = definition("bpf_program__flags", "bpf_program__set_flags", live=_object_only("flags"),
                       check=_checked_uint("flags"),
                       doc="The BPF_F_* load flags (e.g. BPF_F_SLEEPABLE, BPF_F_XDP_HAS_FRAGS), settable before load.")
    autoload = definition("bpf_program__autoload", "bpf_program__set_autoload", live=lambda info: True,
                          convert=bool, check=bool, doc="Whether load loads this program (settable before load).")
    insn_count = definition("bpf_program__insn_cnt", live=lambda info: info.xlated_len // 8,
                            doc="Instructions after libbpf's relocation (the kernel's, for a loaded program).")

    @property
    def insns(self) -> bytes:
        """The program's instructions, 8 bytes each (``struct bpf_insn``): for an object's
        program, libbpf's (``bpf_program__insns``: as in the ELF before load, as loaded after);
        for a program from a pin or an id, the kernel's translated ones."""
        with self._lock:
            handle = self._described()  # (raises once closed)
            if handle is not None:
                count = int(self._lib.bpf_program__insn_cnt(handle))
                start = self._lib.bpf_program__insns(handle)
                return ctypes.string_at(start, count * INSN_SIZE) if start and count else b""
        from .info import prog_xlated_insns

        with self._fd_in_use() as fd:
            return prog_xlated_insns(fd)

    def set_insns(self, insns: Any) -> None:
        """Replace the program's instructions before its object loads
        (``bpf_program__set_insns``): bytes-like, a whole number of 8-byte instructions, complete
        as given (map fds, calls). Only a program without relocations: libbpf would apply the ELF's
        at load to the new instructions, at the old offsets (InvalidValueError). Not while another
        thread loads the object."""
        data = _as_bytes(insns, "insns")
        if not data or len(data) % INSN_SIZE:
            raise InvalidValueError(f"insns must be a whole, non-zero number of {INSN_SIZE}-byte instructions, "
                                    f"not {len(data)} bytes")
        self._state.edit(self, "bpf_program__set_insns", data)  # (the object hands libbpf a copy)

    def set_attach_target(self, target: Union[Program, int, None], function: str) -> None:
        """Before load: what this program attaches to (``bpf_program__set_attach_target``): for
        an extension (``SEC("freplace/...")``), the global function ``function`` of the loaded
        program ``target`` (a Program, or an fd of one) that it replaces; for a BTF-typed
        tracing program (fentry, tp_btf...), ``target`` None names a kernel function or
        tracepoint. The target must carry BTF. This object keeps its own fd of the target
        until it closes."""
        name = c_path(function, "function")
        if target is None:
            self._state.edit(self, "bpf_program__set_attach_target", (0, name))
            return
        if isinstance(target, Program):
            with target._fd_in_use() as fd:
                kept = os.dup(fd)
        else:
            check_uint(target, 31, "target fd")
            try:
                kept = os.dup(target)
            except OSError as exc:
                raise LibbpfError.for_errno(exc.errno or errno.EBADF, f"target fd {target}: {exc.strerror}",
                                            "bpf_program__set_attach_target") from None
        with _signals.deferred():
            try:  # the object owns ``kept`` once the edit stands (libbpf reads it at load)
                self._state.edit(self, "bpf_program__set_attach_target", (kept, name))
            except BaseException:
                os.close(kept)
                raise

    # kernel object ---------------------------------------------------------------------------

    def info(self) -> ProgInfo:
        with self._fd_in_use() as fd:
            return prog_info(fd)

    def func_name(self) -> str:
        """The program's whole name: libbpf's for an object's program; for a program from a pin
        or an id, its BTF function's (the kernel keeps 15 bytes of a name: ``info().name``, what
        ``bpftool prog show`` shows without BTF), else the kernel's."""
        if self._described() is not None:
            return self.name
        from .info import prog_func_name

        with self._fd_in_use() as fd:
            return prog_func_name(fd) or self.info().name

    def line_info(self) -> List[LineInfo]:
        """Which source line each stretch of the loaded program's instructions comes from: a
        list of ``LineInfo(insn_off, file, line, column, source)``, read from the kernel (so the
        same on every libbpf, and for programs from pins or ids): ``insn_off`` counts the
        kernel's translated instructions, as ``bpftool prog dump xlated linum`` does. Empty for
        a program loaded without BTF line info (built without ``-g``)."""
        from .info import prog_line_info

        with self._fd_in_use() as fd:
            return prog_line_info(fd)

    def test_run(self, data: Any = b"", repeat: int = 1, ctx: Any = None, *,
                 data_out_size: Optional[int] = None, flags: int = 0, cpu: int = 0) -> TestRunResult:
        """Run the program on ``data`` (and ``ctx``) with BPF_PROG_TEST_RUN."""
        check_uint(repeat, 31, "repeat")
        check_uint(flags, 32, "flags")
        check_uint(cpu, 32, "cpu")
        data_in = _as_bytes(data, "data")
        out_size = check_uint(len(data_in) + 4096 if data_out_size is None else data_out_size, 32,
                              "data_out_size", minimum=1)  # 0 would tell the kernel "no limit"
        data_out = ctypes.create_string_buffer(out_size)
        opts = _abi.new_opts(_abi.BpfTestRunOpts)
        if data_in:
            opts.data_in = ctypes.cast(ctypes.c_char_p(data_in), ctypes.c_void_p)
            opts.data_size_in = len(data_in)
        opts.data_out = ctypes.addressof(data_out)
        opts.data_size_out = len(data_out)
        opts.repeat = repeat
        opts.flags = flags
        opts.cpu = cpu
        ctx_out = None
        if ctx is not None:
            ctx_in = _as_bytes(ctx, "ctx")
            # the kernel writes back its whole context struct, which may be longer than ctx
            ctx_out = ctypes.create_string_buffer(max(len(ctx_in), CTX_OUT_SIZE))
            opts.ctx_in = ctypes.cast(ctypes.c_char_p(ctx_in), ctypes.c_void_p)
            opts.ctx_size_in = len(ctx_in)
            opts.ctx_out = ctypes.addressof(ctx_out)
            opts.ctx_size_out = len(ctx_out)
        try:
            with self._fd_in_use() as fd:
                self._lib.bpf_prog_test_run_opts(fd, ctypes.addressof(opts))
        except LibbpfError as exc:
            if exc.errno == errno.ENOSPC and opts.data_size_out > len(data_out):
                raise LibbpfError.for_errno(
                    errno.ENOSPC, f"output of {opts.data_size_out} bytes does not fit data_out_size={out_size}",
                    "bpf_prog_test_run_opts") from None
            raise
        return TestRunResult(opts.retval, data_out.raw[:opts.data_size_out], opts.duration,
                             None if ctx_out is None else ctx_out.raw[:opts.ctx_size_out])

    # attaching -------------------------------------------------------------------------------

    def attach(self) -> Link:
        """Attach as the program's section says (libbpf's auto-attach: ``tp/``, ``raw_tp/``,
        ``kprobe/``, ``fentry/``, ``lsm/``, ``iter/``...); EOPNOTSUPP for a section that names no hook
        (``xdp``, ``tc``, ``cgroup_skb/...``: use the ``attach_*`` method of the hook)."""
        return self._attach("bpf_program__attach")

    def attach_xdp(self, dev: Union[str, int], mode: Optional[str] = None) -> Link:
        """Attach to the XDP hook of network device ``dev`` (a name in the caller's network
        namespace, or an ifindex) through a BPF link; ``mode`` is ``"skb"`` (generic), ``"drv"``
        (native), ``"hw"`` (offloaded), or None (the kernel's choice: native where the driver has it)."""
        if mode not in XDP_MODES:
            raise InvalidValueError(f"mode must be one of {', '.join(map(repr, XDP_MODES))}, not {mode!r}")
        from .netdev import device_index

        ifindex = device_index(dev)
        opts = _abi.new_opts(_abi.BpfLinkCreateOpts)
        opts.flags = XDP_MODES[mode]
        try:
            return self._link_create(ifindex, AttachType.XDP, ctypes.addressof(opts))
        except LibbpfError as exc:
            if exc.errno != errno.EBUSY:
                raise
            raise exc.with_detail(f"{exc.detail}: the device's XDP hook is taken, by another link or by a "
                                  "program attached without one (ip link set dev DEV xdp off)") from None

    def attach_tc(self, dev: Union[str, int], direction: str = "ingress", *, mode: Optional[str] = None,
                  priority: int = 0, handle: int = 0) -> Link:
        """Attach to the tc hook of ``dev`` (``"ingress"`` or ``"egress"``).

        ``mode="tcx"``: a tcx link (kernel >= 6.6; made with BPF_LINK_CREATE, so any libbpf 1.x
        does); ``mode="cls_bpf"``: a direct-action cls_bpf filter on the device's clsact qdisc
        (made if missing, and left in place), at ``priority``/``handle`` (0: the kernel's
        choice); ``mode=None``: tcx where the kernel has it, else cls_bpf. A cls_bpf filter is no
        kernel link: its Link removes exactly that filter (if it still holds this program) on
        detach, close or when dropped, and has no fd to pin.
        """
        if direction not in _TC_DIRECTIONS:
            raise InvalidValueError(f"direction must be 'ingress' or 'egress', not {direction!r}")
        if mode not in (None, "tcx", "cls_bpf"):
            raise InvalidValueError(f"mode must be 'tcx', 'cls_bpf' or None, not {mode!r}")
        check_uint(priority, 16, "priority")
        check_uint(handle, 32, "handle")
        from .netdev import device_index

        ifindex = device_index(dev)
        if mode == "tcx" or mode is None and not (priority or handle):
            if priority or handle:
                raise InvalidValueError("priority and handle are cls_bpf's: a tcx link has neither")
            attach_type = AttachType.TCX_INGRESS if direction == "ingress" else AttachType.TCX_EGRESS
            try:
                return self._link_create(ifindex, attach_type, None)
            except LibbpfError as exc:
                if mode == "tcx" or exc.errno not in NOT_SUPPORTED_ERRNOS:
                    raise  # a kernel before 6.6 refuses tcx with EINVAL: then cls_bpf, as chosen automatically
        return self._attach_cls_bpf(ifindex, _TC_DIRECTIONS[direction], priority, handle)

    def _link_create(self, target: int, attach_type: int, opts: Optional[int]) -> Link:
        """A kernel link of this program to ``target`` (BPF_LINK_CREATE: any program, from an
        object or a pin), owned by the Link before a signal can arrive."""
        from .links import FdLink

        with _signals.deferred(), self._fd_in_use() as fd:
            return FdLink._make(OwnedFd(self._lib.bpf_link_create(fd, target, attach_type, opts)), self.name)

    def _attach_cls_bpf(self, ifindex: int, point: int, priority: int, handle: int) -> Link:
        from .netdev import cls_bpf_link, tc_hook

        lib = self._lib
        hook = tc_hook(ifindex, point)
        opts = _abi.new_opts(_abi.BpfTcOpts)
        opts.handle, opts.priority = handle, priority
        with _signals.deferred(), self._fd_in_use() as fd:
            opts.prog_fd = fd
            lib.bpf_tc_attach(ctypes.addressof(hook), ctypes.addressof(opts))  # the kernel picks 0s
            return cls_bpf_link(self.name, hook, opts.handle, opts.priority, opts.prog_id)

    def attach_tracepoint(self, category: str, name: str, *, cookie: int = 0) -> Link:
        """Attach to the tracepoint ``category:name`` (tracefs must be mounted: libbpf reads the
        tracepoint's id there); the program reads ``cookie`` with bpf_get_attach_cookie()."""
        check_uint(cookie, 64, "cookie")
        if not _tracefs_mounted():
            raise LibbpfError.for_errno(errno.ENOENT, "tracefs is not mounted: mount -t tracefs tracefs "
                                        "/sys/kernel/tracing", "bpf_program__attach_tracepoint")
        where = (c_path(category, "category"), c_path(name, "name"))
        if not cookie:
            return self._attach("bpf_program__attach_tracepoint", *where)
        from .links.opts import BpfTracepointOpts

        opts = _abi.new_opts(BpfTracepointOpts)
        opts.bpf_cookie = cookie
        return self._attach("bpf_program__attach_tracepoint_opts", *where, ctypes.addressof(opts))

    def attach_raw_tracepoint(self, name: str) -> Link:
        """Attach to the raw tracepoint ``name`` (e.g. ``sys_enter``)."""
        return self._attach("bpf_program__attach_raw_tracepoint", c_path(name, "name"))

    def attach_kprobe(self, function: str, retprobe: bool = False, *, cookie: int = 0) -> Link:
        """Attach to the entry (or, with ``retprobe``, the return) of kernel function ``function``;
        the program reads ``cookie`` with bpf_get_attach_cookie()."""
        check_uint(cookie, 64, "cookie")
        name = c_path(function, "function")
        if not cookie:
            return self._attach("bpf_program__attach_kprobe", bool(retprobe), name)
        from .links.opts import BpfKprobeOpts

        opts = _abi.new_opts(BpfKprobeOpts)
        opts.bpf_cookie, opts.retprobe = cookie, bool(retprobe)
        return self._attach("bpf_program__attach_kprobe_opts", name, ctypes.addressof(opts))

    def attach_kprobe_multi(self, pattern: Optional[str] = None, *, symbols: Optional[Sequence[str]] = None,
                            retprobe: bool = False) -> Link:
        """Attach to many kernel functions through one kprobe-multi link: those matching the glob
        ``pattern`` (``"tcp_*"``), or those named in ``symbols``; the program's section is
        ``kprobe.multi/...`` (or ``kretprobe.multi/...``). Needs a kernel built with fprobe."""
        if (pattern is None) == (symbols is None):
            raise InvalidValueError("give a pattern or a list of symbols (one of them)")
        opts = _abi.new_opts(_abi.BpfKprobeMultiOpts)
        opts.retprobe = bool(retprobe)
        names = None
        if symbols is not None:
            if isinstance(symbols, (str, bytes)):
                raise InvalidValueError("symbols must be a list of function names, not one string")
            symbols = list(symbols)
            if not symbols or not all(isinstance(symbol, str) for symbol in symbols):
                raise InvalidValueError("symbols must be a non-empty list of function names (str)")
            encoded = [c_path(symbol, "symbol") for symbol in symbols]
            names = (ctypes.c_char_p * len(encoded))(*encoded)  # libbpf reads them during the call only
            opts.syms, opts.cnt = ctypes.addressof(names), len(encoded)
        return self._attach("bpf_program__attach_kprobe_multi_opts",
                            None if pattern is None else c_path(pattern, "pattern"), ctypes.addressof(opts))

    def attach_uprobe(self, binary: PathLike, symbol: Optional[str] = None, *, offset: int = 0, pid: int = -1,
                      retprobe: bool = False, cookie: int = 0) -> Link:
        """Attach to function ``symbol`` of ``binary`` (an executable or a shared library; a
        ``symbol`` of a library needs its path), or to ``offset`` in the file, in process ``pid``
        (-1: every process that runs it); with ``retprobe``, at the function's return. The
        program reads ``cookie`` with bpf_get_attach_cookie()."""
        check_uint(offset, 64, "offset")
        check_uint(cookie, 64, "cookie")
        if pid != -1:
            check_uint(pid, 31, "pid (-1: every process)")
        if symbol is None and not offset:
            raise InvalidValueError("give the function's symbol, or its offset in the file")
        opts = _abi.new_opts(_abi.BpfUprobeOpts)
        opts.retprobe, opts.bpf_cookie = bool(retprobe), cookie
        name = None if symbol is None else c_path(symbol, "symbol")
        opts.func_name = name  # libbpf reads it during the call only
        return self._attach("bpf_program__attach_uprobe_opts", pid, _binary(binary), offset,
                            ctypes.addressof(opts))

    def attach_netfilter(self, pf: Union[str, int], hook: Union[str, int], priority: int, *,
                         flags: int = 0) -> Link:
        """Attach a netfilter program (``SEC("netfilter")``, kernel >= 6.4, libbpf >= 1.3) to
        hook ``hook`` of protocol family ``pf`` in the caller's network namespace, at
        ``priority`` (lower runs first; iptables' filter table is 0). ``pf``: ``"ipv4"``,
        ``"ipv6"`` or an NFPROTO_* number; ``hook``: ``"prerouting"``, ``"input"``,
        ``"forward"``, ``"output"``, ``"postrouting"`` or an NF_INET_* number; ``flags``:
        BPF_F_NETFILTER_IP_DEFRAG (1) to see reassembled packets (kernel >= 6.6)."""
        family = _NF_FAMILIES.get(pf, pf) if isinstance(pf, str) else pf
        number = _NF_HOOKS.get(hook, hook) if isinstance(hook, str) else hook
        if isinstance(family, str) or isinstance(number, str):
            raise InvalidValueError(f"pf must be one of {sorted(_NF_FAMILIES)} or a number, hook one of "
                                    f"{list(_NF_HOOKS)} or a number; not {pf!r}, {hook!r}")
        check_uint(family, 32, "pf")
        check_uint(number, 32, "hook")
        if isinstance(priority, bool) or not isinstance(priority, int) or not -(1 << 31) <= priority < 1 << 31:
            raise InvalidValueError(f"priority must be an int in [-2**31, 2**31), got {priority!r}")
        check_uint(flags, 32, "flags")
        from .links.opts import BpfNetfilterOpts

        opts = _abi.new_opts(BpfNetfilterOpts)
        opts.pf, opts.hooknum, opts.priority, opts.flags = family, number, priority, flags
        return self._attach("bpf_program__attach_netfilter", ctypes.addressof(opts))

    def attach_freplace(self, target: Union[Program, int], function: str) -> Link:
        """Attach an extension program in place of global function ``function`` of the loaded
        program ``target`` (a Program, or an fd of one): ``bpf_program__attach_freplace``. The
        target set before load (``set_attach_target``) attaches with ``attach()``."""
        name = c_path(function, "function")
        if isinstance(target, Program):
            with target._fd_in_use() as fd:
                return self._attach("bpf_program__attach_freplace", fd, name)
        return self._attach("bpf_program__attach_freplace", check_uint(target, 31, "target fd"), name)

    def attach_sockmap(self, sockmap: Any, *, attach_type: Optional[int] = None) -> Link:
        """Attach an sk_msg or sk_skb program to a sockmap or sockhash (a Map, or an fd of one):
        it then runs on the sockets the map holds. The attach type is the program's (its
        section: ``sk_msg``, ``sk_skb/stream_parser``, ``sk_skb/stream_verdict``,
        ``sk_skb/verdict``), or ``attach_type`` (needed for a program from a pin or an id). With
        libbpf >= 1.5 on an object's program: a kernel link (``bpf_program__attach_sockmap``,
        Linux >= 6.10); else BPF_PROG_ATTACH, whose Link detaches exactly this program from
        this map (``bpf_prog_detach2``). The kernel gives a socket the map's programs when it
        is added: attach before adding sockets, and after a detach, sockets already in the map
        keep running the program until they are removed."""
        if attach_type is not None:
            check_uint(int(attach_type), 31, "attach_type")
        if isinstance(sockmap, int) and not isinstance(sockmap, bool):
            check_uint(sockmap, 31, "sockmap fd")
            return self._attach_sockmap_fd(sockmap, attach_type)
        if not hasattr(sockmap, "_fd_in_use"):
            raise InvalidTypeError(f"sockmap must be a Map or an fd, not {type(sockmap).__name__}")
        with sockmap._fd_in_use() as fd:
            return self._attach_sockmap_fd(fd, attach_type)

    def _attach_sockmap_fd(self, map_fd: int, attach_type: Optional[int]) -> Link:
        if attach_type is None and self._described() is not None and self._lib.has("bpf_program__attach_sockmap"):
            return self._attach("bpf_program__attach_sockmap", map_fd)
        if attach_type is None:
            if self._described() is None:
                raise InvalidValueError("a program from a pin or an id does not say its attach type: pass "
                                        "attach_type= (AttachType.SK_MSG_VERDICT, SK_SKB_STREAM_VERDICT, ...)")
            attach_type = int(self.expected_attach_type)
        from .links import ProgAttachment

        with self._fd_in_use() as fd:
            return ProgAttachment._make(self.name, fd, map_fd, int(attach_type), prog_info(fd).id)

    def attach_uprobe_multi(self, binary: PathLike, pattern: Optional[str] = None, *,
                            symbols: Optional[Sequence[str]] = None, offsets: Optional[Sequence[int]] = None,
                            cookies: Optional[Sequence[int]] = None, pid: int = -1, retprobe: bool = False) -> Link:
        """Attach to many functions of ``binary`` through one uprobe-multi link (libbpf >= 1.3,
        Linux >= 6.6): those matching the glob ``pattern``, or those named in ``symbols``, or at
        ``offsets`` in the file; ``cookies`` (one per symbol or offset) are what
        bpf_get_attach_cookie() returns at each; ``pid`` -1 is every process."""
        if sum(arg is not None for arg in (pattern, symbols, offsets)) != 1:
            raise InvalidValueError("give a pattern, a list of symbols or a list of offsets (one of them)")
        if pid != -1:
            check_uint(pid, 31, "pid (-1: every process)")
        from .links.opts import BpfUprobeMultiOpts

        opts = _abi.new_opts(BpfUprobeMultiOpts)
        opts.retprobe = bool(retprobe)
        count = 0
        kept: List[Any] = []  # (libbpf reads the arrays during the call only)
        if symbols is not None:
            if isinstance(symbols, (str, bytes)) or not symbols or not all(isinstance(x, str) for x in symbols):
                raise InvalidValueError("symbols must be a non-empty list of function names (str)")
            names = (ctypes.c_char_p * len(symbols))(*[c_path(x, "symbol") for x in symbols])
            opts.syms, count = ctypes.addressof(names), len(symbols)
            kept.append(names)
        if offsets is not None:
            if not offsets:
                raise InvalidValueError("offsets must be a non-empty list of file offsets")
            where = (ctypes.c_ulong * len(offsets))(*[check_uint(x, 64, "offset") for x in offsets])
            opts.offsets, count = ctypes.addressof(where), len(offsets)
            kept.append(where)
        if cookies is not None:
            if pattern is not None or len(cookies) != count:
                raise InvalidValueError("cookies need symbols or offsets, one cookie for each")
            values = (ctypes.c_uint64 * count)(*[check_uint(x, 64, "cookie") for x in cookies])
            opts.cookies = ctypes.addressof(values)
            kept.append(values)
        opts.cnt = count
        return self._attach("bpf_program__attach_uprobe_multi", pid, _binary(binary),
                            None if pattern is None else c_path(pattern, "pattern"), ctypes.addressof(opts))

    def attach_netkit(self, dev: Union[str, int]) -> Link:
        """Attach to the netkit device ``dev`` (a name in the caller's network namespace, or an
        ifindex) as the program's section says (``netkit/primary`` or ``netkit/peer``): a
        netkit link (libbpf >= 1.3, Linux >= 6.7)."""
        from .links.opts import BpfNetkitOpts
        from .netdev import device_index

        ifindex = device_index(dev)
        opts = _abi.new_opts(BpfNetkitOpts)
        return self._attach("bpf_program__attach_netkit", ifindex, ctypes.addressof(opts))

    def attach_iter(self) -> Link:
        """Attach an iterator (``iter/...`` section); ``link.read()`` runs it and returns its output."""
        return self._attach("bpf_program__attach_iter", None)

    def attach_perf_event(self, fd: int, *, cookie: int = 0) -> Link:
        """Attach to the perf event ``fd`` (the caller keeps ``fd``: libbpf's link owns, and
        closes, a duplicate of it); the program reads ``cookie`` with bpf_get_attach_cookie()."""
        check_uint(fd, 31, "fd")
        check_uint(cookie, 64, "cookie")
        opts = None
        if cookie:
            from .links.opts import BpfPerfEventOpts

            opts = _abi.new_opts(BpfPerfEventOpts)
            opts.bpf_cookie = cookie
        with _signals.deferred():  # the duplicate is the link's, or closed here: never leaked
            try:
                held = OwnedFd(os.dup(fd))
            except OSError as exc:
                raise LibbpfError.for_errno(exc.errno or errno.EBADF, f"fd {fd}: {exc.strerror}",
                                            "bpf_program__attach_perf_event") from None
            with held:
                if opts is None:
                    link = self._attach("bpf_program__attach_perf_event", held.fileno())
                else:
                    link = self._attach("bpf_program__attach_perf_event_opts", held.fileno(), ctypes.addressof(opts))
                held.disown()  # libbpf's link closes it when destroyed
            return link

    def attach_usdt(self, binary: PathLike, provider: str, name: str, *, pid: int = -1, cookie: int = 0) -> Link:
        """Attach to the USDT probe ``provider:name`` of ``binary`` (a path; the probe's ELF note
        says where it is), in process ``pid`` (-1: every process that runs it). The program
        (``SEC("usdt")``, written with libbpf's ``usdt.bpf.h``) reads the probe's arguments with
        bpf_usdt_arg() and ``cookie`` with bpf_usdt_cookie(). A probe with a semaphore is
        enabled while attached. The Link has no fd (libbpf places one uprobe per call site)."""
        if pid != -1:
            check_uint(pid, 31, "pid (-1: every process)")
        check_uint(cookie, 64, "cookie")
        from .links.opts import BpfUsdtOpts

        opts = _abi.new_opts(BpfUsdtOpts)
        opts.usdt_cookie = cookie
        try:
            return self._attach("bpf_program__attach_usdt", pid, _binary(binary), c_path(provider, "provider"),
                                c_path(name, "name"), ctypes.addressof(opts))
        except LibbpfError as exc:
            if exc.errno != errno.ESRCH or (pid != -1 and not os.path.exists(f"/proc/{pid}")):
                raise
            raise exc.with_detail(f"{exc.detail}: the program's object has no USDT maps (__bpf_usdt_specs...): "
                                  "write its USDT programs with libbpf's <bpf/usdt.bpf.h>") from None

    def attach_cgroup(self, cgroup: Union[PathLike, int]) -> Link:
        """Attach to a cgroup v2: its directory, or an fd of it (the program's section gives the
        attach type, e.g. ``cgroup_skb/egress``)."""
        return self._attach_to_directory("bpf_program__attach_cgroup", cgroup, "cgroup")

    def attach_netns(self, netns: Union[PathLike, int]) -> Link:
        """Attach to a network namespace (``/proc/PID/ns/net``, ``/run/netns/NAME``, or an fd of
        one): sk_lookup and flow dissector programs."""
        return self._attach_to_directory("bpf_program__attach_netns", netns, "network namespace")

    def _attach_to_directory(self, function: str, target: Union[PathLike, int], what: str) -> Link:
        if isinstance(target, int):
            if function == "bpf_program__attach_netns":
                check_namespace_file(check_uint(target, 31, "fd"), f"fd {target}", function)
            return self._attach(function, check_uint(target, 31, "fd"))
        with open_path(c_path(target, what), what, function) as held:
            if function == "bpf_program__attach_netns":
                check_namespace_file(held.fileno(), os.fsdecode(c_path(target)), function)
            try:
                return self._attach(function, held.fileno())
            except LibbpfError as exc:
                if exc.errno != errno.EBADF:
                    raise
                raise exc.with_detail(f"{exc.detail}: {os.fspath(target)} is no {what} (a cgroup v2 directory, "
                                      "or a network namespace file)") from None

    def _attach(self, function: str, *args: Any) -> Link:
        """A libbpf attach function on this program's handle: a Link owning libbpf's bpf_link."""
        from .links import LibbpfLink, UsdtLink

        kind = LibbpfLink
        if function == "bpf_program__attach_usdt" or (
                function == "bpf_program__attach" and (self.section or "").startswith("usdt")):
            kind = UsdtLink  # (libbpf's USDT link reports fd 0: it must never be used as one)

        with _signals.deferred(), self._handle_in_use() as handle:  # no signal between the attach and its Link
            if handle is None:
                raise InvalidTypeError(f"{function} needs the program from its Object (libbpf's handle): a program "
                                       "opened from a pin or an id attaches with attach_xdp")
            if self._fd < 0:
                self._raise_unusable()
            try:
                ptr = getattr(self._lib, function)(handle, *args)
                if kind is UsdtLink:
                    state = self._state
                    assert isinstance(state, Definition)  # (only an object's program has libbpf's handle)
                    return UsdtLink._make_in(ptr, self.name, state.core)
                return kind._make(ptr, self.name)
            except LibbpfError as exc:
                if exc.errno == errno.ENOENT and function in _TRACEFS_USERS and not _tracefs_mounted():
                    raise exc.with_detail(f"{exc.detail} (if the hook is a tracepoint or a kprobe, or a "
                                          "kprobe-multi pattern: tracefs is not mounted; mount -t tracefs tracefs "
                                          "/sys/kernel/tracing)") from None
                if exc.errno == errno.EOPNOTSUPP and (function == "bpf_program__attach_kprobe_multi_opts" or (
                        function == "bpf_program__attach" and (self.section or "").startswith(_KPROBE_MULTI))):
                    raise exc.with_detail(f"{exc.detail}: this kernel has no kprobe-multi links (it is built "
                                          "without CONFIG_FPROBE)") from None
                raise


_KPROBE_MULTI = ("kprobe.multi", "kretprobe.multi")
_NF_FAMILIES = {"ipv4": 2, "ipv6": 10}  # NFPROTO_IPV4, NFPROTO_IPV6
_NF_HOOKS = {"prerouting": 0, "input": 1, "forward": 2, "output": 3, "postrouting": 4}  # enum nf_inet_hooks


def _tracefs_mounted() -> bool:
    return any(os.path.isdir(os.path.join(root, "events")) for root in TRACEFS)


def _binary(binary: PathLike) -> bytes:
    """A probed binary's path for libbpf, which opens a path with a ``/`` as it is (a FIFO there
    would block it for ever) and looks a bare name up in the library and executable paths."""
    path = c_path(binary, "binary")
    if b"/" in path:
        check_regular(path, "binary")
    return path
