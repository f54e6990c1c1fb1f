"""``compat="auto"``'s choice between the old loaders' readings: pure, no kernel needed.

The objects in bpf_progs/old mirror real shapes: samples/bpf's sockex3 (20-byte definitions,
numbered ``socket/N`` sections), map_perf_test (bpf_load.c's 28-byte definitions, the inner
template first), sections no loader typed, an object without maps.
"""

from __future__ import annotations

import logging
import struct

import pytest

import libbpf_py as bpf
from libbpf_py import LegacyMapError
from libbpf_py.compat.choosing import Outcome, _differences, choose, readings
from libbpf_py.elf import ElfFile

VARIANTS = ["", "-nog"]


@pytest.fixture
def elf(bpf_obj):
    return lambda name: ElfFile.parse(bpf_obj(f"old/{name}").read_bytes())


@pytest.mark.parametrize("variant", VARIANTS)
def test_numbered_socket_sections_are_bpf_load_tail_calls_and_decide_auto(elf, variant, caplog):
    found = readings(elf(f"sockex3_shape{variant}"))
    assert found["bpf_load"].slots == (("jmp_table", 0, "socket/0"), ("jmp_table", 1, "socket/1"))
    assert found["libbpf0"].slots == ()  # 0.x loads the same programs and fills no slot
    assert found["bpf_load"].programs == found["libbpf0"].programs
    with caplog.at_level(logging.INFO, logger="libbpf_py"):
        chosen = choose(elf(f"sockex3_shape{variant}"), None)
    assert (chosen.dialect, chosen.why) == ("bpf_load", "sections ['socket/0', 'socket/1'] are bpf_load.c's tail "
                                            "calls into 'jmp_table', which libbpf 0.x's reading leaves empty "
                                            "(compat='libbpf0' loads it so)")
    assert "as written for bpf_load: sections ['socket/0', 'socket/1']" in caplog.text  # said, not silent


@pytest.mark.parametrize("variant", VARIANTS)
def test_a_reading_that_cannot_create_a_map_in_map_is_no_alternative(elf, variant):
    found = readings(elf(f"map_in_map_first{variant}"))
    assert "map 'array_of_lru' cannot be created" in found["libbpf0"]
    assert "libbpf 0.x had no inner template" in found["libbpf0"]
    assert dict(found["bpf_load"].maps)["array_of_lru"][6] == "inner_lru"
    chosen = choose(elf(f"map_in_map_first{variant}"), None)
    assert (chosen.dialect, chosen.why) == ("bpf_load", "the only reading that fits")


def test_tail_call_sections_without_a_prog_array_do_not_fit_bpf_load(elf):
    e = elf("sockex3_shape-nog")
    maps = e.section("maps")
    at = next(s.value for s in e.symbols() if s.name == "jmp_table")
    maps.data = maps.data[:at] + struct.pack("<I", bpf.MapType.ARRAY) + maps.data[at + 4:]  # no prog array left
    found = readings(ElfFile.parse(e.to_bytes()))
    assert found["bpf_load"] == ("section 'socket/0' is bpf_load.c's tail call into slot 0, and there is no prog "
                                 "array (bpf_load.c failed to store it)")
    assert found["libbpf0"].slots == ()
    assert (choose(ElfFile.parse(e.to_bytes()), None).dialect) == "libbpf0"


@pytest.mark.parametrize("variant", VARIANTS)
def test_sections_no_loader_typed_are_named_in_the_refusal(elf, bpf_obj, variant, tmp_path):
    with pytest.raises(LegacyMapError) as refused:
        bpf.Object.open(bpf_obj(f"old/unknown_sections{variant}"))
    message = str(refused.value)
    assert "'ingress_redirect', 'cls-hc'" in message
    assert "iproute2: tc loads a 'classifier' or 'action' section unless told which" in message
    assert "bpf_load: bpf_load.c loads none of the sections" in message
    assert "libbpf0: libbpf 0.x gives no program type to section(s)" in message
    assert "20- or 28-byte" not in message and "non-zero" not in message  # the definitions are fine
    renamed = tmp_path / "filter.o"  # a section tc was told to load with `sec filter`
    renamed.write_bytes(bpf_obj(f"old/unknown_sections{variant}").read_bytes().replace(b"cls-hc\0", b"filter\0"))
    with pytest.raises(LegacyMapError, match=r"\['ingress_redirect', 'filter'\]"):
        bpf.Object.open(renamed)


def test_when_readings_differ_the_error_names_each_difference(bpf_obj):
    with pytest.raises(ValueError) as refused:
        bpf.Object.open(bpf_obj("old/libbpf0_tc"))
    message = str(refused.value)
    assert message.startswith("this object reads as written for bpf_load or iproute2 or libbpf0, and they load "
                              "it differently (sections loaded: bpf_load: 'cgroup/skb' (cgroup_skb), ")
    assert "; iproute2: 'classifier' (sched_cls); libbpf0: 'cgroup/skb' (cgroup_skb), 'classifier' (sched_cls)," \
        in message
    assert message.endswith("pass compat= one of 'bpf_load', 'iproute2', 'libbpf0'")


def test_the_difference_names_every_map_fact_and_slot_the_readings_disagree_on():
    shape = (bpf.MapType.HASH, 4, 8, 16, 0, False, None, 0)
    pinned = shape[:5] + (True,) + shape[6:]
    fits = {"iproute2": Outcome((("classifier", "SCHED_CLS", ""),), (), (("counts", pinned), ("jmp", shape))),
            "bpf_load": Outcome((("classifier", "SCHED_CLS", ""),), (("jmp", 0, "socket/0"),),
                                (("counts", shape), ("jmp", shape)))}
    assert _differences(fits) == ("slots filled after load: bpf_load: 'jmp'[0] = 'socket/0'; iproute2: none; "
                                  "map 'counts' pinned: bpf_load: False; iproute2: True")


@pytest.mark.parametrize("variant", VARIANTS)
def test_an_object_without_maps_opens_as_libbpf_0_x_opened_it(bpf_obj, variant):
    with bpf.Object.open(bpf_obj(f"old/libbpf0_no_maps{variant}"), compat="libbpf0") as obj:
        assert [(hook.reading, hook.why) for hook in obj.hooks] == [("libbpf0", "compat='libbpf0' was asked for")]
        assert {name: p.type for name, p in obj.programs.items()} == {
            "keep_all": bpf.ProgType.SOCKET_FILTER, "drop_all": bpf.ProgType.XDP}
    with bpf.Object.open(bpf_obj(f"old/libbpf0_no_maps{variant}")) as obj:
        assert obj.hooks == ()  # without a legacy maps section, nothing says it is old: libbpf 1.x reads it


def renamed(e: ElfFile, old: str, new: str) -> ElfFile:
    e.rename(e.section(old), new)
    return ElfFile.parse(e.to_bytes())


def test_an_expected_attach_type_the_kernel_tells_apart_is_a_difference(elf):
    """libbpf 0.x loads xdp_devmap/ with XDP_DEVMAP (the program may then go into a devmap);
    bpf_load.c with none: not alike. XDP's own type and sockops' are no difference."""
    devmap = renamed(elf("libbpf0_era-nog"), "xdp_prog", "xdp_devmap/egress")
    found = readings(devmap)
    assert ("xdp_devmap/egress", "XDP", "XDP_DEVMAP") in found["libbpf0"].programs
    assert ("xdp_devmap/egress", "XDP", "") in found["bpf_load"].programs
    with pytest.raises(ValueError, match=r"'xdp_devmap/egress' \(xdp, xdp_devmap\)"):
        choose(devmap, None)
    plain = readings(elf("libbpf0_era-nog"))
    assert ("xdp_prog", "XDP", "") in plain["libbpf0"].programs and plain["libbpf0"] == plain["bpf_load"]
    sockops = readings(renamed(elf("libbpf0_era-nog"), "xdp_prog", "sockops"))
    assert sockops["libbpf0"] == sockops["bpf_load"]  # the kernel checks the attach call's type there


def test_the_tail_call_rule_decides_only_when_nothing_else_differs(elf):
    extra = renamed(elf("sockex3_shape-nog"), "socket/1", "sk_reuseport")  # 0.x loads it, bpf_load.c skips it
    with pytest.raises(ValueError, match=r"sections loaded: bpf_load: 'socket/0' \(socket_filter\); libbpf0: "
                                         r"'sk_reuseport' \(sk_reuseport\), 'socket/0'"):
        choose(extra, None)


@pytest.mark.parametrize("section, slot", [("socket/3", 3), ("socket/12x", 12), ("socket", None), ("socket1", None),
                                           ("sockops/7", 7), ("sk_skb/stream_parser", None), ("sk_skb//5", 5),
                                           ("kprobe/2", 2), ("kretprobe/4", 4), ("kprobe/sys_write", None),
                                           ("xdp/1", None), ("tracepoint/9", None)])
def test_bpf_load_tail_call_slots_follow_its_own_parsing(section, slot):
    from libbpf_py.compat.old_loaders import tail_call_slot

    assert tail_call_slot(section) == slot


@pytest.mark.parametrize("section, refusal", [("socket/x", "invalid prog number"), ("sockops/", "invalid prog number"),
                                              ("kprobe/", "event name cannot be empty"),
                                              ("kretprobe/", "event name cannot be empty"),
                                              ("socket/99999999999", "no 32-bit key"), ("socket/" + "9" * 5000,
                                                                                        "no 32-bit key")])
def test_sections_bpf_load_refused_are_refused(section, refusal):
    from libbpf_py.compat.old_loaders import tail_call_slot

    with pytest.raises(LegacyMapError, match=refusal):
        tail_call_slot(section)


def test_kretprobe_sections_fill_slots_too(elf):
    found = readings(renamed(elf("sockex3_shape-nog"), "socket/1", "kretprobe/1"))
    assert found["bpf_load"].slots == (("jmp_table", 0, "socket/0"), ("jmp_table", 1, "kretprobe/1"))


def test_only_program_sections_imply_the_tc_command(bpf_obj):
    """A data section named 'classifier' beside an 'action' program: tc action's object."""
    e = ElfFile.parse(bpf_obj("iproute2/action-nog").read_bytes())
    e.add_section("classifier", 1, bytes(8))  # SHT_PROGBITS, not code
    data = e.to_bytes()
    found = readings(ElfFile.parse(data))
    assert found["iproute2"].programs == (("action", "SCHED_ACT", ""),)
    assert choose(ElfFile.parse(data), None).prog_type == "sched_act"
    with bpf.Object.open(data) as obj:
        assert [(hook.reading, p.type) for hook in obj.hooks for p in obj.programs.values() if p.autoload] == [
            ("iproute2", bpf.ProgType.SCHED_ACT)]


def test_a_section_name_with_a_newline_keeps_the_message_on_one_line(elf):
    odd = renamed(elf("libbpf0_tc-nog"), "socket1", "socket\nnext")
    with pytest.raises(ValueError) as refused:
        choose(odd, None)
    assert "\n" not in str(refused.value) and "'socket\\nnext'" in str(refused.value)
