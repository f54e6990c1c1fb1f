"""The mechanism that applies a pin policy to one ``Object.load()``: prepare, then commit or roll back.

- Before load, every path is checked (names that would escape the root are refused before
  anything is created); an existing pin is opened, must be a map, and is compared field by
  field with the map's definition (``MapSpec.differences``): compatible → the object uses it
  (``bpf_map__reuse_fd``), incompatible → :class:`MapIncompatibleError` naming every field,
  or, with ``on_mismatch="replace"``, a new map that replaces the pin after a successful load.
- A map without a pin gets libbpf's pin path, so libbpf pins it as soon as it is created
  and, when another loader pinned the same name in between, reuses that one instead.
- A failed load removes the pins and directories this load created (libbpf unpins its own;
  the session removes the directories) and leaves every pre-existing pin untouched.

Loads that pin on the same bpffs are serialised by an flock of its mount point (a directory
nobody removes, unlike the pin root, which a rollback may delete).
"""

from __future__ import annotations

import errno
import os
import stat
import time
from typing import TYPE_CHECKING, Iterable, List, Mapping, Optional, Set, Tuple

from .. import _libbpf, _log
from .._bpffs import (
    MOUNT_HINT,
    MountLock,
    check_root,
    check_trusted,
    existing_ancestor,
    holds_only_kernel_files,
    is_bpffs,
    lock_mounts,
    make_dir,
    missing_dirs,
    mount_bpffs,
    mount_point,
    release_all,
    unmount,
)
from .._checks import c_path
from .._fd import OwnedFd, fd_kind
from ..errors import LibbpfError
from ..info import map_info, map_spec
from .pins import live_map_id, pin_over, pinned_map_id, refuse_shared_paths, temporary_owner, unlink_quietly
from .policy import PinPolicy, check_name

if TYPE_CHECKING:
    from ..maps import Map
    from ..programs import Program

log = _log.Logger("libbpf_py.pinning")
STALE_SECONDS = 60  # a temporary pin older than this, of a process that is gone, is left over


def planned_map_path(policy: PinPolicy, m: Map, requested: bool, explicit: Mapping[str, Optional[str]]) -> \
        Optional[str]:
    """Where ``m`` will be pinned: the path set on it (``explicit``, None for no pin), else the policy's."""
    if m.name in explicit:
        path = explicit[m.name]
        if path is not None:
            check_name(os.path.basename(path))
        return path
    return policy.map_path(m, requested)


class _Plan:
    """What the load does with one map's pin."""

    __slots__ = ("map", "path", "action", "old_id", "old", "map_id")

    def __init__(self, m: Map, path: str, action: str, old_id: int = 0, old: Optional[OwnedFd] = None):
        self.map, self.path = m, path
        self.action = action    # "reuse", "create" or "replace"
        self.old_id = old_id    # id of the pin that "replace" supersedes
        self.old = old          # that map, kept to put it back if the load fails after all
        self.map_id = -2        # the id of the map this load created (record_ids)


class _ProgramPin:
    """A program to pin after load, and the program pinned there before (put back on failure)."""

    __slots__ = ("program", "path", "old")

    def __init__(self, program: Program, path: str, old: Optional[OwnedFd] = None):
        self.program, self.path, self.old = program, path, old


class PinSession:
    """Applies a policy to one ``Object.load()``.

    ``requested`` names the maps whose definition asked for pinning; ``explicit`` maps a map
    name to the path set on it (None: no pin), which overrides the policy.
    """

    def __init__(self, policy: PinPolicy, maps: Iterable[Map], programs: Iterable[Program],
                 requested: Set[str], explicit: Mapping[str, Optional[str]]):
        self.policy = policy
        self.maps = list(maps)
        self.programs = list(programs)
        self.requested = requested
        self.explicit = explicit
        self.plans: List[_Plan] = []
        self.program_pins: List[_ProgramPin] = []
        self.created_dirs: List[str] = []
        self.mounted: Optional[str] = None
        self.committed: List[Tuple[str, Optional[OwnedFd]]] = []  # (path, what was there before)
        self._held: List[MountLock] = []

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
            path = planned_map_path(self.policy, m, m.name in self.requested, self.explicit)
            if path is not None:
                decided.append((m, os.path.abspath(path)))
        programs = [(p, os.path.abspath(path)) for p in self.programs if p.autoload
                    for path in [self.policy.program_path(p)] if path is not None]
        if not decided and not programs:
            return
        refuse_shared_paths([(f"map {m.name!r}", path) for m, path in decided] +
                            [(f"program {p.name!r}", path) for p, path in programs])
        root = self.policy.root
        paths = [path for _, path in decided] + [path for _, path in programs]
        for path in paths:
            check_trusted(path)  # before anything is made or mounted on the way (mount=True)
        for _ in range(8):
            if root is not None and not is_bpffs(existing_ancestor(root)):
                self._mount_root(root)
            self._held = lock_mounts(([root] if root is not None else []) + paths)
            if root is None or is_bpffs(existing_ancestor(root)):
                break
            release_all(self._held)  # the bpffs mounted there went away while we waited: again
        for path in paths:
            check_trusted(path)  # again, under the lock
        if root is not None:
            self._make_dirs(root)  # under the lock: a concurrent rollback may be removing it
        self._remove_stale_temporaries(paths)
        for m, path in decided:
            self.plans.append(self._plan_map(m, path))
        for p, path in programs:
            self.program_pins.append(_ProgramPin(p, path, self._existing_program(path)))
        lib = _libbpf.lib()
        for plan in self.plans:
            if plan.action == "create":
                self._make_dirs(os.path.dirname(plan.path))
                lib.bpf_map__set_pin_path(plan.map._described(), c_path(plan.path))
        for pin in self.program_pins:
            self._make_dirs(os.path.dirname(pin.path))

    def _remove_stale_temporaries(self, paths: List[str]) -> None:
        """Pins a loader killed between pin and rename left behind (``pin_over``'s temporary names):
        they would keep a kernel object alive for ever. Only what this load could have made is
        removed: a pin (not a directory) of this user, whose process is gone, older than a minute
        (a live loader renames its temporary within milliseconds, also from another PID namespace)."""
        now = time.time()
        for directory in sorted({os.path.dirname(path) for path in paths}):
            try:
                names = os.listdir(directory)
            except OSError:
                continue
            for name in names:
                pid = temporary_owner(name)
                if pid is None or _alive(pid):
                    continue
                path = os.path.join(directory, name)
                try:
                    st = os.lstat(path)
                    if stat.S_ISREG(st.st_mode) and st.st_uid == os.geteuid() and now - st.st_mtime > STALE_SECONDS:
                        os.unlink(path)
                        log.info("removed %s, left by process %d", path, pid)
                except OSError:
                    continue  # gone meanwhile, or not ours to remove

    def _plan_map(self, m: Map, path: str) -> _Plan:
        lib = _libbpf.lib()
        try:
            pinned = OwnedFd(lib.bpf_obj_get(c_path(path)))
        except FileNotFoundError:
            return _Plan(m, path, "create")
        except LibbpfError as exc:  # the only OSError bpf_obj_get raises
            raise exc.with_detail(f"cannot use {path} as the pin of map {m.name!r}: something that is not a "
                                  f"BPF object is there ({exc.detail})") from None
        with pinned:
            fd = pinned.fileno()
            kind = fd_kind(fd)
            if kind != "map":
                raise LibbpfError.for_errno(errno.EINVAL, f"a pinned {kind or 'non-BPF object'} is at {path}, "
                                            f"where map {m.name!r} would be pinned", "bpf_obj_get")
            found = m.spec.differences(map_spec(fd))
            if found:
                if self.policy.on_mismatch != "replace":
                    raise self.policy.incompatible(path, found, m.name)
                return _Plan(m, path, "replace", map_info(fd).id, OwnedFd(pinned.disown()))
            lib.bpf_map__reuse_fd(m._described(), fd)
            log.debug("map %r reuses the map pinned at %s", m.name, path)
            return _Plan(m, path, "reuse")

    def _existing_program(self, path: str) -> Optional[OwnedFd]:
        """The program already pinned at ``path`` (to restore it on failure), or None."""
        if not os.path.lexists(path):
            return None
        try:
            pinned = OwnedFd(_libbpf.lib().bpf_obj_get(c_path(path)))
        except LibbpfError as exc:  # the only OSError bpf_obj_get raises
            raise exc.with_detail(f"{path} exists and is not a BPF object") from None
        kind = fd_kind(pinned.fileno())
        if kind != "prog" or self.policy.on_mismatch != "replace":
            pinned.close()
            what = "program" if kind == "prog" else kind
            raise LibbpfError.for_errno(errno.EEXIST, f"a pinned {what} is already at {path}; "
                                        "on_mismatch='replace' lets a load replace a pinned program", "bpf_obj_get")
        return pinned

    def _mount_root(self, root: str) -> None:
        """``mount=True``: a bpffs on the root, mounted under the lock of the filesystem beneath."""
        if not self.policy.mount:
            check_root(root)  # raises with the mount hint
        beneath = lock_mounts([root])
        try:
            if is_bpffs(existing_ancestor(root)):
                return  # another loader mounted one meanwhile
            self._create(missing_dirs(root)[0])
            mount_bpffs(root)
            self.mounted = root
        finally:
            release_all(beneath)
        self.policy.setup()  # a layout laid out before the mount now lies under it: lay it out again

    def _make_dirs(self, path: str) -> None:
        """``mkdir -p`` below an existing bpffs directory, remembering what was created."""
        missing, anchor = missing_dirs(path)
        if not is_bpffs(anchor):
            raise LibbpfError.for_errno(errno.EINVAL, f"{anchor} is not on a BPF filesystem; mount one with "
                                        f"`{MOUNT_HINT}`", "statfs")
        self._create(missing)

    def _create(self, directories: List[str]) -> None:
        """mkdir each (outermost first, mode 0700), remembering what this load created; one that
        appeared meanwhile must be a trusted directory (no other user's link or directory)."""
        for d in directories:
            if make_dir(d):
                self.created_dirs.append(d)

    # after load ------------------------------------------------------------------------------

    def libbpf_reused(self, paths: Iterable[str]) -> None:
        """libbpf found a pin appear at a planned path meanwhile (another loader) and reused it."""
        reused = set(paths)
        for plan in self.plans:
            if plan.action == "create" and plan.path in reused:
                plan.action = "reuse"

    def commit(self) -> None:
        """After a successful load: pin programs, replace stale map pins; undo all on failure.

        The locks and the replaced pins are kept until :meth:`finish` (the load stands) or
        :meth:`undo_commit` (it is undone after all).
        """
        try:
            for pin in self.program_pins:
                check_trusted(pin.path)  # again: verification and hooks ran since the plan
                pin_over(pin.program.fd, pin.path)
                self.committed.append((pin.path, pin.old))
                if pin.old is not None:
                    log.warning("program %r replaced the program pinned at %s", pin.program.name, pin.path)
            for plan in self.plans:
                if plan.action == "replace":
                    check_trusted(plan.path)
                    pin_over(plan.map.fd, plan.path)
                    self.committed.append((plan.path, plan.old))
                    log.warning("replaced the incompatible map pinned at %s (id %d) with map %r (id %d)",
                                plan.path, plan.old_id, plan.map.name, plan.map.info().id)
        except BaseException:
            self.undo_commit()
            raise

    def record_ids(self) -> None:
        """After libbpf's load: the ids of the maps this load created, to recognise their pins,
        and a last look that each pin libbpf made is where it was planned, on a trusted path."""
        for plan in self.plans:
            plan.map_id = live_map_id(plan.map)
            if plan.action == "create":
                check_trusted(plan.path)
                if pinned_map_id(plan.path) != plan.map_id:
                    raise LibbpfError.for_errno(errno.EPERM, f"map {plan.map.name!r} is not pinned at {plan.path} "
                                                "after the load: the path changed under it")

    def undo_commit(self) -> None:
        """Put back what the commit replaced, remove what this load pinned; every step runs and
        the first error is raised after. An earlier map or program that cannot be put back is
        kept open (its fd left to the process) rather than destroyed."""
        first: Optional[BaseException] = None
        while self.committed:
            path, old = self.committed.pop()
            try:
                if old is not None:
                    pin_over(old.fileno(), path)
                else:
                    unlink_quietly(path)
            except BaseException as exc:  # every pin gets its chance
                first = first or exc
                if old is not None:
                    log.error("could not put back the pin at %s (%r); its object stays alive on fd %d",
                              path, exc, old.disown())
        try:
            self.rollback(loaded=True)
        except BaseException as exc:
            first = first or exc
        if first is not None:
            raise first

    def finish(self) -> None:
        """The load stands: release the locks and the fds kept for an undo."""
        self.committed.clear()
        self._release()

    def rollback(self, loaded: bool = False) -> None:
        """Remove what this load created; pre-existing pins stay as they were. Idempotent."""
        try:
            if loaded:  # libbpf only unpins on its own failures
                for plan in self.plans:
                    if plan.action == "create" and pinned_map_id(plan.path) == plan.map_id:
                        unlink_quietly(plan.path)
            self._remove_created_dirs()
            if self.mounted is not None:
                self._unmount_root(self.mounted)
        finally:
            self._release()

    def _unmount_root(self, root: str) -> None:
        """Undo ``mount=True`` when nothing else lives there, under the lock of the filesystem
        beneath, as the mount was made (so another loader's mount and mkdir there cannot interleave).
        Safe while holding the root's lock: the lock beneath is only ever held briefly, by a
        mount or an unmount, never while waiting for another."""
        beneath = MountLock.at(mount_point(os.path.dirname(root)))
        beneath.acquire()
        try:
            if holds_only_kernel_files(root):
                unmount(root, lazy=True)  # lazy: this session's own lock fd still refers to it
                self.mounted = None
                self._remove_created_dirs()
        finally:
            beneath.release()

    def _remove_created_dirs(self) -> None:
        kept = []
        for d in reversed(self.created_dirs):
            try:
                os.rmdir(d)
            except OSError:
                kept.append(d)  # not empty (something else lives there now) or a mount point
        self.created_dirs = kept[::-1]

    def _release(self) -> None:
        for kept in [pin.old for pin in self.program_pins] + [plan.old for plan in self.plans]:
            if kept is not None:
                kept.close()  # once: a second close (or one after disown) does nothing
        release_all(self._held)


def _alive(pid: int) -> bool:
    """Whether process ``pid`` exists (in this PID namespace)."""
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True  # another user's
    return True
