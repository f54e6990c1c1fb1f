"""The pinning policy against the real kernel, and its parity with native libbpf.

Covers the scenarios of libbpf's own pinning selftests (pin by name, reuse, mismatch, custom
root, unpin, pin path set before load, invalid pinning value) plus the policy's own rules:
transactional loads, bpffs hygiene, concurrency and program pins.
"""

from __future__ import annotations

import json
import logging
import multiprocessing
import os
import shutil
import subprocess
from pathlib import Path

import pytest
from support import load, pin_tree, pinned_map_id

import libbpf_py as bpf
from libbpf_py import MapType, PinByName

HERE = Path(__file__).resolve().parent.parent


@pytest.fixture(scope="session")
def native_loader(tmp_path_factory):
    """tests/native/pin_loader.c built against the system's libbpf."""
    if shutil.which("gcc") is None:
        pytest.skip("gcc is needed to build the native libbpf loader")
    out = tmp_path_factory.mktemp("native") / "pin_loader"
    subprocess.run(["gcc", "-O2", str(HERE / "native" / "pin_loader.c"), "-lbpf", "-o", str(out)], check=True)

    # the same libbpf as the binding's, also when LIBBPF_PY_LIBRARY picks another one
    env = {**os.environ, "LD_LIBRARY_PATH": os.path.dirname(bpf.library_path())}

    def run(obj: Path, root: Path) -> dict:
        done = subprocess.run([str(out), str(obj), str(root)], capture_output=True, text=True, env=env)
        return json.loads(done.stdout)

    return run


# libbpf's selftest scenarios --------------------------------------------------------------------

def test_invalid_pinning_value_fails_at_open(bpf_obj, bpffs, native_loader):
    with pytest.raises(OSError) as exc:
        bpf.Object.open(bpf_obj("pinning_invalid"), pinning=PinByName(bpffs))
    assert exc.value.errno == 22
    assert native_loader(bpf_obj("pinning_invalid"), bpffs) == {"error": -22, "stage": "open"}


def test_pin_by_name_then_reuse(bpf_obj, bpffs):
    with load(bpf_obj("pinned"), pinning=PinByName(bpffs)) as obj:
        counts = obj.maps["pinned_counts"]
        assert pin_tree(bpffs) == {"pinned_counts"}
        assert counts.pin_path == str(bpffs / "pinned_counts")
        assert obj.maps["not_pinned"].pin_path is None
        first_id = counts.info().id
        assert pinned_map_id(bpffs / "pinned_counts") == first_id
        obj.programs["pin_count"].test_run(bytes(64))
    with load(bpf_obj("pinned"), pinning=PinByName(bpffs)) as again:
        counts = again.maps["pinned_counts"]
        assert counts.info().id == first_id                     # reused, not re-created
        counts.key_type = counts.value_type = int
        assert counts[0] == 1                                    # with its contents
        again.maps["pinned_counts"].unpin()
    assert pin_tree(bpffs) == set()


def test_pin_all_maps_or_named_maps_and_programs(bpf_obj, bpffs):
    with load(bpf_obj("pinned"), pinning=PinByName(bpffs / "all", maps="all", programs="all")) as obj:
        assert pin_tree(bpffs / "all") == {"pinned_counts", "not_pinned", "pin_count"}
        with bpf.Program.from_pinned(bpffs / "all" / "pin_count") as prog:
            assert prog.info().tag == obj.programs["pin_count"].info().tag
    with load(bpf_obj("pinned"), pinning=PinByName(bpffs / "named", maps={"not_pinned"})) as obj:
        assert pin_tree(bpffs / "named") == {"pinned_counts", "not_pinned"}


def test_mismatch_names_every_field_and_changes_nothing(bpf_obj, bpffs):
    with bpf.Map.create(MapType.HASH, 8, 16, 256, name="pinned_counts") as other:
        other.pin(bpffs / "pinned_counts")
        before = other.info().id
    with pytest.raises(bpf.MapIncompatibleError) as exc:
        load(bpf_obj("pinned"), pinning=PinByName(bpffs))
    err = exc.value
    assert err.errno == 22 and err.path == str(bpffs / "pinned_counts") and err.map_name == "pinned_counts"
    assert [str(d) for d in err.differences] == ["key_size: object 4, pinned 8", "value_size: object 8, pinned 16"]
    assert "key_size: object 4, pinned 8" in str(err)
    assert pinned_map_id(bpffs / "pinned_counts") == before and pin_tree(bpffs) == {"pinned_counts"}


def test_type_and_flags_mismatch(bpf_obj, bpffs):
    with bpf.Map.create(MapType.ARRAY, 4, 8, 256, flags=bpf.MapFlags.RDONLY_PROG) as other:
        other.pin(bpffs / "pinned_counts")
    with pytest.raises(bpf.MapIncompatibleError) as exc:
        load(bpf_obj("pinned"), pinning=PinByName(bpffs))
    assert [str(d) for d in exc.value.differences] == ["type: object HASH, pinned ARRAY",
                                                       "map_flags: object 0x0, pinned 0x80"]


def test_custom_root_is_created_on_bpffs(bpf_obj, bpffs):
    root = bpffs / "custom" / "deeper"
    with load(bpf_obj("pinned"), pinning=PinByName(root)):
        assert (root / "pinned_counts").exists()


def test_pin_path_set_before_load(bpf_obj, bpffs):
    obj = bpf.Object.open(bpf_obj("pinned"), pinning=PinByName(bpffs))
    with obj:
        obj.maps["not_pinned"].pin_path = bpffs / "custom" / "nopin"
        assert obj.maps["not_pinned"].pin_path == str(bpffs / "custom" / "nopin")
        obj.load()
        assert pin_tree(bpffs) == {"pinned_counts", "custom", "custom/nopin"}
        assert pinned_map_id(bpffs / "custom" / "nopin") == obj.maps["not_pinned"].info().id
        with pytest.raises(OSError):
            obj.maps["not_pinned"].pin_path = bpffs / "elsewhere"


def test_a_pinned_program_or_directory_is_not_a_map(bpf_obj, bpffs):
    with load(bpf_obj("pinned"), pinning=PinByName(bpffs / "p", programs="all")) as obj:
        obj.programs["pin_count"].pin(bpffs / "pinned_counts")
    with pytest.raises(bpf.LibbpfError, match="pinned prog"):
        load(bpf_obj("pinned"), pinning=PinByName(bpffs))
    os.unlink(bpffs / "pinned_counts")
    os.mkdir(bpffs / "pinned_counts")
    with pytest.raises(bpf.LibbpfError, match="not a BPF object"):
        load(bpf_obj("pinned"), pinning=PinByName(bpffs))
    assert (bpffs / "pinned_counts").is_dir()


def test_on_mismatch_replace_swaps_the_pin_after_load(bpf_obj, bpffs, caplog):
    caplog.set_level(logging.WARNING, logger="libbpf_py.pinning")
    with bpf.Map.create(MapType.HASH, 8, 8, 256) as stale:
        stale.pin(bpffs / "pinned_counts")
        stale_id = stale.info().id
    with load(bpf_obj("pinned"), pinning=PinByName(bpffs, on_mismatch="replace")) as obj:
        new_id = obj.maps["pinned_counts"].info().id
        assert new_id != stale_id and pinned_map_id(bpffs / "pinned_counts") == new_id
    assert any("replaced the incompatible map" in r.getMessage() for r in caplog.records)
    assert pin_tree(bpffs) == {"pinned_counts"}


def test_replace_does_nothing_when_the_load_fails(bpf_obj, bpffs):
    with bpf.Map.create(MapType.HASH, 8, 8, 256) as stale:
        stale.pin(bpffs / "pinned_counts")
        stale_id = stale.info().id
    with pytest.raises(bpf.VerifierError):
        load(bpf_obj("pinned_reject"), pinning=PinByName(bpffs, on_mismatch="replace"))
    assert pinned_map_id(bpffs / "pinned_counts") == stale_id and pin_tree(bpffs) == {"pinned_counts"}


# transactional loads ----------------------------------------------------------------------------

def test_failed_load_removes_its_pins_and_keeps_existing_ones(bpf_obj, bpffs):
    root = bpffs / "app"
    with load(bpf_obj("pinned"), pinning=PinByName(root)) as obj:
        kept_id = obj.maps["pinned_counts"].info().id
    with pytest.raises(bpf.VerifierError):
        load(bpf_obj("pinned_reject"), pinning=PinByName(root))
    assert pin_tree(bpffs) == {"app", "app/pinned_counts"}       # reject_fresh was rolled back
    assert pinned_map_id(root / "pinned_counts") == kept_id            # the pre-existing pin is untouched


def test_failed_load_removes_the_directories_it_made(bpf_obj, bpffs):
    with pytest.raises(bpf.VerifierError):
        load(bpf_obj("pinned_reject"), pinning=PinByName(bpffs / "new" / "root"))
    assert pin_tree(bpffs) == set()


# hygiene ----------------------------------------------------------------------------------------

def test_root_must_be_on_bpffs(tmp_path):
    with pytest.raises(bpf.LibbpfError, match="mount -t bpf bpf"):
        PinByName(tmp_path)


def test_mount_true_mounts_bpffs_on_the_root(bpf_obj, tmp_path):
    root = tmp_path / "mnt"
    try:
        with load(bpf_obj("pinned"), pinning=PinByName(root, mount=True)):
            assert (root / "pinned_counts").exists()
    finally:
        subprocess.run(["umount", str(root)], check=False)


# concurrency ------------------------------------------------------------------------------------

def _load_and_report(obj_path: str, root: str, on_mismatch: str, barrier, results) -> None:
    barrier.wait()
    with bpf.Object.open(obj_path, pinning=PinByName(root, on_mismatch=on_mismatch)) as obj:
        obj.load()
        results.put(obj.maps["pinned_counts"].info().id)
        barrier.wait()  # keep the object open until every process has loaded


def map_ids_of_concurrent_loads(obj_path, root, n: int, on_mismatch: str = "error") -> set:
    """Load the object in n processes at once; the set of map ids they ended up using."""
    ctx = multiprocessing.get_context("fork")
    barrier, results = ctx.Barrier(n), ctx.Queue()
    procs = [ctx.Process(target=_load_and_report, args=(str(obj_path), str(root), on_mismatch, barrier, results))
             for _ in range(n)]
    for p in procs:
        p.start()
    for p in procs:
        p.join(60)
    assert [p.exitcode for p in procs] == [0] * n
    return {results.get(timeout=5) for _ in range(n)}


def test_concurrent_loads_share_one_map(bpf_obj, bpffs):
    ids = map_ids_of_concurrent_loads(bpf_obj("pinned"), bpffs, 4)
    assert len(ids) == 1 and ids == {pinned_map_id(bpffs / "pinned_counts")}
    assert pin_tree(bpffs) == {"pinned_counts"}


# map-in-map -------------------------------------------------------------------------------------

def test_map_in_map_reuse_checks_the_inner_shape(bpf_obj, bpffs):
    with bpf.Map.create(MapType.ARRAY, 4, 8, 32) as wrong_inner, \
            bpf.Map.create(MapType.HASH_OF_MAPS, 4, 4, 16, inner_map=wrong_inner, value_type=int) as outer:
        outer.update(0, wrong_inner.fd)
        outer.pin(bpffs / "pinned_outer")
    with pytest.raises(bpf.MapIncompatibleError) as exc:
        load(bpf_obj("pinned_mim"), pinning=PinByName(bpffs))
    assert [str(d) for d in exc.value.differences] == ["inner.max_entries: object 8, pinned 32"]


# parity with native libbpf ----------------------------------------------------------------------

def test_native_pins_are_reused_and_ours_are_reused_by_native(bpf_obj, bpffs, native_loader):
    native = native_loader(bpf_obj("pinned"), bpffs / "a")
    assert native["maps"]["pinned_counts"]["pin_path"] == str(bpffs / "a" / "pinned_counts")
    with load(bpf_obj("pinned"), pinning=PinByName(bpffs / "a")) as obj:
        assert obj.maps["pinned_counts"].info().id == native["maps"]["pinned_counts"]["id"]
        assert pin_tree(bpffs / "a") == {"pinned_counts"}
    with load(bpf_obj("pinned"), pinning=PinByName(bpffs / "b")) as obj:
        ours = obj.maps["pinned_counts"].info()
    native = native_loader(bpf_obj("pinned"), bpffs / "b")["maps"]
    assert native["pinned_counts"]["id"] == ours.id
    assert (native["pinned_counts"]["type"], native["pinned_counts"]["key_size"],
            native["pinned_counts"]["value_size"], native["pinned_counts"]["max_entries"],
            native["pinned_counts"]["flags"]) == (ours.type, ours.key_size, ours.value_size,
                                                   ours.max_entries, ours.flags)
    assert pin_tree(bpffs) == {"a", "a/pinned_counts", "b", "b/pinned_counts"}


def test_mismatch_fails_natively_too(bpf_obj, bpffs, native_loader):
    with bpf.Map.create(MapType.HASH, 4, 8, 128) as other:
        other.pin(bpffs / "pinned_counts")
    assert native_loader(bpf_obj("pinned"), bpffs) == {"error": -22, "stage": "load"}
    with pytest.raises(bpf.MapIncompatibleError, match="max_entries: object 256, pinned 128"):
        load(bpf_obj("pinned"), pinning=PinByName(bpffs))


def test_native_failed_load_rolls_back_like_ours(bpf_obj, bpffs, native_loader):
    assert native_loader(bpf_obj("pinned_reject"), bpffs)["error"] == -13
    assert pin_tree(bpffs) == set()
    with pytest.raises(bpf.VerifierError):
        load(bpf_obj("pinned_reject"), pinning=PinByName(bpffs))
    assert pin_tree(bpffs) == set()


def test_devmap_pins_are_reused_despite_the_kernel_added_flag(bpf_obj, bpffs, native_loader):
    first = native_loader(bpf_obj("pinned_devmap"), bpffs)["maps"]["tx_ports"]
    assert first["flags"] & bpf.MapFlags.RDONLY_PROG  # added by the kernel, not asked for
    with load(bpf_obj("pinned_devmap"), pinning=PinByName(bpffs)) as obj:
        assert obj.maps["tx_ports"].info().id == first["id"]
    again = native_loader(bpf_obj("pinned_devmap"), bpffs)
    if bpf.libbpf_version() < (1, 7):
        # a documented difference: libbpf before 1.7 compares the raw flags and never reuses it
        assert again == {"error": -22, "stage": "load"}
    else:
        assert again["maps"]["tx_ports"]["id"] == first["id"]


# review findings: nothing outside this load's own pins is ever removed ---------------------------

def test_unpin_removes_only_the_pin_of_this_very_map(bpf_obj, bpffs, tmp_path):
    with bpf.Map.create(MapType.HASH, 4, 8, 256, name="pinned_counts") as other:
        other.pin(bpffs / "pinned_counts")
    obj = bpf.Object.open(bpf_obj("pinned"), pinning=PinByName(bpffs))
    with obj:
        with pytest.raises(OSError, match="not loaded yet"):
            obj.maps["pinned_counts"].unpin()       # a planned path is not this map's pin
    assert (bpffs / "pinned_counts").exists()
    plain = tmp_path / "file.txt"
    plain.write_text("keep me")
    with bpf.Map.create(MapType.ARRAY, 4, 4, 1) as m:
        with pytest.raises(OSError):
            m.unpin(plain)
        with pytest.raises(OSError, match="does not hold this map"):
            m.unpin(bpffs / "pinned_counts")
    assert plain.read_text() == "keep me" and (bpffs / "pinned_counts").exists()


def test_a_failed_mount_true_load_unmounts_and_removes_what_it_made(bpf_obj, tmp_path):
    root = tmp_path / "a" / "b"
    with pytest.raises(bpf.VerifierError):
        load(bpf_obj("pinned_reject"), pinning=PinByName(root, mount=True))
    assert not (tmp_path / "a").exists()
    assert str(root) not in open("/proc/self/mounts").read()


def test_two_pins_at_one_path_are_refused(bpf_obj, bpffs):
    obj = bpf.Object.open(bpf_obj("pinned"), pinning=PinByName(bpffs))
    with obj:
        obj.maps["not_pinned"].pin_path = bpffs / "pinned_counts"
        with pytest.raises(ValueError, match="would both be pinned at"):
            obj.load()
    assert pin_tree(bpffs) == set()


def test_pin_path_none_means_no_pin_under_a_policy(bpf_obj, bpffs):
    obj = bpf.Object.open(bpf_obj("pinned"), pinning=PinByName(bpffs))
    with obj:
        obj.maps["pinned_counts"].pin_path = None
        assert obj.maps["pinned_counts"].pin_path is None
        obj.load()
    assert pin_tree(bpffs) == set()


def test_a_failed_commit_puts_back_every_pin_it_replaced(bpf_obj, bpffs, monkeypatch):
    from libbpf_py.pinning import session

    with load(bpf_obj("pinned"), pinning=PinByName(bpffs, programs="all")) as first:
        old_program = first.programs["pin_count"].info().id
    os.unlink(bpffs / "pinned_counts")
    stale_ids = {}
    for name, shape in (("pinned_counts", (MapType.HASH, 8, 8, 256)), ("not_pinned", (MapType.ARRAY, 4, 4, 4))):
        with bpf.Map.create(*shape) as stale:     # both will be replaced by the next load
            stale.pin(bpffs / name)
            stale_ids[name] = stale.info().id
    real = session.pin_over

    def fail_on_the_last(fd, path):
        if path.endswith("not_pinned"):
            raise OSError(5, "injected failure")
        real(fd, path)

    monkeypatch.setattr(session, "pin_over", fail_on_the_last)
    with pytest.raises(OSError, match="injected"):
        load(bpf_obj("pinned"), pinning=PinByName(bpffs, maps="all", programs="all", on_mismatch="replace"))
    with bpf.Program.from_pinned(bpffs / "pin_count") as prog:
        assert prog.info().id == old_program            # the earlier program is pinned again
    assert {name: pinned_map_id(bpffs / name) for name in stale_ids} == stale_ids   # and both maps


def test_an_existing_program_pin_is_replaced_only_when_asked(bpf_obj, bpffs):
    with load(bpf_obj("pinned"), pinning=PinByName(bpffs, programs="all")) as first:
        old = first.programs["pin_count"].info().id
    with pytest.raises(FileExistsError, match="on_mismatch='replace'"):
        load(bpf_obj("pinned"), pinning=PinByName(bpffs, programs="all"))
    with bpf.Program.from_pinned(bpffs / "pin_count") as prog:
        assert prog.info().id == old
    with load(bpf_obj("pinned"), pinning=PinByName(bpffs, programs="all", on_mismatch="replace")) as again:
        assert pinned_program_id(bpffs / "pin_count") == again.programs["pin_count"].info().id != old


def pinned_program_id(path) -> int:
    with bpf.Program.from_pinned(path) as prog:
        return prog.info().id


class AfterLoad(bpf.ObjectHooks):
    """Runs ``action(obj)`` from inside load(), while the load holds the pin lock."""

    def __init__(self, action):
        self.action = action

    def loaded(self, obj):
        self.action(obj)


def test_a_load_from_an_after_load_hook_does_not_wait_for_itself(bpf_obj, bpffs):
    inner_ids = []

    def nested(obj):
        with load(bpf_obj("pinned"), pinning=PinByName(bpffs / "inner")) as inner:
            inner_ids.append(inner.maps["pinned_counts"].info().id)

    with bpf.Object.open(bpf_obj("pinned"), pinning=PinByName(bpffs / "outer"), hooks=[AfterLoad(nested)]) as outer:
        outer.load()
    assert len(inner_ids) == 1 and pin_tree(bpffs) >= {"outer/pinned_counts", "inner/pinned_counts"}


def test_a_forked_child_does_not_keep_the_pin_lock(bpf_obj, bpffs):
    release_read, release_write = os.pipe()
    pids = []

    def fork_during_load(obj):
        pid = os.fork()
        if pid == 0:      # the child waits until the probe is done; it must not hold the lock meanwhile
            os.close(release_write)
            os.read(release_read, 1)
            os._exit(0)
        pids.append(pid)

    try:
        with bpf.Object.open(bpf_obj("pinned"), pinning=PinByName(bpffs / "a"),
                             hooks=[AfterLoad(fork_during_load)]) as first:
            first.load()
        probe = multiprocessing.get_context("spawn").Process(target=_load_in_child,
                                                             args=(str(bpf_obj("pinned")), str(bpffs / "b")))
        probe.start()
        probe.join(60)                     # the forked child is still alive: only a leaked lock can block this
        assert probe.exitcode == 0, "a load in another process waited for the forked child's lock"
    finally:
        os.close(release_write)            # lets the child exit
        os.close(release_read)
        for pid in pids:
            os.waitpid(pid, 0)


def _load_in_child(obj_path: str, root: str) -> None:
    with bpf.Object.open(obj_path, pinning=PinByName(root)) as obj:
        obj.load()


def test_concurrent_replacing_loads_still_share_one_map(bpf_obj, bpffs):
    """Without the lock, two loaders could each replace the stale pin with their own map."""
    for _ in range(5):
        with bpf.Map.create(MapType.HASH, 8, 8, 256) as stale:
            if (bpffs / "pinned_counts").exists():
                os.unlink(bpffs / "pinned_counts")
            stale.pin(bpffs / "pinned_counts")
        ids = map_ids_of_concurrent_loads(bpf_obj("pinned"), bpffs, 3, on_mismatch="replace")
        assert ids == {pinned_map_id(bpffs / "pinned_counts")}


# locks: one order, stale mounts, fork ---------------------------------------------------------

def _crossed_loads(obj_path, pairs, rounds):
    """Threads that each load ``rounds`` times, pinning under their own root and, explicitly, one
    map under another mount: the locks of two mounts, wanted in opposite orders."""
    import sys
    import threading

    finished = []

    def worker(policy, explicit):
        for _ in range(rounds):
            with bpf.Object.open(obj_path, pinning=policy) as obj:
                obj.maps["not_pinned"].pin_path = explicit
                obj.load()
        finished.append(explicit)

    interval = sys.getswitchinterval()
    sys.setswitchinterval(1e-6)
    try:
        threads = [threading.Thread(target=worker, args=pair, daemon=True) for pair in pairs]
        for t in threads:
            t.start()
        for t in threads:
            t.join(60)  # bounds a deadlock; a correct run takes well under a second
    finally:
        sys.setswitchinterval(interval)
    return finished


def test_loads_wanting_two_mounts_in_opposite_orders_do_not_deadlock(bpf_obj, new_bpffs):
    a, b = new_bpffs(), new_bpffs()
    pairs = [(PinByName(a / "r"), str(b / "x" / "not_pinned")), (PinByName(b / "r"), str(a / "x" / "not_pinned"))]
    assert len(_crossed_loads(bpf_obj("pinned"), pairs, 100)) == 2


def test_nested_mounts_are_locked_in_mount_order_not_path_order(bpf_obj, bpffs):
    inner = bpffs / "sub"
    inner.mkdir()
    subprocess.run(["mount", "-t", "bpf", "bpf", str(inner)], check=True)
    try:
        pairs = [(bpf.PinPolicy(), str(bpffs / "a" / "np")), (bpf.PinPolicy(), str(inner / "y" / "np"))]
        pairs[0][0].map_path = lambda m, requested: str(inner / "x" / m.name) if m.name == "pinned_counts" else None
        pairs[1][0].map_path = lambda m, requested: str(bpffs / "z" / m.name) if m.name == "pinned_counts" else None
        assert len(_crossed_loads(bpf_obj("pinned"), pairs, 100)) == 2
    finally:
        subprocess.run(["umount", str(inner)], check=True)


def test_a_child_forked_during_a_load_keeps_its_own_fds(bpf_obj, bpffs, tmp_path):
    class ForkInLoaded(bpf.ObjectHooks):
        def loaded(self, obj):
            self.pid = os.fork()
            if self.pid == 0:
                self.log = open(tmp_path / "child.log", "w")  # may take the number of the parent's lock fd

    hook = ForkInLoaded()
    with bpf.Object.open(bpf_obj("pinned"), pinning=PinByName(bpffs), hooks=[hook]) as obj:
        obj.load()
        if hook.pid == 0:
            try:
                os.fstat(hook.log.fileno())
            except OSError:
                os._exit(1)
            os._exit(0)
    _, status = os.waitpid(hook.pid, 0)
    assert os.waitstatus_to_exitcode(status) == 0, "the child's file was closed by the parent's lock release"


def test_a_loader_waiting_on_a_mount_that_a_rollback_removes_mounts_again(bpf_obj, tmp_path, monkeypatch):
    import threading

    from libbpf_py import _bpffs

    root = tmp_path / "pins"
    waiting = threading.Event()
    real_acquire = _bpffs.MountLock.acquire

    def acquire(lock, blocking=True):
        if threading.current_thread().name == "second" and lock.path == str(root):
            waiting.set()  # the second loader resolved the first loader's mount and waits for its lock
        return real_acquire(lock, blocking)

    monkeypatch.setattr(_bpffs.MountLock, "acquire", acquire)

    class FailAfterTheSecondWaits(bpf.ObjectHooks):
        def loaded(self, obj):
            second.start()
            assert waiting.wait(60)
            raise RuntimeError("the first load fails")

    outcome = {}

    def load_second():
        try:
            with load(bpf_obj("pinned"), pinning=PinByName(root, mount=True)) as obj:
                outcome["second"] = obj.maps["pinned_counts"].pin_path
        except Exception as exc:  # noqa: BLE001 - reported below
            outcome["second"] = exc

    second = threading.Thread(target=load_second, name="second")
    try:
        with pytest.raises(RuntimeError, match="the first load fails"):
            load(bpf_obj("pinned"), pinning=PinByName(root, mount=True), hooks=[FailAfterTheSecondWaits()])
        second.join(60)
        assert outcome["second"] == str(root / "pinned_counts")
    finally:
        if os.path.ismount(root):
            subprocess.run(["umount", str(root)], check=True)
