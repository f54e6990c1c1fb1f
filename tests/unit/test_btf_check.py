"""The BTF validator: what libbpf 1.3's sanity check refuses, refused in Python (no kernel needed)."""

from __future__ import annotations

import ctypes
import struct
import subprocess
import sys

import pytest

from libbpf_py.elf import Btf, ElfFile
from libbpf_py.elf import btf as B
from libbpf_py.elf.btf_check import BtfError, validate


def object_btf(bpf_obj, name: str) -> Btf:
    elf = ElfFile.parse(bpf_obj(name).read_bytes())
    return Btf.parse(elf.section(".BTF").data, elf.byteorder)


@pytest.mark.parametrize("name", ["maps", "pinned_mim", "iproute2/kv_annotated", "iproute2/tail_call"])
def test_real_objects_pass(bpf_obj, name):
    validate(object_btf(bpf_obj, name))


def small() -> Btf:
    btf = Btf("little")
    u32 = btf.add_int("unsigned int", 4)
    btf.add_struct("pair", [("a", u32, 0), ("b", u32, 32)], 8)
    return btf


def test_a_type_id_past_the_last_type_is_named():
    btf = small()
    var = btf.add_var("counts", 999)
    with pytest.raises(BtfError, match=rf"BTF type \[{var}\] \(VAR\): type refers to type id 999, past the last"):
        validate(btf)


def test_a_member_past_the_last_type_is_named():
    btf = small()
    btf.add_struct("bad", [("x", 1, 0), ("y", 77, 32)], 8)
    with pytest.raises(BtfError, match=r"\[3\] \(STRUCT\): member 1 refers to type id 77"):
        validate(btf)


def test_name_offsets_must_fall_in_the_string_section():
    btf = small()
    btf.types[0].name_off = 10_000
    with pytest.raises(BtfError, match=r"\[1\] \(INT\): name offset 10000"):
        validate(btf)
    btf = small()
    pair = btf.types[1]
    pair.tail = struct.pack("<III", 5_000, 1, 0) + pair.tail[12:]
    with pytest.raises(BtfError, match=r"\[2\] \(STRUCT\): member 0 has name offset 5000"):
        validate(btf)


def test_a_func_must_refer_to_a_func_proto():
    btf = small()
    btf.add(B.Type(btf.add_string("f"), B.info_word(B.FUNC), 1))
    with pytest.raises(BtfError, match=r"\(FUNC\): refers to type 1, which is not a FUNC_PROTO"):
        validate(btf)


def test_unknown_kinds_are_refused():
    btf = small()
    btf.add(B.Type(0, B.info_word(25), 0))
    with pytest.raises(BtfError, match="unknown kind 25"):
        validate(btf)


def test_a_type_that_contains_itself_is_refused_but_a_pointer_to_itself_is_not():
    btf = Btf("little")
    u32 = btf.add_int("unsigned int", 4)
    node = btf.add_struct("node", [("value", u32, 0), ("next", 3, 64)], 16)
    btf.add_ptr(node)  # id 3: struct node { u32 value; struct node *next; } is fine
    validate(btf)
    btf.add_struct("loop", [("self", 5, 0)], 4)  # id 4 contains id 5, which contains id 4
    btf.add(B.Type(0, B.info_word(B.TYPEDEF), 4))
    with pytest.raises(BtfError, match="contains itself"):
        validate(btf)


def test_deep_chains_are_walked_without_recursion_and_bounded():
    """libbpf recurses once per level in places: a nesting deeper than 1024 is refused, and the
    walk itself never recurses, whatever the depth."""
    for depth, refused in ((1000, False), (20_000, True)):
        btf = Btf("little")
        previous = btf.add_int("char", 1)
        index = btf.add_int("unsigned int", 4)
        for _ in range(depth):
            previous = btf.add_array(previous, index, 1)
        if refused:
            with pytest.raises(BtfError, match="nested more than 1024 deep"):
                validate(btf)
        else:
            validate(btf)


def many_struct_ops_variables(count: int, members: int, chain: int) -> Btf:
    """A .struct_ops section of ``count`` variables of one struct of ``members`` members, each the
    array at the top of one chain of ``chain`` arrays."""
    btf = Btf("little")
    u32 = btf.add_int("u32", 4)
    element = u32
    for _ in range(chain):
        element = btf.add_array(element, u32, 1)
    ops = btf.add_struct("ops", [(f"m{i}", element, 32 * i) for i in range(members)], 4 * members)
    var = btf.add_var("v", ops)
    btf.add_datasec(".struct_ops", [(var, 0, 4 * members)] * count, 4 * members)
    return btf


def test_a_struct_ops_section_costs_its_bytes_not_the_product_of_its_counts(monkeypatch):
    btf = many_struct_ops_variables(count=200, members=200, chain=50)
    walked, sized = [], []
    members, size_of = Btf.members, Btf.size_of
    monkeypatch.setattr(Btf, "members", lambda self, t: walked.append(t) or members(self, t))
    monkeypatch.setattr(Btf, "size_of", lambda self, type_id: sized.append(type_id) or size_of(self, type_id))
    validate(btf)
    assert len(walked) == 1  # the struct's members, once for its 200 variables
    assert len(sized) == 1   # the chain's one leaf, once for its 200 members
    ops = btf.get(btf.find("ops", B.STRUCT))
    ops.tail = ops.tail[:8] + struct.pack("<I", 32 * 200) + ops.tail[12:]  # m0 now starts where the struct ends
    with pytest.raises(BtfError, match="member 'm0' lies past the end of the struct"):
        validate(btf)


def both_checks(btf: Btf) -> None:
    """validate(), after asserting that the fast path (_looks_valid) agrees with it."""
    from libbpf_py.elf.btf_check import _looks_valid

    fast = _looks_valid(btf.to_bytes(), btf.byteorder, {})
    try:
        validate(btf)
    except BtfError:
        assert not fast, "the fast path passed what validate refuses"
        raise
    assert fast, "the fast path refused what validate passes"


def anonymous_nest(depth: int) -> Btf:
    """``typedef struct { struct { ... int *p; } *p; } T``: ``depth`` anonymous structs, each behind a pointer."""
    btf = Btf("little")
    inner = btf.add_int("int", 4, signed=True)
    for _ in range(depth):
        inner = btf.add_struct("", [("p", btf.add_ptr(inner), 0)], 8)
    btf.add(B.Type(btf.add_string("T"), B.info_word(B.TYPEDEF), inner))
    return btf


def test_references_that_loop_through_no_struct_are_refused():
    btf = Btf("little")
    btf.add_int("int", 4)
    btf.add_ptr(3)  # [2] -> [3] -> [2]: no C type is that
    btf.add(B.Type(0, B.info_word(B.CONST), 2))
    with pytest.raises(BtfError, match=r"refers to itself through no struct or union"):
        both_checks(btf)


def test_loops_through_a_struct_pass():
    btf = Btf("little")
    node = btf.add_struct("node", [("next", 2, 0)], 8)  # struct node { struct node *next; }
    btf.add_ptr(node)
    anon = btf.add_struct("", [("next", 4, 0)], 8)  # typedef struct { T *next; } T;
    btf.add_ptr(5)
    btf.add(B.Type(btf.add_string("T"), B.info_word(B.TYPEDEF), anon))
    both_checks(btf)


@pytest.mark.parametrize("depth, refused", [(1000, False), (1100, True), (150_000, True)])
def test_chains_of_references_are_bounded(depth, refused):
    """libbpf's walks recurse along pointers, qualifiers and function prototypes as along members."""
    btf = Btf("little")
    top = btf.add_int("int", 4)
    for i in range(depth):
        top = btf.add_ptr(top) if i % 2 else btf.add(B.Type(0, B.info_word(B.CONST), top))
    if refused:
        with pytest.raises(BtfError, match="starts a chain of references more than 1024 deep"):
            both_checks(btf)
    else:
        both_checks(btf)


def test_anonymous_structs_behind_pointers_count_as_nesting():
    both_checks(anonymous_nest(400))
    with pytest.raises(BtfError, match="more than 1024 deep"):
        both_checks(anonymous_nest(100_000))


def test_btf_dump_writes_deeply_nested_anonymous_structs(tmp_path):
    """libbpf's btf_dump keeps a pointer into its declaration stack across a realloc of it (8
    anonymous structs behind pointers crash bpftool); Btf.dump_c grows the stack first. In a child
    process, so that a crash fails this test instead of ending the run."""
    raw = tmp_path / "nest.btf"
    raw.write_bytes(anonymous_nest(40).to_bytes())
    child = subprocess.run([sys.executable, "-c", "import sys, libbpf_py as bpf\n"
                            "print(bpf.Btf.from_file(sys.argv[1]).dump_c(['T'], header=False))", str(raw)],
                           capture_output=True, text=True, timeout=60)
    assert child.returncode == 0, child.stderr or f"the child died of signal {-child.returncode}"
    assert child.stdout.count("struct {") == 40 and child.stdout.rstrip().endswith("} T;"), child.stdout


def raw_split(types: bytes, strings: bytes) -> bytes:
    """Raw split BTF: a header, its own types and strings (ids and offsets continue its base's)."""
    return struct.pack("<HBBIIIII", 0xEB9F, 1, 0, 24, 0, len(types), len(types), len(strings)) + types + strings


def test_a_split_btf_over_a_split_btf_is_checked_with_every_base_s_types(tmp_path):
    """The ids of a split BTF continue all its bases': a pointer to itself over two levels is
    seen as one, and a nest of anonymous structs dumps (in a child: a crash fails the test)."""
    import libbpf_py as bpf

    base = Btf("little")
    base.add_int("int", 4, signed=True)
    (tmp_path / "a.btf").write_bytes(base.to_bytes())
    (tmp_path / "b.btf").write_bytes(raw_split(b"", b"\0"))
    (tmp_path / "loop.btf").write_bytes(raw_split(struct.pack("<III", 0, B.info_word(B.PTR), 2), b""))
    a = bpf.Btf.from_file(tmp_path / "a.btf")
    if bpf.libbpf_version() < (1, 7):  # its string offsets then continue the nearest base's only
        with pytest.raises(bpf.LibbpfFeatureError, match="a split BTF over a split BTF"):
            bpf.Btf.from_file(tmp_path / "loop.btf", base=bpf.Btf.from_file(tmp_path / "b.btf", base=a))
        return
    b = bpf.Btf.from_file(tmp_path / "b.btf", base=a)
    with pytest.raises(BtfError, match=r"\[2\] \(PTR\): refers to itself"):
        bpf.Btf.from_file(tmp_path / "loop.btf", base=b)
    c = tmp_path / "nest.btf"  # 12 anonymous structs behind pointers, made by libbpf's writer over b
    lib = bpf.libbpf()
    split = lib.btf__new_empty_split(b.as_libbpf())
    try:
        inner = 1
        for _ in range(12):
            pointer = lib.btf__add_ptr(split, inner)
            inner = lib.btf__add_struct(split, b"", 8)
            lib.btf__add_field(split, b"p", pointer, 0, 0)
        lib.btf__add_typedef(split, b"T", inner)
        size = ctypes.c_uint32()
        c.write_bytes(ctypes.string_at(lib.btf__raw_data(split, ctypes.byref(size)), size.value))
    finally:
        lib.btf__free(split)
    child = subprocess.run([sys.executable, "-c", "import sys, libbpf_py as bpf\n"
                            "a = bpf.Btf.from_file(sys.argv[1]); b = bpf.Btf.from_file(sys.argv[2], base=a)\n"
                            "print(bpf.Btf.from_file(sys.argv[3], base=b).dump_c(['T'], header=False))",
                            str(tmp_path / "a.btf"), str(tmp_path / "b.btf"), str(c)],
                           capture_output=True, text=True, timeout=60)
    assert child.returncode == 0, child.stderr or f"the child died of signal {-child.returncode}"
    assert child.stdout.count("struct {") == 12


def test_the_linker_s_walk_through_named_structs_is_bounded_too():
    """libbpf's BTF dedup follows pointers into named structs (the dump stops there): a chain
    of 60k `struct sN { struct sN+1 *next; }` passes the check but not the linker's."""
    from libbpf_py.elf.btf_check import MAX_LINK_DEPTH, check_linkable

    btf = Btf("little")
    count = 30_000  # a struct and a pointer each: 60k types along the chain
    for i in range(count):  # struct s<i> { struct s<i+1> *next; }: [2i+1] struct, [2i+2] pointer to [2i+3]
        btf.add_struct(f"s{i}", [("next", 2 * i + 2, 0)], 8)
        btf.add_ptr(2 * i + 3 if i + 1 < count else 0)
    validate(btf)
    with pytest.raises(BtfError, match=f"more than {MAX_LINK_DEPTH} deep .libbpf's linker"):
        check_linkable(btf)
    check_linkable(small())


def doubling_nest(depth: int) -> Btf:
    """``typedef struct { struct {...} *a, *b; } T``: each anonymous struct named twice by the next."""
    btf = Btf("little")
    inner = btf.add_int("int", 4, signed=True)
    for _ in range(depth):
        pointer = btf.add_ptr(inner)
        inner = btf.add_struct("", [("a", pointer, 0), ("b", pointer, 64)], 16)
    btf.add(B.Type(btf.add_string("T"), B.info_word(B.TYPEDEF), inner))
    return btf


def test_a_dump_that_would_write_its_anonymous_types_too_many_times_is_refused():
    """btf_dump writes an anonymous struct out wherever a declaration names it: named twice at
    each of 40 levels, 2**40 times (it never ends; SIGINT could not stop it)."""
    import libbpf_py as bpf

    small_text = bpf.Btf.from_bytes(doubling_nest(6).to_bytes()).dump_c(["T"], header=False)
    assert small_text.count("struct {") == 2 ** 6 - 1  # what the check counts before dumping
    with pytest.raises(bpf.InvalidValueError, match=r"would declare \d+ anonymous structs, unions and enums inline"):
        bpf.Btf.from_bytes(doubling_nest(40).to_bytes()).dump_c()


def test_the_count_covers_what_a_named_type_needs_too():
    """dump_c(["struct outer"]) writes the definitions outer needs first: their nests count."""
    import libbpf_py as bpf

    btf = doubling_nest(40)
    btf.add_struct("outer", [("t", len(btf.types), 0)], 8)  # a member of the typedef T
    with pytest.raises(bpf.InvalidValueError, match="would declare"):
        bpf.Btf.from_bytes(btf.to_bytes()).dump_c(["struct outer"])
