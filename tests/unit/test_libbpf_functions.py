"""The generated table of libbpf's functions against the libbpf that is loaded (the suite runs
once per libbpf build of the matrix) and against every build in vendor/cache; no kernel needed."""

from __future__ import annotations

import ctypes
import errno
import os
import struct
import subprocess
import sys
from pathlib import Path
from typing import List, Set

import pytest

import libbpf_py as bpf
from libbpf_py import _libbpf, _libbpf_functions
from libbpf_py._libbpf import SIGNATURES, version_key
from libbpf_py._libbpf_functions import FUNCTIONS, SOURCE_VERSION

ROOT = Path(__file__).resolve().parents[2]
SOURCE = ROOT / "vendor" / "cache" / f"libbpf-{SOURCE_VERSION}.0-1-src" / "source" / "src"
BUILDS = ROOT / "vendor" / "cache" / "libbpf-builds.txt"
GENERATOR = ROOT / "scripts" / "gen_signatures.py"


def exported_functions(path: str) -> Set[str]:
    """The defined FUNC symbols of a shared object's .dynsym."""
    data = Path(path).read_bytes()
    shoff, = struct.unpack_from("<Q", data, 0x28)
    shentsize, shnum = struct.unpack_from("<HH", data, 0x3A)
    sections = [struct.unpack_from("<IIQQQQIIQQ", data, shoff + i * shentsize) for i in range(shnum)]
    names: Set[str] = set()
    for _, sh_type, _, _, offset, size, link, _, _, entsize in sections:
        if sh_type != 11:  # SHT_DYNSYM
            continue
        strtab = sections[link]
        for at in range(offset, offset + size, entsize):
            st_name, st_info, _, st_shndx, _, _ = struct.unpack_from("<IBBHQQ", data, at)
            if st_info & 0xF == 2 and st_info >> 4 == 1 and st_shndx != 0:  # FUNC, GLOBAL, defined
                end = data.index(b"\0", strtab[4] + st_name)
                names.add(data[strtab[4] + st_name:end].decode())
    return names


def matrix() -> List[str]:
    if not BUILDS.exists():
        return []
    return [line for line in BUILDS.read_text().split() if os.path.exists(line)]


def _version_of(path: str) -> tuple:
    lib = ctypes.CDLL(path)
    lib.libbpf_major_version.restype = lib.libbpf_minor_version.restype = ctypes.c_uint32
    return (lib.libbpf_major_version(), lib.libbpf_minor_version())


def _check_build(path: str) -> None:
    version = _version_of(path)
    exported = exported_functions(path)
    assert exported - set(FUNCTIONS) == set(), f"{path} exports functions the table lacks"
    for name, (_, _, _, since) in FUNCTIONS.items():
        assert (name in exported) == (version_key(since)[:2] <= version), \
            f"{name}: the table says libbpf {since}, {path} (v{version[0]}.{version[1]}) says otherwise"


def test_the_table_is_the_loaded_libbpfs_whole_abi():
    """Every function the loaded libbpf exports has a row, and a row's version node says
    exactly whether this libbpf exports it."""
    _check_build(os.path.realpath(_libbpf.lib().resolved_path()))


@pytest.mark.parametrize("path", matrix() or [pytest.param(None, marks=pytest.mark.skip(
    reason="no libbpf builds in vendor/cache (vendor/libbpf/fetch and build-sources make them)"))])
def test_the_table_agrees_with_every_build_of_the_matrix(path):
    _check_build(path)


def _abi_kind(t) -> str:
    """A ctypes type as the C ABI sees it: void, a pointer, bool, or an integer's sign and size."""
    if t is None:
        return "void"
    if t in (ctypes.c_char_p, ctypes.c_void_p) or issubclass(t, (ctypes._Pointer, ctypes._CFuncPtr)):
        return "pointer"
    if t is ctypes.c_bool:
        return "bool"
    return f"{'s' if t(-1).value < 0 else 'u'}{ctypes.sizeof(t)}"


def _generated(name: str):
    return None if name == "None" else getattr(ctypes, name)


def test_the_packages_own_rows_agree_with_libbpfs_headers():
    """A hand-written row says what libbpf's prototype says: version node, arity, C types."""
    for name, sig in SIGNATURES.items():
        restype, argtypes, _, since = FUNCTIONS[name]
        assert sig.since == since, f"{name}: the table says {sig.since}, libbpf.map {since}"
        assert len(sig.argtypes) == len(argtypes), name
        assert _abi_kind(sig.restype) == _abi_kind(_generated(restype)), f"{name} returns {restype}"
        for i, (mine, theirs) in enumerate(zip(sig.argtypes, argtypes)):
            assert _abi_kind(mine) == _abi_kind(_generated(theirs)), f"{name} argument {i} is {theirs}, not {mine}"


@pytest.mark.skipif(not GENERATOR.exists(), reason="not a source checkout (scripts/ is not installed)")
@pytest.mark.skipif(not (SOURCE / "libbpf.map").exists(),
                    reason=f"libbpf {SOURCE_VERSION}'s source is not in vendor/cache (vendor/libbpf/build-sources)")
def test_the_table_is_what_the_generator_makes_of_libbpfs_sources(tmp_path):
    made = tmp_path / "_libbpf_functions.py"
    done = subprocess.run([sys.executable, str(GENERATOR), str(SOURCE), "-o", str(made)],
                          capture_output=True, text=True, timeout=60)
    assert done.returncode == 0, done.stderr
    assert made.read_bytes() == Path(_libbpf_functions.__file__).read_bytes(), \
        "libbpf_py/_libbpf_functions.py is not what scripts/gen_signatures.py makes"


def test_any_libbpf_function_is_reachable_and_checked():
    lib = bpf.libbpf()
    assert lib.libbpf_bpf_prog_type_str(6) == b"xdp"  # 1.0.0; not called by the package itself
    with pytest.raises(bpf.LibbpfError) as exc:
        lib.btf__parse(b"/nonexistent/btf", None)  # NULL with errno
    assert exc.value.errno == 2 and exc.value.function == "btf__parse"
    with pytest.raises(bpf.LibbpfError) as exc:
        lib.libbpf_find_vmlinux_btf_id(b"no_such_function_anywhere", 24)  # a negative errno
    assert exc.value.errno in (2, 3)  # ENOENT, or ESRCH without kernel BTF
    with pytest.raises(bpf.UnavailableError, match="not a libbpf function"):
        lib.bpf_no_such_function


@pytest.mark.skipif(_libbpf.lib().version >= (1, 3), reason="the loaded libbpf has bpf_program__attach_tcx (1.3)")
def test_a_newer_function_names_the_version_that_has_it():
    with pytest.raises(bpf.LibbpfFeatureError, match=r"bpf_program__attach_tcx: needs libbpf >= 1\.3\.0"):
        bpf.libbpf().bpf_program__attach_tcx(None, 0, None)


def test_results_are_checked_as_each_function_reports_failure(bpf_obj):
    """__s32 and __s64 results are negative errnos as int ones are; -1 is "none" where libbpf
    says so; a NULL result sets errno in the functions libbpf's sources say do."""
    lib = bpf.libbpf()
    btf = lib.btf__new_empty()
    try:
        with pytest.raises(bpf.LibbpfError) as exc:
            lib.btf__find_by_name(btf, b"no_such_type")  # __s32
        assert exc.value.errno == errno.ENOENT
        with pytest.raises(bpf.LibbpfError):
            lib.btf__resolve_size(btf, 77)  # __s64: no type 77
        assert lib.btf__fd(btf) == -1  # not loaded into the kernel: none, no error
        assert lib.btf__name_by_offset(btf, 0) == b""  # a string, empty: no error
        with pytest.raises(bpf.LibbpfError) as exc:
            lib.btf__name_by_offset(btf, 1 << 20)  # NULL, errno EINVAL
        assert exc.value.errno == errno.EINVAL
        with pytest.raises(bpf.LibbpfError) as exc:
            lib.btf__type_by_id(btf, 77)
        assert exc.value.errno == errno.EINVAL
    finally:
        lib.btf__free(btf)
    with bpf.Object.open(bpf_obj("maps")) as obj:
        with pytest.raises(bpf.LibbpfError) as exc:
            lib.bpf_object__find_map_by_name(obj.as_libbpf(), b"no_such_map")
        assert exc.value.errno == errno.ENOENT
        first = next(iter(obj.maps))
        assert lib.bpf_object__find_map_fd_by_name(obj.as_libbpf(), first.encode()) == -1  # not created yet
