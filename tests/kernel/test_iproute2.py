"""Legacy tc/ip objects through the shim, against the real kernel, with iproute2's semantics."""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import subprocess

import pytest
from support import load, pin_tree, pinned_map_id

import libbpf_py as bpf
from libbpf_py import iproute2


@pytest.fixture
def tc_mnt(bpffs, monkeypatch):
    """A private bpffs that tc's layout uses, through TC_BPF_MNT as with tc itself."""
    monkeypatch.setenv("TC_BPF_MNT", str(bpffs))
    return bpffs


GLOBALS = {"tc", "tc/globals", "xdp", "ip"}


@pytest.mark.parametrize("suffix", ["", "-nog"])
def test_global_namespace_layout_and_hierarchy(bpf_obj, tc_mnt, suffix):
    with load(bpf_obj("iproute2/global_ns" + suffix)) as obj:
        assert pin_tree(tc_mnt) == GLOBALS | {"tc/globals/stats_global", "tc/globals/seen_len"}
        assert os.readlink(tc_mnt / "xdp") == f"{tc_mnt}/tc/" and os.readlink(tc_mnt / "ip") == f"{tc_mnt}/tc/"
        assert obj.maps["stats_global"].pin_path == str(tc_mnt / "tc/globals/stats_global")
        prog = obj.programs["cls_main"]
        assert prog.info().type == bpf.ProgType.SCHED_CLS
        assert [prog.test_run(bytes(n)).retval for n in (60, 60, 100)] == [0, 0, 0]
        stats = obj.maps["stats_global"]
        stats.key_type = stats.value_type = int
        assert (stats[0], stats[1]) == (3, 220)
        first = stats.info().id
    with load(bpf_obj("iproute2/global_ns" + suffix)) as again:  # reused, with its contents
        assert again.reused_maps == {"stats_global", "seen_len"}
        assert again.maps["stats_global"].info().id == first == pinned_map_id(tc_mnt / "tc/globals/stats_global")


def test_object_namespace_is_the_sha1_of_the_original_file(bpf_obj, tc_mnt):
    path = bpf_obj("iproute2/object_ns")
    digest = hashlib.sha1(path.read_bytes()).hexdigest()
    with load(path) as obj:
        assert pin_tree(tc_mnt) == GLOBALS | {f"tc/{digest}", f"tc/{digest}/stats_obj"}
        assert obj.maps["scratch"].pin_path is None   # PIN_NONE


def test_custom_pinning_ids(bpf_obj, tc_mnt):
    with load(bpf_obj("iproute2/custom_pin"), iproute2.open, pinning_db={5: "custom/cls1"}):
        assert pin_tree(tc_mnt) == GLOBALS | {"custom", "custom/cls1", "custom/cls1/map_custom",
                                          "tc/globals/map_global"}   # id 77 is unknown: no pin


def test_custom_pinning_database_file(tmp_path, bpf_obj, tc_mnt):
    db = tmp_path / "bpf_pinning"
    db.write_text("# comment\n  5\tcls5   # five\n0x4d deep/er\n")
    table = bpf.compat.read_pinning_db([str(tmp_path / "absent"), str(db)])
    assert table == {5: "cls5", 77: "deep/er"}
    with load(bpf_obj("iproute2/custom_pin"), iproute2.open, pinning_db=table):
        assert {"cls5/map_custom", "deep/er/map_unknown", "tc/globals/map_global"} <= pin_tree(tc_mnt)


def test_mismatch_is_reported_field_by_field_like_iproute2(bpf_obj, tc_mnt):
    (tc_mnt / "tc" / "globals").mkdir(parents=True)
    with bpf.Map.create(bpf.MapType.ARRAY, 4, 8, 8) as other:
        other.pin(tc_mnt / "tc/globals/stats_global")
        before = other.info().id
    with pytest.raises(bpf.MapIncompatibleError) as exc:
        load(bpf_obj("iproute2/global_ns"))
    message = str(exc.value)
    assert "Map specification differs from pinned file!" in message
    assert "max_entries: object 2, pinned 8" in message and "Map 'stats_global' self-check failed!" in message
    assert pinned_map_id(tc_mnt / "tc/globals/stats_global") == before
    assert "tc/globals/seen_len" not in pin_tree(tc_mnt)


def test_a_pinned_program_at_a_map_path_is_refused(bpf_obj, tc_mnt):
    (tc_mnt / "tc" / "globals").mkdir(parents=True)
    with bpf.Object.open(bpf_obj("xdp_pass")) as other:
        other.load()
        other.programs["xdp_count"].pin(tc_mnt / "tc/globals/stats_global")
    with pytest.raises(bpf.LibbpfError, match="pinned prog"):
        load(bpf_obj("iproute2/global_ns"))


def test_failed_load_removes_its_pins_unlike_tc(bpf_obj, tc_mnt):
    with load(bpf_obj("iproute2/global_ns")) as obj:
        kept = obj.maps["seen_len"].info().id
    with pytest.raises(bpf.VerifierError) as exc:
        load(bpf_obj("iproute2/reject"))
    assert exc.value.program == "cls_reject"
    assert "tc/globals/reject_fresh" not in pin_tree(tc_mnt)
    assert pinned_map_id(tc_mnt / "tc/globals/seen_len") == kept


def test_map_in_map_wiring(bpf_obj, tc_mnt):
    with load(bpf_obj("iproute2/map_in_map")) as obj:
        maps = obj.maps
        for m in maps.values():
            m.key_type = m.value_type = int
        assert dict(maps["mim_outer_arr"].items()) == {1: maps["mim_inner_a"].info().id}
        assert dict(maps["mim_outer_hash"].items()) == {2: maps["mim_inner_h"].info().id}
        assert dict(maps["mim_outer_skip"].items()) == {}           # inner_idx -1: not inserted
        assert obj.programs["cls_map_in_map"].test_run(bytes(64)).retval == 3
        assert maps["mim_inner_a"][0] == 1 and maps["mim_inner_h"][0] == 1
        first_inner = maps["mim_inner_a"].info().id
    with load(bpf_obj("iproute2/map_in_map")) as again:
        # outers reused from a pin keep their slots (documented): the first load's inner map
        outer = again.maps["mim_outer_arr"]
        outer.key_type = outer.value_type = int
        assert "mim_outer_arr" in again.reused_maps and outer[1] == first_inner


def test_tail_calls_fill_the_prog_array(bpf_obj, tc_mnt):
    with load(bpf_obj("iproute2/tail_call")) as obj:
        progs = obj.programs
        assert {n: p.autoload for n, p in progs.items()} == \
            {"cls_entry": True, "tail_0": True, "tail_1": True, "tail_orphan": False}
        table = obj.maps["jmp_table"]
        table.key_type = table.value_type = int
        assert dict(table.items()) == {0: progs["tail_0"].info().id, 1: progs["tail_1"].info().id}
        assert {p.info().type for n, p in progs.items() if p.autoload} == {bpf.ProgType.SCHED_CLS}
        entry = progs["cls_entry"]
        assert [entry.test_run(bytes([k]) + bytes(63)).retval for k in range(5)] == [10, 11, 1, 1, 1]
        hits = obj.maps["tail_hits"]
        hits.key_type = hits.value_type = int
        assert [hits[k] for k in range(4)] == [1, 1, 0, 0]


@pytest.mark.parametrize("name, prog_type, program", [("xdp_prog", "xdp", "xdp_main"),
                                                      ("action", "sched_act", "act_main")])
def test_other_commands(bpf_obj, tc_mnt, name, prog_type, program):
    with load(bpf_obj(f"iproute2/{name}"), iproute2.open, prog_type=prog_type) as obj:
        prog = obj.programs[program]
        assert prog.info().type == bpf.compat.PROG_TYPES[prog_type][0]
        assert prog.test_run(bytes(64)).retval == (2 if prog_type == "xdp" else 0)


def test_section_selection(bpf_obj, tc_mnt):
    with pytest.raises(FileNotFoundError, match="no program in section 'ingress'"):
        iproute2.open(bpf_obj("iproute2/global_ns"), section="ingress")
    with load(bpf_obj("iproute2/tail_call"), iproute2.open, section="42/1") as obj:   # a tail section as the main one
        assert obj.programs["tail_1"].test_run(bytes(64)).retval == 11
        assert not obj.programs["cls_entry"].autoload


def test_short_strides_and_kv_annotations_load(bpf_obj, tc_mnt):
    with load(bpf_obj("iproute2/short_stride")) as obj:
        assert obj.programs["cls_short_stride"].test_run(bytes(64)).retval == 0
        assert obj.maps["ss_hash_np"].info().flags == bpf.MapFlags.NO_PREALLOC
    with load(bpf_obj("iproute2/kv_annotated")) as obj:
        assert obj.maps["kv_map"].info().btf_key_type_id != 0   # key/value types reached the kernel
        obj.programs["cls_kv"].test_run(bytes(64))
    if shutil.which("bpftool"):  # and bpftool pretty-prints the map with them
        dump = subprocess.run(["bpftool", "-j", "map", "dump", "pinned", str(tc_mnt / "tc/globals/kv_map")],
                              capture_output=True, text=True, check=True).stdout
        assert json.loads(dump)[0]["formatted"] == {"key": {"saddr": 0x0A000001, "daddr": 0x0A000002},
                                                    "value": {"packets": 1, "bytes": 64}}


def test_every_object_loads_on_every_build(bpf_obj, tc_mnt):
    for name in ("global_ns", "object_ns", "custom_pin", "map_in_map", "tail_call", "short_stride",
                 "kv_annotated"):
        for suffix in ("", "-nog"):
            with load(bpf_obj(f"iproute2/{name + suffix}")):
                pass


def test_tail_call_sections_are_matched_as_iproute2_matches_them(bpf_obj, tc_mnt):
    with load(bpf_obj("iproute2/tail_names")) as obj:
        progs = obj.programs
        slots = {}
        for name in ("jt42", "jt0", "jt7a", "jt7b"):
            table = obj.maps[name]
            table.key_type = table.value_type = int
            slots[name] = dict(table.items())
        assert slots == {"jt42": {1: progs["t_slash"].info().id, 2: progs["t_suffix"].info().id},
                         "jt0": {3: progs["t_id0"].info().id},
                         "jt7a": {0: progs["t_dup"].info().id}, "jt7b": {}}
        assert progs["cls_names"].test_run(bytes(64)).retval == 21


def test_a_failed_load_puts_back_the_programs_it_replaced_in_a_reused_prog_array(bpf_obj, tc_mnt):
    """As with tc: the first object is gone, its tail programs live only in the pinned prog array."""
    class Refuse(bpf.ObjectHooks):
        def loaded(self, obj):
            raise RuntimeError("refused after the shim wired the tail calls")

    with load(bpf_obj("iproute2/tail_call")) as first:
        slots = {key: first.programs[name].info().id for key, name in ((0, "tail_0"), (1, "tail_1"))}
    with bpf.Map.from_pinned(tc_mnt / "tc/globals/jmp_table") as jmp:
        jmp.key_type = jmp.value_type = int
        assert dict(jmp.items()) == slots
        second = iproute2.open(bpf_obj("iproute2/tail_call"), hooks=[Refuse()])
        with second, pytest.raises(RuntimeError, match="refused"):
            second.load()
        assert dict(jmp.items()) == slots
        with load(bpf_obj("iproute2/tail_call")) as third:  # a load that stands replaces them for good
            assert dict(jmp.items()) == {key: third.programs[f"tail_{key}"].info().id for key in (0, 1)}


def test_the_cli_runs_a_legacy_entry_program_with_its_tail_calls(bpf_obj, tc_mnt, capsys):
    from libbpf_py.cli import main

    assert main(["run", str(bpf_obj("iproute2/tail_call")), "cls_entry", "--data-hex", "00" * 64]) == 0
    assert json.loads(capsys.readouterr().out)["retval"] is not None
