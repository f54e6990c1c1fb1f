"""Objects against the real kernel: pre-load edits, load, programs run with BPF_PROG_TEST_RUN."""

from __future__ import annotations

import errno
import logging
import os
import subprocess
import sys
from pathlib import Path

import pytest

import libbpf_py as bpf
from libbpf_py import MapType, ProgType

XDP_DROP, XDP_PASS = 1, 2
TC_ACT_OK, TC_ACT_SHOT = 0, 2


def test_preload_edits_reach_the_kernel(bpf_obj):
    with bpf.Object.open(bpf_obj("maps")) as obj:
        h = obj.maps["hash_map"]
        h.max_entries = 4096
        h.flags = bpf.MapFlags.NO_PREALLOC
        obj.maps["lru_hash"].autocreate = False
        obj.load()
        info = h.info()
        assert (info.type, info.key_size, info.value_size, info.max_entries, info.flags) == \
            (MapType.HASH, 4, 8, 4096, bpf.MapFlags.NO_PREALLOC)
        with pytest.raises(OSError, match="autocreate"):
            obj.maps["lru_hash"].lookup(0)
        with pytest.raises(OSError) as exc:
            h.max_entries = 1
        assert exc.value.errno == errno.EBUSY


def test_inner_map_is_a_shape_and_replaceable_by_a_live_map(bpf_obj):
    with bpf.Map.create(MapType.ARRAY, 4, 8, 32) as template, bpf.Object.open(bpf_obj("maps")) as obj:
        outer = obj.maps["outer_map"]
        assert outer.inner_map == bpf.MapSpec(MapType.ARRAY, 4, 8, 8, 0)
        with pytest.raises(AttributeError):
            outer.inner_map.max_entries = 32            # a copy, not libbpf's template
        outer.inner_map = template
        template.close()                                # the object keeps its own fd
        assert outer.inner_map.max_entries == 32
        obj.load()
        assert outer.inner_map.max_entries == 32         # still readable: nothing freed is touched
        outer.key_type = outer.value_type = int
        with bpf.Map.create(MapType.ARRAY, 4, 8, 32) as fits, bpf.Map.create(MapType.ARRAY, 4, 8, 8) as old:
            outer[0] = fits.fd
            assert outer[0] == fits.info().id
            with pytest.raises(OSError) as exc:
                outer[1] = old.fd
            assert exc.value.errno == errno.EINVAL
    with pytest.raises(bpf.ClosedError):
        outer.inner_map


def test_count_packets_writes_every_map(bpf_obj):
    with bpf.Object.open(bpf_obj("maps")) as obj:
        obj.load()
        maps = obj.maps
        for m in maps.values():
            m.key_type = m.value_type = int
        result = obj.programs["count_packets"].test_run(bytes(64))
        assert result.retval == TC_ACT_OK and result.data == bytes(64)
        result = obj.programs["count_packets"].test_run(bytes(100), repeat=3)
        assert maps["array_map"][0] == 4 and maps["array_map"][1] == 64 + 3 * 100
        assert dict(maps["hash_map"].items()) == {64: 1, 100: 3}
        assert sum(maps["percpu_array"][0]) == 4
        assert [maps["queue"].pop() for _ in range(5)] == [64, 100, 100, 100, None]
        maps["struct_map"].value_type = bytes
        raw = maps["struct_map"][1]
        assert int.from_bytes(raw[0:4], "little") == 100 and int.from_bytes(raw[4:8], "little") == 7
        assert int.from_bytes(raw[8:16], "little") == 4
        info = obj.programs["count_packets"].info()
        assert info.type == ProgType.SCHED_CLS and info.name == "count_packets"
        assert {maps[n].info().id for n in ("array_map", "hash_map", "queue")} <= set(info.map_ids)


def test_xdp_verdicts_and_counters(bpf_obj):
    with bpf.Object.open(bpf_obj("xdp_pass")) as obj:
        obj.load()
        prog = obj.programs["xdp_count"]
        assert prog.type == ProgType.XDP and prog.section == "xdp"
        assert prog.test_run(bytes(60)).retval == XDP_PASS
        assert prog.test_run(b"\xff" + bytes(59)).retval == XDP_DROP
        stats = obj.maps["xdp_stats"]
        stats.key_type = stats.value_type = int
        assert stats[0] == 2 and stats[1] == 120


def test_tc_program_rewrites_packet_and_reads_config(bpf_obj):
    with bpf.Object.open(bpf_obj("tc_rewrite")) as obj:
        obj.load()
        prog = obj.programs["tc_rewrite"]
        packet = bytes(range(1, 61))
        result = prog.test_run(packet)
        assert result.retval == TC_ACT_OK
        assert result.data == b"\xaa" + packet[1:]
        obj.maps["tc_config"].update(0, 1)
        assert prog.test_run(packet).retval == TC_ACT_SHOT


def test_verifier_rejection_carries_the_log(bpf_obj, caplog):
    caplog.set_level(logging.WARNING, logger="libbpf_py.libbpf")
    with bpf.Object.open(bpf_obj("verifier_reject")) as obj:
        with pytest.raises(bpf.VerifierError) as exc:
            obj.load()
        err = exc.value
        assert err.program == "bad_deref" and err.errno == errno.EACCES
        assert "invalid mem access 'map_value_or_null'" in err.log and not err.truncated
        assert "invalid mem access" in str(err)
        with pytest.raises(OSError) as again:
            obj.load()
        assert again.value.errno == errno.EBUSY
    assert any(r.name == "libbpf_py.libbpf" and "bad_deref" in r.getMessage() for r in caplog.records)


def test_verifier_log_grows_when_the_buffer_is_too_small(bpf_obj):
    with bpf.Object.open(bpf_obj("verifier_reject"), log_size=128) as obj:
        with pytest.raises(bpf.VerifierError) as exc:
            obj.load()
    assert "invalid mem access 'map_value_or_null'" in exc.value.log and not exc.value.truncated
    assert len(exc.value.log) > 128


def test_program_edits_autoload_and_type(bpf_obj):
    with bpf.Object.open(bpf_obj("verifier_reject")) as obj:
        obj.programs["bad_deref"].autoload = False
        good = obj.programs["good_prog"]
        good.type = ProgType.SOCKET_FILTER
        obj.load()
        assert good.info().type == ProgType.SOCKET_FILTER
        with pytest.raises(OSError, match="autoload"):
            obj.programs["bad_deref"].fd


def test_object_from_bytes_and_close(bpf_obj):
    obj = bpf.Object.open(bpf_obj("xdp_pass").read_bytes(), name="from_bytes")
    assert obj.name == "from_bytes"
    obj.load()
    stats, prog = obj.maps["xdp_stats"], obj.programs["xdp_count"]
    obj.close()
    obj.close()
    for use in (lambda: obj.maps, lambda: stats.lookup(0), lambda: stats.max_entries,
                lambda: prog.fd, lambda: prog.test_run(bytes(60)), obj.load):
        with pytest.raises(bpf.ClosedError):
            use()


def test_pin_root_pins_and_reuses_by_name(bpf_obj, bpffs):
    with bpf.Object.open(bpf_obj("pinned"), pin_root=bpffs) as first:
        first.load()
        pinned = first.maps["pinned_counts"]
        assert pinned.pin_path == str(bpffs / "pinned_counts")
        assert (bpffs / "pinned_counts").exists() and not (bpffs / "not_pinned").exists()
        first.programs["pin_count"].test_run(bytes(64))
        map_id = pinned.info().id
        with bpf.Object.open(bpf_obj("pinned"), pin_root=bpffs) as second:
            second.load()
            assert second.maps["pinned_counts"].info().id == map_id
            assert second.maps["not_pinned"].info().id != first.maps["not_pinned"].info().id
            second.maps["pinned_counts"].key_type = second.maps["pinned_counts"].value_type = int
            assert second.maps["pinned_counts"][0] == 1


def test_program_pin_and_from_pinned(bpf_obj, bpffs):
    with bpf.Object.open(bpf_obj("xdp_pass")) as obj:
        obj.load()
        obj.programs["xdp_count"].pin(bpffs / "xdp")
        tag = obj.programs["xdp_count"].info().tag
    with bpf.Program.from_pinned(bpffs / "xdp") as prog:
        assert prog.info().tag == tag and prog.type == ProgType.XDP
        assert prog.test_run(bytes(60)).retval == XDP_PASS
        prog.unpin()
    assert not (bpffs / "xdp").exists()


def test_test_run_output_sizes_are_checked(bpf_obj):
    with bpf.Object.open(bpf_obj("tc_rewrite")) as obj:
        obj.load()
        prog = obj.programs["tc_rewrite"]
        for bad in (0, -1, 2**32):   # 0 would mean "no limit" to the kernel
            with pytest.raises(ValueError, match="data_out_size"):
                prog.test_run(bytes(1000), data_out_size=bad)
        with pytest.raises(OSError, match="does not fit data_out_size=100") as exc:
            prog.test_run(bytes(1000), data_out_size=100)
        assert exc.value.errno == errno.ENOSPC
        with pytest.raises(ValueError, match="repeat"):
            prog.test_run(bytes(64), repeat=-1)
        result = prog.test_run(bytes(64), ctx=bytes(20))   # a short ctx: the kernel returns its whole struct
        assert result.retval == TC_ACT_OK and len(result.ctx) >= 20


def test_verifier_error_keeps_the_verifier_errno_when_the_log_was_cut(bpf_obj):
    with bpf.Object.open(bpf_obj("verifier_reject"), log_size=128) as obj:
        with pytest.raises(bpf.VerifierError) as exc:
            obj.load()
    assert exc.value.errno == errno.EACCES


def test_load_errors_say_what_libbpf_said(bpf_obj, tmp_path):
    with bpf.Object.open(bpf_obj("maps")) as obj:
        obj.maps["hash_map"].max_entries = 0     # the kernel refuses to create it
        with pytest.raises(OSError, match="map 'hash_map': failed to create") as exc:
            obj.load()
        assert exc.value.errno == errno.EINVAL
        with pytest.raises(OSError, match="load failed"):
            obj.maps["array_map"].lookup(0)
    with bpf.Map.create(MapType.ARRAY, 4, 4, 1) as m:
        with pytest.raises(PermissionError, match=f"cannot pin at {tmp_path}/x.*not on a BPF filesystem"):
            m.pin(tmp_path / "x")


class _FailingHook(bpf.ObjectHooks):
    def loaded(self, obj):
        raise RuntimeError("the application's hook refuses")


def test_a_failing_hook_undoes_pins_libbpf_made_without_a_policy(bpf_obj, bpffs):
    (bpffs / "root").mkdir()
    with bpf.Object.open(bpf_obj("pinned"), pin_root=bpffs / "root", hooks=[_FailingHook()]) as obj:
        with pytest.raises(RuntimeError, match="refuses"):
            obj.load()
    assert os.listdir(bpffs / "root") == []


def test_a_keyboard_interrupt_in_a_log_handler_is_raised_after_libbpf_returns(bpf_obj):
    import logging

    class Interrupting(logging.Handler):
        def emit(self, record):
            raise KeyboardInterrupt

    logger = logging.getLogger("libbpf_py.libbpf")
    handler = Interrupting(level=logging.DEBUG)
    logger.addHandler(handler)
    level = logger.level
    logger.setLevel(logging.DEBUG)
    try:
        with pytest.raises(KeyboardInterrupt):
            bpf.Object.open(bpf_obj("maps"))   # libbpf prints while opening: the interrupt is not lost
    finally:
        logger.removeHandler(handler)
        logger.setLevel(level)


def test_a_real_struct_ops_object_loads(bpf_obj):
    with bpf.Object.open(bpf_obj("vmlinux/struct_ops")) as obj:
        obj.load()
        assert obj.maps["mini_cc"].info().type == MapType.STRUCT_OPS


DROP_WITHOUT_CLOSE = r"""
import gc, os, resource, sys
import libbpf_py as bpf
gc.disable()                       # only reference counting: no cycle may hold an object's fds
resource.setrlimit(resource.RLIMIT_NOFILE, (128, resource.getrlimit(resource.RLIMIT_NOFILE)[1]))
path = sys.argv[1]
bpf.Object.open(path).load()       # everything imported
before = len(os.listdir("/proc/self/fd"))
for _ in range(300):
    obj = bpf.Object.open(path)
    obj.load()
    obj.maps["hash_map"][1] = 1
    del obj                        # forgotten without close()
kept = bpf.Object.open(path).load().maps["hash_map"]   # a map kept from a dropped object stays usable
kept.key_type = kept.value_type = int
kept[1] = 5
assert kept[1] == 5
del kept
print(len(os.listdir("/proc/self/fd")) - before)
"""


def test_objects_dropped_without_close_release_their_fds_at_once(bpf_obj):
    done = subprocess.run([sys.executable, "-c", DROP_WITHOUT_CLOSE, str(bpf_obj("maps"))], capture_output=True,
                          text=True, timeout=120)
    assert done.returncode == 0, done.stderr
    assert int(done.stdout) <= 0


HEAVY = ("logging", "dataclasses", "inspect", "hashlib", "_hashlib", "socket")


def _imported_after(call: str, modules, bpf_obj, bpffs) -> str:
    """Which of ``modules`` a fresh ``python -S`` process has imported after ``call``, printed."""
    code = ("import sys, libbpf_py as bpf\n"
            f"path, legacy = sys.argv[1], sys.argv[2]\n{call}\n"
            f"print(sorted(m for m in {tuple(modules)!r} if m in sys.modules))")
    env = dict(os.environ, PYTHONPATH=str(Path(bpf.__file__).parent.parent), TC_BPF_MNT=str(bpffs))
    done = subprocess.run([sys.executable, "-S", "-c", code, str(bpf_obj("xdp_pass")),
                           str(bpf_obj("iproute2/tail_call"))], capture_output=True, text=True, env=env, timeout=60)
    assert done.returncode == 0, done.stderr
    return done.stdout.strip()


@pytest.mark.parametrize("call", ["bpf.Object.open(path).load()", "bpf.iproute2.open(legacy).load()"])
def test_loading_an_object_imports_nothing_heavy(bpf_obj, bpffs, call):
    """The start-up budget: a process that only loads an object imports none of the modules
    that cost milliseconds and it does not use (logging, dataclasses with inspect, OpenSSL)."""
    assert _imported_after(call, HEAVY, bpf_obj, bpffs) == "[]"


# What a load never needs: for a BTF object without a pin policy, the old formats, links and
# netlink (until a program attaches) and the pin session (until a policy pins); for tc's
# loading of a legacy object, the attaching side.
ON_DEMAND = {
    "bpf.Object.open(path).load()": ("libbpf_py.compat", "libbpf_py.links", "libbpf_py.netdev", "libbpf_py.hooks",
                                     "libbpf_py.pinning.session", "libbpf_py.tools"),
    "bpf.iproute2.open(legacy).load()": ("libbpf_py.links", "libbpf_py.netdev", "libbpf_py.iproute2.attaching",
                                         "libbpf_py.tools"),
}


@pytest.mark.parametrize("call", sorted(ON_DEMAND))
def test_a_load_leaves_the_other_paths_unimported(bpf_obj, bpffs, call):
    assert _imported_after(call, ON_DEMAND[call], bpf_obj, bpffs) == "[]"


def test_a_handles_lifecycle_is_a_state_of_its_own_type(bpf_obj):
    """An object's map is a Definition until load, then InObject (live on the object's fd, or
    not created with the reason), Gone once its object closes; a standalone one is Standalone
    until it closes."""
    from libbpf_py._handle import Definition, Gone, InObject, Standalone

    with bpf.Object.open(bpf_obj("maps")) as obj:
        m, skipped = obj.maps["array_map"], obj.maps["hash_map"]
        for program in obj.programs.values():  # (they use both maps)
            program.autoload = False
        skipped.autocreate = False
        assert type(m._state) is Definition
        obj.load()
        assert type(m._state) is InObject and m._state.missing is None and m.fd >= 0
        assert type(skipped._state) is InObject and "was not created" in skipped._state.missing
    assert type(m._state) is Gone and m.closed
    with bpf.Map.create(MapType.ARRAY, 4, 4, 1) as standalone:
        assert type(standalone._state) is Standalone
    assert type(standalone._state) is Gone
