"""Global variables by name (bpf_progs/globals.c): initial values set before load and seen by
the program, live reads and writes after load through the maps' memory, frozen sections."""

from __future__ import annotations

import ctypes

import pytest

import libbpf_py as bpf
from libbpf_py import BtfTypeError
from libbpf_py.btf_ctypes import Chars
from libbpf_py.elf import Btf, ElfFile
from libbpf_py.elf import btf as kinds


@pytest.fixture
def obj(bpf_obj):
    with bpf.Object.open(bpf_obj("globals")) as opened:
        yield opened


def tick(obj, times: int = 1) -> int:
    for _ in range(times):
        result = obj.programs["tick"].test_run(bytes(64)).retval
    return result


def test_every_section_and_variable_is_found_with_its_initial_value(obj):
    g = obj.globals
    assert set(g.sections) == {".bss", ".data", ".rodata", ".data.custom", ".rodata.custom"}
    assert (g["step"], g["current_mode"], g["threshold"], g["custom_counter"], g["custom_limit"]) == (1, 2, 10, 5, 99)
    assert (g["settings"].limit, g["settings"].offset, g["settings"].label, g["settings"].mode) == \
        (100, -5, b"base\0\0", 7)  # a char[6]: all its bytes
    assert g["packets"] == 0 and list(g["history"]) == [0, 0, 0, 0]
    assert "packets" in g and len(g) == 11


def test_initial_values_set_before_load_are_what_the_program_sees(obj):
    g = obj.globals
    g["threshold"] = 7
    g["settings"] = {"limit": 5, "offset": -1, "label": "hey", "mode": 2}
    g["step"] = 3
    g["history"] = [9, 8]
    obj.load()
    tick(obj, 2)
    assert (g["packets"], g["total"], g["seen_threshold"]) == (2, 6, 7)
    last = g["last"]
    assert (last.limit, last.offset, last.label, last.mode) == (5, -1, b"hey\0\0\0", 2)
    assert list(g["history"]) == [0, 1, 0, 0]  # .bss: the program wrote 0 and 1 over 9 and 8


def test_structures_and_arrays_changed_in_place_before_load_reach_the_program(obj):
    g = obj.globals
    g["settings"].limit = 42  # in place: the structure the globals hold, not a write through them
    g["settings"].label = b"inplc"
    g["history"][1] = 77
    assert g["settings"].limit == 42
    obj.load()
    assert (g["settings"].limit, g["settings"].label) == (42, b"inplc\0")  # what libbpf created .rodata with
    tick(obj)
    assert (g["last"].limit, g["last"].label) == (42, b"inplc\0")  # and what the program copied from it
    assert list(g["history"]) == [0, 77, 0, 0]  # .bss: the program wrote slot 0 only


def test_a_section_resized_before_load_keeps_what_was_changed_in_place_or_written(obj):
    """The section map's initial value is as long as its value size, which a resize changes:
    what the globals changed is laid over it, not handed to libbpf at the old size."""
    g = obj.globals
    g["history"][1] = 77  # in place
    bss = obj.maps[next(name for name in obj.maps if name.endswith(".bss"))]
    size = bss.value_size
    if bpf.libbpf_version() < (1, 2):  # libbpf 1.1 keeps the section's memory at its old size
        with pytest.raises(bpf.LibbpfFeatureError, match="needs libbpf >= 1.2"):
            bss.value_size = size + 32
        assert bss.value_size == size
        return
    bss.value_size = size + 32  # four more history slots (history[4] is the section's last variable)
    g["total"] = 5  # through the globals, after the resize
    obj.load()
    assert bss.value_size == size + 32
    tick(obj)
    assert (g["total"], list(g["history"])) == (6, [0, 77, 0, 0])


def test_a_map_initial_value_set_whole_is_what_globals_read_and_the_program_sees(obj, bpf_obj):
    g = obj.globals
    data = obj.maps[next(name for name in obj.maps if name.endswith(".data"))]
    assert data.initial_value == bytes(g.section(".data"))[:len(data.initial_value)]
    settings = g["settings"]  # read before a write to its section: still the variable's own after it
    changed = bytearray(data.initial_value)
    changed[0:4] = (4).to_bytes(4, "little")  # step: the first variable of .data
    data.initial_value = bytes(changed)
    assert g["step"] == 4
    settings.limit = 9  # .rodata, in place
    g["threshold"] = 3  # a write to the same section, through the globals
    assert g["settings"].limit == 9
    with pytest.raises(bpf.InvalidValueError, match="initial value of"):
        data.initial_value = bytes(3)
    with bpf.Object.open(bpf_obj("maps")) as other, pytest.raises(bpf.InvalidValueError, match="no internal map"):
        next(iter(other.maps.values())).initial_value = bytes(8)
    obj.load()
    tick(obj)
    assert (g["total"], g["seen_threshold"], g["last"].limit) == (4, 3, 9)


def test_a_char_array_reads_and_writes_all_its_bytes_through_the_program(obj):
    g = obj.globals
    g["settings"] = {"label": b"a\0b\xffc"}  # bytes after the first NUL, and a byte no UTF-8 holds
    obj.load()
    tick(obj)
    label = g["last"].label  # the program copied settings into last
    assert label == b"a\0b\xffc\0" and isinstance(label, Chars)
    assert (label.value, label.text, label.raw) == (b"a", "a", b"a\0b\xffc\0")
    g["last"] = {"label": b"xyz"}  # shorter: the rest is zero-filled, not left as it was
    assert g["last"].label == b"xyz\0\0\0" and g.section(".bss").last.label == b"xyz\0\0\0"
    g.section(".bss").last.label = b"\0\0\0\0\0q"
    assert g["last"].label == b"\0\0\0\0\0q" and g["last"].label.value == b""
    with pytest.raises(ValueError, match="holds 6 bytes, not 7"):
        g.section(".bss").last.label = b"1234567"
    with pytest.raises(TypeError, match="takes bytes, not str"):
        g.section(".bss").last.label = "text"


def test_live_writes_are_seen_by_the_program_and_its_writes_at_once(obj):
    obj.load()
    g = obj.globals
    tick(obj)
    g["step"] = 10
    tick(obj)
    assert g["total"] == 11 and g["packets"] == 2
    g["current_mode"] = 7
    assert tick(obj) == 2  # the program read the new mode
    counters = obj.maps[next(n for n in obj.maps if n.endswith(".data.custom"))]
    counters.key_type = int
    assert int.from_bytes(counters[0][:4], "little") == g["custom_counter"] == 8
    bss = g.section(".bss")
    tick(obj)
    assert bss.packets == 4  # a live section reads the map's memory itself


def test_frozen_sections_are_read_only_once_loaded(obj):
    obj.globals["custom_limit"] = 0
    obj.load()
    with pytest.raises(PermissionError, match="read-only once loaded"):
        obj.globals["threshold"] = 1
    with pytest.raises(PermissionError):
        obj.globals["custom_limit"] = 3
    assert obj.globals["custom_limit"] == 0 and tick(obj) == 1  # the program saw the initial value


def test_globals_made_after_load_are_live(obj):
    obj.load()
    tick(obj, 3)
    assert obj.globals["packets"] == 3


def test_bad_writes_are_refused_by_name(obj):
    g = obj.globals
    with pytest.raises(KeyError):
        g["nothing"] = 1
    with pytest.raises(KeyError, match="no member 'bogus'"):
        g["settings"] = {"bogus": 1}
    with pytest.raises(ValueError, match="holds 6 bytes"):
        g["settings"] = {"label": "far too long"}
    with pytest.raises(ValueError, match="holds 4 items"):
        g["history"] = [1, 2, 3, 4, 5]
    with pytest.raises(TypeError):
        g["step"] = "three"
    with pytest.raises(TypeError):
        del g["step"]
    obj.load()
    assert g["step"] == 1  # nothing of the refused writes reached the initial value


def test_after_close_the_globals_refuse(bpf_obj):
    with bpf.Object.open(bpf_obj("globals")) as opened:
        opened.load()
        g = opened.globals
    with pytest.raises(bpf.ClosedError):
        g["packets"]


def test_btf_types_by_name_and_a_user_struct_checked(obj):
    settings = obj.btf["struct settings"]
    assert ctypes.sizeof(settings) == 16 and [f[0] for f in settings._fields_] == ["limit", "offset", "label", "mode"]
    assert obj.btf["enum mode"] == ctypes.c_uint32

    class Mine(ctypes.Structure):
        _fields_ = [("limit", ctypes.c_uint32), ("offset", ctypes.c_int16), ("label", ctypes.c_char * 6),
                    ("mode", ctypes.c_uint32)]

    class Wrong(ctypes.Structure):
        _fields_ = [("limit", ctypes.c_uint32), ("offset", ctypes.c_int32), ("label", ctypes.c_char * 6),
                    ("mode", ctypes.c_uint32)]

    obj.btf.check("struct settings", Mine)
    with pytest.raises(TypeError, match="member 'offset' is at offset 4 with 4 bytes; BTF has offset 4 with 2"):
        obj.btf.check("struct settings", Wrong)
    with pytest.raises(KeyError):
        obj.btf["struct nothing"]


def test_map_keys_and_values_typed_from_btf(bpf_obj, bpffs):
    with bpf.Object.open(bpf_obj("btf_values")) as values:
        records = values.maps["records"]
        records.key_type = records.value_type = "btf"  # before load, from the object's BTF
        values.load()
        values.programs["fill"].test_run(bytes(64))
        (key, value), = records.items()
        assert (key.ifindex, key.port, key.proto) == (1, 80, 6)
        assert (value.name, value.color, value.small, value.negative, value.flag, value.ok) == \
            (b"tc" + bytes(10), -3, 5, -7, 1, True)
        assert (value.points[1].x, value.as_u32, value.delta, list(value.counts)) == (3, 0x01020304, -9, [1, 2, 3])
        value.negative = 3
        records[key] = value
        records.pin(bpffs / "records")
    with bpf.Map.from_pinned(bpffs / "records") as pinned:  # a live map: from the BTF the kernel holds
        pinned.key_type = pinned.value_type = "btf"
        (_, again), = pinned.items()
        assert again.negative == 3 and again.small == 5
    with bpf.Map.create(bpf.MapType.ARRAY, 4, 8, 1) as plain:
        with pytest.raises(LookupError, match="no BTF key type"):
            plain.key_type = "btf"


def test_out_of_range_and_wrongly_typed_values_are_refused(obj):
    g = obj.globals
    for name, value, words in (("step", 2 ** 40, "0 to 4294967295"), ("threshold", -5, "0 to"),
                               ("settings", {"offset": 70000}, "-32768 to 32767"),
                               ("history", [2 ** 64 + 3], "history\\[0\\]"), ("step", 1.5, "integer")):
        with pytest.raises((ValueError, TypeError), match=words):
            g[name] = value
    assert g["step"] == 1 and g["threshold"] == 10 and g["settings"].offset == -5


def test_a_dict_writes_only_the_members_it_names(obj):
    obj.globals["settings"] = {"limit": 7}
    settings = obj.globals["settings"]
    assert (settings.limit, settings.offset, settings.label.value, settings.mode) == (7, -5, b"base", 7)
    obj.load()
    obj.globals["last"] = {"label": b"x"}
    obj.globals["last"] = {"offset": 3}
    assert (obj.globals["last"].label, obj.globals["last"].offset) == (b"x" + bytes(5), 3)


def test_a_write_refused_after_a_failed_load_changes_nothing(obj, monkeypatch):
    obj.globals["step"] = 3
    monkeypatch.setattr(obj._lib, "bpf_object__load", lambda ptr: (_ for _ in ()).throw(
        bpf.LibbpfError.for_errno(22, "a load that fails", "bpf_object__load")), raising=False)
    with pytest.raises(bpf.LibbpfError):
        obj.load()
    with pytest.raises(bpf.LibbpfError):
        obj.globals["step"] = 42
    assert obj.globals["step"] == 3


def test_names_like_the_bindings_own_and_like_ctypes_methods(bpf_obj):
    with bpf.Object.open(bpf_obj("globals_names")) as obj:
        g = obj.globals
        assert (g["_bits_used"], g["_pad_count"], g["normal"], g["from_buffer_copy"]) == (3, 7, 1, 5)
        fl = g["fl"]
        assert (fl.raw, fl.lo, fl.hi) == (0x21, 1, 2)  # bitfields of an anonymous union read as the struct's
        g["fl"] = {"hi": 5}
        assert g["fl"].raw == 0x51
        obj.load()
        assert obj.programs["sum"].test_run(bytes(64)).retval == 1  # .kconfig filled by libbpf
        assert g["normal"] == 1 + 3 + 7 + 1 + 5
        assert g["LINUX_KERNEL_VERSION"] > 0 and g.section(".rodata.odd").from_buffer_copy == 5


def test_a_section_whose_btf_claims_more_than_its_map_holds_is_refused_not_allocated(bpf_obj):
    elf = ElfFile.parse(bpf_obj("globals").read_bytes())
    section = elf.section(".BTF")
    btf = Btf.parse(section.data, elf.byteorder)
    data_id = btf.find(".data", kinds.DATASEC)
    variables = [(var, 4 * i, 4) for i, (var, _, _) in enumerate(btf.datasec_entries(btf.get(data_id)))]
    btf.set_datasec(data_id, ".data", variables, 1 << 30)  # a crafted size: libbpf keeps a size it finds set
    section.data = btf.to_bytes()
    with bpf.Object.open(elf.to_bytes()) as obj:
        with pytest.raises(BtfTypeError, match=r"section \.data: its BTF claims 1073741824 bytes, its map holds 8"):
            obj.globals


def test_char_arrays_inside_arrays_and_structs_take_bytes_and_str(bpf_obj):
    """char grid[2][5] takes a list of bytes or str; a struct's char tags[3][4] a list in a dict;
    each item zero-filled, a longer one refused (before load: the initial value; after: the map)."""
    with bpf.Object.open(bpf_obj("globals_chars")) as obj:
        obj.globals["grid"] = [b"ab", "cd"]
        obj.globals["who"] = {"name": b"ann", "tags": ["x", b"yz"]}
        with pytest.raises(ValueError, match=r"grid\[0\] holds 5 bytes, not 6"):
            obj.globals["grid"] = [b"abcdef"]
        obj.load()
        assert [row.raw for row in obj.globals["grid"]] == [b"ab\0\0\0", b"cd\0\0\0"]
        assert [tag.raw for tag in obj.globals["who"].tags] == [b"x\0\0\0", b"yz\0\0", b"\0\0\0\0"]
        obj.globals["grid"] = [b"hello"]
        obj.programs["copy_first"].test_run(bytes(64))
        assert obj.globals["seen"] == b"hello"


def test_a_write_past_a_shrunk_section_is_refused(obj):
    if bpf.libbpf_version() < (1, 2):
        pytest.skip("resizing a global data section needs libbpf >= 1.2")
    g = obj.globals
    bss = obj.maps[next(name for name in obj.maps if name.endswith(".bss"))]
    bss.value_size = 8  # packets only
    g["packets"] = 5
    with pytest.raises(bpf.InvalidValueError, match="past the end of"):
        g["history"] = [1, 2, 3, 4]
    assert bss.initial_value == (5).to_bytes(8, "little")


def test_a_global_data_section_keeps_its_shape(obj):
    """libbpf maps a section's memory as one entry of its value size: another max_entries, key
    size or type is refused (the kernel's mapping landed over libbpf's smaller buffer: a crash)."""
    bss = obj.maps[next(name for name in obj.maps if name.endswith(".bss"))]
    for field, value in (("max_entries", 1000), ("key_size", 8), ("type", bpf.MapType.HASH)):
        with pytest.raises(bpf.InvalidValueError, match=f"holds a global data section: its {field} cannot change"):
            setattr(bss, field, value)
    bss.max_entries = 1  # the same: nothing changes
    obj.load()
    assert bss.info().max_entries == 1
