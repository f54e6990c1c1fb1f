"""Ring buffer records typed from BTF (bpf_progs/btf_void_record.c): a struct the program reaches
only through void * is not in the object's BTF (the KeyError says why and what to do), the one a
global names is, and its char array arrives whole, bytes after the first NUL included."""

from __future__ import annotations

import pytest

import libbpf_py as bpf
from libbpf_py.btf_ctypes import Chars


def test_a_record_kept_by_a_global_decodes_with_its_char_array_whole(bpf_obj):
    with bpf.Object.open(bpf_obj("btf_void_record")) as obj:
        with pytest.raises(KeyError, match=r"only through void \*.*`struct lost_event \*unused;`"):
            obj.btf["struct lost_event"]
        record_type = obj.btf["struct kept_event"]
        obj.load()
        got = []
        with bpf.RingBuffer(obj.maps["records"], got.append, record_type=record_type) as ring:
            assert obj.programs["emit"].test_run(bytes(64)).retval == 0
            assert ring.consume() == 1
    (record,) = got
    assert (record.pid, record.name, record.tail) == (7, b"ab\0cd\0\0\0\0\0\0z", 0xFEED)
    assert isinstance(record.name, Chars) and record.name.value == b"ab"
