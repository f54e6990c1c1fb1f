"""Parity with iproute2's own legacy loader: the same legacy objects loaded by a `tc` built
without libbpf (vendor/iproute2/build-legacy-tc) and by the shim, each into its own bpffs, give
the same pin trees, map attributes, prog-array and outer-map contents; pins made by either are
reused by the other. Differences by design are asserted explicitly:

- kernel map and program names: tc sets none, libbpf sets them (the shim keeps handles, so
  reuse in either direction works regardless);
- PIN_OBJECT_NS objects: tc 6.1 names the directory with an AF_ALG sha1 socket, which this
  kernel lacks, so tc refuses them; their directory is compared with `sha1sum` of the file in
  tests/kernel/test_iproute2.py instead.
"""

from __future__ import annotations

import os
import subprocess
from pathlib import Path

import pytest
from support import built_tool, load, pin_tree, pinned_map_id

import libbpf_py as bpf
from libbpf_py import iproute2

ROOT = Path(__file__).resolve().parents[2]
LEGACY_TC = Path(os.environ.get("LIBBPF_PY_LEGACY_TC", ROOT / "vendor/cache/iproute2-6.1.0-legacy/tc"))



@pytest.fixture
def tc_netns():
    """A namespace with a veth pair for tc to attach to; deleted by name afterwards."""
    built_tool(LEGACY_TC, "vendor/iproute2/build-legacy-tc")
    name = f"lbpy_tc_{os.getpid() % 100000}"
    subprocess.run(["ip", "netns", "add", name], check=True)
    try:
        subprocess.run(["ip", "-n", name, "link", "add", "v0", "type", "veth", "peer", "name", "v1"], check=True)
        subprocess.run(["ip", "-n", name, "link", "set", "v0", "up"], check=True)
        yield name
    finally:
        subprocess.run(["ip", "netns", "del", name], check=False)


def legacy_tc(ns: str, mnt: Path, *args: str) -> subprocess.CompletedProcess:
    # nsenter, not `ip netns exec`: the latter remounts /sys, and pins would vanish with it
    return subprocess.run(["nsenter", f"--net=/run/netns/{ns}", str(LEGACY_TC), *args],
                          env={**os.environ, "TC_BPF_MNT": str(mnt)}, capture_output=True, text=True)


def tc_load(ns: str, mnt: Path, obj: Path, section: str = "classifier") -> None:
    legacy_tc(ns, mnt, "qdisc", "add", "dev", "v0", "clsact")
    done = legacy_tc(ns, mnt, "filter", "replace", "dev", "v0", "ingress", "bpf", "da", "obj", str(obj),
                     "sec", section)
    assert done.returncode == 0, done.stderr


def shim_load(mnt: Path, obj: Path):
    return load(obj, iproute2.open, mnt=str(mnt))


def pins(mnt: Path) -> dict:
    """Relative path → (type, key, value, max_entries, flags) of every map pinned under mnt."""
    out = {}
    for path in sorted(mnt.rglob("*")):
        if path.is_symlink() or path.is_dir() or path.name in ("maps.debug", "progs.debug"):
            continue
        with bpf.Map.from_pinned(path) as m:
            info = m.info()
            out[str(path.relative_to(mnt))] = (info.type, info.key_size, info.value_size, info.max_entries,
                                               info.flags)
    return out


def slot_shapes(path: Path) -> dict:
    """Key → what sits there: a map's shape (map-in-map) or 'prog' (prog array)."""
    out = {}
    with bpf.Map.from_pinned(path) as m:
        m.key_type = m.value_type = int
        kind = m.info().type
        for key, ident in m.items():   # empty array slots are skipped by items()
            if kind == bpf.MapType.PROG_ARRAY:
                with bpf.Program.from_id(ident) as prog:
                    out[key] = ("prog", prog.info().type)
            else:
                with bpf.Map.from_id(ident) as inner:
                    i = inner.info()
                    out[key] = (i.type, i.key_size, i.value_size, i.max_entries)
    return out


def kernel_names(mnt: Path) -> set:
    names = set()
    for rel in pins(mnt):
        with bpf.Map.from_pinned(mnt / rel) as m:
            names.add(m.info().name)
    return names


@pytest.mark.parametrize("name", ["global_ns", "global_ns-nog", "custom_pin", "map_in_map", "tail_call", "tail_names",
                                  "short_stride", "kv_annotated", "kv_annotated-nog"])
def test_same_pins_attributes_and_slots_as_tc(bpf_obj, tc_netns, new_bpffs, name):
    tc_mnt, shim_mnt = new_bpffs(), new_bpffs()
    obj = bpf_obj(f"iproute2/{name}")
    tc_load(tc_netns, tc_mnt, obj)
    with shim_load(shim_mnt, obj):
        assert pin_tree(shim_mnt) == pin_tree(tc_mnt)
        assert pins(shim_mnt) == pins(tc_mnt)
        for rel, shape in pins(tc_mnt).items():
            if shape[0] in (bpf.MapType.PROG_ARRAY, bpf.MapType.ARRAY_OF_MAPS, bpf.MapType.HASH_OF_MAPS):
                assert slot_shapes(shim_mnt / rel) == slot_shapes(tc_mnt / rel), rel
        # by design: tc creates maps without a kernel name, libbpf names them
        assert kernel_names(tc_mnt) <= {""}
        assert "" not in kernel_names(shim_mnt)


def test_pins_are_reused_in_both_directions(bpf_obj, tc_netns, new_bpffs):
    tc_first, shim_first = new_bpffs(), new_bpffs()
    obj = bpf_obj("iproute2/tail_call")
    tc_load(tc_netns, tc_first, obj)
    before = {rel: pinned_map_id(tc_first / rel) for rel in pins(tc_first)}
    with shim_load(tc_first, obj) as loaded:          # the shim reuses tc's pins
        assert loaded.reused_maps == {"jmp_table", "tail_hits"}
        assert {rel: pinned_map_id(tc_first / rel) for rel in pins(tc_first)} == before
        assert loaded.maps["jmp_table"].info().id == before["tc/globals/jmp_table"]
        assert loaded.maps["jmp_table"].name == "jmp_table"          # the handle kept its name
    with shim_load(shim_first, obj):
        ours = {rel: pinned_map_id(shim_first / rel) for rel in pins(shim_first)}
    tc_load(tc_netns, shim_first, obj)                               # tc reuses the shim's pins
    assert {rel: pinned_map_id(shim_first / rel) for rel in pins(shim_first)} == ours


def test_a_mismatch_fails_in_both(bpf_obj, tc_netns, new_bpffs):
    tc_mnt, shim_mnt = new_bpffs(), new_bpffs()
    for mnt in (tc_mnt, shim_mnt):
        (mnt / "tc" / "globals").mkdir(parents=True)
        with bpf.Map.create(bpf.MapType.ARRAY, 4, 8, 7) as other:
            other.pin(mnt / "tc/globals/stats_global")
    legacy_tc(tc_netns, tc_mnt, "qdisc", "add", "dev", "v0", "clsact")
    done = legacy_tc(tc_netns, tc_mnt, "filter", "add", "dev", "v0", "ingress", "bpf", "da", "obj",
                     str(bpf_obj("iproute2/global_ns")), "sec", "classifier")
    assert done.returncode != 0 and "Map specification differs from pinned file!" in done.stderr
    assert "Max elems:    2 (obj) != 7 (pin)" in done.stderr
    with pytest.raises(bpf.MapIncompatibleError, match="max_entries: object 2, pinned 7"):
        shim_load(shim_mnt, bpf_obj("iproute2/global_ns"))


def test_failed_loads_differ_by_design(bpf_obj, tc_netns, new_bpffs):
    """tc leaves the pins of a load the verifier rejected; the shim removes the ones it made."""
    tc_mnt, shim_mnt = new_bpffs(), new_bpffs()
    legacy_tc(tc_netns, tc_mnt, "qdisc", "add", "dev", "v0", "clsact")
    done = legacy_tc(tc_netns, tc_mnt, "filter", "add", "dev", "v0", "ingress", "bpf", "da", "obj",
                     str(bpf_obj("iproute2/reject")), "sec", "classifier")
    assert done.returncode != 0
    assert {"tc/globals/seen_len", "tc/globals/reject_fresh"} <= pin_tree(tc_mnt)
    with pytest.raises(bpf.VerifierError):
        shim_load(shim_mnt, bpf_obj("iproute2/reject"))
    assert pin_tree(shim_mnt) == {"tc", "tc/globals", "xdp", "ip"}


def tc_show(ns: str, dev: str) -> str:
    done = subprocess.run(["nsenter", f"--net=/run/netns/{ns}", "tc", "filter", "show", "dev", dev, "ingress"],
                          capture_output=True, text=True, check=True)
    return done.stdout


def test_attach_filter_leaves_what_tc_filter_add_leaves(bpf_obj, tc_netns, new_bpffs):
    """The same object, attached by iproute2's tc on v0 and by attach_filter on v1: `tc filter
    show` prints both filters the same (name, pref, handle, direct-action, tag), ids aside."""
    import re

    from support import inside

    obj_path = bpf_obj("iproute2/global_ns")
    subprocess.run(["ip", "-n", tc_netns, "link", "set", "v1", "up"], check=True)
    tc_load(tc_netns, new_bpffs(), obj_path)
    with load(obj_path, iproute2.open, mnt=str(new_bpffs())) as obj:
        with inside(tc_netns):
            link = iproute2.attach_filter("v1", "ingress", obj.programs["cls_main"], object_name=str(obj_path),
                                          section="classifier")
        try:
            # ids differ, and the legacy tc gives its programs no kernel name (see the docstring)
            theirs, ours = (re.sub(r" id \d+ name \S*", " id N name -", tc_show(tc_netns, dev)) for dev in ("v0", "v1"))
            assert "global_ns.o:[classifier] direct-action" in ours
            assert ours == theirs
            assert (link.tc_priority, link.tc_handle) == (49152, 1)
        finally:
            link.detach()  # from the root namespace: the filter is found in its own
    assert "bpf" not in tc_show(tc_netns, "v1")


def test_filters_lists_and_detach_filter_deletes_one_that_tc_added(bpf_obj, tc_netns, new_bpffs):
    from support import inside

    tc_load(tc_netns, new_bpffs(), bpf_obj("iproute2/global_ns"))
    with inside(tc_netns):
        listed = iproute2.filters("v0", "ingress")
        assert [(f.name, f.priority, f.handle, f.direct_action) for f in listed] == \
            [("global_ns.o:[classifier]", 49152, 1, True)]
        assert listed[0].prog_id > 0
        iproute2.detach_filter("v0", "ingress", priority=49152, handle=1)
        assert iproute2.filters("v0", "ingress") == []
    assert "bpf" not in tc_show(tc_netns, "v0")


def test_the_tc_command_leaves_what_tc_leaves_and_the_filter_outlives_it(bpf_obj, tc_netns, new_bpffs):
    """`libbpf-py tc OBJ --dev v1 --sec S` beside iproute2's `tc filter add dev v0 ... obj OBJ sec S`:
    the same filter in `tc filter show`, the same pin tree, and the filter stays after the command."""
    import json
    import re
    import sys

    obj_path = bpf_obj("iproute2/global_ns")
    theirs_mnt, ours_mnt = new_bpffs(), new_bpffs()
    subprocess.run(["ip", "-n", tc_netns, "link", "set", "v1", "up"], check=True)
    tc_load(tc_netns, theirs_mnt, obj_path)
    done = subprocess.run(["nsenter", f"--net=/run/netns/{tc_netns}", sys.executable, "-m", "libbpf_py.cli", "tc",
                           str(obj_path), "--dev", "v1", "--sec", "classifier", "--json"],
                          env={**os.environ, "TC_BPF_MNT": str(ours_mnt)}, capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr
    record = json.loads(done.stdout)
    assert (record["pref"], record["handle"], record["name"]) == (49152, 1, "global_ns.o:[classifier]")
    assert record["pinned"] and all(path.startswith(f"{ours_mnt}/tc/globals/") for path in record["pinned"])
    theirs, ours = (re.sub(r" id \d+ name \S*", " id N name -", tc_show(tc_netns, dev)) for dev in ("v0", "v1"))
    assert f"id {record['prog_id']} " in tc_show(tc_netns, "v1") and ours == theirs
    assert pins(ours_mnt) == pins(theirs_mnt)


def slot_program(path: Path, key: int = 0):
    """(type, tag) of the program at ``key`` of the prog array pinned at ``path``."""
    with bpf.Map.from_pinned(path) as m:
        m.key_type = m.value_type = int
        with bpf.Program.from_id(m[key]) as prog:
            info = prog.info()
            return info.type, info.tag


def test_graft_does_what_tc_exec_bpf_graft_does(bpf_obj, tc_netns, new_bpffs):
    """iproute2's graft example: the classifier tail calls jmp_tc[0]; `tc exec bpf graft
    m:globals/jmp_tc key 0 obj F sec aaa` puts section aaa there. Both ways alike, and each
    grafts into the other's pinned map."""
    path = bpf_obj("iproute2/graft")
    theirs, ours = new_bpffs(), new_bpffs()
    tc_load(tc_netns, theirs, path)
    done = legacy_tc(tc_netns, theirs, "exec", "bpf", "graft", "m:globals/jmp_tc", "key", "0", "obj", str(path),
                     "sec", "aaa")
    assert done.returncode == 0, done.stderr
    with shim_load(ours, path) as obj:
        assert obj.programs["cls_entry"].test_run(bytes(64)).retval == 1  # nothing grafted yet
        prog_id = iproute2.graft("m:globals/jmp_tc", 0, path, section="aaa", mnt=str(ours))
        assert slot_program(ours / "tc" / "globals" / "jmp_tc") == slot_program(theirs / "tc" / "globals" / "jmp_tc")
        with bpf.Program.from_id(prog_id) as grafted:
            assert grafted.info().type == bpf.ProgType.SCHED_CLS
        assert obj.programs["cls_entry"].test_run(bytes(64)).retval == 42
        iproute2.graft(str(ours / "tc" / "globals" / "jmp_tc"), 0, path, section="bbb", mnt=str(ours))  # a pin path
        assert obj.programs["cls_entry"].test_run(bytes(64)).retval == 43
    iproute2.graft("m:globals/jmp_tc", 0, path, section="bbb", mnt=str(theirs))  # into tc's own map
    bbb_tag = slot_program(theirs / "tc" / "globals" / "jmp_tc")[1]
    done = legacy_tc(tc_netns, theirs, "exec", "bpf", "graft", "m:globals/jmp_tc", "key", "0", "obj", str(path),
                     "sec", "bbb")
    assert done.returncode == 0 and slot_program(theirs / "tc" / "globals" / "jmp_tc")[1] == bbb_tag


def test_graft_refusals(bpf_obj, new_bpffs):
    mnt = new_bpffs()
    path = bpf_obj("iproute2/graft")
    with pytest.raises(ValueError, match="does not say one"):
        iproute2.graft("m:globals/jmp_tc", None, path, section="aaa", mnt=str(mnt))
    with shim_load(mnt, bpf_obj("iproute2/tail_call")):
        with pytest.raises(ValueError, match="PROG_ARRAY of 4 and 4"):
            iproute2.graft("m:globals/tail_hits", 0, path, section="aaa", mnt=str(mnt))
    with pytest.raises(FileNotFoundError):
        iproute2.graft("m:globals/nothing", 0, path, section="aaa", mnt=str(mnt))
    with shim_load(mnt, path):
        before = pins(mnt)
        with pytest.raises(ValueError, match="not a slot"):
            iproute2.graft("m:globals/jmp_tc", 5, path, section="aaa", mnt=str(mnt))  # checked before any load
        with pytest.raises(OSError):
            iproute2.graft("m:globals/jmp_tc", 0, bpf_obj("iproute2/graft_objns"), section="aaa", prog_type="xdp",
                           mnt=str(mnt))  # an XDP program in a prog array of classifiers: refused
        assert pins(mnt) == before  # a load whose graft failed leaves none of its pins


def test_graft_with_a_btf_object_as_debian_tc_does(bpf_obj, new_bpffs):
    """The same with BTF-defined maps (jmp_tc pinned by name under tc/globals), against the
    system tc where it is built with libbpf."""
    done = subprocess.run(["tc", "-V"], capture_output=True, text=True)
    if done.returncode or "libbpf" not in done.stdout:
        pytest.skip("the system tc is not built with libbpf")
    path = bpf_obj("graft_btf")
    theirs, ours = new_bpffs(), new_bpffs()
    name = f"lbpy_graft_{os.getpid() % 100000}"
    subprocess.run(["ip", "netns", "add", name], check=True)
    try:
        env = {**os.environ, "TC_BPF_MNT": str(theirs)}
        tc = ["nsenter", f"--net=/run/netns/{name}", "tc"]
        subprocess.run([*tc, "qdisc", "add", "dev", "lo", "clsact"], check=True, env=env)
        for args in (["filter", "add", "dev", "lo", "ingress", "bpf", "da", "obj", str(path), "sec", "tc"],
                     ["exec", "bpf", "graft", "m:globals/jmp_tc", "key", "0", "obj", str(path), "sec", "aaa"]):
            done = subprocess.run([*tc, *args], capture_output=True, text=True, env=env)
            assert done.returncode == 0, done.stderr
        with iproute2.open(path, section="tc", mnt=str(ours)) as obj:
            obj.load()
            iproute2.graft("m:globals/jmp_tc", 0, path, section="aaa", mnt=str(ours))
            assert slot_program(ours / "tc" / "globals" / "jmp_tc") == \
                slot_program(theirs / "tc" / "globals" / "jmp_tc")
            assert obj.programs["cls_entry"].test_run(bytes(64)).retval == 42
    finally:
        subprocess.run(["ip", "netns", "del", name], check=False)


def test_an_object_reading_rodata_is_refused_by_legacy_tc_and_loaded_by_the_shim(bpf_obj, tc_netns, new_bpffs):
    """A difference from tc, documented in docs/legacy-tc.rst: constants in .rodata and .rodata.str1.1
    cannot be relocated by tc's legacy loader; libbpf relocates them, through internal maps
    that are not pinned."""
    path = bpf_obj("iproute2/rodata")
    legacy_tc(tc_netns, new_bpffs(), "qdisc", "add", "dev", "v0", "clsact")
    done = legacy_tc(tc_netns, new_bpffs(), "filter", "add", "dev", "v0", "ingress", "bpf", "da", "obj", str(path),
                     "sec", "classifier")
    assert done.returncode != 0
    mnt = new_bpffs()
    with shim_load(mnt, path) as obj:
        internal = {name: m.pin_path for name, m in obj.maps.items() if m.is_internal}
        assert sorted(name.split(".", 1)[1] for name in internal) == ["rodata", "rodata.str1.1"]
        assert set(internal.values()) == {None}
        assert obj.maps["seen"].pin_path == str(mnt / "tc" / "globals" / "seen")
        assert [obj.programs["cls_weights"].test_run(bytes(n)).retval for n in (64, 65, 66, 67)] == [3, 5, 7, 11]
