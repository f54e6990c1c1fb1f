"""Exceptions: errno classes, pickling, messages (no kernel needed)."""

from __future__ import annotations

import errno
import pickle

import pytest

from libbpf_py import LibbpfError, MapIncompatibleError, VerifierError


def test_errno_picks_the_builtin_subclass_too():
    exc = LibbpfError.for_errno(errno.ENOENT, None, "bpf_obj_get")
    assert isinstance(exc, FileNotFoundError) and isinstance(exc, LibbpfError)
    assert exc.errno == errno.ENOENT and exc.function == "bpf_obj_get"
    assert str(exc) == "[Errno 2] bpf_obj_get: No such file or directory"
    assert type(LibbpfError.for_errno(errno.EPERM)) is type(LibbpfError.for_errno(errno.EPERM))
    assert type(LibbpfError.for_errno(errno.E2BIG)) is LibbpfError


def test_libbpf_private_errnos_have_messages():
    assert "ELF" in str(LibbpfError.for_errno(4001, None, "bpf_object__open_mem"))


def test_pickle_round_trip():
    exc = pickle.loads(pickle.dumps(LibbpfError.for_errno(errno.EACCES, None, "bpf_prog_load")))
    assert isinstance(exc, PermissionError) and exc.function == "bpf_prog_load" and exc.errno == errno.EACCES


def test_verifier_error_shows_the_end_of_the_log():
    log = "".join(f"line {i}\n" for i in range(100))
    exc = VerifierError(errno.EACCES, "rejected", "bpf_object__load", program="p", log=log)
    text = str(exc)
    assert "line 99" in text and "line 50" not in text and "'p'" in text


def test_map_incompatible_lists_differences():
    exc = MapIncompatibleError("/sys/fs/bpf/x", ["key_size: object 8, pinned 4"])
    assert exc.errno == errno.EINVAL and "key_size: object 8, pinned 4" in str(exc)


def test_context_is_added_to_the_parts_not_to_the_message():
    exc = LibbpfError.for_errno(errno.ENOENT, None, "bpf_obj_get")
    assert exc.detail == "No such file or directory" and exc.warnings == ()
    more = exc.with_detail(f"cannot open the pin at /x: {exc.detail}", warnings=["map 'a': bad"])
    assert type(more) is type(exc) and isinstance(more, FileNotFoundError)
    assert (more.errno, more.function) == (errno.ENOENT, "bpf_obj_get")
    assert str(more) == "[Errno 2] bpf_obj_get: cannot open the pin at /x: No such file or directory (map 'a': bad)"
    assert exc.detail == "No such file or directory"  # the original is unchanged
    again = pickle.loads(pickle.dumps(more))
    assert (again.detail, again.warnings, str(again)) == (more.detail, more.warnings, str(more))


def test_a_pin_layout_words_a_mismatch_its_own_way():
    exc = MapIncompatibleError("/p", ["x"], "m", detail="Map specification differs from pinned file!")
    assert str(exc) == "[Errno 22] Map specification differs from pinned file!" and exc.differences == ["x"]


def test_function_is_always_a_c_name():
    """`function` names the C function that failed (libbpf's or libc's), or is None."""
    import re
    from pathlib import Path

    import libbpf_py
    from libbpf_py._libbpf import LIBC
    from libbpf_py._libbpf_functions import FUNCTIONS

    c_names = set(FUNCTIONS) | set(LIBC) | {"dlopen", "dup", "flock", "open"}
    package = Path(libbpf_py.__file__).parent
    for path in package.rglob("*.py"):
        for match in re.finditer(r"for_errno\((?:[^()]|\([^()]*\))*?,\s*\"([^\"]*)\"\)", path.read_text()):
            assert match.group(1) in c_names, f"{path.name}: function={match.group(1)!r} is not a C function"


def test_every_exception_of_the_package_derives_from_error_and_keeps_its_builtin_base():
    import libbpf_py as bpf
    from libbpf_py import errors

    for name in errors.__all__:
        cls = getattr(bpf, name)
        assert issubclass(cls, bpf.Error), name
        assert cls is bpf.Error or any(base.__module__ == "builtins" and base is not Exception
                                       for base in cls.__mro__[1:]), name
    assert issubclass(bpf.LibbpfError, OSError) and issubclass(bpf.ElfError, ValueError)
    assert issubclass(bpf.KeyNotFoundError, KeyError) and issubclass(bpf.MissingBtfError, LookupError)


def test_the_package_raises_no_builtin_exception_of_its_own():
    """Every `raise` names one of the package's classes (a built-in re-raised is not matched):
    `except libbpf_py.Error` then catches all the library raises."""
    import re
    from pathlib import Path

    import libbpf_py

    builtin = re.compile(r"raise (ValueError|TypeError|KeyError|IndexError|RuntimeError|LookupError|OSError|"
                         r"FileNotFoundError|PermissionError|AttributeError|ImportError|MemoryError|Exception)\(")
    found = [f"{path.name}:{number}" for path in Path(libbpf_py.__file__).parent.rglob("*.py")
             if path.name != "_typing.py"
             for number, line in enumerate(path.read_text().splitlines(), 1) if builtin.search(line)]
    assert not found, found


def test_a_missing_object_file_is_a_libbpf_error_and_a_file_not_found_error(tmp_path):
    import libbpf_py as bpf

    with pytest.raises(bpf.LibbpfError) as raised:
        bpf.Object.open(tmp_path / "missing.o")
    assert isinstance(raised.value, FileNotFoundError) and "missing.o" in str(raised.value)
