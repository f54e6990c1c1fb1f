"""Sizes, counts and flags that cross into C: ctypes wraps an int that does not fit its C type
without a word (2**32 + 16 as a u32 is 16), so each is refused in Python before any copy or
call. The 4 GiB inputs are memoryviews of a sparse file's mapping (no RAM behind them), and
those tests run with the address space limited, so that a regression that copies them fails
with MemoryError instead of eating the machine's memory."""

from __future__ import annotations

import errno
import gc
import mmap
import resource
from contextlib import contextmanager
from pathlib import Path
from typing import Iterator

import pytest

import libbpf_py as bpf
from libbpf_py import MapType

FOUR_GIB = 1 << 32
GIB = 1 << 30



@pytest.fixture
def sparse(tmp_path: Path):
    """``sparse(size)``: a read-only memoryview of ``size`` zero bytes, the mapping of a sparse
    file (unmapped and removed afterwards)."""
    made = []

    def view(size: int) -> memoryview:
        path = tmp_path / f"sparse{len(made)}"
        with open(path, "wb") as out:
            out.truncate(size)
        with open(path, "rb") as source:
            mapping = mmap.mmap(source.fileno(), size, prot=mmap.PROT_READ)
        made.append((path, mapping, memoryview(mapping)))
        return made[-1][2]

    yield view
    gc.collect()  # the slices a test made, held by its exceptions' tracebacks
    for path, mapping, whole in made:
        whole.release()
        mapping.close()
        path.unlink()


@contextmanager
def address_space(headroom: int) -> Iterator[None]:
    """This process may map at most ``headroom`` more bytes than it maps now, for the body."""
    soft, hard = resource.getrlimit(resource.RLIMIT_AS)
    with open("/proc/self/status") as status:
        used = next(int(line.split()[1]) * 1024 for line in status if line.startswith("VmSize:"))
    limit = used + headroom if hard == resource.RLIM_INFINITY else min(used + headroom, hard)
    resource.setrlimit(resource.RLIMIT_AS, (limit, hard))
    try:
        yield
    finally:
        resource.setrlimit(resource.RLIMIT_AS, (soft, hard))


def test_a_user_ring_record_of_4_gib_is_refused_before_any_copy(events, sparse):
    """2**32 + 16 bytes reached libbpf as a u32 (16): a 16-byte reservation, then the whole
    buffer copied into it. Now refused (E2BIG) before a byte is read, and the ring still works."""
    with bpf.UserRingBuffer(events.maps["user_events"]) as user:
        assert user.max_record_size == 4096 - 8
        huge = sparse(FOUR_GIB + 16)
        with address_space(GIB):
            for record in (huge, huge[:FOUR_GIB], huge[:FOUR_GIB - 8], huge[:4089]):
                with pytest.raises(OSError) as refused:
                    user.submit(record)
                assert refused.value.errno == errno.E2BIG and "does not fit" in str(refused.value)
        events.programs["take_user"].test_run(bytes(64))
        assert events.globals["user_count"] == 0  # nothing was written
        user.submit(bytes([7]) + bytes(4087))  # the largest record fills the ring exactly
        events.programs["take_user"].test_run(bytes(64))
        assert (events.globals["user_count"], events.globals["user_total"]) == (1, 7)


def test_test_run_data_and_ctx_of_4_gib_are_refused_before_any_copy(events, sparse):
    """BPF_PROG_TEST_RUN's sizes are u32: 2**32 + 64 bytes of data would run on 64 of them."""
    program = events.programs["emit"]
    huge = sparse(FOUR_GIB + 64)
    with address_space(GIB):
        with pytest.raises(ValueError, match="data of 4294967360 bytes is too large"):
            program.test_run(huge, data_out_size=256)
        with pytest.raises(ValueError, match="ctx of 4294967360 bytes is too large"):
            program.test_run(bytes(64), ctx=huge)
    assert program.test_run(bytes(64)).retval == 0  # the program still runs


def test_a_consume_limit_beyond_size_t_is_refused(events):
    with bpf.RingBuffer(events.maps["events"]) as rb:
        for limit in (1 << 64, (1 << 64) + 2, True):
            with pytest.raises(ValueError, match="limit"):
                rb.consume(limit)
        events.maps["config"][0] = 1
        events.programs["emit"].test_run(bytes(64))
        assert rb.consume() == 1  # nothing was taken by the refused calls


def test_batches_of_2_to_the_32_entries_are_refused_before_they_are_packed():
    """A batch's count is a u32: 2**32 + 1 entries would have been one."""
    entries = range(FOUR_GIB + 1)  # a Sequence of that length, without the memory
    with bpf.Map.create(MapType.HASH, 4, 4, 16, key_type=int, value_type=int) as m:
        with address_space(GIB):
            with pytest.raises(ValueError, match="at most 2\\*\\*32 - 1 entries"):
                m.update_batch(entries, entries)
            with pytest.raises(ValueError, match="at most 2\\*\\*32 - 1 entries"):
                m.delete_batch(entries)
        assert len(m) == 0


def test_lookup_batch_buffers_are_as_large_as_a_batch_not_as_the_maps_capacity():
    """An empty map of a million 4 KiB values is read with buffers of a few MiB, not 4 GiB."""
    with bpf.Map.create(MapType.HASH, 64, 4096, 1 << 20, flags=bpf.MapFlags.NO_PREALLOC) as m:
        m.update(bytes(64), bytes(4096))
        with address_space(GIB):
            keys, values = m.lookup_batch()
        assert keys == [bytes(64)] and values == [bytes(4096)]


def test_ints_that_reach_a_c_int_or_flags_are_checked(events):
    """A map type beyond a C int, and map flags that are negative, too large or a bool."""
    with pytest.raises(ValueError, match="map_type"):
        bpf.Map.create(1 << 31, 4, 4, 1)
    config = events.maps["config"]
    config[1] = 5
    for flags in (-1, 1 << 64, True):
        with pytest.raises(ValueError, match="flags"):
            config.update(1, 6, flags)
        with pytest.raises(ValueError, match="flags"):
            config.lookup(1, flags)
    assert config[1] == 5


def test_program_definition_ints_are_checked_before_load(bpf_obj):
    with bpf.Object.open(bpf_obj("events")) as obj:
        program = obj.programs["emit"]
        before = (program.type, program.expected_attach_type, program.flags)
        for field, value in (("flags", -1), ("flags", 1 << 32), ("flags", True), ("type", 1 << 31),
                             ("type", "3"), ("type", 3.0), ("expected_attach_type", -1)):
            with pytest.raises(ValueError, match=field):
                setattr(program, field, value)
        assert (program.type, program.expected_attach_type, program.flags) == before
        program.type = bpf.ProgType.SCHED_CLS  # an IntEnum, as before
        obj.load()
