"""Small helpers shared by the privileged tests (importable because tests/ holds conftest.py)."""

from __future__ import annotations

import contextlib
import ctypes
import json
import os
import re
from pathlib import Path
from typing import Any, Callable, Iterator, List, Optional, Tuple

import pytest

import libbpf_py as bpf

BAD = Path(__file__).resolve().parent / "data" / "bad"  # the corpus of malformed objects
BAD_EXPECTED = json.loads((BAD / "expected.json").read_text())


def load(src, opener=None, **options):
    """Open and load an object; on failure close it before re-raising (no fd outlives a test)."""
    obj = (opener or bpf.Object.open)(src, **options)
    try:
        obj.load()
    except BaseException:
        obj.close()
        raise
    return obj


def pinned_map_id(path) -> int:
    with bpf.Map.from_pinned(path) as m:
        return m.info().id


def pin_tree(root: Path) -> set:
    """Every entry below a bpffs mount, relative, without the kernel's own debug files."""
    return {str(p.relative_to(root)) for p in Path(root).rglob("*")} - {"maps.debug", "progs.debug"}


def check_bad_object(name: str) -> None:
    """Run a corpus case through its entry point; it raises what expected.json says."""
    case = BAD_EXPECTED[name]
    data = (BAD / f"{name}.o").read_bytes()

    def run() -> None:
        if case["entry"] == "rewrite":
            bpf.compat.rewrite(data)
        elif case["entry"] == "open":
            with bpf.Object.open(data, check_btf=True):
                pass
        else:
            with bpf.Object.open(data, pinning=bpf.PinPolicy()) as obj:
                obj.load()

    if case["raises"] == "ok":
        run()
        return
    with pytest.raises(Exception) as exc:
        run()
    assert type(exc.value).__name__.split("[")[0] == case["raises"], repr(exc.value)
    assert re.search(case["match"], str(exc.value)), str(exc.value)


# network namespaces (pyroute2, imported when used: the unit tests run without it) ---------------

PYROUTE2_MISSING = ("pyroute2 is not installed, and this test needs netlink: pip install 'libbpf-py[netlink]' "
                    "(`make setup` installs it)")


def needs_pyroute2(module_level: bool = False) -> Any:
    """pyroute2, imported; when it is missing the test is skipped with the reason, or, under
    LIBBPF_PY_REQUIRE_KERNEL=1 (CI), fails: a missing dependency must not hide tests there."""
    try:
        import pyroute2
    except ImportError:
        if os.environ.get("LIBBPF_PY_REQUIRE_KERNEL") == "1":
            pytest.fail(f"LIBBPF_PY_REQUIRE_KERNEL=1 but {PYROUTE2_MISSING}", pytrace=False)
        pytest.skip(PYROUTE2_MISSING, allow_module_level=module_level)
    return pyroute2


@contextlib.contextmanager
def netns_pair(addresses: Optional[Tuple[str, str]] = None) -> Iterator[Tuple[Tuple[str, str], Tuple[str, str]]]:
    """Two new network namespaces joined by a veth pair, up (with ``addresses``, e.g.
    ``("10.99.0.1/24", "10.99.0.2/24")``, on the two ends): ``((ns_tx, dev_tx), (ns_rx, dev_rx))``.
    Both ends live in namespaces of their own (packets over a veth into the root namespace
    are dropped on the test machines); the namespaces, and with them the pair, are deleted by
    name afterwards, also when the test fails."""
    needs_pyroute2()
    from pyroute2 import IPRoute, netns

    tag = f"{os.getpid() % 100000}"
    ns_tx, ns_rx = f"lbpy_tx_{tag}", f"lbpy_rx_{tag}"
    dev_tx, dev_rx = f"lbpytx{tag}", f"lbpyrx{tag}"
    netns.create(ns_tx)
    netns.create(ns_rx)
    try:
        for ns in (ns_tx, ns_rx):
            quiet_ipv6(ns)
        with IPRoute() as ipr:
            ipr.link("add", ifname=dev_tx, kind="veth", peer=dev_rx)
            ipr.link("set", index=ipr.link_lookup(ifname=dev_tx)[0], net_ns_fd=ns_tx)
            ipr.link("set", index=ipr.link_lookup(ifname=dev_rx)[0], net_ns_fd=ns_rx)
        for ns, dev, address in ((ns_tx, dev_tx, addresses and addresses[0]),
                                 (ns_rx, dev_rx, addresses and addresses[1])):
            def up(ipr: Any, dev: str = dev, address: Optional[str] = address) -> None:
                index = ipr.link_lookup(ifname=dev)[0]
                if address:
                    ip, prefix = address.split("/")
                    ipr.addr("add", index=index, address=ip, prefixlen=int(prefix))
                ipr.link("set", index=index, state="up")
            in_namespace(ns, up)
        yield (ns_tx, dev_tx), (ns_rx, dev_rx)
    finally:
        for ns in (ns_tx, ns_rx):
            try:
                netns.remove(ns)   # removing the namespaces removes the veth pair
            except OSError:
                pass


def quiet_ipv6(ns: str) -> None:
    """No IPv6 in the namespace: the kernel would send its own router and neighbour messages."""
    with inside(ns):
        for conf in ("all", "default"):
            with open(f"/proc/sys/net/ipv6/conf/{conf}/disable_ipv6", "w") as knob:
                knob.write("1")


@contextlib.contextmanager
def inside(ns: str) -> Iterator[None]:
    """This thread in network namespace ``ns`` for the body (sockets made there stay there)."""
    needs_pyroute2()
    from pyroute2.netns import popns, pushns

    pushns(ns)
    try:
        yield
    finally:
        popns()


def in_namespace(ns: str, action: Callable[[Any], Any]) -> Any:
    """``action(ipr)`` with an IPRoute of namespace ``ns``."""
    needs_pyroute2()
    from pyroute2 import IPRoute

    with inside(ns), IPRoute() as ipr:
        return action(ipr)


def built_tool(path: Path, how: str) -> None:
    """Skip unless the test tool at ``path`` is built (``how`` says how to build it); under
    LIBBPF_PY_REQUIRE_KERNEL=1 (CI) its absence fails instead."""
    if not path.exists():
        missing = f"{path} is not built (run {how})"
        if os.environ.get("LIBBPF_PY_REQUIRE_KERNEL") == "1":
            pytest.fail(missing)
        pytest.skip(missing)


# kernel objects a test made ----------------------------------------------------------------------
#
# The kernel records no owner for a map or program, and other processes on the machine load BPF
# as they please (other test runs, systemd): a machine-wide count fails whenever they do. An id
# is the test's when (1) it appeared after the test's baseline, (2) it carries a kernel name of
# one of the test's objects, or none (iproute2's legacy loader names nothing), and (3) nothing
# outside the test holds it: no other process's fd, no pin on a bpffs the test does not own (in
# this mount namespace or another process's), no tc/XDP attachment in a network namespace or a
# cgroup attachment (the tests attach only in namespaces of their own), nor anything those hold
# (a program's maps, a prog array's programs, a map-in-map's inner maps). What the test holds
# itself (its process and its children, its own mounts and namespaces) stays attributed to it.
# Not seen: a pin on a bpffs another process detached (umount -l) while something still holds
# it; an object held only there, named as the test's, and new, would count as the test's.

def kernel_names(*objects: Path) -> frozenset:
    """The kernel names of the programs and maps of ``objects`` (opened, not loaded; the kernel
    keeps 15 characters)."""
    names = set()
    for path in objects:
        with bpf.Object.open(path, pinning=bpf.PinPolicy()) as obj:
            names.update(name[:15] for name in obj.programs)
            names.update(m.name[:15] for m in obj.maps.values())
    return frozenset(names)


def _ids_now() -> Tuple[set, set]:
    return set(bpf.Program.ids()), set(bpf.Map.ids())


def _program_name(kernel_id: int) -> Optional[str]:
    """The kernel name of a program, None when it is gone."""
    try:
        with bpf.Program.from_id(kernel_id) as program:
            return program.info().name
    except OSError:
        return None


MAPS_ITERATOR = Path(os.environ.get("LIBBPF_PY_BPF_BUILD", Path(__file__).resolve().parent.parent / "bpf_progs" /
                                    "build")) / "vmlinux" / "test_kernel_maps.o"


def _map_names() -> Optional[dict]:
    """id -> kernel name of every map, read by an iterator (bpf_progs/vmlinux/test_kernel_maps.c)
    and never by BPF_MAP_GET_FD_BY_ID: a user reference taken on a prog array being released
    races with the kernel's clear of its slots, and the map is then never freed (kernel 6.18).
    None when that object is not built (no kernel BTF): maps are then not told apart by name."""
    if not MAPS_ITERATOR.exists():
        return None
    with bpf.Object.open(MAPS_ITERATOR) as obj:
        obj.load()
        with obj.programs["list_maps"].attach_iter() as link:
            listing = link.read().decode(errors="replace")
    names = {}
    for line in listing.splitlines():
        kernel_id, _, name = (line.split(" ", 2) + [""])[:3]  # (a map may have no name)
        names[int(kernel_id)] = name
    return names


def _processes() -> dict:
    """pid -> parent pid of every process now."""
    parents = {}
    for entry in os.listdir("/proc"):
        if entry.isdigit():
            try:
                with open(f"/proc/{entry}/stat") as stat:
                    parents[int(entry)] = int(stat.read().rsplit(")", 1)[1].split()[1])
            except (OSError, IndexError, ValueError):
                continue
    return parents


def _descendants(roots: set, parents: dict) -> set:
    found = set(roots)
    grew = True
    while grew:
        grew = False
        for pid, parent in parents.items():
            if parent in found and pid not in found:
                found.add(pid)
                grew = True
    return found


def _held_by_fds(pid: int, progs: set, maps: set) -> None:
    """Add the programs, maps and links' programs process ``pid`` holds an fd on."""
    try:
        fds = os.listdir(f"/proc/{pid}/fd")
    except OSError:
        return
    for fd in fds:
        try:
            if not os.readlink(f"/proc/{pid}/fd/{fd}").startswith("anon_inode:bpf"):
                continue
            with open(f"/proc/{pid}/fdinfo/{fd}") as info:
                for line in info:
                    key, _, value = line.partition(":")
                    if key == "prog_id":
                        progs.add(int(value))
                    elif key == "map_id":
                        maps.add(int(value))
        except (OSError, ValueError):
            continue


def _bpffs_mounts(mountinfo_path: str = "/proc/self/mountinfo") -> List[Tuple[str, str]]:
    """(path, device) of each bpffs mount: the device names the bpffs instance, which a copied
    mount namespace (unshare --mount) shows again under the same or another path."""
    with open(mountinfo_path) as mountinfo:
        fields = [line.split(" - ")[0].split() + line.split(" - ")[1].split()[:1] for line in mountinfo]
    return [(re.sub(r"\\([0-7]{3})", lambda m: chr(int(m.group(1), 8)), f[4]), f[2]) for f in fields
            if f[-1] == "bpf"]


def _held_by_pins(mount: str, progs: set, maps: set) -> None:
    """Add what is pinned under ``mount``, and what its prog arrays and map-in-maps hold (read
    through the pin, which holds a user reference: see _map_names)."""
    from libbpf_py import MapType
    from libbpf_py.tools.pinned import walk_pinned

    try:
        for _, kind, handle in walk_pinned(mount):
            info = handle.info()
            if kind != "map":
                progs.add(info.prog_id if kind == "link" else info.id)
                continue
            maps.add(info.id)
            if info.type in (MapType.PROG_ARRAY, MapType.ARRAY_OF_MAPS, MapType.HASH_OF_MAPS):
                handle.key_type = handle.value_type = int
                (progs if info.type == MapType.PROG_ARRAY else maps).update(v for _, v in handle.items())
    except (OSError, ValueError, TypeError):
        return  # unmounted meanwhile


def _bpftool_ids(argv: List[str]) -> set:
    """The program ids in ``bpftool -j net`` or ``cgroup tree`` output (every "id" key)."""
    import shutil
    import subprocess

    if shutil.which("bpftool") is None:
        return set()
    done = subprocess.run(argv, capture_output=True, text=True, timeout=60)
    found: set = set()

    def walk(value: Any) -> None:
        if isinstance(value, dict):
            for key, item in value.items():
                if key == "id" and isinstance(item, int):
                    found.add(item)
                else:
                    walk(item)
        elif isinstance(value, list):
            for item in value:
                walk(item)

    try:
        walk(json.loads(done.stdout or "[]"))
    except ValueError:
        pass
    return found


def _held_by_attachments(own_netns: set, foreign_pids: set, progs: set) -> None:
    """tc and XDP programs of every network namespace but the test's own, and cgroup programs."""
    namespaces = {}
    for pid in foreign_pids:
        try:
            namespaces.setdefault(os.stat(f"/proc/{pid}/ns/net").st_ino, f"/proc/{pid}/ns/net")
        except OSError:
            continue
    if os.path.isdir("/run/netns"):
        for name in os.listdir("/run/netns"):
            path = f"/run/netns/{name}"
            try:
                if name not in own_netns:
                    namespaces.setdefault(os.stat(path).st_ino, path)
                else:
                    namespaces.pop(os.stat(path).st_ino, None)
            except OSError:
                continue
    for path in namespaces.values():
        progs.update(_bpftool_ids(["nsenter", f"--net={path}", "bpftool", "-j", "net"]))
    progs.update(_bpftool_ids(["bpftool", "-j", "cgroup", "tree"]))


def _close_over(progs: set, maps: set) -> None:
    """The maps that held programs use (a prog array's programs and a map-in-map's inner maps
    are read only through pins: see _held_by_pins)."""
    for prog_id in list(progs):
        try:
            with bpf.Program.from_id(prog_id) as program:
                maps.update(program.info().map_ids)
        except OSError:
            continue


class KernelObjects:
    """The programs and maps a test makes and leaves in the kernel (see above): ``KernelObjects(
    names)`` takes the baseline, ``left()`` lists what is still there. ``own_pids``: processes
    whose fds are the test's (default: this one; their children count too); ``own_mounts``: the
    test's bpffs mounts (paths, or prefixes of paths); ``own_netns``: its named network
    namespaces. The three may grow while the test runs (sets)."""

    def __init__(self, names: frozenset, own_pids: Tuple[int, ...] = (), own_mounts: Tuple[str, ...] = (),
                 own_netns: Tuple[str, ...] = ()):
        self.names = names
        self.own_pids = set(own_pids) | {os.getpid()}
        self.own_mounts = set(own_mounts)
        self.own_devices: set = set()  # the bpffs instances of own_mounts, wherever they are seen again
        self._note_own_devices()
        self.own_netns = set(own_netns)
        self.progs, self.maps = _ids_now()

    def _candidates(self) -> dict:
        """New programs and maps named as the test's objects (or nameless): (kind, id) -> name."""
        progs, maps = _ids_now()
        found = {}
        for kernel_id in progs - self.progs:
            name = _program_name(kernel_id)
            if name is not None and (name == "" or name in self.names):
                found[("prog", kernel_id)] = name
        new_maps = maps - self.maps
        if new_maps:
            names = _map_names()
            for kernel_id in new_maps:
                name = "?" if names is None else names.get(kernel_id)  # (None: gone meanwhile)
                if name is not None and (name in ("", "?") or name in self.names):
                    found[("map", kernel_id)] = name
        return found

    def _note_own_devices(self) -> None:
        for mount, device in _bpffs_mounts():
            if any(mount.startswith(own) for own in self.own_mounts):
                self.own_devices.add(device)

    def _held_outside(self) -> Tuple[set, set]:
        parents = _processes()
        own = _descendants(self.own_pids, parents)
        foreign = set(parents) - own
        progs: set = set()
        maps: set = set()
        for pid in foreign:
            _held_by_fds(pid, progs, maps)
        self._note_own_devices()
        for mount, device in _bpffs_mounts():
            if device not in self.own_devices:
                _held_by_pins(mount, progs, maps)
        namespaces = {os.stat("/proc/self/ns/mnt").st_ino}
        for pid in foreign:  # bpffs mounted where only another process sees it (unshare --mount)
            try:
                namespace = os.stat(f"/proc/{pid}/ns/mnt").st_ino
                if namespace not in namespaces:
                    namespaces.add(namespace)
                    for mount, device in _bpffs_mounts(f"/proc/{pid}/mountinfo"):
                        if device not in self.own_devices:  # (the test's own, in a copied namespace)
                            _held_by_pins(f"/proc/{pid}/root{mount}", progs, maps)
            except OSError:
                continue
        _held_by_attachments(self.own_netns, foreign, progs)
        _close_over(progs, maps)
        return progs, maps

    def left(self, seconds: float = 10.0) -> List[str]:
        """What the test made and is still in the kernel after at most ``seconds`` (the kernel
        frees a program or map a moment after its last holder goes), as "kind id name"."""
        import time

        deadline = time.monotonic() + seconds
        while True:
            found = self._candidates()
            if found:
                held_progs, held_maps = self._held_outside()
                found = {key: name for key, name in found.items()
                         if key[1] not in (held_progs if key[0] == "prog" else held_maps)}
            if not found or time.monotonic() > deadline:
                return sorted(f"{kind} {kernel_id} {name or '(no name)'}" for (kind, kernel_id), name in found.items())
            time.sleep(0.1)


def compare_leftovers(pid: int) -> dict:
    """What a compare run by process ``pid`` left: scratch mounts and directories (named with
    its pid), tc namespaces, and processes still running with one of them in their arguments."""
    import glob
    import tempfile

    from libbpf_py.tools.comparison import NETNS_PREFIX, SCRATCH_PREFIX

    scratch, netns = f"{SCRATCH_PREFIX}{pid}-", f"{NETNS_PREFIX}{pid}_"
    with open("/proc/self/mountinfo") as mounts:
        mounted = [line.split()[4] for line in mounts if scratch in line]
    names = os.listdir("/run/netns") if os.path.isdir("/run/netns") else []
    running = []
    for entry in filter(str.isdigit, os.listdir("/proc")):
        try:
            with open(f"/proc/{entry}/cmdline", "rb") as cmdline:
                argv = cmdline.read().decode(errors="replace")
        except OSError:
            continue
        if (scratch in argv or netns in argv) and int(entry) != os.getpid():
            running.append(argv.replace("\0", " "))
    found = {"mounts": mounted, "directories": glob.glob(os.path.join(tempfile.gettempdir(), scratch + "*")),
             "netns": [name for name in names if name.startswith(netns)], "processes": running}
    return {what: items for what, items in found.items() if items}


class Event(ctypes.Structure):
    """bpf_progs/events.c's struct event, written by hand (the tests check it against BTF)."""

    _fields_ = [("seq", ctypes.c_uint32), ("cpu", ctypes.c_uint32), ("value", ctypes.c_uint64)]


def emit(obj: Any, count: int, program: str = "emit") -> None:
    """Have events.o's ``program`` (emit: the ring, emit_perf: the perf array) send ``count`` records."""
    obj.maps["config"][0] = count
    obj.programs[program].test_run(bytes(64))
