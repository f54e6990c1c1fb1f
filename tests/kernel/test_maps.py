"""Maps created standalone, against the real kernel: attributes, element ops, batches, pins."""

from __future__ import annotations

import ctypes
import errno
import os
import sys
import time

import pytest

import libbpf_py as bpf
from libbpf_py import MapType


@pytest.fixture
def hash_map():
    with bpf.Map.create(MapType.HASH, 4, 8, 64, name="t_hash", key_type=int, value_type=int) as m:
        yield m


def test_create_reports_kernel_attributes():
    with bpf.Map.create(MapType.LRU_HASH, 8, 16, 128, name="t_lru", flags=bpf.MapFlags.NO_COMMON_LRU) as m:
        info = m.info()
        assert (info.type, info.key_size, info.value_size, info.max_entries) == (MapType.LRU_HASH, 8, 16, 128)
        assert info.flags == bpf.MapFlags.NO_COMMON_LRU
        assert info.name == "t_lru" and info.id > 0
        assert (m.name, m.type, m.key_size, m.value_size, m.max_entries) == ("t_lru", MapType.LRU_HASH, 8, 16, 128)


def test_element_operations(hash_map):
    m = hash_map
    assert m.lookup(1) is None
    with pytest.raises(KeyError):
        m[1]
    m[1] = 10
    m.update(2, 20)
    assert m[1] == 10 and m.lookup(2) == 20 and 1 in m and 3 not in m
    assert m.get(3, "x") == "x"
    del m[1]
    with pytest.raises(KeyError):
        m.delete(1)
    assert m.lookup_and_delete(2) == 20
    assert m.lookup(2) is None


def test_update_flags_map_to_errno(hash_map):
    m = hash_map
    m.update(5, 1)
    with pytest.raises(FileExistsError) as exc:
        m.update(5, 2, bpf.BPF_NOEXIST)
    assert exc.value.errno == errno.EEXIST and exc.value.function == "bpf_map_update_elem"
    with pytest.raises(FileNotFoundError):
        m.update(6, 2, bpf.BPF_EXIST)
    assert m[5] == 1 and m.lookup(6) is None


def test_keys_and_values_as_bytes_ints_and_ctypes():
    class Pair(ctypes.Structure):
        _fields_ = [("a", ctypes.c_uint32), ("b", ctypes.c_uint32), ("c", ctypes.c_uint64)]

    with bpf.Map.create(MapType.HASH, 4, 16, 8) as m:
        m.update(b"\x01\0\0\0", Pair(1, 2, 3))
        m.update(2, bytes(range(16)))
        assert m.lookup(1) == bytes(Pair(1, 2, 3))          # default: bytes
        m.value_type = Pair
        got = m[ctypes.c_uint32(1)]
        assert (got.a, got.b, got.c) == (1, 2, 3)
        m.key_type = int
        assert sorted(m.keys()) == [1, 2]


def test_wrong_sizes_fail_before_reaching_the_kernel(hash_map):
    m = hash_map
    m[1] = 7
    with pytest.raises(ValueError, match="key must be 4 bytes, got 8"):
        m.update(b"\0" * 8, 1)
    with pytest.raises(ValueError, match="value must be 8 bytes, got 4"):
        m.update(1, b"\0" * 4)
    with pytest.raises(ValueError, match="does not fit"):
        m.update(1 << 32, 1)
    with pytest.raises(ValueError, match="does not fit"):
        m.update(1, -1)
    with pytest.raises(TypeError):
        m.lookup("1")
    assert m[1] == 7  # untouched


def test_iteration_and_batches(hash_map):
    m = hash_map
    m.update_batch(list(range(40)), [k * 3 for k in range(40)])
    assert sorted(m.keys()) == list(range(40))
    assert dict(m.items()) == {k: k * 3 for k in range(40)}
    keys, values = m.lookup_batch()
    assert dict(zip(keys, values)) == {k: k * 3 for k in range(40)}
    keys, values = m.lookup_batch(batch_size=3)  # several calls, growing past large buckets
    assert sorted(keys) == list(range(40))
    m.delete_batch(list(range(10)))
    assert sorted(m.keys()) == list(range(10, 40))
    with pytest.raises(KeyError):
        m.delete_batch([10, 5])
    keys, values = m.lookup_batch(delete=True)
    assert len(keys) == 29 and list(m.keys()) == []


def test_array_map_keys_cover_every_index():
    with bpf.Map.create(MapType.ARRAY, 4, 8, 5, key_type=int, value_type=int) as m:
        m[4] = 9
        assert list(m.items()) == [(0, 0), (1, 0), (2, 0), (3, 0), (4, 9)]
        with pytest.raises(OSError) as exc:
            m.update(5, 1)
        assert exc.value.errno == errno.E2BIG
        assert m.lookup_batch() == ([0, 1, 2, 3, 4], [0, 0, 0, 0, 9])


def test_percpu_values_are_lists_of_possible_cpus():
    ncpus = bpf.possible_cpus()
    with bpf.Map.create(MapType.PERCPU_HASH, 4, 4, 8, key_type=int, value_type=int) as m:
        m[1] = list(range(ncpus))
        assert m[1] == list(range(ncpus))
        with pytest.raises(ValueError, match=f"needs {ncpus} entries"):
            m[2] = [1] * (ncpus + 1)
        with pytest.raises(TypeError):
            m[2] = 1
        keys, values = m.lookup_batch()
        assert keys == [1] and values == [list(range(ncpus))]


def test_queue_and_stack():
    with bpf.Map.create(MapType.QUEUE, 0, 4, 3, value_type=int) as q:
        assert q.pop() is None and q.peek() is None
        for v in (1, 2, 3):
            q.push(v)
        with pytest.raises(OSError) as exc:
            q.push(4)
        assert exc.value.errno == errno.E2BIG
        q.push(4, bpf.BPF_EXIST)  # replaces the oldest
        assert q.peek() == 2 and [q.pop(), q.pop(), q.pop(), q.pop()] == [2, 3, 4, None]
        with pytest.raises(ValueError, match="no keys"):
            q.lookup(1)
    with bpf.Map.create(MapType.STACK, 0, 4, 3, value_type=int) as s:
        s.push(1)
        s.push(2)
        assert [s.pop(), s.pop()] == [2, 1]


def test_freeze_makes_the_map_read_only(hash_map):
    hash_map[1] = 1
    hash_map.freeze()
    with pytest.raises(PermissionError):
        hash_map[1] = 2
    assert hash_map[1] == 1


def test_pin_from_pinned_from_id_unpin(bpffs, hash_map):
    path = bpffs / "counts"
    hash_map[7] = 70
    hash_map.pin(path)
    assert path.exists()
    with bpf.Map.from_pinned(path) as again:
        assert again.info().id == hash_map.info().id
        again.key_type = again.value_type = int
        assert again[7] == 70
        again.unpin()
    assert not path.exists()
    with bpf.Map.from_id(hash_map.info().id) as by_id:
        assert by_id.name == "t_hash"
    with bpf.Map.from_fd(hash_map.fd) as dup:
        assert dup.fd != hash_map.fd and dup.info().id == hash_map.info().id


def test_from_pinned_errors(bpffs, bpf_obj):
    with pytest.raises(FileNotFoundError):
        bpf.Map.from_pinned(bpffs / "missing")
    with bpf.Object.open(bpf_obj("xdp_pass")) as obj:
        obj.load()
        obj.programs["xdp_count"].pin(bpffs / "prog")
        with pytest.raises(bpf.LibbpfError, match="not a BPF map"):
            bpf.Map.from_pinned(bpffs / "prog")


def test_closed_map_raises_and_fd_is_closed_once():
    m = bpf.Map.create(MapType.ARRAY, 4, 4, 1)
    fd = m.fd
    m.close()
    m.close()
    assert m.closed
    with pytest.raises(bpf.ClosedError):
        m.lookup(0)
    with pytest.raises(bpf.ClosedError):
        m.fd
    assert not os.path.exists(f"/proc/self/fd/{fd}") or "bpf-map" not in os.readlink(f"/proc/self/fd/{fd}")


def test_an_objects_map_or_program_cannot_be_closed_alone(bpf_obj):
    """Closing an object's map did nothing, silently: it belongs to the object, which closes it."""
    with bpf.Object.open(bpf_obj("xdp_pass")) as obj:
        obj.load()
        name = next(iter(obj.maps))
        m, program = obj.maps[name], obj.programs["xdp_count"]
        for item, kind in ((m, "map"), (program, "program")):
            with pytest.raises(TypeError, match=f"{kind} '.*' belongs to its Object and closes with it"):
                item.close()
            with pytest.raises(TypeError, match="belongs to its Object"):
                with item:
                    pass
            assert not item.closed and item.fd >= 0  # still usable
        m.info()
        with bpf.Map.from_fd(m.fd) as own:  # a handle of its own closes alone
            assert own.info().id == m.info().id
        assert own.closed and not m.closed
    assert m.closed and program.closed  # with the object
    with pytest.raises(TypeError, match="belongs to its Object"):
        m.close()


def test_map_in_map_create():
    with bpf.Map.create(MapType.ARRAY, 4, 8, 2, name="inner") as inner, \
            bpf.Map.create(MapType.ARRAY_OF_MAPS, 4, 4, 2, inner_map=inner, key_type=int, value_type=int) as outer:
        outer[0] = inner.fd
        assert outer[0] == inner.info().id  # lookups of map-in-map return ids
    with pytest.raises(ValueError, match="inner_map"):
        bpf.Map.create(MapType.HASH_OF_MAPS, 4, 4, 2)


def test_create_argument_checks():
    with pytest.raises(ValueError, match="key_size"):
        bpf.Map.create(MapType.HASH, -1, 4, 1)
    with pytest.raises(ValueError, match="longer than"):
        bpf.Map.create(MapType.HASH, 4, 4, 1, name="x" * 16)
    with pytest.raises(OSError) as exc:
        bpf.Map.create(MapType.HASH, 4, 4, 0)  # rejected by the kernel
    assert exc.value.errno == errno.EINVAL


def test_threads_sharing_a_map_never_see_each_others_keys():
    import sys
    import threading

    interval = sys.getswitchinterval()
    sys.setswitchinterval(1e-6)   # switch threads as often as possible to expose shared-buffer races
    wrong = []
    try:
        with bpf.Map.create(MapType.HASH, 4, 8, 256, key_type=int, value_type=int) as m:
            m.update_batch(list(range(256)), [k * 1000 for k in range(256)])

            def reader(offset: int) -> None:
                for i in range(20000):
                    k = (i + offset) % 256
                    got = m.lookup(k)
                    if got != k * 1000:
                        wrong.append((k, got))

            threads = [threading.Thread(target=reader, args=(n * 64,)) for n in range(4)]
            for t in threads:
                t.start()
            for t in threads:
                t.join()
    finally:
        sys.setswitchinterval(interval)
    assert wrong == []


def test_operations_kept_after_close_raise_instead_of_using_a_reused_fd():
    a = bpf.Map.create(MapType.ARRAY, 4, 8, 1, key_type=int, value_type=int)
    lookup, update = a.lookup, a.update
    a.close()
    with bpf.Map.create(MapType.ARRAY, 4, 8, 1, key_type=int, value_type=int) as b:
        b[0] = 7
        with pytest.raises(bpf.ClosedError):
            update(0, 12345)
        with pytest.raises(bpf.ClosedError):
            lookup(0)
        assert b[0] == 7


def test_close_releases_the_map_at_once_while_a_kept_operation_holds_only_its_number():
    import gc

    m = bpf.Map.create(MapType.ARRAY, 4, 8, 1, key_type=int, value_type=int)
    map_id, fd = m.info().id, m.fd
    m[0] = 1
    lookup = m.lookup  # kept: its fd number must stay taken, the map itself must go
    m.close()
    assert os.readlink(f"/proc/self/fd/{fd}") == "/"  # a placeholder, not the map
    with pytest.raises(bpf.ClosedError):
        lookup(0)
    deadline = time.monotonic() + 5  # the kernel frees a map after an RCU grace period
    while time.monotonic() < deadline and _map_exists(map_id):
        time.sleep(0.01)
    assert not _map_exists(map_id)
    del lookup
    gc.collect()
    assert not os.path.exists(f"/proc/self/fd/{fd}")


def _map_exists(map_id: int) -> bool:
    try:
        bpf.Map.from_id(map_id).close()
    except OSError as exc:
        assert exc.errno == errno.ENOENT
        return False
    return True


def test_a_signal_handler_reading_the_map_inside_an_operation_does_not_change_its_result():
    """A handler runs between two bytecodes of an operation; its own operations on the same map
    use buffers of their own, so the interrupted operation still returns its own key's value."""
    import signal

    wrong = []
    with bpf.Map.create(MapType.HASH, 4, 8, 64, key_type=int, value_type=int) as m:
        m.update_batch(list(range(64)), [k * 1000 for k in range(64)])
        handled = [0]

        def handler(signum, frame):
            handled[0] += 1
            if m[63] != 63000:
                wrong.append("handler")
            m[62] = 62000

        previous = signal.signal(signal.SIGALRM, handler)
        signal.setitimer(signal.ITIMER_REAL, 0.0001, 0.0001)
        try:
            deadline = time.monotonic() + 1.0
            while time.monotonic() < deadline:
                for k in range(62):
                    if m.lookup(k) != k * 1000 or m[k] != k * 1000:
                        wrong.append(k)
                    m[k] = k * 1000
        finally:
            signal.setitimer(signal.ITIMER_REAL, 0)
            signal.signal(signal.SIGALRM, previous)
    assert handled[0] > 100
    assert wrong == []


def test_bytes_and_ints_take_the_fast_path_and_other_values_are_still_checked():
    with bpf.Map.create(MapType.HASH, 4, 8, 8) as m:  # bytes keys and values (the default)
        m[b"\1\0\0\0"] = b"\2" * 8
        m[1] = 3  # an int is accepted for bytes slots too
        assert m[b"\1\0\0\0"] == (3).to_bytes(8, sys.byteorder)
        assert m.lookup(bytearray(b"\1\0\0\0")) == (3).to_bytes(8, sys.byteorder)
        with pytest.raises(ValueError, match="must be 4 bytes"):
            m[b"\1\0\0"] = b"\2" * 8
        with pytest.raises(ValueError, match="must be 8 bytes"):
            m[b"\1\0\0\0"] = b"\2" * 9
        with pytest.raises(ValueError, match="does not fit"):
            m[1 << 32] = 0
        with pytest.raises(TypeError, match="must be bytes"):
            m["1"] = 0
        del m[b"\1\0\0\0"]
        with pytest.raises(KeyError):
            del m[1]
        with pytest.raises(KeyError):
            m[1]
    with bpf.Map.create(MapType.PERCPU_ARRAY, 4, 8, 1) as percpu:  # a per-CPU value is a list, never raw bytes
        with pytest.raises(TypeError, match="per-CPU"):
            percpu[0] = b"\0" * (8 * len(percpu[0]))


def test_a_map_is_a_mutable_mapping(hash_map):
    from collections.abc import MutableMapping

    m = hash_map
    assert isinstance(m, MutableMapping) and len(m) == 0
    m.update({1: 10, 2: 20})
    m.update([(3, 30)])
    m.update(4, 40, bpf.BPF_NOEXIST)
    assert len(m) == 4 and dict(m.items()) == {1: 10, 2: 20, 3: 30, 4: 40} and sorted(m) == [1, 2, 3, 4]
    assert m.pop(1) == 10 and m.pop(1, "gone") == "gone" and 1 not in m
    with pytest.raises(KeyError):
        m.pop(1)
    with pytest.raises(TypeError, match="needs a key"):
        m.pop()
    assert m.setdefault(2, 99) == 20 and m.setdefault(5, 50) == 50 and m[5] == 50
    key, value = m.popitem()
    assert value == key * 10 and key not in m
    m.clear()
    assert len(m) == 0 and list(m.keys()) == []
    with pytest.raises(KeyError):
        m.popitem()
    # identity, not content, decides equality (two maps with equal entries are two maps)
    with bpf.Map.create(MapType.HASH, 4, 8, 64, key_type=int, value_type=int) as other:
        assert m != other and m == m and len({m, other}) == 2


def test_an_array_cannot_be_cleared_and_says_so():
    with bpf.Map.create(MapType.ARRAY, 4, 4, 2, key_type=int, value_type=int) as a:
        assert len(a) == 2
        with pytest.raises(OSError) as exc:
            a.clear()
        assert exc.value.errno == errno.EINVAL and exc.value.function == "bpf_map_delete_elem"


def test_a_live_map_refuses_edits_as_a_loaded_objects_map_does(hash_map, bpf_obj):
    with pytest.raises(bpf.LibbpfError) as standalone:
        hash_map.max_entries = 10
    with bpf.Object.open(bpf_obj("maps")) as obj:
        obj.load()
        with pytest.raises(bpf.LibbpfError) as loaded:
            obj.maps["hash_map"].max_entries = 10
    assert standalone.value.errno == loaded.value.errno == errno.EBUSY
    assert standalone.value.function == loaded.value.function == "bpf_map__set_max_entries"


def _keeps_the_gil(function) -> bool:
    return bool(function._flags_ & ctypes._FUNCFLAG_PYTHONAPI)


def _closure_calls(operation) -> dict:
    return dict(zip(operation.__code__.co_freevars, (cell.cell_contents for cell in operation.__closure__)))


def test_map_in_map_writes_release_the_gil_and_plain_maps_keep_it(hash_map):
    """A map-in-map update waits in synchronize_rcu(): other Python threads must run meanwhile."""
    hash_map[1] = 1  # makes the closures
    plain = _closure_calls(hash_map.update)
    assert _keeps_the_gil(plain["c_update"]) and _keeps_the_gil(_closure_calls(hash_map.delete)["c_delete"])
    with bpf.Map.create(MapType.ARRAY, 4, 8, 2) as inner, \
            bpf.Map.create(MapType.HASH_OF_MAPS, 4, 4, 2, inner_map=inner, key_type=int) as outer:
        outer[0] = inner.fd
        calls = _closure_calls(outer.update)
        assert not _keeps_the_gil(calls["c_update"]) and not _keeps_the_gil(_closure_calls(outer.delete)["c_delete"])
        assert _keeps_the_gil(_closure_calls(outer.lookup)["c_lookup"])  # lookups never sleep
        del outer[0]
        assert len(outer) == 0


def test_a_map_is_always_true_and_update_of_a_mapping_keeps_the_flags(hash_map):
    assert bool(hash_map) and len(hash_map) == 0
    with bpf.Map.create(MapType.QUEUE, 0, 4, 2, value_type=int) as q:
        assert bool(q)
    hash_map[1] = 100
    with pytest.raises(FileExistsError):
        hash_map.update({1: 200}, flags=bpf.BPF_NOEXIST)
    hash_map.update({2: 200}, flags=bpf.BPF_NOEXIST)
    assert hash_map[1] == 100 and hash_map[2] == 200


def test_setdefault_on_maps_whose_slots_always_exist_raises_instead_of_looping():
    for map_type in (MapType.DEVMAP, MapType.CPUMAP):
        with bpf.Map.create(map_type, 4, 4, 4, key_type=int, value_type=int) as m:
            assert 0 not in m
            with pytest.raises(FileExistsError, match="cannot tell"):
                m.setdefault(0, 1)


def test_slot_arrays_list_only_their_filled_slots():
    with bpf.Map.create(MapType.ARRAY, 4, 4, 1) as inner, \
            bpf.Map.create(MapType.ARRAY_OF_MAPS, 4, 4, 4, inner_map=inner, key_type=int, value_type=int) as outer:
        outer[2] = inner.fd
        assert list(outer) == [2] and len(outer) == 1 and dict(outer) == {2: inner.info().id}
        assert outer.pop(2) == inner.info().id and len(outer) == 0   # no atomic pop there: lookup, then delete


def test_pop_and_popitem_fall_back_where_the_kernel_has_no_lookup_and_delete():
    with bpf.Map.create(MapType.ARRAY, 4, 4, 1) as inner, \
            bpf.Map.create(MapType.HASH_OF_MAPS, 4, 4, 4, inner_map=inner, key_type=int, value_type=int) as outer:
        outer[7] = inner.fd
        outer[8] = inner.fd
        assert outer.pop(7) == inner.info().id and 7 not in outer
        assert outer.popitem() == (8, inner.info().id) and len(outer) == 0
        assert outer.pop(9, None) is None


def test_queues_have_no_keys_and_clear_pops_them():
    with bpf.Map.create(MapType.QUEUE, 0, 4, 4, value_type=int) as q:
        for v in (1, 2, 3):
            q.push(v)
        for keyed in (lambda: len(q), q.popitem, lambda: list(q.keys())):
            with pytest.raises(TypeError, match="no keys"):
                keyed()
        q.clear()
        assert q.pop() is None


def test_the_kernels_enotsupp_reads_as_words():
    assert "operation not supported" in str(bpf.LibbpfError.for_errno(524, None, "bpf_map_lookup_and_delete_elem"))


def test_a_bloom_filter_answers_membership_and_nothing_else():
    with bpf.Map.create(MapType.BLOOM_FILTER, 0, 4, 64, value_type=int, map_extra=3) as bloom:
        bloom.push(7)
        assert 7 in bloom and 8 not in bloom
        for unreadable in (bloom.peek, bloom.clear, lambda: len(bloom)):
            with pytest.raises(TypeError, match="push\\(value\\), then `value in map`"):
                unreadable()


def test_write_only_slot_arrays_say_so_and_clear_by_index():
    with bpf.Map.create(MapType.PERF_EVENT_ARRAY, 4, 4, 4, key_type=int) as perf:
        with pytest.raises(TypeError, match="cannot be read from user space"):
            len(perf)
        perf.clear()  # every slot deleted by index (all empty here)


def test_a_mapping_passed_with_positional_flags_is_explained(hash_map):
    with pytest.raises(TypeError, match="flags by keyword"):
        hash_map.update({3: 30}, 1)
