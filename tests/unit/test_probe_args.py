"""bpf.probe without the kernel: arguments refused before any C call, the Verdict's truth, and
helper names read from the UAPI header when the kernel has no BTF."""

from __future__ import annotations

import pytest

from libbpf_py import probe
from libbpf_py._abi import AttachType, ProgType
from libbpf_py.errors import Error, InvalidTypeError, InvalidValueError, KeyNotFoundError, MissingBtfError


@pytest.mark.parametrize("bad, error", [(True, InvalidTypeError), (1.0, InvalidTypeError), (None, InvalidTypeError),
                                        (-1, InvalidValueError), (1 << 31, InvalidValueError),
                                        ("no_such_type", InvalidValueError)])
def test_a_type_is_a_member_an_int_or_a_name(bad, error):
    for check in (probe.prog_type, probe.map_type):
        with pytest.raises(error):
            check(bad)
    with pytest.raises(error):
        probe.helper(bad, 1)


def test_an_unknown_name_lists_the_known_ones():
    with pytest.raises(InvalidValueError, match="no program type named 'xdpp'; known: unspec, socket_filter"):
        probe.prog_type("xdpp")
    with pytest.raises(InvalidValueError, match="no attach type named 'fentry'"):
        probe.btf_id("do_unlinkat", "fentry")  # (AttachType's name is trace_fentry)


@pytest.mark.parametrize("helper, error", [(0, InvalidValueError), (-5, InvalidValueError),
                                           (1 << 31, InvalidValueError), (2.0, InvalidTypeError),
                                           (b"bpf_map_lookup_elem", InvalidTypeError)])
def test_a_helper_is_a_positive_id_or_a_name(helper, error):
    with pytest.raises(error):
        probe.helper(ProgType.XDP, helper)


@pytest.mark.parametrize("category, name", [("sched", "a/b"), ("..", "x"), ("x", "."), ("", "x"), ("x", ""),
                                            ("sch\0ed", "x")])
def test_a_tracepoint_name_is_no_path(category, name):
    with pytest.raises(InvalidValueError, match="is no tracepoint name"):
        probe.tracepoint(category, name)


def test_tracepoint_names_are_strings():
    with pytest.raises(InvalidTypeError):
        probe.tracepoint(b"sched", "sched_switch")
    with pytest.raises(InvalidValueError):
        probe.raw_tracepoint("sched/switch")


def test_btf_id_takes_a_name():
    with pytest.raises(InvalidValueError):
        probe.btf_id("", AttachType.TRACE_FENTRY)
    with pytest.raises(InvalidValueError):
        probe.btf_id("do\0unlinkat", AttachType.TRACE_FENTRY)
    with pytest.raises(InvalidTypeError):
        probe.btf_id(3, AttachType.TRACE_FENTRY)


def test_a_verdict_is_true_or_false_with_its_reason():
    yes, no = probe.Verdict(True, "fine"), probe.Verdict(False, "no kprobe PMU")
    assert yes and not no
    assert (yes.ok, yes.reason, no.ok, no.reason) == (True, "fine", False, "no kprobe PMU")
    assert no == probe.Verdict(False, "no kprobe PMU") != yes
    assert repr(no) == "Verdict(False, 'no kprobe PMU')"
    assert len({yes, no, probe.Verdict(True, "fine")}) == 2


def test_helper_names_from_the_uapi_header_numbered_or_in_order(tmp_path, monkeypatch):
    numbered = tmp_path / "numbered.h"
    numbered.write_text("#define __BPF_FUNC_MAPPER_APPLY(FN, ctx...) \\\n\tFN(unspec, 0, ##ctx)\t\\\n"
                        "\tFN(map_lookup_elem, 1, ##ctx)\t\\\n\tFN(ktime_get_ns, 5, ##ctx)\t\\\n"
                        "#define __BPF_FUNC_MAPPER(FN) __BPF_FUNC_MAPPER_APPLY(FN, )\n")
    ordered = tmp_path / "ordered.h"
    ordered.write_text("#define __BPF_FUNC_MAPPER(FN)\t\\\n\tFN(unspec),\t\\\n\tFN(map_lookup_elem),\t\\\n"
                       "\tFN(map_update_elem),\t\\\n")
    monkeypatch.setattr(probe, "UAPI_BPF_H", str(numbered))
    assert probe._uapi_helper_ids() == {"unspec": 0, "map_lookup_elem": 1, "ktime_get_ns": 5}
    monkeypatch.setattr(probe, "UAPI_BPF_H", str(ordered))
    assert probe._uapi_helper_ids() == {"unspec": 0, "map_lookup_elem": 1, "map_update_elem": 2}
    monkeypatch.setattr(probe, "UAPI_BPF_H", str(tmp_path / "absent.h"))
    with pytest.raises(MissingBtfError, match="linux-libc-dev"):
        probe._uapi_helper_ids()


def test_helper_id_of_an_unknown_name(monkeypatch):
    monkeypatch.setattr(probe, "_helper_ids", {"map_lookup_elem": 1})
    assert probe.helper_id("bpf_map_lookup_elem") == probe.helper_id("BPF_FUNC_map_lookup_elem") == 1
    with pytest.raises(KeyNotFoundError, match="no BPF helper named 'bpf_nope'"):
        probe.helper_id("bpf_nope")
    with pytest.raises(InvalidTypeError):
        probe.helper_id(1)  # type: ignore[arg-type]


def test_every_refusal_is_the_packages():
    for call in (lambda: probe.prog_type("x"), lambda: probe.tracepoint("..", "x"), lambda: probe.can_attach(42)):
        with pytest.raises(Error):
            call()
