"""Map.mmap(): a BPF_F_MMAPABLE array's memory shared with a program, without a syscall per read."""

from __future__ import annotations

import gc

import pytest

import libbpf_py as bpf


@pytest.fixture
def shared(bpf_obj):
    with bpf.Object.open(bpf_obj("mmap")) as obj:
        obj.load()
        yield obj


def test_a_programs_writes_are_seen_at_once_and_ours_by_the_program(shared):
    view = shared.maps["counters"].mmap()
    values = view.cast("Q")
    assert len(view) == 4 * 8 and list(values) == [0, 0, 0, 0]
    values[2] = 21
    for _ in range(3):
        shared.programs["bump"].test_run(bytes(64))
    assert values[0] == 3 and values[1] == 42
    counters = shared.maps["counters"]
    counters.key_type = counters.value_type = int
    assert counters[0] == 3  # the same memory through the syscall
    values.release()
    assert shared.maps["counters"].mmap() is view  # one view per map


def test_the_view_is_released_when_the_map_closes(bpf_obj):
    with bpf.Object.open(bpf_obj("mmap")) as obj:
        obj.load()
        view = obj.maps["counters"].mmap()
    with pytest.raises(ValueError):
        view[0]  # released with the object: never a read of unmapped memory


def test_a_view_made_from_it_keeps_the_mapping_alive(bpf_obj):
    with bpf.Object.open(bpf_obj("mmap")) as obj:
        obj.load()
        words = obj.maps["counters"].mmap().cast("Q")
        obj.programs["bump"].test_run(bytes(64))
    assert words[0] == 1  # the object is closed; the mapping under this view is not
    words.release()
    gc.collect()


def test_maps_that_cannot_be_mapped_say_so(shared):
    with pytest.raises(TypeError, match="BPF_F_MMAPABLE"):
        shared.maps["plain"].mmap()


def test_a_standalone_mmapable_array(tmp_path):
    with bpf.Map.create(bpf.MapType.ARRAY, 4, 12, 3, flags=bpf.MapFlags.MMAPABLE) as m:
        view = m.mmap()
        assert len(view) == 16 * 3  # 12-byte values at a stride of 16
        view[16:20] = b"abcd"
        assert m[(1).to_bytes(4, "little")][:4] == b"abcd"


def test_a_frozen_map_is_mapped_read_only():
    with bpf.Map.create(bpf.MapType.ARRAY, 4, 8, 2, flags=bpf.MapFlags.MMAPABLE | bpf.MapFlags.RDONLY_PROG) as m:
        m.key_type = m.value_type = int
        m[1] = 7
        m.freeze()
        view = m.mmap()
        assert view.readonly and view.cast("Q")[1] == 7
        with pytest.raises(TypeError):
            view[0] = 1
