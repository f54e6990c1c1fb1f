"""Pinning: a policy decides where each map (and program) is pinned; one mechanism applies it.

A policy is a plain object that answers, per map, "no pin" (None) or "this path", and the
same for programs. :class:`PinByName` is libbpf's ``LIBBPF_PIN_BY_NAME`` made explicit; the
iproute2 layout is another policy over the same mechanism.

The mechanism (:class:`PinSession`), run by ``Object.load()`` under an flock of the pin root:

- before load, every path is checked (names that would escape the root are refused before
  anything is created); an existing pin is opened, must be a map, and is compared field by
  field with the map's definition: compatible → the object uses it (``bpf_map__reuse_fd``),
  incompatible → :class:`MapIncompatibleError` naming every field, or, with
  ``on_mismatch="replace"``, a new map that replaces the pin after a successful load;
- a map without a pin gets libbpf's pin path, so libbpf pins it as soon as it is created
  and, when another loader pinned the same name in between, reuses that one instead;
- a failed load removes the pins and directories this load created (libbpf unpins its own;
  the session removes the directories) and leaves every pre-existing pin untouched.
"""

from __future__ import annotations

import ctypes
import enum
import errno
import fcntl
import logging
import os
import threading
from dataclasses import dataclass
from typing import TYPE_CHECKING, Dict, Iterable, List, Optional, Set, Tuple, Union

from . import _abi, _libbpf, _libc
from ._abi import MapType
from ._fd import fd_kind
from ._handle import PathLike
from .errors import LibbpfError, MapIncompatibleError

if TYPE_CHECKING:
    from typing import Final

    from .maps import Map, MapInfo
    from .programs import Program

log = logging.getLogger("libbpf_py.pinning")

BPF_FS_MAGIC = 0xCAFE4A11
NAME_MAX = 255
MOUNT_HINT = "mount -t bpf bpf /sys/fs/bpf"


# bpffs -----------------------------------------------------------------------------------------

def is_bpffs(path: PathLike) -> bool:
    try:
        return _libc.filesystem_type(path) == BPF_FS_MAGIC
    except OSError:
        return False


def _missing_dirs(path: str) -> Tuple[List[str], str]:
    """(the directories of ``path`` that do not exist, outermost first; the nearest that does)."""
    missing = []
    while not os.path.lexists(path):
        missing.append(path)
        path = os.path.dirname(path)
    return missing[::-1], path


def _existing_ancestor(path: str) -> str:
    return _missing_dirs(path)[1]


def check_root(root: PathLike, *, mount: bool = False) -> str:
    """The absolute pin root, after checking it is (or will be created) on bpffs."""
    root = os.path.abspath(os.fspath(root))
    if "\0" in root:
        raise ValueError("pin root contains a NUL byte")
    if not is_bpffs(_existing_ancestor(root)) and not mount:
        raise LibbpfError.for_errno(
            errno.EINVAL, f"pin root {root} is not on a BPF filesystem (bpffs); mount one with "
            f"`{MOUNT_HINT}` (or `mount -t bpf bpf {root}`), or pass mount=True", "statfs")
    return root


def mount_bpffs(path: str) -> None:
    """Mount a bpffs instance on the directory ``path``, as iproute2 does when none is found."""
    try:
        _libc.mount("bpf", path, "bpf", "mode=0700")
    except OSError as exc:
        if exc.errno is None:  # not a failed system call: nothing to translate
            raise
        raise LibbpfError.for_errno(exc.errno, f"cannot mount bpffs on {path}: {exc.strerror}", "mount") from None
    log.info("mounted bpffs on %s", path)


def check_name(name: str, what: str = "map") -> str:
    """``name`` if it is safe as one path component under a pin root, else ValueError."""
    if not name or name in (".", "..") or "/" in name or "\0" in name:
        raise ValueError(f"{what} name {name!r} cannot be a pin name: it would escape the pin root")
    if len(os.fsencode(name)) > NAME_MAX:
        raise ValueError(f"{what} name {name[:32]!r}... is longer than NAME_MAX ({NAME_MAX} bytes)")
    if "." in name:  # bpffs refuses new entries whose name contains a dot (EPERM)
        raise ValueError(f"{what} name {name!r} contains '.', which bpffs does not allow in a pin name")
    return name


# compatibility ---------------------------------------------------------------------------------

@dataclass(frozen=True)
class Difference:
    """One field in which a pinned map differs from the object's definition."""

    field: str
    object: int
    pinned: int

    def __str__(self) -> str:
        if self.field == "map_flags":
            return f"{self.field}: object {self.object:#x}, pinned {self.pinned:#x}"
        if self.field == "type":
            return f"type: object {_type_name(self.object)}, pinned {_type_name(self.pinned)}"
        return f"{self.field}: object {self.object}, pinned {self.pinned}"


def _type_name(value: int) -> str:
    known = _abi.enum_or_int(MapType, value)
    return known.name if isinstance(known, MapType) else str(value)


@dataclass(frozen=True)
class MapShape:
    """The fields a pinned map must share with a definition to be reused."""

    type: int
    key_size: int
    value_size: int
    max_entries: int
    map_flags: int
    map_extra: int = 0
    inner: Optional["MapShape"] = None

    @classmethod
    def of_info(cls, info: MapInfo, inner: Optional["MapShape"] = None) -> "MapShape":
        return cls(int(info.type), info.key_size, info.value_size, info.max_entries, info.flags,
                   info.map_extra, inner)


# The kernel sets BPF_F_RDONLY_PROG on device maps whatever was asked (libbpf >= 1.7 masks it too).
_KERNEL_ADDED_FLAGS: Dict[int, int] = {MapType.DEVMAP: _abi.BPF_F_RDONLY_PROG,
                                       MapType.DEVMAP_HASH: _abi.BPF_F_RDONLY_PROG}
_FIELDS = ("type", "key_size", "value_size", "max_entries", "map_flags", "map_extra")


def differences(obj: MapShape, pinned: MapShape) -> List[Difference]:
    """Every field in which ``pinned`` cannot serve as ``obj`` (empty: compatible)."""
    found = []
    for field in _FIELDS:
        ours, theirs = getattr(obj, field), getattr(pinned, field)
        if field == "map_flags":
            mask = ~_KERNEL_ADDED_FLAGS.get(obj.type, 0)
            ours, theirs = ours & mask, theirs & mask
        if ours != theirs:
            found.append(Difference(field, ours, theirs))
    if obj.inner is not None and pinned.inner is not None:
        found += _inner_differences(obj.inner, pinned.inner)
    return found


def _inner_differences(ours: MapShape, theirs: MapShape) -> List[Difference]:
    """What the kernel requires of every map put into a map-in-map (bpf_map_meta_equal):
    the same type, sizes and flags, and the same max_entries unless BPF_F_INNER_MAP."""
    fields = ["type", "key_size", "value_size", "map_flags"]
    if not ours.map_flags & _abi.BPF_F_INNER_MAP:
        fields.insert(3, "max_entries")
    return [Difference("inner." + f, getattr(ours, f), getattr(theirs, f)) for f in fields
            if getattr(ours, f) != getattr(theirs, f)]


def definition_shape(m: Map) -> MapShape:
    """The shape an object's map will have when created (before load)."""
    map_type = int(m.type)
    max_entries = m.max_entries
    if map_type == MapType.PERF_EVENT_ARRAY and max_entries == 0:
        from .maps import possible_cpus
        max_entries = possible_cpus()  # libbpf sizes it before its own reuse check
    spec = m.inner_map
    inner = None if spec is None else MapShape(int(spec.type), spec.key_size, spec.value_size, spec.max_entries,
                                               spec.flags, spec.map_extra)
    return MapShape(map_type, m.key_size, m.value_size, max_entries, m.flags, m.map_extra, inner)


def pinned_shape(fd: int) -> MapShape:
    """The shape of a live map; for a map-in-map, the inner shape of its first inner map, if any."""
    from .maps import map_info
    info = map_info(fd)
    inner = None
    if int(info.type) in _abi.MAP_IN_MAP_TYPES:
        inner = _first_inner_shape(fd, info.key_size)
    return MapShape.of_info(info, inner)


def _first_inner_shape(fd: int, key_size: int) -> Optional[MapShape]:
    """The shape of the first inner map found in an outer map (None when it holds none)."""
    from .maps import map_info
    lib = _libbpf.lib()
    keys = [ctypes.create_string_buffer(max(key_size, 1)) for _ in range(2)]
    inner_id = ctypes.c_uint32()
    previous = None
    while lib.bpf_map_get_next_key(fd, previous, keys[0]) == 0:  # empty array slots are skipped
        if lib.bpf_map_lookup_elem(fd, keys[0], ctypes.byref(inner_id)) == 0:
            inner_fd = lib.bpf_map_get_fd_by_id(inner_id.value)
            try:
                return MapShape.of_info(map_info(inner_fd))
            finally:
                os.close(inner_fd)
        keys.reverse()
        previous = keys[1]
    return None


# policies --------------------------------------------------------------------------------------

class PinPolicy:
    """Decides pin paths. Subclass, call ``super().__init__(root, ...)``, override ``map_path``
    (and ``program_path``); every answer is a path or None.

    ``root`` is the directory the policy pins under (it must be on bpffs, or ``mount=True``);
    ``on_mismatch="replace"`` lets a load replace an incompatible map pin, or a program pin,
    after it succeeded, instead of refusing.
    """

    root: str
    on_mismatch: str = "error"
    mount: bool = False

    def __init__(self, root: PathLike, *, on_mismatch: str = "error", mount: bool = False):
        if on_mismatch not in ("error", "replace"):
            raise ValueError(f"on_mismatch must be 'error' or 'replace', not {on_mismatch!r}")
        self.mount = mount
        self.root = check_root(root, mount=mount)
        self.on_mismatch = on_mismatch

    def map_path(self, m: Map, requested: bool) -> Optional[str]:
        """Where to pin map ``m``; ``requested`` says its definition asked for pinning."""
        return None

    def program_path(self, p: Program) -> Optional[str]:
        """Where to pin program ``p`` after load."""
        return None

    def setup(self) -> None:
        """Called at the start of every load, before any decision (e.g. to lay out a tree)."""

    def incompatible(self, path: str, differences: List["Difference"], map_name: str) -> Exception:
        """The error for a pinned map that does not match (a layout may word it its own way)."""
        return MapIncompatibleError(path, differences, map_name)


Selection = Union[None, str, Iterable[str]]


def _selection(value: Selection, what: str) -> Union[None, str, Set[str]]:
    if value is None:
        return None
    if isinstance(value, str):
        if value == "all":
            return value
        raise ValueError(f"{what} must be None, 'all' or a collection of names, not {value!r}")
    return set(value)


class PinByName(PinPolicy):
    """Pin maps (and optionally programs) as ``root/<name>``, reusing compatible pins.

    ``maps``: None pins the maps whose definition asks for it (``LIBBPF_PIN_BY_NAME``);
    ``"all"`` pins every map except libbpf's internal ``.data``/``.bss``/``.rodata`` maps;
    a collection of names pins those maps as well. ``programs``: None, ``"all"`` or names.
    ``on_mismatch="replace"`` replaces an incompatible pin with the new map after a
    successful load; ``mount=True`` mounts bpffs on ``root`` when it is not on one.
    """

    def __init__(self, root: PathLike, *, maps: Selection = None, programs: Selection = None,
                 on_mismatch: str = "error", mount: bool = False):
        super().__init__(root, on_mismatch=on_mismatch, mount=mount)
        self.maps = _selection(maps, "maps")
        self.programs = _selection(programs, "programs")

    def map_path(self, m: Map, requested: bool) -> Optional[str]:
        name = m.name
        chosen = self.maps
        if requested or (chosen == "all" and not m.is_internal) or (isinstance(chosen, set) and name in chosen):
            return os.path.join(self.root, check_name(name))
        return None

    def program_path(self, p: Program) -> Optional[str]:
        chosen = self.programs
        if chosen == "all" or (isinstance(chosen, set) and p.name in chosen):
            return os.path.join(self.root, check_name(p.name, "program"))
        return None

    def __repr__(self) -> str:
        return (f"PinByName({self.root!r}, maps={self.maps!r}, programs={self.programs!r}, "
                f"on_mismatch={self.on_mismatch!r})")


# the mechanism ---------------------------------------------------------------------------------

@dataclass
class _Plan:
    map: Map
    path: str
    action: str                    # "reuse", "create" or "replace"
    old_id: int = 0                # id of the pin that "replace" supersedes
    old_fd: Optional[int] = None   # that map, kept to put it back if the load fails after all


@dataclass
class _ProgramPin:
    program: Program
    path: str
    old_fd: Optional[int] = None   # the program pinned there before, kept to put it back on failure


class _MountLock:
    """One flock of a mount point per process, shared by its threads and re-entrant for the
    thread that holds it (a load started from an after-load hook must not wait for itself)."""

    _registry: Dict[str, "_MountLock"] = {}
    _registry_lock = threading.Lock()

    def __init__(self, path: str):
        self.path = path
        self.thread_lock = threading.RLock()
        self.fd: Optional[int] = None
        self.depth = 0

    @classmethod
    def of(cls, path: str) -> "_MountLock":
        with cls._registry_lock:
            return cls._registry.setdefault(path, cls(path))

    def acquire(self) -> None:
        self.thread_lock.acquire()
        try:
            if self.depth == 0:
                fd = os.open(self.path, os.O_RDONLY | os.O_DIRECTORY | os.O_CLOEXEC)
                try:
                    fcntl.flock(fd, fcntl.LOCK_EX)
                except BaseException:
                    os.close(fd)
                    raise
                self.fd = fd
            self.depth += 1
        except BaseException:
            self.thread_lock.release()
            raise

    def release(self) -> None:
        self.depth -= 1
        if self.depth == 0 and self.fd is not None:
            os.close(self.fd)  # closing releases the flock
            self.fd = None
        self.thread_lock.release()

    @classmethod
    def forget_in_child(cls) -> None:
        """After fork: the child must not keep the parent's flock alive, nor its thread state."""
        for lock in cls._registry.values():
            if lock.fd is not None:
                os.close(lock.fd)
        cls._registry = {}
        cls._registry_lock = threading.Lock()


os.register_at_fork(after_in_child=_MountLock.forget_in_child)


class PinSession:
    """Applies a policy to one ``Object.load()``: prepare, then commit or roll back.

    Loads that pin on the same bpffs are serialised by an flock of its mount point (a
    directory nobody removes, unlike the pin root, which a rollback may delete); with
    ``mount=True``, mounting is serialised by an flock of the filesystem underneath.
    """

    def __init__(self, policy: PinPolicy, maps: Iterable[Map], programs: Iterable[Program]):
        self.policy = policy
        self.maps = list(maps)
        self.programs = list(programs)
        self.plans: List[_Plan] = []
        self.program_pins: List[_ProgramPin] = []
        self.created_dirs: List[str] = []
        self.mounted: Optional[str] = None
        self._held: List[_MountLock] = []

    # prepare ---------------------------------------------------------------------------------

    def prepare(self) -> None:
        """Decide and check every pin, reuse compatible ones; nothing is pinned yet.

        On any error, what was done so far is undone before the error propagates.
        """
        try:
            self._prepare()
        except BaseException:
            self.rollback()
            raise

    def _prepare(self) -> None:
        self.policy.setup()
        decided = []
        for m in self.maps:
            if not m.autocreate:
                continue
            if m._pin_explicit is POLICY_DECIDES:
                path = self.policy.map_path(m, m._pin_requested)
            else:
                path = m._pin_explicit
                if path is not None:
                    check_name(os.path.basename(path))
            if path is not None:
                decided.append((m, os.path.abspath(path)))
        programs = [(p, os.path.abspath(path)) for p in self.programs if p.autoload
                    for path in [self.policy.program_path(p)] if path is not None]
        if not decided and not programs:
            return
        _refuse_shared_paths([(f"map {m.name!r}", path) for m, path in decided] +
                             [(f"program {p.name!r}", path) for p, path in programs])
        root = self.policy.root
        self._lock(root)
        self._ensure_root(root)
        for m, path in decided:
            self.plans.append(self._plan_map(m, path))
        for p, path in programs:
            self.program_pins.append(_ProgramPin(p, path, self._existing_program(path)))
        lib = _libbpf.lib()
        for plan in self.plans:
            if plan.action == "create":
                self._make_dirs(os.path.dirname(plan.path))
                lib.bpf_map__set_pin_path(plan.map._handle, os.fsencode(plan.path))
        for pin in self.program_pins:
            self._make_dirs(os.path.dirname(pin.path))

    def _plan_map(self, m: Map, path: str) -> _Plan:
        lib = _libbpf.lib()
        try:
            fd = lib.bpf_obj_get(os.fsencode(path))
        except FileNotFoundError:
            return _Plan(m, path, "create")
        except LibbpfError as exc:  # the only OSError bpf_obj_get raises
            raise LibbpfError.for_errno(exc.errno, f"cannot use {path} as the pin of map {m.name!r}: "
                                        f"something that is not a BPF object is there ({exc.strerror})",
                                        "bpf_obj_get") from None
        keep = False
        try:
            kind = fd_kind(fd)
            if kind != "map":
                raise LibbpfError.for_errno(errno.EINVAL, f"a pinned {kind or 'non-BPF object'} is at {path}, "
                                            f"where map {m.name!r} would be pinned", "bpf_obj_get")
            pinned = pinned_shape(fd)
            found = differences(definition_shape(m), pinned)
            if found:
                if self.policy.on_mismatch != "replace":
                    raise self.policy.incompatible(path, found, m.name)
                from .maps import map_info
                keep = True
                return _Plan(m, path, "replace", map_info(fd).id, fd)
            lib.bpf_map__reuse_fd(m._handle, fd)
            log.debug("map %r reuses the map pinned at %s", m.name, path)
            return _Plan(m, path, "reuse")
        finally:
            if not keep:
                os.close(fd)

    def _existing_program(self, path: str) -> Optional[int]:
        """An fd on the program already pinned at ``path`` (to restore it on failure), or None."""
        if not os.path.lexists(path):
            return None
        try:
            fd = _libbpf.lib().bpf_obj_get(os.fsencode(path))
        except LibbpfError as exc:  # the only OSError bpf_obj_get raises
            raise LibbpfError.for_errno(exc.errno, f"{path} exists and is not a BPF object", "bpf_obj_get") from None
        kind = fd_kind(fd)
        if kind != "prog" or self.policy.on_mismatch != "replace":
            os.close(fd)
            what = "program" if kind == "prog" else kind
            raise LibbpfError.for_errno(errno.EEXIST, f"a pinned {what} is already at {path}; "
                                        "on_mismatch='replace' lets a load replace a pinned program", "bpf_obj_get")
        return fd

    def _ensure_root(self, root: str) -> None:
        """The root on bpffs, made under the lock (a concurrent rollback may be removing it)."""
        if is_bpffs(_existing_ancestor(root)):
            self._make_dirs(root)
            return
        if not self.policy.mount:
            check_root(root)  # raises with the mount hint
        self._create(_missing_dirs(root)[0])
        mount_bpffs(root)
        self.mounted = root
        self._lock(root)      # the new bpffs, as every later loader will lock it
        self.policy.setup()   # a layout laid out before the mount now lies under it: lay it out again

    def _make_dirs(self, path: str) -> None:
        """``mkdir -p`` below an existing bpffs directory, remembering what was created."""
        missing, anchor = _missing_dirs(path)
        if not is_bpffs(anchor):
            raise LibbpfError.for_errno(errno.EINVAL, f"{anchor} is not on a BPF filesystem; mount one with "
                                        f"`{MOUNT_HINT}`", "statfs")
        self._create(missing)

    def _create(self, directories: List[str]) -> None:
        """mkdir each (outermost first, mode 0700), remembering what this load created."""
        for d in directories:
            try:
                os.mkdir(d, 0o700)
            except FileExistsError:
                continue
            self.created_dirs.append(d)

    def _lock(self, path: str) -> None:
        lock = _MountLock.of(_mount_point(path))
        lock.acquire()
        self._held.append(lock)

    # after load ------------------------------------------------------------------------------

    def libbpf_reused(self, paths: Iterable[str]) -> None:
        """libbpf found a pin appear at a planned path meanwhile (another loader) and reused it."""
        reused = set(paths)
        for plan in self.plans:
            if plan.action == "create" and plan.path in reused:
                plan.action = "reuse"

    def commit(self) -> None:
        """After a successful load: pin programs, replace stale map pins; undo all on failure."""
        done: List[Tuple[str, Optional[int]]] = []   # (path, what was there before)
        try:
            for pin in self.program_pins:
                _pin_over(pin.program.fd, pin.path)
                done.append((pin.path, pin.old_fd))
                if pin.old_fd is not None:
                    log.warning("program %r replaced the program pinned at %s", pin.program.name, pin.path)
            for plan in self.plans:
                if plan.action == "replace":
                    _pin_over(plan.map.fd, plan.path)
                    done.append((plan.path, plan.old_fd))
                    log.warning("replaced the incompatible map pinned at %s (id %d) with map %r (id %d)",
                                plan.path, plan.old_id, plan.map.name, plan.map.info().id)
        except BaseException:
            for path, old_fd in reversed(done):  # put back what was there, or remove what this load added
                if old_fd is not None:
                    _pin_over(old_fd, path)
                else:
                    _unlink_quietly(path)
            self.rollback(loaded=True)
            raise
        finally:
            self._release()

    def rollback(self, loaded: bool = False) -> None:
        """Remove what this load created; pre-existing pins stay as they were. Idempotent."""
        try:
            if loaded:  # libbpf only unpins on its own failures
                for plan in self.plans:
                    if plan.action == "create" and _pinned_id(plan.path) == _safe_id(plan.map):
                        _unlink_quietly(plan.path)
            self._remove_created_dirs()
            if self.mounted is not None and _holds_only_what_the_kernel_puts(self.mounted):
                unmount(self.mounted, lazy=True)  # lazy: this session's own lock fd still refers to it
                self.mounted = None
                self._remove_created_dirs()
        finally:
            self._release()

    def _remove_created_dirs(self) -> None:
        kept = []
        for d in reversed(self.created_dirs):
            try:
                os.rmdir(d)
            except OSError:
                kept.append(d)  # not empty (something else lives there now) or a mount point
        self.created_dirs = kept[::-1]

    def _release(self) -> None:
        for pin in self.program_pins:
            if pin.old_fd is not None:
                os.close(pin.old_fd)
                pin.old_fd = None
        for plan in self.plans:
            if plan.old_fd is not None:
                os.close(plan.old_fd)
                plan.old_fd = None
        while self._held:
            self._held.pop().release()


class PolicyDecides(enum.Enum):
    """The type of POLICY_DECIDES (a one-member enum: a sentinel type checkers can narrow)."""

    POLICY_DECIDES = "the pin policy decides"


POLICY_DECIDES: Final = PolicyDecides.POLICY_DECIDES  # Map._pin_explicit when the user set no path


def _refuse_shared_paths(destinations: List[Tuple[str, str]]) -> None:
    """Two maps (or a map and a program) sent to one path would silently become one."""
    seen: Dict[str, str] = {}
    for what, path in destinations:
        if path in seen:
            raise ValueError(f"{seen[path]} and {what} would both be pinned at {path}")
        seen[path] = what


def _mount_point(path: str) -> str:
    """The mount point of the filesystem holding ``path`` (or its nearest existing ancestor)."""
    path = os.path.realpath(_existing_ancestor(path))
    while not os.path.ismount(path):
        path = os.path.dirname(path)
    return path


def unmount(path: str, lazy: bool = False) -> None:
    try:
        _libc.umount(path, lazy=lazy)
    except OSError as exc:
        log.warning("could not unmount %s: %s", path, exc.strerror)


def _holds_only_what_the_kernel_puts(mount: str) -> bool:
    """Whether a bpffs mount this process made is still empty (only maps.debug, progs.debug)."""
    try:
        return set(os.listdir(mount)) <= {"maps.debug", "progs.debug"}
    except OSError:
        return False


def _pin_over(fd: int, path: str) -> None:
    """Pin ``fd`` at ``path``, atomically replacing what is there (bpffs supports rename)."""
    # bpffs allows no '.' in names, so the temporary name is marked with a prefix instead
    temporary = os.path.join(os.path.dirname(path), f"__libbpf_py_tmp_{os.getpid()}_{os.path.basename(path)[:200]}")
    _unlink_quietly(temporary)
    _libbpf.lib().bpf_obj_pin(fd, os.fsencode(temporary))
    try:
        os.rename(temporary, path)
    except BaseException:
        _unlink_quietly(temporary)
        raise


def _unlink_quietly(path: str) -> None:
    try:
        os.unlink(path)
    except FileNotFoundError:
        pass


def _pinned_id(path: str) -> int:
    from .maps import map_info
    try:
        fd = _libbpf.lib().bpf_obj_get(os.fsencode(path))
    except OSError:
        return -1
    try:
        return map_info(fd).id
    finally:
        os.close(fd)


def _safe_id(m: Map) -> int:
    try:
        return m.info().id
    except (OSError, ValueError):
        return -2
