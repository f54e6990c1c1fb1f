"""Pin decisions and compatibility rules: pure, no kernel needed."""

from __future__ import annotations

import pytest

from libbpf_py import Difference, MapSpec, MapType, PinByName
from libbpf_py.pinning import check_name


class FakeMap:
    def __init__(self, name, internal=False):
        self.name, self.is_internal = name, internal


class FakeProgram:
    def __init__(self, name):
        self.name = name


HASH = MapSpec(MapType.HASH, 4, 8, 256, 0)


@pytest.mark.parametrize("bad", ["", ".", "..", "a/b", "../up", "nul\0", "x" * 256, "obj.bss"])
def test_names_that_would_escape_or_break_the_root_are_refused(bad):
    with pytest.raises(ValueError):
        check_name(bad)


def test_plain_names_pass():
    assert check_name("counts_v2") == "counts_v2" and check_name("x" * 255) == "x" * 255


def test_policy_pins_what_the_definition_asks_for(tmp_path):
    policy = PinByName(tmp_path, mount=True)  # mount=True: no bpffs check at construction
    assert policy.map_path(FakeMap("counts"), requested=True) == str(tmp_path / "counts")
    assert policy.map_path(FakeMap("other"), requested=False) is None
    assert policy.program_path(FakeProgram("prog")) is None


def test_policy_all_skips_internal_maps_and_names_select(tmp_path):
    every = PinByName(tmp_path, maps="all", programs="all", mount=True)
    assert every.map_path(FakeMap("other"), requested=False) == str(tmp_path / "other")
    assert every.map_path(FakeMap("obj.bss", internal=True), requested=False) is None
    assert every.program_path(FakeProgram("prog")) == str(tmp_path / "prog")
    named = PinByName(tmp_path, maps={"b"}, programs=["p"], mount=True)
    assert named.map_path(FakeMap("a"), requested=False) is None
    assert named.map_path(FakeMap("b"), requested=False) == str(tmp_path / "b")
    assert named.program_path(FakeProgram("q")) is None


def test_policy_refuses_an_escaping_name_before_anything_is_created(tmp_path):
    policy = PinByName(tmp_path, maps="all", mount=True)
    with pytest.raises(ValueError, match="escape"):
        policy.map_path(FakeMap("../../etc"), requested=True)
    assert list(tmp_path.iterdir()) == []


def test_policy_arguments_are_checked(tmp_path):
    with pytest.raises(ValueError, match="on_mismatch"):
        PinByName(tmp_path, on_mismatch="ignore", mount=True)
    with pytest.raises(ValueError, match="maps"):
        PinByName(tmp_path, maps="counts", mount=True)


def test_root_off_bpffs_is_refused_with_the_mount_command(tmp_path):
    with pytest.raises(OSError, match="mount -t bpf bpf /sys/fs/bpf"):
        PinByName(tmp_path)


def test_compatible_shapes_have_no_differences():
    assert HASH.differences(HASH) == []


def test_every_differing_field_is_named_with_both_values():
    pinned = MapSpec(MapType.ARRAY, 8, 8, 128, 1, 0)
    assert [str(d) for d in HASH.differences(pinned)] == [
        "type: object HASH, pinned ARRAY", "key_size: object 4, pinned 8",
        "max_entries: object 256, pinned 128", "map_flags: object 0x0, pinned 0x1"]


def test_kernel_added_devmap_flag_is_not_a_difference():
    ours = MapSpec(MapType.DEVMAP, 4, 4, 8, 0)
    pinned = MapSpec(MapType.DEVMAP, 4, 4, 8, 0x80)
    assert ours.differences(pinned) == []
    assert MapSpec(MapType.HASH, 4, 4, 8, 0).differences(MapSpec(MapType.HASH, 4, 4, 8, 0x80)) == \
        [Difference("map_flags", 0, 0x80)]


def test_inner_map_shape_is_compared_when_both_are_known():
    ours = MapSpec(MapType.HASH_OF_MAPS, 4, 4, 16, 0, 0, MapSpec(MapType.ARRAY, 4, 8, 8, 0))
    wrong = MapSpec(MapType.HASH_OF_MAPS, 4, 4, 16, 0, 0, MapSpec(MapType.ARRAY, 4, 8, 32, 0))
    unknown = MapSpec(MapType.HASH_OF_MAPS, 4, 4, 16, 0, 0, None)  # empty pinned outer
    assert [str(d) for d in ours.differences(wrong)] == ["inner.max_entries: object 8, pinned 32"]
    assert ours.differences(unknown) == []


def test_inner_maps_flagged_inner_map_may_differ_in_size():
    flagged = MapSpec(MapType.ARRAY, 4, 8, 8, 0x1000)
    ours = MapSpec(MapType.ARRAY_OF_MAPS, 4, 4, 4, 0, 0, flagged)
    pinned = MapSpec(MapType.ARRAY_OF_MAPS, 4, 4, 4, 0, 0, flagged._replace(max_entries=64))
    assert ours.differences(pinned) == []
