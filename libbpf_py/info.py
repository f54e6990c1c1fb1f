"""What the kernel reports about live maps and programs (BPF_OBJ_GET_INFO_BY_FD), and the
machine's possible CPUs (the length of every per-CPU value)."""

from __future__ import annotations

import ctypes
from ctypes import byref, c_uint32
from typing import Callable, List, NamedTuple, Optional

from . import _abi, _libbpf
from ._abi import MapType, ProgType, enum_or_int
from ._checks import c_name
from ._fd import OwnedFd
from .spec import MapSpec


class MapInfo(NamedTuple):
    """What the kernel reports for a live map."""

    type: MapType | int  # (annotations readable by typing.get_type_hints without typing's names)
    id: int
    key_size: int
    value_size: int
    max_entries: int
    flags: int
    name: str
    map_extra: int
    btf_id: int
    btf_key_type_id: int
    btf_value_type_id: int
    ifindex: int

    @property
    def spec(self) -> MapSpec:
        """The map's shape (without its inner maps': see :func:`map_spec`)."""
        return MapSpec(self.type, self.key_size, self.value_size, self.max_entries, self.flags, self.map_extra)


class ProgInfo(NamedTuple):
    """What the kernel reports for a loaded program."""

    type: ProgType | int
    id: int
    tag: str              # hex, as bpftool prints it
    name: str
    xlated_len: int
    jited_len: int
    map_ids: list[int]
    load_time: int
    run_cnt: int
    run_time_ns: int
    verified_insns: int
    gpl_compatible: bool
    recursion_misses: int = 0  # runs skipped because the program was already running on that CPU
    btf_id: int = 0            # the BTF its object gave at load (0: none)


def map_info(fd: int) -> MapInfo:
    """Read a map's info from the kernel."""
    info = _abi.BpfMapInfo()
    size = c_uint32(ctypes.sizeof(info))
    _libbpf.lib().bpf_obj_get_info_by_fd(fd, ctypes.addressof(info), byref(size))
    return MapInfo(enum_or_int(MapType, info.type), info.id, info.key_size, info.value_size,
                   info.max_entries, info.map_flags, c_name(info.name),
                   info.map_extra, info.btf_id, info.btf_key_type_id, info.btf_value_type_id,
                   info.ifindex)


def prog_info(fd: int) -> ProgInfo:
    """Read a program's info, with its map ids, from the kernel."""
    lib = _libbpf.lib()
    info = _abi.BpfProgInfo()
    size = c_uint32(ctypes.sizeof(info))
    lib.bpf_obj_get_info_by_fd(fd, ctypes.addressof(info), byref(size))
    map_ids: List[int] = []
    if info.nr_map_ids:
        ids = (c_uint32 * info.nr_map_ids)()
        again = _abi.BpfProgInfo(nr_map_ids=info.nr_map_ids, map_ids=ctypes.addressof(ids))
        size.value = ctypes.sizeof(again)
        lib.bpf_obj_get_info_by_fd(fd, ctypes.addressof(again), byref(size))
        map_ids = list(ids[:min(again.nr_map_ids, info.nr_map_ids)])
    return ProgInfo(enum_or_int(ProgType, info.type), info.id, bytes(info.tag).hex(),
                    c_name(info.name), info.xlated_prog_len, info.jited_prog_len,
                    map_ids, info.load_time, info.run_cnt, info.run_time_ns, info.verified_insns,
                    bool(info.gpl_compatible & 1), info.recursion_misses, info.btf_id)


def prog_xlated_insns(fd: int) -> bytes:
    """A loaded program's instructions as the kernel keeps them (translated: after the
    verifier's rewrites; map references show as the kernel's own values)."""
    lib = _libbpf.lib()
    info = _abi.BpfProgInfo()
    size = c_uint32(ctypes.sizeof(info))
    lib.bpf_obj_get_info_by_fd(fd, ctypes.addressof(info), byref(size))
    if not info.xlated_prog_len:
        return b""
    data = ctypes.create_string_buffer(info.xlated_prog_len)
    again = _abi.BpfProgInfo(xlated_prog_len=info.xlated_prog_len, xlated_prog_insns=ctypes.addressof(data))
    size.value = ctypes.sizeof(again)
    lib.bpf_obj_get_info_by_fd(fd, ctypes.addressof(again), byref(size))
    return data.raw[:min(again.xlated_prog_len, info.xlated_prog_len)]


class LineInfo(NamedTuple):
    """One record of a program's line info: from instruction ``insn_off`` on, the code is the
    source ``file``'s ``line`` (``column``; 0 when unknown), whose text is ``source``."""

    insn_off: int
    file: str
    line: int
    column: int
    source: str


class _BpfLineInfo(ctypes.Structure):
    """struct bpf_line_info (linux/bpf.h): the line and column share ``line_col`` (line << 10 | column)."""

    _fields_ = [("insn_off", c_uint32), ("file_name_off", c_uint32), ("line_off", c_uint32),
                ("line_col", c_uint32)]


def prog_line_info(fd: int) -> List[LineInfo]:
    """The line info the kernel keeps for a loaded program: offsets in its translated
    instructions (what ``bpftool prog dump xlated`` numbers), names and text from the BTF its
    object gave at load. Empty when it was loaded without BTF line info."""
    lib = _libbpf.lib()
    info = _abi.BpfProgInfo()
    size = c_uint32(ctypes.sizeof(info))
    lib.bpf_obj_get_info_by_fd(fd, ctypes.addressof(info), byref(size))
    count = info.nr_line_info
    if not count or not info.btf_id:
        return []
    records = (_BpfLineInfo * count)()
    again = _abi.BpfProgInfo(nr_line_info=count, line_info_rec_size=ctypes.sizeof(_BpfLineInfo),
                             line_info=ctypes.addressof(records))
    size.value = ctypes.sizeof(again)
    lib.bpf_obj_get_info_by_fd(fd, ctypes.addressof(again), byref(size))
    strings = btf_strings(btf_bytes(info.btf_id))
    return [LineInfo(r.insn_off, strings(r.file_name_off), r.line_col >> 10, r.line_col & 0x3FF,
                     strings(r.line_off)) for r in records[:min(count, again.nr_line_info)]]


class _BpfFuncInfo(ctypes.Structure):
    """struct bpf_func_info (linux/bpf.h)."""

    _fields_ = [("insn_off", c_uint32), ("type_id", c_uint32)]


def prog_func_name(fd: int) -> Optional[str]:
    """A loaded program's whole name, as its BTF function is named (the kernel keeps only 15
    bytes of the name it was given; bpftool shows this one); None without BTF func info."""
    import struct

    lib = _libbpf.lib()
    info = _abi.BpfProgInfo()
    size = c_uint32(ctypes.sizeof(info))
    lib.bpf_obj_get_info_by_fd(fd, ctypes.addressof(info), byref(size))
    if not info.nr_func_info or not info.btf_id:
        return None
    records = (_BpfFuncInfo * info.nr_func_info)()
    again = _abi.BpfProgInfo(nr_func_info=info.nr_func_info, func_info_rec_size=ctypes.sizeof(_BpfFuncInfo),
                             func_info=ctypes.addressof(records))
    size.value = ctypes.sizeof(again)
    lib.bpf_obj_get_info_by_fd(fd, ctypes.addressof(again), byref(size))
    raw = btf_bytes(info.btf_id)
    header_len, type_off, type_len = struct.unpack_from("=3I", raw, 4)
    wanted, position, type_id = records[0].type_id, header_len + type_off, 1  # (the entry function comes first)
    end = position + type_len
    while position + 12 <= end and type_id < wanted:  # walk the types to the one wanted
        _, word, _ = struct.unpack_from("=3I", raw, position)
        position += 12 + _btf_tail(word)
        type_id += 1
    if type_id != wanted or position + 12 > end:
        return None
    return btf_strings(raw)(struct.unpack_from("=I", raw, position)[0]) or None


def _btf_tail(info_word: int) -> int:
    """Bytes after a BTF type's 12-byte header (its kind and vlen in ``info_word``)."""
    from .elf.btf import _tail_size

    return _tail_size((info_word >> 24) & 0x1F, info_word & 0xFFFF)


def btf_strings(raw: bytes) -> Callable[[int], str]:
    """The string at an offset of raw BTF's string section ("" out of range): for a BTF object
    the kernel hands back, whose header it checked at load."""
    import struct

    header_len, _, _, str_off, str_len = struct.unpack_from("=5I", raw, 4)
    start = header_len + str_off
    section = raw[start:start + str_len]

    def at(offset: int) -> str:
        if not 0 <= offset < len(section):
            return ""
        end = section.find(b"\0", offset)
        return c_name(section[offset:end if end >= 0 else len(section)])

    return at


def map_spec(fd: int) -> MapSpec:
    """The shape of a live map; for a map-in-map, with the shape of its first inner map, if any."""
    info = map_info(fd)
    inner = _first_inner_spec(fd, info.key_size) if int(info.type) in _abi.MAP_IN_MAP_TYPES else None
    return info.spec._replace(inner=inner)


def _first_inner_spec(fd: int, key_size: int) -> Optional[MapSpec]:
    """The shape of the first inner map found in an outer map (None when it holds none)."""
    lib = _libbpf.lib()
    keys = [ctypes.create_string_buffer(max(key_size, 1)) for _ in range(2)]
    inner_id = c_uint32()
    previous = None
    while lib.gil.bpf_map_get_next_key(fd, previous, keys[0]) == 0:  # empty array slots are skipped
        if lib.gil.bpf_map_lookup_elem(fd, keys[0], byref(inner_id)) == 0:
            with OwnedFd(lib.bpf_map_get_fd_by_id(inner_id.value)) as inner:
                return map_info(inner.fileno()).spec
        keys.reverse()
        previous = keys[1]
    return None


def kernel_ids(kind: str) -> List[int]:
    """The ids of every ``kind`` ("map", "prog" or "link") in the kernel now, ascending."""
    gil = _libbpf.lib().gil
    next_id = {"map": gil.bpf_map_get_next_id, "prog": gil.bpf_prog_get_next_id,
               "link": gil.bpf_link_get_next_id}[kind]
    found: List[int] = []
    current, following = 0, c_uint32()
    while next_id(current, byref(following)) == 0:
        current = following.value
        found.append(current)
    return found


def btf_bytes(btf_id: int) -> bytes:
    """The raw BTF (header, types, strings) of the kernel's BTF object ``btf_id``, as the
    object that created it gave it (for a map: its object's BTF)."""
    lib = _libbpf.lib()
    with OwnedFd(lib.bpf_btf_get_fd_by_id(btf_id)) as fd:
        info = _abi.BpfBtfInfo()
        size = c_uint32(ctypes.sizeof(info))
        lib.bpf_obj_get_info_by_fd(fd.fileno(), ctypes.addressof(info), byref(size))
        data = ctypes.create_string_buffer(info.btf_size)
        again = _abi.BpfBtfInfo(btf=ctypes.addressof(data), btf_size=info.btf_size)
        size.value = ctypes.sizeof(again)
        lib.bpf_obj_get_info_by_fd(fd.fileno(), ctypes.addressof(again), byref(size))
        return data.raw[:min(again.btf_size, info.btf_size)]


_possible_cpus: Optional[int] = None


def possible_cpus() -> int:
    """Number of possible CPUs: the length of every per-CPU value."""
    global _possible_cpus
    if _possible_cpus is None:
        _possible_cpus = _libbpf.lib().libbpf_num_possible_cpus()
    return _possible_cpus
