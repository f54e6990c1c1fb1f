"""Shared fixtures.

Tests under ``kernel/`` and ``netns/`` need CAP_BPF (a real bpf() syscall) and the ability
to mount bpffs. Without them they are skipped with the reason, as in a distro's
unprivileged build; CI sets LIBBPF_PY_REQUIRE_KERNEL=1 so that a missing capability fails
instead. Those tests also must close every BPF fd they open.
"""

from __future__ import annotations

import gc
import os
import subprocess
import tempfile
from pathlib import Path
from typing import Callable, Iterator, List, Optional

import pytest

ROOT = Path(__file__).resolve().parent.parent
BPF_BUILD = Path(os.environ.get("LIBBPF_PY_BPF_BUILD", ROOT / "bpf_progs" / "build"))
PRIVILEGED_DIRS = ("kernel", "netns")


@pytest.fixture(scope="session")
def bpf_obj():
    """Path of a built object in bpf_progs/build (skips when bpf_progs was not built)."""

    def find(name: str) -> Path:
        path = BPF_BUILD / f"{name}.o"
        if not path.exists():
            pytest.skip(f"{path} is not built (run `make -C bpf_progs`)")
        return path

    return find


_reason: Optional[str] = None
_probed = False


def kernel_unavailable() -> Optional[str]:
    """Why kernel tests cannot run here, or None when they can (probed once)."""
    global _reason, _probed
    if _probed:
        return _reason
    _probed = True
    try:
        import libbpf_py as bpf

        with bpf.Map.create(bpf.MapType.ARRAY, 4, 4, 1):
            pass
    except PermissionError as exc:
        _reason = f"no CAP_BPF: creating a map failed with {exc}"
    except OSError as exc:
        _reason = f"bpf() unavailable: {exc}"
    if _reason is None and os.geteuid() != 0:
        _reason = "not root: cannot mount a private bpffs"
    return _reason


def _privileged(item) -> bool:
    parts = Path(str(item.fspath)).relative_to(Path(__file__).parent).parts
    return bool(parts) and parts[0] in PRIVILEGED_DIRS


def pytest_itemcollected(item):
    """Every test under kernel/ and netns/ is marked `kernel` (so `-m "not kernel"` deselects them)."""
    if _privileged(item):
        item.add_marker(pytest.mark.kernel)


def pytest_collection_modifyitems(config, items):
    mine = [item for item in items if item.get_closest_marker("kernel")]
    if not mine:
        return
    reason = kernel_unavailable()
    if reason is None:
        return
    if os.environ.get("LIBBPF_PY_REQUIRE_KERNEL") == "1":
        raise pytest.UsageError(f"LIBBPF_PY_REQUIRE_KERNEL=1 but kernel tests cannot run: {reason}")
    for item in mine:
        item.add_marker(pytest.mark.skip(reason=reason))


@pytest.fixture
def new_bpffs() -> Iterator[Callable[[], Path]]:
    """Mounts a new, empty bpffs instance on a temporary directory at each call; every one is
    unmounted and removed afterwards."""
    mounts: List[Path] = []

    def mount() -> Path:
        mnt = Path(tempfile.mkdtemp(prefix="libbpf_py-bpffs-"))
        mounts.append(mnt)
        subprocess.run(["mount", "-t", "bpf", "bpf", str(mnt)], check=True)
        return mnt

    yield mount
    for mnt in reversed(mounts):
        if subprocess.run(["umount", str(mnt)], check=False).returncode != 0:
            subprocess.run(["umount", "-l", str(mnt)], check=False)
        mnt.rmdir()


@pytest.fixture
def bpffs(new_bpffs) -> Path:
    """A private, empty bpffs instance (see new_bpffs)."""
    return new_bpffs()


def _bpf_fds() -> dict:
    """This process's fds on BPF objects (anon inodes bpf-map, bpf-prog, ...) or on bpffs (locks)."""
    from libbpf_py._bpffs import is_bpffs

    found = {}
    for fd in os.listdir("/proc/self/fd"):
        try:
            target = os.readlink(f"/proc/self/fd/{fd}")
        except OSError:
            continue
        if target.startswith("anon_inode:bpf") or (target.startswith("/") and is_bpffs(target)):
            found[fd] = target
    return found


@pytest.fixture(autouse=True)
def no_leaked_bpf_fds(request):
    """Every privileged test must close every BPF fd it opened (after collection of garbage)."""
    if not _privileged(request.node):
        yield
        return
    before = _bpf_fds()
    yield
    gc.collect()
    leaked = {fd: what for fd, what in _bpf_fds().items() if before.get(fd) != what}
    assert not leaked, f"BPF fds left open by the test: {leaked}"


SYS_BPF = Path("/sys/fs/bpf")
IPROUTE2_LAYOUT = ("tc", "xdp", "ip")  # where tc and ip pin by default (tc/globals/NAME...)


def _sys_bpf_entries() -> set:
    try:
        return {str(path.relative_to(SYS_BPF)) for path in SYS_BPF.rglob("*")}
    except OSError:
        return set()


_object_names: Optional[frozenset] = None


def object_names() -> frozenset:
    """The kernel names of every program and map of bpf_progs/build's objects (read once)."""
    global _object_names
    if _object_names is None:
        from support import kernel_names

        names: set = set()
        for path in sorted(BPF_BUILD.rglob("*.o")):
            try:
                names |= kernel_names(path)
            except Exception:  # an object libbpf cannot open (made to be refused) names nothing
                continue
        _object_names = frozenset(names)
    return _object_names


def _pinned_name(path: Path) -> Optional[str]:
    """The kernel name of what is pinned at ``path`` (a link's: its program's), None if it is no pin."""
    import libbpf_py as bpf
    from libbpf_py.tools.pinned import open_pinned

    try:
        with open_pinned(path) as handle:
            if isinstance(handle, bpf.Link):
                with bpf.Program.from_id(handle.info().prog_id) as program:
                    return program.info().name
            return handle.info().name
    except (OSError, ValueError):
        return None


def _made_by_tests(entries: set) -> List[str]:
    """Of new entries on /sys/fs/bpf, those a test of this project could have made (other
    processes on the machine pin there as they please): anything in iproute2's layout, and pins
    named as a program or map of the test objects."""
    ours = []
    for entry in sorted(entries):
        if entry.split("/")[0] in IPROUTE2_LAYOUT:
            ours.append(entry)
        elif not (SYS_BPF / entry).is_dir() and _pinned_name(SYS_BPF / entry) in object_names():
            ours.append(entry)
    return ours


@pytest.fixture(autouse=True)
def nothing_left_on_sys_fs_bpf(request):
    """Tests pin on bpffs instances of their own: the host's /sys/fs/bpf (what tools such as
    ip and tc default to) must hold nothing new that a test made (see _made_by_tests)."""
    if not _privileged(request.node):
        yield
        return
    before = _sys_bpf_entries()
    yield
    left = _made_by_tests(_sys_bpf_entries() - before)
    assert not left, f"the test left entries on {SYS_BPF}: {left}"


TRACEFS = Path("/sys/kernel/tracing")


@pytest.fixture
def tracefs() -> Iterator[Path]:
    """tracefs at /sys/kernel/tracing, where libbpf looks for tracepoint ids: mounted for the
    test when it is not there (and unmounted afterwards), as the tests mount bpffs."""
    if (TRACEFS / "events").is_dir():
        yield TRACEFS
        return
    if not TRACEFS.is_dir():
        pytest.skip(f"{TRACEFS} does not exist (a kernel without tracefs)")
    subprocess.run(["mount", "-t", "tracefs", "tracefs", str(TRACEFS)], check=True)
    try:
        yield TRACEFS
    finally:
        if subprocess.run(["umount", str(TRACEFS)], check=False).returncode != 0:
            subprocess.run(["umount", "-l", str(TRACEFS)], check=False)


@pytest.fixture
def cgroup():
    """A new cgroup v2 directory, removed afterwards."""
    root = Path("/sys/fs/cgroup/unified")
    if not (root / "cgroup.procs").exists():
        root = Path("/sys/fs/cgroup")
        if not (root / "cgroup.controllers").exists():
            pytest.skip("no cgroup v2 hierarchy mounted")
    path = Path(tempfile.mkdtemp(prefix="libbpf_py-", dir=root))
    try:
        yield path
    finally:
        path.rmdir()


@pytest.fixture
def events(bpf_obj):
    """bpf_progs/events.o loaded, its settings maps read as ints, its programs watching this process."""
    import libbpf_py as bpf

    with bpf.Object.open(bpf_obj("events")) as obj:
        obj.load()
        for name in ("config", "drops", "target_tgid"):
            obj.maps[name].key_type = obj.maps[name].value_type = int
        obj.maps["target_tgid"][0] = os.getpid()
        yield obj
