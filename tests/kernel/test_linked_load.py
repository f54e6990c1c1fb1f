"""A linked object loads and runs: the function and variable one part defines serve the other."""

from __future__ import annotations

from libbpf_py.linker import link_objects


def test_a_linked_object_loads_and_runs_what_each_part_defines(bpf_obj, tmp_path):
    with link_objects([bpf_obj("link_main"), bpf_obj("link_helper")], output=tmp_path / "linked.o") as obj:
        assert (tmp_path / "linked.o").read_bytes()[:4] == b"\x7fELF"
        assert obj.name == "linked" and sorted(obj.programs) == ["entry"]
        obj.load()
        assert obj.programs["entry"].test_run(bytes(64)).retval == 3  # scale(1) + offset, from link_helper
        obj.maps["hits"].key_type = obj.maps["hits"].value_type = int
        assert obj.maps["hits"][0] == 1
