"""Feature probes: what this kernel, through the loaded libbpf, can load and attach.

Tools built like libbpf-tools pick one of a program's variants (fentry, tp_btf, kprobe...)
before they load it; these answer the same questions:

- :func:`prog_type`, :func:`map_type`, :func:`helper`: libbpf's probes, which load a tiny
  program or create a tiny map (``bpftool feature probe`` asks the same);
- :func:`tracepoint` (tracefs), :func:`raw_tracepoint` (the kernel's BTF), :func:`btf_id`
  (the BTF id a fentry, tp_btf, LSM or iterator program attaches to);
- :func:`can_attach`: a program (or a section name) as a whole, with the reason in words.

Nothing is mounted or attached: a probe that needs tracefs says so when it is not mounted.
"""

from __future__ import annotations

import ctypes
import errno
import fnmatch
import os
import re
from ctypes import c_int, c_size_t, c_uint32, c_void_p
from typing import TYPE_CHECKING, Dict, Iterator, List, Optional, Tuple, Type, TypeVar, Union

from . import _abi, _libbpf
from ._abi import AttachType, MapType, ProgType
from ._checks import c_name_bytes
from .errors import (
    InvalidTypeError,
    InvalidValueError,
    KeyNotFoundError,
    LibbpfError,
    MissingBtfError,
)

if TYPE_CHECKING:
    from .programs import Program

__all__ = ["prog_type", "map_type", "helper", "helper_id", "tracepoint", "raw_tracepoint", "btf_id", "can_attach",
           "Verdict"]

TRACEFS_ROOTS = ("/sys/kernel/tracing", "/sys/kernel/debug/tracing")
PMU_DIR = "/sys/bus/event_source/devices"
KALLSYMS = "/proc/kallsyms"
ACTIVE_LSMS = "/sys/kernel/security/lsm"
UAPI_BPF_H = "/usr/include/linux/bpf.h"
BPF_F_SLEEPABLE = 1 << 4
_LOG_SIZE = 1 << 16

# struct bpf_insn: code, dst_reg:4 | src_reg:4, off, imm
_MOV_R0_0 = bytes((0xB7, 0, 0, 0, 0, 0, 0, 0))  # BPF_ALU64 | BPF_MOV | BPF_K: r0 = 0
_EXIT = bytes((0x95, 0, 0, 0, 0, 0, 0, 0))      # BPF_JMP | BPF_EXIT


def _call(helper: int) -> bytes:
    return bytes((0x85, 0, 0, 0)) + helper.to_bytes(4, "little", signed=True)  # BPF_JMP | BPF_CALL


class BpfProgLoadOpts(ctypes.Structure):
    """struct bpf_prog_load_opts up to log_buf, as libbpf 1.0 has it (later ones grew it: sz says which)."""

    _fields_ = [("sz", c_size_t), ("attempts", c_int), ("expected_attach_type", c_int), ("prog_btf_fd", c_uint32),
                ("prog_flags", c_uint32), ("prog_ifindex", c_uint32), ("kern_version", c_uint32),
                ("attach_btf_id", c_uint32), ("attach_prog_fd", c_uint32), ("attach_btf_obj_fd", c_uint32),
                ("fd_array", c_void_p), ("func_info", c_void_p), ("func_info_cnt", c_uint32),
                ("func_info_rec_size", c_uint32), ("line_info", c_void_p), ("line_info_cnt", c_uint32),
                ("line_info_rec_size", c_uint32), ("log_level", c_uint32), ("log_size", c_uint32),
                ("log_buf", c_void_p)]


class Verdict:
    """Whether a program can attach here: true or false as ``ok``, and ``reason`` in words."""

    __slots__ = ("ok", "reason")

    def __init__(self, ok: bool, reason: str):
        self.ok = bool(ok)
        self.reason = reason

    def __bool__(self) -> bool:
        return self.ok

    def __eq__(self, other: object) -> bool:
        return isinstance(other, Verdict) and (self.ok, self.reason) == (other.ok, other.reason)

    def __hash__(self) -> int:
        return hash((self.ok, self.reason))

    def __repr__(self) -> str:
        return f"Verdict({self.ok}, {self.reason!r})"


# libbpf's probes ---------------------------------------------------------------------------

_E = TypeVar("_E", ProgType, MapType, AttachType)


def _enum(cls: Type[_E], value: Union[_E, int, str], what: str) -> int:
    """An enum's value: a member, an int, or a member's name in any case ("xdp", "SCHED_CLS")."""
    if isinstance(value, cls):
        return int(value)
    if isinstance(value, str):
        try:
            return int(cls[value.upper()])
        except KeyError:
            raise InvalidValueError(f"no {what} named {value!r}; known: "
                                    f"{', '.join(m.name.lower() for m in cls)}") from None
    if isinstance(value, bool) or not isinstance(value, int):
        raise InvalidTypeError(f"a {what} is a {cls.__name__}, an int or a name, not {type(value).__name__}")
    if not 0 <= value < 1 << 31:
        raise InvalidValueError(f"{what} must be in [0, 2**31), got {value}")
    return value


def _named(cls: Type[_E], value: int) -> str:
    try:
        return cls(value).name.lower()
    except ValueError:
        return str(value)


def _libbpf_probe(function: str, *args: int) -> bool:
    lib = _libbpf.lib()
    try:
        return bool(getattr(lib, function)(*args, None))
    except LibbpfError as exc:
        if exc.errno == errno.EOPNOTSUPP:
            raise exc.with_detail(f"libbpf {lib.version_string} cannot probe this (it predates the type, or no "
                                  "program of it loads without a target)") from None
        raise


def prog_type(t: Union[ProgType, int, str]) -> bool:
    """Whether the kernel loads programs of type ``t`` (libbpf_probe_bpf_prog_type: a program
    of two instructions). LibbpfError (EOPNOTSUPP) for a type the loaded libbpf cannot probe."""
    return _libbpf_probe("libbpf_probe_bpf_prog_type", _enum(ProgType, t, "program type"))


def map_type(t: Union[MapType, int, str]) -> bool:
    """Whether the kernel creates maps of type ``t`` (libbpf_probe_bpf_map_type: a tiny map)."""
    return _libbpf_probe("libbpf_probe_bpf_map_type", _enum(MapType, t, "map type"))


_prog_types: Dict[int, bool] = {}


def helper(prog_type: Union[ProgType, int, str], helper: Union[int, str]) -> bool:
    """Whether programs of ``prog_type`` may call ``helper`` (its id, or its name:
    ``"bpf_ktime_get_ns"``), by libbpf_probe_bpf_helper. False when the kernel does not load
    that program type at all; LibbpfError (EOPNOTSUPP) for the types libbpf cannot probe
    helpers of (tracing, ext, lsm, struct_ops: their programs need a target).

    libbpf before 1.5 recognises a refused helper by the verifier's older words only and says
    "supported" to kernels that write "program of this type cannot use helper" (6.x): with such
    a libbpf the kernel's own log is read to confirm a "supported"."""
    kind = _enum(ProgType, prog_type, "program type")
    helper_number = helper_id(helper) if isinstance(helper, str) else helper
    if isinstance(helper_number, bool) or not isinstance(helper_number, int):
        raise InvalidTypeError(f"a helper is an int id or a name, not {type(helper).__name__}")
    if not 0 < helper_number < 1 << 31:
        raise InvalidValueError(f"helper id must be in [1, 2**31), got {helper_number}")
    if kind not in _prog_types:
        _prog_types[kind] = prog_type_supported = _program_type_loads(kind)
    else:
        prog_type_supported = _prog_types[kind]
    if not prog_type_supported:
        return False
    if not _libbpf_probe("libbpf_probe_bpf_helper", kind, helper_number):
        return False
    if _libbpf.lib().version < (1, 5):
        return not _helper_refused(kind, helper_number)
    return True


def _program_type_loads(kind: int) -> bool:
    try:
        return prog_type(kind)
    except LibbpfError as exc:
        if exc.errno == errno.EOPNOTSUPP:
            return True  # libbpf cannot tell: libbpf_probe_bpf_helper says why
        raise


# what libbpf's probe gives each type so that a program of it loads at all (facts of
# libbpf_probes.c): an expected attach type, or a flag
_PROBE_ATTACH: Dict[int, int] = {ProgType.CGROUP_SOCK_ADDR: AttachType.CGROUP_INET4_CONNECT,
                 ProgType.CGROUP_SOCKOPT: AttachType.CGROUP_GETSOCKOPT, ProgType.SK_LOOKUP: AttachType.SK_LOOKUP,
                 ProgType.LIRC_MODE2: AttachType.LIRC_MODE2, ProgType.NETFILTER: AttachType.NETFILTER}
_PROBE_FLAGS: Dict[int, int] = {ProgType.SYSCALL: BPF_F_SLEEPABLE}


def _helper_refused(kind: int, helper_number: int) -> bool:
    """Whether the verifier refuses ``helper_number`` to programs of ``kind`` in the words a
    kernel 6.x uses ("program of this type cannot use helper")."""
    _fd, _err, log = _load(kind, _PROBE_ATTACH.get(kind, 0), insns=_call(helper_number) + _EXIT,
                           flags=_PROBE_FLAGS.get(kind, 0))
    return "program of this type cannot use helper " in log


_helper_ids: Optional[Dict[str, int]] = None


def helper_id(name: str) -> int:
    """The id of helper ``name`` (``"bpf_ktime_get_ns"``, ``"ktime_get_ns"`` or
    ``"BPF_FUNC_ktime_get_ns"``), from the kernel's ``enum bpf_func_id`` (its BTF; the UAPI
    header /usr/include/linux/bpf.h where the kernel has none). KeyNotFoundError if unknown."""
    if not isinstance(name, str):
        raise InvalidTypeError(f"a helper name is a str, not {type(name).__name__}")
    global _helper_ids
    if _helper_ids is None:
        _helper_ids = _kernel_helper_ids()
    bare = name[len("BPF_FUNC_"):] if name.startswith("BPF_FUNC_") else name
    bare = bare[len("bpf_"):] if bare.startswith("bpf_") else bare
    found = _helper_ids.get(bare)
    if found is None:
        raise KeyNotFoundError(f"no BPF helper named {name!r} in this kernel's enum bpf_func_id")
    return found


def _kernel_helper_ids() -> Dict[str, int]:
    from .btf import Btf

    try:
        with Btf.vmlinux() as btf:
            members = btf.enumerators("enum bpf_func_id")
    except MissingBtfError:
        return _uapi_helper_ids()
    return {name[len("BPF_FUNC_"):]: value for name, value in members.items() if name.startswith("BPF_FUNC_")}


def _uapi_helper_ids() -> Dict[str, int]:
    """The helpers of the UAPI header's __BPF_FUNC_MAPPER: ``FN(name, id, ...)`` (6.1 on), or
    ``FN(name)`` numbered by position (before)."""
    try:
        with open(UAPI_BPF_H) as header:
            text = header.read()
    except OSError:
        raise MissingBtfError(f"the kernel has no BTF (/sys/kernel/btf/vmlinux) and {UAPI_BPF_H} is missing "
                              "(Debian: linux-libc-dev): no helper names to look up") from None
    start = text.find("#define __BPF_FUNC_MAPPER")
    ids: Dict[str, int] = {}
    for position, match in enumerate(re.finditer(r"FN\((\w+)(?:,\s*(\d+))?", text[start:] if start >= 0 else "")):
        ids.setdefault(match.group(1), int(match.group(2)) if match.group(2) else position)
    return ids


# tracefs and BTF ------------------------------------------------------------------------------

def tracefs_root() -> Optional[str]:
    """Where tracefs is mounted (its ``events`` directory there), or None: nothing is mounted."""
    for root in TRACEFS_ROOTS:
        if os.path.isdir(os.path.join(root, "events")):
            return root
    return None


def _path_part(value: str, what: str) -> str:
    if not isinstance(value, str):
        raise InvalidTypeError(f"{what} is a str, not {type(value).__name__}")
    if not value or "/" in value or "\0" in value or value in (".", ".."):
        raise InvalidValueError(f"{what} {value!r} is no tracepoint name")
    return value


def tracepoint(category: str, name: str) -> bool:
    """Whether the kernel has tracepoint ``category:name``: tracefs's ``events/<category>/<name>``,
    where libbpf reads the tracepoint's id to attach (the C tools' tracepoint_exists). tracefs
    not mounted is an error (FileNotFoundError, a LibbpfError), not False: nothing can be known
    then, and nothing is mounted behind the caller's back."""
    category, name = _path_part(category, "category"), _path_part(name, "name")
    root = tracefs_root()
    if root is None:
        raise LibbpfError.for_errno(errno.ENOENT, _NO_TRACEFS)
    return os.path.isdir(os.path.join(root, "events", category, name))


_NO_TRACEFS = ("tracefs is not mounted (neither /sys/kernel/tracing nor /sys/kernel/debug/tracing has events/): "
               "mount -t tracefs tracefs /sys/kernel/tracing")


def raw_tracepoint(name: str) -> bool:
    """Whether the kernel has tracepoint ``name`` for raw_tp and tp_btf programs: its
    ``btf_trace_<name>`` in the kernel's BTF (no tracefs needed); without BTF, any
    ``events/*/<name>`` in tracefs."""
    name = _path_part(name, "name")
    from .btf import Btf

    try:
        with Btf.vmlinux() as btf:
            return f"btf_trace_{name}" in btf
    except MissingBtfError:
        root = tracefs_root()
        if root is None:
            raise LibbpfError.for_errno(errno.ENOENT, f"the kernel has no BTF and {_NO_TRACEFS}") from None
        events = os.path.join(root, "events")
        return any(os.path.isdir(os.path.join(events, category, name)) for category in os.listdir(events))


_BTF_TARGETS = {AttachType.TRACE_RAW_TP: "tracepoint (typedef btf_trace_{})",
                AttachType.LSM_MAC: "LSM hook (function bpf_lsm_{})", AttachType.LSM_CGROUP: "LSM hook (bpf_lsm_{})",
                AttachType.TRACE_ITER: "iterator (function bpf_iter_{})"}


def btf_id(name: str, attach_type: Union[AttachType, int, str]) -> int:
    """The id in the kernel's BTF of what a program of ``attach_type`` attaches to by ``name``
    (libbpf_find_vmlinux_btf_id): a function for fentry/fexit/fmod_ret, ``btf_trace_<name>``
    for tp_btf, ``bpf_lsm_<name>`` for LSM, ``bpf_iter_<name>`` for iterators.
    KeyNotFoundError when it is not there; MissingBtfError without kernel BTF."""
    if not isinstance(name, str):
        raise InvalidTypeError(f"name is a str, not {type(name).__name__}")
    kind = _enum(AttachType, attach_type, "attach type")
    encoded = c_name_bytes(name)
    if not name or b"\0" in encoded:
        raise InvalidValueError(f"{name!r} is no function or tracepoint name")
    try:
        return int(_libbpf.lib().libbpf_find_vmlinux_btf_id(encoded, kind))
    except LibbpfError as exc:
        if not os.path.exists("/sys/kernel/btf/vmlinux") and exc.errno in (errno.ENOENT, errno.ESRCH,
                                                                            errno.EINVAL):
            raise MissingBtfError("the kernel has no BTF (/sys/kernel/btf/vmlinux: CONFIG_DEBUG_INFO_BTF)") \
                from None
        if exc.errno in (errno.ENOENT, errno.ESRCH):
            what = _BTF_TARGETS.get(kind, "function {}")  # type: ignore[call-overload]
            raise KeyNotFoundError(f"no {what.format(name)} in the kernel's BTF "
                                   f"(for {_named(AttachType, kind)} programs)") from None
        raise


# loading a probe program ---------------------------------------------------------------------

def _load(kind: int, attach_type: int, *, btf_target: int = 0, flags: int = 0,
          insns: bytes = _MOV_R0_0 + _EXIT) -> Tuple[bool, int, str]:
    """Load a program of ``kind`` (and close it at once): (loaded, errno, the verifier log)."""
    opts = _abi.new_opts(BpfProgLoadOpts)
    opts.expected_attach_type = attach_type
    opts.attach_btf_id = btf_target
    opts.prog_flags = flags
    log = ctypes.create_string_buffer(_LOG_SIZE)
    opts.log_level, opts.log_size, opts.log_buf = 1, _LOG_SIZE, ctypes.addressof(log)
    code = ctypes.create_string_buffer(insns, len(insns))
    try:
        fd = _libbpf.lib().bpf_prog_load(kind, b"probe", b"GPL", code, len(insns) // 8, ctypes.byref(opts))
    except LibbpfError as exc:
        return False, exc.errno, log.value.decode(errors="replace")
    os.close(fd)
    return True, 0, log.value.decode(errors="replace")


def _refusal(err: int, log: str) -> str:
    """The kernel's refusal in words: the errno, and the last line of the verifier's log."""
    words = f"{os.strerror(err)} ({errno.errorcode.get(err, err)})"
    last = [line for line in log.splitlines() if line.strip()]
    return f"{words}: {last[-1].strip()}" if last else f"{words}, before verifying it"


# can_attach -----------------------------------------------------------------------------------

def can_attach(program: Union[Program, str]) -> Verdict:
    """Whether ``program`` (an object's program, or a section name such as
    ``"fentry/do_unlinkat"``) can attach here: what libbpf-tools check to choose between a
    tool's fentry, tp_btf and kprobe variants. Truthy or not, with ``reason``:

    - fentry/fexit/fmod_ret, tp_btf, lsm, iter: the target is in the kernel's BTF, and the
      kernel loads a program of that type and attach type for it (loaded and closed at once);
    - kprobes: a kprobe PMU (or tracefs's kprobe_events) exists, and the function in kallsyms;
      kprobe.multi: the kernel has kprobe-multi links, and the pattern matches a function;
    - uprobes and USDT: an uprobe PMU (or uprobe_events), and the binary the section names;
    - tracepoints: tracefs is mounted and has the tracepoint; raw_tp: the kernel's BTF (or
      tracefs) knows it;
    - any other type: the kernel loads programs of it (the hook is given at attach).
    """
    section, kind, attach_type, flags = _described(program)
    prefix, _, target = section.partition("/")
    base = prefix.split(".")[0]
    if kind == ProgType.TRACING and attach_type in (AttachType.TRACE_FENTRY, AttachType.TRACE_FEXIT,
                                                     AttachType.MODIFY_RETURN, AttachType.TRACE_RAW_TP,
                                                     AttachType.TRACE_ITER):
        return _btf_target(kind, attach_type, target, flags, prefix)
    if kind == ProgType.LSM:
        return _lsm(attach_type, target, flags, prefix)
    if kind == ProgType.KPROBE:
        if attach_type in (AttachType.TRACE_KPROBE_MULTI, AttachType.TRACE_KPROBE_SESSION):
            return _kprobe_multi(attach_type, target, prefix)
        if base in ("uprobe", "uretprobe", "usdt") or attach_type == AttachType.TRACE_UPROBE_MULTI:
            return _uprobe(base, target, prefix)
        return _kprobe(base, target, prefix)
    if kind == ProgType.TRACEPOINT:
        return _tracepoint(target, prefix)
    if kind in (ProgType.RAW_TRACEPOINT, ProgType.RAW_TRACEPOINT_WRITABLE):
        return _raw_tracepoint(kind, target, prefix)
    return _type_only(kind, section)


def _described(program: Union[Program, str]) -> Tuple[str, int, int, int]:
    """(section, program type, expected attach type, flags) of a program or a section name."""
    if isinstance(program, str):
        encoded = c_name_bytes(program)
        if b"\0" in encoded:
            raise InvalidValueError(f"section {program!r} contains a NUL byte")
        kind, attach_type = c_int(), c_int()
        try:
            _libbpf.lib().libbpf_prog_type_by_name(encoded, ctypes.byref(kind), ctypes.byref(attach_type))
        except LibbpfError as exc:
            if exc.errno == errno.ESRCH:
                raise InvalidValueError(f"libbpf {_libbpf.lib().version_string} knows no section {program!r}") \
                    from None
            raise
        prefix = program.partition("/")[0]
        return program, kind.value, attach_type.value, BPF_F_SLEEPABLE if prefix.endswith(".s") else 0
    from .programs import Program

    if not isinstance(program, Program):
        raise InvalidTypeError(f"can_attach takes a Program or a section name, not {type(program).__name__}")
    section = program.section
    if section is None:
        raise InvalidTypeError(f"program {program.name!r} has no section (opened from a pin or an id): ask "
                               "can_attach of the section it was loaded from")
    return section, int(program.type), int(program.expected_attach_type), int(program.flags)


def _type_only(kind: int, section: str) -> Verdict:
    name = _named(ProgType, kind)
    try:
        ok = prog_type(kind)
    except LibbpfError as exc:
        return Verdict(False, f"{section}: {exc}")
    if ok:
        return Verdict(True, f"{section}: the kernel loads {name} programs (the hook is given at attach)")
    return Verdict(False, f"{section}: the kernel does not load {name} programs")


_TRAMPOLINE_WORDS = {AttachType.TRACE_FENTRY: "fentry", AttachType.TRACE_FEXIT: "fexit",
                     AttachType.MODIFY_RETURN: "fmod_ret", AttachType.TRACE_RAW_TP: "tp_btf",
                     AttachType.TRACE_ITER: "iter", AttachType.LSM_MAC: "lsm", AttachType.LSM_CGROUP: "lsm_cgroup"}


def _btf_target(kind: int, attach_type: int, target: str, flags: int, prefix: str) -> Verdict:
    """fentry, fexit, fmod_ret, tp_btf, iter and lsm: the target in BTF, then a load for it."""
    word = _TRAMPOLINE_WORDS.get(attach_type, prefix)  # type: ignore[call-overload]
    if not target:
        return Verdict(False, f"{prefix}: the section names no target (set at load with set_attach_target): ask "
                              f"can_attach(\"{prefix}/<target>\") for the one it will attach to")
    if ":" in target:
        return Verdict(False, f"{prefix}/{target}: targets in kernel modules are not probed")
    try:
        target_id = btf_id(target, attach_type)
    except (KeyNotFoundError, MissingBtfError) as exc:
        return Verdict(False, f"{prefix}/{target}: {exc.args[0]}")
    loaded, err, log = _load(kind, attach_type, btf_target=target_id, flags=flags)
    if not loaded:
        return Verdict(False, f"{prefix}/{target}: the kernel refuses {word} programs for {target!r}: "
                              f"{_refusal(err, log)}")
    return Verdict(True, f"{prefix}/{target}: {target!r} is in the kernel's BTF (id {target_id}) and the kernel "
                         f"loads {word} programs for it")


def _lsm(attach_type: int, target: str, flags: int, prefix: str) -> Verdict:
    verdict = _btf_target(ProgType.LSM, attach_type, target, flags, prefix)
    if not verdict:
        return verdict
    active = _active_lsms()
    if active is not None and "bpf" not in active:
        return Verdict(False, f"{verdict.reason}, but the BPF LSM is not active ({ACTIVE_LSMS}: "
                              f"{','.join(active)}; boot with lsm=...,bpf)")
    return verdict


def _active_lsms() -> Optional[List[str]]:
    try:
        with open(ACTIVE_LSMS) as lsm:
            return lsm.read().strip().split(",")
    except OSError:
        return None  # securityfs not mounted: unknown


def _pmu(kind: str) -> Optional[str]:
    """None when the kernel has ``kind`` probes (a PMU, or tracefs's <kind>_events for
    libbpf's fallback), else why not."""
    pmu = os.path.join(PMU_DIR, kind, "type")
    if os.path.exists(pmu):
        return None
    root = tracefs_root()
    if root is not None and os.path.exists(os.path.join(root, f"{kind}_events")):
        return None
    missing = f"no {kind} PMU ({os.path.dirname(pmu)})"
    if root is None:
        return (f"{missing}, and tracefs, where libbpf's fallback ({kind}_events) lives, is not mounted: libbpf "
                f"cannot attach {kind}s here")
    return f"{missing} and no {kind}_events in tracefs: this kernel has no {kind}s (CONFIG_{kind.upper()}_EVENTS)"


def _kernel_symbols() -> Iterator[str]:
    """The names of the kernel's functions (text symbols of /proc/kallsyms), modules' included."""
    with open(KALLSYMS) as kallsyms:
        for line in kallsyms:
            parts = line.split(None, 3)
            if len(parts) >= 3 and parts[1] in ("T", "t", "W", "w"):
                yield parts[2]


def _kprobe(base: str, target: str, prefix: str) -> Verdict:
    why_not = _pmu("kprobe")
    if why_not is not None:
        return Verdict(False, f"{prefix}/{target}: {why_not}" if target else f"{prefix}: {why_not}")
    function = target.split("+", 1)[0]
    if not function:
        return Verdict(True, f"{prefix}: the kernel has kprobes (the function is given at attach)")
    if base in ("ksyscall", "kretsyscall"):
        wanted = {f"__{_syscall_arch()}_sys_{function}", f"sys_{function}"}
    else:
        wanted = {function}
    try:
        found = any(symbol in wanted for symbol in _kernel_symbols())
    except OSError as exc:
        return Verdict(True, f"{prefix}/{target}: the kernel has kprobes ({KALLSYMS} unreadable: {exc.strerror})")
    if not found:
        return Verdict(False, f"{prefix}/{target}: no kernel function {' or '.join(sorted(wanted))} in {KALLSYMS}")
    return Verdict(True, f"{prefix}/{target}: the kernel has kprobes and the function {function!r}")


def _syscall_arch() -> str:
    return {"x86_64": "x64", "aarch64": "arm64", "s390x": "s390x", "riscv64": "riscv", "ppc64le": "powerpc",
            "arm": "arm", "i686": "ia32"}.get(os.uname().machine, os.uname().machine)


def _kprobe_multi(attach_type: int, target: str, prefix: str) -> Verdict:
    """kprobe.multi links exist when the kernel answers an empty one with EINVAL (EOPNOTSUPP:
    built without CONFIG_FPROBE)."""
    loaded_fd = _loaded_fd(ProgType.KPROBE, attach_type)
    if isinstance(loaded_fd, str):
        return Verdict(False, f"{prefix}: the kernel refused a kprobe program for multi links: {loaded_fd}")
    lib = _libbpf.lib()
    opts = _abi.new_opts(_abi.BpfLinkCreateOpts)
    try:
        link = lib.bpf_link_create(loaded_fd, 0, attach_type, ctypes.addressof(opts))
        os.close(link)  # (an empty link should not exist: gone at once)
        err = 0
    except LibbpfError as exc:
        err = exc.errno
    finally:
        os.close(loaded_fd)
    shown = f"{prefix}/{target}" if target else prefix
    if err in (errno.EOPNOTSUPP, 524):
        return Verdict(False, f"{shown}: this kernel has no kprobe-multi links (built without CONFIG_FPROBE)")
    if err not in (0, errno.EINVAL):
        return Verdict(False, f"{shown}: the kernel refused a kprobe-multi link: {_refusal(err, '')}")
    if not target:
        return Verdict(True, f"{prefix}: the kernel has kprobe-multi links (the functions are given at attach)")
    try:
        found = any(fnmatch.fnmatchcase(symbol, target) for symbol in _kernel_symbols())
    except OSError as exc:
        return Verdict(True, f"{prefix}/{target}: the kernel has kprobe-multi links ({KALLSYMS} unreadable: "
                             f"{exc.strerror})")
    if not found:
        return Verdict(False, f"{prefix}/{target}: no kernel function matches {target!r} in {KALLSYMS}")
    return Verdict(True, f"{prefix}/{target}: the kernel has kprobe-multi links and functions matching {target!r}")


def _loaded_fd(kind: int, attach_type: int) -> Union[int, str]:
    """A loaded two-instruction program's fd (the caller closes it), or the refusal in words."""
    opts = _abi.new_opts(BpfProgLoadOpts)
    opts.expected_attach_type = attach_type
    code = ctypes.create_string_buffer(_MOV_R0_0 + _EXIT, 16)
    try:
        return int(_libbpf.lib().bpf_prog_load(kind, b"probe", b"GPL", code, 2, ctypes.byref(opts)))
    except LibbpfError as exc:
        return _refusal(exc.errno, "")


def _uprobe(base: str, target: str, prefix: str) -> Verdict:
    why_not = _pmu("uprobe")
    if why_not is not None:
        return Verdict(False, f"{prefix}: {why_not}")
    if not target:
        return Verdict(True, f"{prefix}: the kernel has uprobes (the binary is given at attach)")
    binary = target.rsplit(":", 2 if base == "usdt" else 1)[0] if ":" in target else target
    if not os.path.isabs(binary):
        return Verdict(True, f"{prefix}/{target}: the kernel has uprobes ({binary!r} is found by libbpf at attach: "
                             "not checked)")
    if not os.path.isfile(binary):
        return Verdict(False, f"{prefix}/{target}: no file {binary}")
    return Verdict(True, f"{prefix}/{target}: the kernel has uprobes and {binary} exists")


def _tracepoint(target: str, prefix: str) -> Verdict:
    category, _, name = target.partition("/")
    if not category or not name:
        loads = prog_type(ProgType.TRACEPOINT)
        return Verdict(loads, f"{prefix}: the section names no tracepoint (given at attach); the kernel "
                              f"{'loads' if loads else 'does not load'} tracepoint programs")
    root = tracefs_root()
    if root is None:
        return Verdict(False, f"{prefix}/{target}: {_NO_TRACEFS} (libbpf reads the tracepoint's id there)")
    if not tracepoint(category, name):
        return Verdict(False, f"{prefix}/{target}: no tracepoint {category}:{name} in {root}/events")
    return Verdict(True, f"{prefix}/{target}: {root}/events/{category}/{name} exists")


def _raw_tracepoint(kind: int, target: str, prefix: str) -> Verdict:
    if not prog_type(kind):
        return Verdict(False, f"{prefix}: the kernel does not load {_named(ProgType, kind)} programs")
    if not target:
        return Verdict(True, f"{prefix}: the kernel loads {_named(ProgType, kind)} programs (the tracepoint is "
                             "given at attach)")
    try:
        known = raw_tracepoint(target)
    except LibbpfError as exc:
        return Verdict(False, f"{prefix}/{target}: {exc.detail}")
    if not known:
        return Verdict(False, f"{prefix}/{target}: the kernel has no tracepoint {target!r} (no btf_trace_{target} "
                              "in its BTF)")
    return Verdict(True, f"{prefix}/{target}: the kernel has tracepoint {target!r} and loads "
                         f"{_named(ProgType, kind)} programs")

