"""The escape hatch reaches what the package does not wrap, by libbpf's own names: the functions
the ported libbpf-tools asked for, called as a C tool calls them."""

from __future__ import annotations

import ctypes
import os
import struct

import libbpf_py as bpf


def test_a_program_loaded_by_bpf_prog_load_runs():
    lib = bpf.libbpf()
    insns = struct.pack("<BBhi", 0xB7, 0, 0, 2) + struct.pack("<BBhi", 0x95, 0, 0, 0)  # r0 = 2 (XDP_PASS); exit
    buffer = ctypes.create_string_buffer(insns, len(insns))
    fd = lib.bpf_prog_load(int(bpf.ProgType.XDP), b"escape", b"GPL", buffer, len(insns) // 8, None)
    try:
        with bpf.Program.from_id(_prog_id(fd)) as prog:  # the program, read back from the kernel by id
            assert prog.name == "escape" and prog.type == bpf.ProgType.XDP
            assert prog.test_run(bytes(64)).retval == 2
    finally:
        os.close(fd)


def _prog_id(fd: int) -> int:
    info = (ctypes.c_uint8 * 256)()
    size = ctypes.c_uint32(256)
    bpf.libbpf().bpf_obj_get_info_by_fd(fd, info, ctypes.byref(size))  # (bpf_prog_get_info_by_fd: 1.2)
    return struct.unpack_from("<II", bytes(info), 0)[1]  # struct bpf_prog_info: type, id


def test_probes_and_kernel_btf_through_libbpfs_names():
    lib = bpf.libbpf()
    assert lib.libbpf_probe_bpf_prog_type(int(bpf.ProgType.XDP), None) == 1
    btf = lib.btf__load_vmlinux_btf()
    try:
        assert lib.btf__type_cnt(btf) > 1000
        assert lib.btf__find_by_name_kind(btf, b"task_struct", 4) > 0  # BTF_KIND_STRUCT
    finally:
        lib.btf__free(btf)
    assert lib.libbpf_find_vmlinux_btf_id(b"sched_switch", int(bpf.AttachType.TRACE_RAW_TP)) > 0
