"""What a tracing tool's user space needs beside libbpf, named as BCC names it: histograms printed
as BCC and libbpf-tools print them (``print_log2_hist``), system call and errno names
(``syscall_name``, ``errno_name``), kernel symbols (``ksym``), and the steps libbpf-tools' helpers
and main loops share (``choose_tp_btf``, ``set_cgroup``, ``intervals``, ``poll_until_interrupted``),
so that a Python port of a tool prints what the C tool prints.
"""

from __future__ import annotations

import bisect
import errno
import os
import sys
import time
from typing import IO, Any, Dict, Iterator, List, MutableMapping, NamedTuple, Optional, Sequence, Tuple

from .errors import InvalidValueError

__all__ = ["print_log2_hist", "print_log2_hists", "log2_bucket", "syscall_name", "syscall_number", "errno_name",
           "KernelSymbols", "ksym", "choose_tp_btf", "set_cgroup", "intervals", "poll_until_interrupted"]

_STARS = 40


def log2_bucket(value: int) -> int:
    """The log2 histogram slot of ``value`` (0 for 0 and 1, 1 for 2-3, 2 for 4-7...), as a BPF
    program's ``log2l()`` computes it."""
    return max(int(value).bit_length() - 1, 0) if value > 1 else 0


def _stars(count: int, most: int, width: int) -> str:
    shown = min(count, most) * width // most if most else 0
    return "*" * shown + " " * (width - shown) + ("+" if count > most else "")


def print_log2_hist(counts: Sequence[int], val_type: str, file: Optional[IO[str]] = None) -> None:
    """Print ``counts`` (slot ``i`` counts values from 2**i to 2**(i+1) - 1; slot 0 also 0) as a
    log2 histogram with ``val_type`` ("usecs", "msecs", "kbytes") over its value column, as
    libbpf-tools' ``print_log2_hist`` does: nothing when every count is 0; slots up to the last
    non-zero one; wider columns past slot 32."""
    out = sys.stdout if file is None else file
    last = max((i for i, count in enumerate(counts) if count > 0), default=-1)
    if last < 0:
        return
    most = max(counts)
    wide = last > 32
    out.write(f"{'':{15 if wide else 5}}{val_type:<{29 if wide else 19}} : count    distribution\n")
    width, stars = (20, _STARS // 2) if wide else (10, _STARS)
    for i in range(last + 1):
        low, high = 1 << i, (1 << (i + 1)) - 1
        if low == high:
            low -= 1
        out.write(f"{low:>{width}} -> {high:<{width}} : {counts[i]:<8} |{_stars(counts[i], most, stars)}|\n")


def print_log2_hists(hists: MutableMapping[Any, Any], val_type: str, label: Optional[str] = None,
                     file: Optional[IO[str]] = None) -> None:
    """Print and remove each histogram of ``hists`` (a map of records with ``slots`` and ``comm``,
    as runqlat's and cpudist's ``struct hist``), each after ``\n{label} = {key} {comm}`` when
    ``label`` is given ("pid", "tid"), as those tools print them."""
    out = sys.stdout if file is None else file
    for key in list(hists.keys()):
        hist = hists[key]
        if label:
            out.write(f"\n{label} = {key} {hist.comm.value.decode(errors='replace')}\n")
        print_log2_hist(list(hist.slots), val_type, out)
        del hists[key]


def _syscalls() -> Dict[int, str]:
    if os.uname().machine != "x86_64":
        return {}
    from ._syscalls import X86_64

    return X86_64


def syscall_name(number: int) -> str:
    """The name of system call ``number`` on this machine (``read`` for 0 on x86-64), or
    ``[unknown: N]`` as libbpf-tools says it (x86-64's table only, for now)."""
    return _syscalls().get(number, f"[unknown: {number}]")


def syscall_number(name: str) -> int:
    """The number of system call ``name`` on this machine; InvalidValueError (a ValueError) when
    it has none."""
    for number, known in _syscalls().items():
        if known == name:
            return number
    raise InvalidValueError(f"no system call {name!r} on {os.uname().machine}")


def errno_name(number: int) -> str:
    """The symbolic name of errno ``number`` (``ENOENT`` for 2, also given as -2), or its number."""
    return errno.errorcode.get(abs(number), str(number))


class KernelSymbols:
    """The kernel's symbols by address, from ``/proc/kallsyms`` (as root: unprivileged readers
    see every address as 0, and :meth:`load` says so), as libbpf-tools' ``ksyms__load`` reads them."""

    class Symbol(NamedTuple):
        name: str
        address: int
        module: Optional[str]  # None for the kernel's own

    def __init__(self, symbols: List[Tuple[int, str, Optional[str]]]):
        symbols.sort()
        self._addresses = [address for address, _, _ in symbols]
        self._symbols = symbols

    @classmethod
    def load(cls, path: str = "/proc/kallsyms") -> "KernelSymbols":
        found: List[Tuple[int, str, Optional[str]]] = []
        with open(path) as table:
            for line in table:
                fields = line.split()
                if len(fields) >= 3:
                    module = fields[3].strip("[]") if len(fields) > 3 else None
                    found.append((int(fields[0], 16), fields[2], module))
        if found and not any(address for address, _, _ in found):
            raise InvalidValueError(f"{path} shows no addresses: reading them needs root (kernel.kptr_restrict)")
        return cls(found)

    def resolve(self, address: int) -> Optional["KernelSymbols.Symbol"]:
        """The symbol ``address`` lies in (the last one at or below it), None below the first."""
        at = bisect.bisect_right(self._addresses, address) - 1
        if at < 0:
            return None
        found, name, module = self._symbols[at]
        return KernelSymbols.Symbol(name, found, module)

    def __len__(self) -> int:
        return len(self._symbols)


_KSYMS: List[KernelSymbols] = []


def ksym(address: int, offset: bool = False) -> str:
    """The kernel symbol at ``address`` (``name``, or ``name+0x1c`` with ``offset``; ``[unknown]``
    when none), from :class:`KernelSymbols` loaded once per process, as BCC's ``ksym``."""
    if not _KSYMS:
        _KSYMS.append(KernelSymbols.load())
    found = _KSYMS[0].resolve(address)
    if found is None:
        return "[unknown]"
    return f"{found.name}+{address - found.address:#x}" if offset else found.name


def choose_tp_btf(obj: Any, program: str) -> bool:
    """Before load: where the kernel can attach ``program`` (one of ``obj``'s ``tp_btf/``
    programs), load the ``tp_btf/`` programs and not their ``raw_tp/`` twins, else the other way
    round, as libbpf-tools choose with ``probe_tp_btf``; whether it was tp_btf."""
    from .probe import can_attach

    btf = bool(can_attach(obj.programs[program]))
    for each in obj.programs.values():
        section = each.section or ""
        if section.startswith(("tp_btf/", "raw_tp/")):
            each.autoload = section.startswith("tp_btf/") == btf
    return btf


def set_cgroup(cgroup_map: Any, path: str) -> None:
    """After load: the cgroup v2 directory ``path`` as slot 0 of ``cgroup_map`` (a
    ``BPF_MAP_TYPE_CGROUP_ARRAY``), where libbpf-tools' ``-c CG`` puts it for their
    ``bpf_current_task_under_cgroup`` filter (their ``filter_cg`` global, set before load)."""
    from ._checks import c_path
    from ._fd import open_path

    with open_path(c_path(path, "cgroup"), "cgroup") as owned:  # (the map keeps the cgroup, not the fd)
        cgroup_map.update((0).to_bytes(4, sys.byteorder), owned.fileno().to_bytes(4, sys.byteorder))


def intervals(interval: float, times: int) -> Iterator[None]:
    """Yield after each ``interval`` seconds, ``times`` times at most; Ctrl-C during a wait ends
    it early and yields a last time, as libbpf-tools' summaries print once more when stopped."""
    for _ in range(times):
        try:
            time.sleep(interval)
        except KeyboardInterrupt:
            yield
            return
        yield


def poll_until_interrupted(events: Any, timeout: float = 0.1) -> None:
    """Poll a RingBuffer or PerfBuffer, its callbacks run as records come, until Ctrl-C."""
    try:
        while True:
            events.poll(timeout)
    except KeyboardInterrupt:
        pass
