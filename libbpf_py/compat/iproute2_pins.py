"""iproute2's pin layout as a pin policy (lib/bpf_legacy.c semantics, spec section A2).

- PIN_GLOBAL_NS (2) → ``<mnt>/tc/globals/<name>``
- PIN_OBJECT_NS (1) → ``<mnt>/tc/<sha1 of the original object file>/<name>``
- a custom id listed in the pinning database → ``<mnt>/<subpath>/<name>``
- an unknown custom id, or PIN_NONE → no pin

``<mnt>`` is ``$TC_BPF_MNT`` when set, else the first bpffs among ``/sys/fs/bpf``, ``/bpf``
and /proc/mounts. tc's own paths go through ``<mnt>/xdp`` or ``<mnt>/ip`` for XDP and LWT
programs, but those are symlinks to ``<mnt>/tc/``, so every type shares one tree; the
policy creates that hierarchy (``tc/``, ``tc/globals/`` and the two symlinks) as tc does.
"""

from __future__ import annotations

import os
from typing import TYPE_CHECKING, Dict, Iterable, List, Mapping, Optional, Tuple

from .. import _log
from .._bpffs import check_root, check_trusted, is_bpffs, make_dir
from ..errors import InvalidValueError, LegacyMapError, MapIncompatibleError
from ..pinning import PinPolicy, check_name
from ..spec import Difference
from .definitions import PIN_GLOBAL_NS, PIN_NONE, PIN_OBJECT_NS, LegacyMap

if TYPE_CHECKING:
    from ..maps import Map

log = _log.Logger("libbpf_py.iproute2")

_DIGITS = {16: "0123456789abcdefABCDEF", 8: "01234567", 10: "0123456789"}


def scan_uint(text: str, pos: int = 0) -> Optional[Tuple[int, int]]:
    """(value, end) of the number ``scanf("%i")`` reads at ``pos`` into an unsigned int
    (negative values wrap, as they do in iproute2's section names and pinning database):
    blanks, a sign, then 0x-hex, 0-octal or decimal digits."""
    end = len(text)
    while pos < end and text[pos].isspace():
        pos += 1
    negative = text.startswith("-", pos)
    if text.startswith(("-", "+"), pos):
        pos += 1
    if text.startswith(("0x", "0X"), pos) and pos + 2 < end and text[pos + 2] in _DIGITS[16]:
        base, start = 16, pos + 2
    elif text.startswith("0", pos):
        base, start = 8, pos
    elif pos < end and text[pos] in "123456789":
        base, start = 10, pos
    else:
        return None
    stop = start
    while stop < end and text[stop] in _DIGITS[base]:
        stop += 1
    value = int(text[start:stop], base)
    return (-value if negative else value) & 0xFFFFFFFF, stop


MNT_ENV = "TC_BPF_MNT"
DEFAULT_MNT = "/sys/fs/bpf"
KNOWN_MOUNTS = ("/sys/fs/bpf", "/bpf")
PINNING_DB = ("/etc/iproute2/bpf_pinning", "/usr/share/iproute2/bpf_pinning")
RESERVED_IDS = (PIN_NONE, PIN_OBJECT_NS, PIN_GLOBAL_NS)


def find_bpffs_mount(environ: Optional[Mapping[str, str]] = None) -> Optional[str]:
    """Where tc would pin: ``$TC_BPF_MNT`` if it is bpffs, else the first bpffs found.

    ``environ`` defaults to the process environment, read at the call.
    """
    if environ is None:
        environ = os.environ
    if environ.get(MNT_ENV):
        path = environ[MNT_ENV]
        return path if is_bpffs(path) else None
    for path in KNOWN_MOUNTS:
        if is_bpffs(path):
            return path
    try:
        with open("/proc/mounts") as mounts:
            for line in mounts:
                fields = line.split()
                if len(fields) > 2 and fields[2] == "bpf":
                    return fields[1]
    except OSError:
        pass
    return None


def parse_pinning_db(text: str, source: str = "bpf_pinning") -> Dict[int, str]:
    """Custom pinning ids → subpaths, read as iproute2 does: each line ``sscanf("%i %s")``
    after leading blanks; ``#`` lines and empty lines skipped; the first line that does not
    parse stops the reading (what was read stays); ids 0, 1, 2 are reserved; a later line wins."""
    table: Dict[int, str] = {}
    for line in text.splitlines():
        line = line.lstrip(" \t")
        if not line or line.startswith("#"):
            continue
        number = scan_uint(line)
        subpath = line[number[1]:].split(None, 1) if number is not None else []
        if number is None or not subpath:
            log.warning("database %s is corrupted at: %s", source, line)
            break
        if number[0] in RESERVED_IDS:
            log.warning("database %s, id %u is reserved - ignoring", source, number[0])
            continue
        table[number[0]] = subpath[0]
    return table


def read_pinning_db(paths: Iterable[str] = PINNING_DB) -> Dict[int, str]:
    """The first pinning database that exists (``/etc`` first, then ``/usr/share``)."""
    for path in paths:
        try:
            with open(path) as f:
                return parse_pinning_db(f.read(), path)
        except FileNotFoundError:
            continue
    return {}


class Iproute2Pinning(PinPolicy):
    """Pin paths as tc computes them: for the maps of a legacy object, as its own loader does;
    for the maps of a BTF object, as tc built with libbpf does (``LIBBPF_PIN_BY_NAME`` maps in
    ``globals`` of the command's directory).

    ``subdir`` is the command's directory under the mount (``tc``, ``xdp`` or ``ip``); the
    last two are normally symlinks to ``tc/``, so every command shares one tree.
    """

    def __init__(self, maps: Iterable[LegacyMap], object_hash: str, *, subdir: str = "tc",
                 mnt: Optional[str] = None, pinning_db: Optional[Dict[int, str]] = None, mount: bool = False):
        self.legacy = {m.name: m for m in maps}
        self.object_hash = object_hash
        self.subdir = subdir
        self.custom = read_pinning_db() if pinning_db is None else dict(pinning_db)
        self.mount = mount
        self.on_mismatch = "error"
        self._mnt = mnt
        self._checked = False

    @property
    def root(self) -> str:
        """The bpffs mount tc would use (resolved, and checked to be bpffs, when first needed).

        Unlike tc, a mount point that is not bpffs is not mounted on unless ``mount=True``.
        """
        if self._mnt is None:
            self._mnt = find_bpffs_mount() or os.environ.get(MNT_ENV) or DEFAULT_MNT
        if not self._checked:
            self._mnt = check_root(self._mnt, mount=self.mount)  # raises with the mount hint
            self._checked = True
        return self._mnt

    @root.setter
    def root(self, mnt: str) -> None:  # PinPolicy.root is a plain attribute elsewhere
        self._mnt, self._checked = mnt, False

    def map_path(self, m: Map, requested: bool) -> Optional[str]:
        legacy = self.legacy.get(m.name)
        if legacy is None:
            # a map libbpf read (a BTF object, as iproute2 built with libbpf loads it): its
            # pin_root_path is <mnt>/<subdir>/globals, so LIBBPF_PIN_BY_NAME pins there
            return os.path.join(self.root, self.subdir, "globals", check_name(m.name)) if requested else None
        try:
            name = check_name(legacy.name)
        except ValueError as exc:  # the object's own symbol: a malformed object, as iproute2 would see it
            raise LegacyMapError(str(exc)) from None
        if legacy.pinning == PIN_GLOBAL_NS:
            return os.path.join(self.root, self.subdir, "globals", name)
        if legacy.pinning == PIN_OBJECT_NS:
            return os.path.join(self.root, self.subdir, self.object_hash, name)
        if legacy.pinning == PIN_NONE:
            return None
        subpath = self.custom.get(legacy.pinning)
        if subpath is None:
            return None  # an unknown custom id means no pinning, silently (as tc)
        path = os.path.normpath(os.path.join(self.root, subpath, name))  # tc: <mnt>/<subdir>/../<subpath>
        if not path.startswith(self.root.rstrip("/") + "/"):
            raise InvalidValueError(f"custom pinning path {subpath!r} of map {name!r} escapes {self.root}")
        return path

    def setup(self) -> None:
        """tc's hierarchy on every load, whenever bpffs is there (as tc lays it out):
        ``tc/``, ``tc/globals/``, and ``xdp``, ``ip`` → ``tc/`` (or their own ``globals/``
        when they are real directories). Nothing is laid out on a filesystem that is not bpffs."""
        mnt = self._mnt or find_bpffs_mount()
        if mnt is None or not is_bpffs(mnt):
            return  # tc goes on without bpffs too; a map that must be pinned will say so
        self._mnt = mnt
        tc = os.path.join(mnt, "tc")
        check_trusted(os.path.join(tc, "globals", "x"))  # no other user's directory or link on the way
        for directory in (tc, os.path.join(tc, "globals")):
            make_dir(directory)  # 0700 as tc; a pin there, or one another user made or linked, is refused
        for sub in ("xdp", "ip"):
            link = os.path.join(mnt, sub)
            try:
                os.symlink(tc + "/", link)
            except FileExistsError:
                if os.path.isdir(link) and not os.path.islink(link):
                    make_dir(os.path.join(link, "globals"))

    def incompatible(self, path: str, differences: List[Difference], map_name: str) -> Exception:
        """Worded as iproute2 words it."""
        report = "\n".join(f" - {d}" for d in differences)
        return MapIncompatibleError(path, differences, map_name,
                                    detail=f"Map specification differs from pinned file! ({path})\n{report}\n"
                                    f"Map '{map_name}' self-check failed!")
