"""BTF outside an object: the running kernel's, a file's, a kernel BTF object's, or a C header's.

``Btf.vmlinux()["struct task_struct"]`` is the ctypes type of the kernel's struct, laid out
as :mod:`~libbpf_py.btf_ctypes` lays out ``obj.btf["struct event"]``; ``btf.dump_c()`` writes
every type as C, as ``bpftool btf dump file ... format c`` writes ``vmlinux.h``.

A type an object's BTF lacks because its programs reach it only through ``void *`` (a ring
buffer's record: ``obj.btf`` raises :class:`~libbpf_py.errors.MissingTypeError`) is read from
the header that declares it: ``Btf.from_header("event.h")["struct event"]``. clang compiles
the header for ``-target bpf`` with a global naming each struct, union, enum and typedef the
header declares, so that every one of them reaches BTF.

libbpf holds the BTF (``struct btf``) and answers lookups by name, which stay cheap among the
kernel's ~125k types; a type's ctypes form is made on first use, for the types it reaches
only. A BTF from a file, bytes or a header is checked by the package's validator before
anything follows its type ids (libbpf before 1.3 does not check them).
"""

from __future__ import annotations

import _thread
import ctypes
import errno
import os
import re
import shutil
import struct
import weakref
from typing import TYPE_CHECKING, Any, Callable, Dict, Iterable, Iterator, List, Optional, Sequence, Set, Tuple, Union

from . import _libbpf, _log, _signals
from ._checks import c_name_bytes, c_path
from ._fd import check_regular
from .elf import btf as _kinds
from .errors import (
    ClosedError,
    ElfError,
    InvalidTypeError,
    InvalidValueError,
    LibbpfError,
    LibbpfFeatureError,
    MissingBtfError,
    MissingDependencyError,
    MissingTypeError,
)

if TYPE_CHECKING:
    from .btf_ctypes import Types
    from .elf.btf import Btf as PureBtf

    PathLike = Union[str, "os.PathLike[str]"]

__all__ = ["Btf", "HeaderCompileError"]

VMLINUX = "/sys/kernel/btf/vmlinux"
KERNEL_BTF_DIR = "/sys/kernel/btf/"
_BTF_MAGIC = {b"\x9f\xeb": "<", b"\xeb\x9f": ">"}
_HEADER = "HBBIIIII"  # struct btf_header: magic, version, flags, hdr_len, type_off/len, str_off/len

# what a bare name means, in this order: C's own meaning first (a typedef), then the tags
_BARE_KINDS = (_kinds.TYPEDEF, _kinds.STRUCT, _kinds.UNION, _kinds.ENUM, _kinds.ENUM64, _kinds.INT, _kinds.FLOAT,
               _kinds.DATASEC)
_TAGGED_KINDS = {"struct": (_kinds.STRUCT,), "union": (_kinds.UNION,), "enum": (_kinds.ENUM, _kinds.ENUM64)}
_NAMED_KINDS = {_kinds.STRUCT: "struct ", _kinds.UNION: "union ", _kinds.ENUM: "enum ", _kinds.ENUM64: "enum ",
                _kinds.TYPEDEF: "", _kinds.INT: "", _kinds.FLOAT: ""}

# bpftool's wrapper of `format c`: its include guard, and the attribute that makes every record
# CO-RE relocatable (facts of bpftool's output)
_PROLOGUE = ("#ifndef __VMLINUX_H__\n#define __VMLINUX_H__\n\n#ifndef BPF_NO_PRESERVE_ACCESS_INDEX\n"
             "#pragma clang attribute push (__attribute__((preserve_access_index)), apply_to = record)\n#endif\n\n")
_EPILOGUE = ("#ifndef BPF_NO_PRESERVE_ACCESS_INDEX\n#pragma clang attribute pop\n#endif\n\n"
             "#endif /* __VMLINUX_H__ */\n")

# void (*btf_dump_printf_fn_t)(void *ctx, const char *fmt, va_list args)
_DUMP_PRINTF = ctypes.CFUNCTYPE(None, ctypes.c_void_p, ctypes.c_void_p, ctypes.c_void_p)


class HeaderCompileError(InvalidValueError):
    """clang refused a header given to :meth:`Btf.from_header`: ``diagnostics`` holds what clang
    printed, ``command`` the command line that failed."""

    def __init__(self, message: str, diagnostics: str, command: Sequence[str]):
        self.diagnostics = diagnostics
        self.command = list(command)
        super().__init__(f"{message}:\n{diagnostics.rstrip()}" if diagnostics.strip() else message)


class _Owner:
    """libbpf's ``struct btf *`` and the lock every use holds. Freed once, by close() or the
    finalizer, never during a call (a close from another thread waits for it), and not while a
    split BTF that reads it lives (``dependents``): then after the last of them."""

    def __init__(self, ptr: int, base: Optional[_Owner]):
        self.ptr = ptr
        self.lock = _thread.allocate_lock()
        self.closed = False  # by its user (the memory may outlive that, for a split BTF)
        self.dependents = 0
        self.base = base
        if base is not None:
            with base.lock:
                base.dependents += 1

    def levels(self) -> List[_Owner]:
        """The root base first, then each split BTF over it, down to this one."""
        chain = [self]
        while chain[-1].base is not None:
            chain.append(chain[-1].base)
        return chain[::-1]

    def close(self) -> None:
        with self.lock:
            self.closed = True
            if self.dependents or not self.ptr:
                return
            ptr, self.ptr = self.ptr, 0
        self._free(ptr)

    def _release(self) -> None:
        """A split BTF over this one was freed."""
        with self.lock:
            self.dependents -= 1
            if self.dependents or not self.closed or not self.ptr:
                return
            ptr, self.ptr = self.ptr, 0
        self._free(ptr)

    def _free(self, ptr: int) -> None:
        _libbpf.lib().btf__free(ptr)
        base, self.base = self.base, None
        if base is not None:
            base._release()

    def raw(self) -> bytes:
        """The raw bytes (also of a base its user closed: a split BTF's types need them)."""
        size = ctypes.c_uint32()
        with self.lock:  # btf__raw_data makes and caches the bytes: one thread at a time
            if not self.ptr:
                raise ClosedError("the BTF is closed")
            address = _libbpf.lib().btf__raw_data(self.ptr, ctypes.byref(size))
            if not address:
                raise LibbpfError.for_errno(errno.ENOMEM, None, "btf__raw_data")
            return ctypes.string_at(address, size.value)


_live: weakref.WeakSet[_Owner] = weakref.WeakSet()


def _after_fork_in_child() -> None:
    """A child forked while another thread held a BTF's lock gets a free lock (that thread is
    not there to release it)."""
    for owner in list(_live):
        owner.lock = _thread.allocate_lock()


os.register_at_fork(after_in_child=_after_fork_in_child)


class Btf:
    """A BTF held by libbpf: its types by C name (``btf["struct task_struct"]`` is a ctypes
    type), their names, their C text. ``close()`` (or ``with``) frees libbpf's memory at once;
    the garbage collector frees it otherwise."""

    _source: str
    _vmlinux: bool
    _header: Optional[str] = None
    _owner: _Owner
    _finalizer: weakref.finalize[Any, Any]
    _types: Optional[Types]
    _pure: Optional[PureBtf]

    def __init__(self) -> None:
        raise InvalidTypeError("make a Btf with Btf.vmlinux(), Btf.from_file(), Btf.from_bytes(), "
                               "Btf.from_kernel_id() or Btf.from_header()")

    @classmethod
    def _adopt(cls, make: Callable[[Optional[int]], int], source: str, base: Optional[Btf] = None,
               validate: bool = False) -> Btf:
        """A Btf owning the ``struct btf *`` that ``make(base pointer)`` returns; ``validate``
        checks its types before any use follows their ids."""
        self = object.__new__(cls)
        self._source = source
        self._types = None
        self._pure = None
        self._vmlinux = validate is False and base is None and source == _VMLINUX_SOURCE
        base_owner = None if base is None else base._owner
        if base_owner is not None and base_owner.base is not None and _libbpf.lib().version < (1, 7):
            # libbpf 1.5 and older start a split BTF's strings after its own base's only, not after
            # every base's: its types would not read as the checks read them (1.7 does; 1.6 untested)
            raise LibbpfFeatureError("a split BTF over a split BTF", "1.7.0", _libbpf.lib().version_string)
        with _signals.deferred():  # no signal between libbpf's allocation and its owner
            if base_owner is None:
                ptr = make(None)
            else:
                with base_owner.lock:
                    if base_owner.closed:
                        raise ClosedError(f"base {base._source} is closed")  # type: ignore[union-attr]
                    ptr = make(base_owner.ptr)
            self._owner = owner = _Owner(ptr, base_owner)
            self._finalizer = weakref.finalize(self, owner.close)
        _live.add(owner)
        if validate:
            try:
                self._validate()
            except BaseException:
                self.close()
                raise
        return self

    # making one --------------------------------------------------------------------------

    @classmethod
    def vmlinux(cls) -> Btf:
        """The running kernel's BTF (``/sys/kernel/btf/vmlinux``, else a vmlinux image where
        libbpf looks); MissingBtfError on a kernel built without CONFIG_DEBUG_INFO_BTF."""
        lib = _libbpf.lib()
        try:
            return cls._adopt(lambda _: lib.btf__load_vmlinux_btf(), _VMLINUX_SOURCE)
        except LibbpfError as exc:
            if exc.errno in (errno.ENOENT, errno.ESRCH):
                raise MissingBtfError(f"the kernel has no BTF ({VMLINUX} is missing: a kernel built without "
                                      "CONFIG_DEBUG_INFO_BTF)") from None
            raise

    @classmethod
    def from_file(cls, path: PathLike, *, base: Optional[Btf] = None) -> Btf:
        """The BTF of a file: raw BTF (as ``/sys/kernel/btf/*`` holds it) or an ELF file's
        ``.BTF``. ``base``: the BTF a split BTF extends (a kernel module's extends vmlinux's)."""
        encoded = c_path(path)
        shown = os.fsdecode(encoded)
        if not os.path.exists(encoded):
            raise LibbpfError.for_errno(errno.ENOENT, f"{shown}: no such file", "btf__parse")
        check_regular(encoded, "BTF file", "btf__parse")
        lib = _libbpf.lib()
        trusted = os.path.realpath(shown).startswith(KERNEL_BTF_DIR)  # the kernel made and checked it
        try:
            return cls._adopt(lambda base_ptr: lib.btf__parse(encoded, None) if base_ptr is None
                              else lib.btf__parse_split(encoded, base_ptr),
                              f"the BTF of {shown}", base, validate=not trusted)
        except LibbpfFeatureError:
            raise
        except LibbpfError as exc:
            if exc.errno in (errno.ENOENT, errno.ENODATA):
                raise MissingBtfError(f"{shown} has no BTF (an object built without -g has no .BTF section)") \
                    from None
            raise exc.with_detail(f"{shown}: {exc.detail} (neither raw BTF nor an ELF file with a valid .BTF"
                                  f"{'' if base is None else ' extending the base'})") from None

    @classmethod
    def from_bytes(cls, data: Any, *, base: Optional[Btf] = None) -> Btf:
        """BTF from raw bytes (header, types, strings), as :meth:`raw_data` gives them."""
        try:
            raw = memoryview(data).tobytes()
        except TypeError:
            raise InvalidTypeError(f"data must be bytes-like, not {type(data).__name__}") from None
        if not 0 < len(raw) < 1 << 32:
            raise InvalidValueError(f"raw BTF of {len(raw)} bytes: libbpf takes 1 to 2**32 - 1")
        lib = _libbpf.lib()
        buf = ctypes.create_string_buffer(raw, len(raw))  # libbpf copies it
        return cls._adopt(lambda base_ptr: lib.btf__new(buf, len(raw)) if base_ptr is None
                          else lib.btf__new_split(buf, len(raw), base_ptr),
                          "BTF from bytes", base, validate=True)

    @classmethod
    def from_kernel_id(cls, btf_id: int, *, base: Optional[Btf] = None) -> Btf:
        """The kernel's BTF object ``btf_id`` (``bpftool btf show`` lists them: vmlinux's, a
        module's, a loaded object's). A module's BTF extends vmlinux's: pass ``base``."""
        if isinstance(btf_id, bool) or not isinstance(btf_id, int) or not 0 < btf_id < 1 << 32:
            raise InvalidValueError(f"btf_id must be an int in [1, 2**32), got {btf_id!r}")
        lib = _libbpf.lib()
        try:
            return cls._adopt(lambda base_ptr: lib.btf__load_from_kernel_by_id(btf_id) if base_ptr is None
                              else lib.btf__load_from_kernel_by_id_split(btf_id, base_ptr),
                              f"kernel BTF object {btf_id}", base)
        except LibbpfError as exc:
            if exc.errno == errno.ENOENT:
                raise exc.with_detail(f"no BTF object with id {btf_id} in the kernel") from None
            raise

    @classmethod
    def from_header(cls, path: PathLike, include_dirs: Sequence[PathLike] = (), clang: Optional[str] = None, *,
                    prelude: Sequence[str] = ("linux/types.h",), cflags: Sequence[str] = ()) -> Btf:
        """The types a C header declares, compiled by clang into BTF.

        Each struct, union, enum and typedef the header itself declares reaches BTF, used or
        not; those of the headers it includes come along where its own types use them.
        ``prelude``: headers included first, as the BPF program includes them before this one
        (the default declares ``__u32``...; ``("vmlinux.h",)``, with its directory in
        ``include_dirs``, for a header written against it). ``clang``: the compiler (default:
        ``$CLANG``, else ``clang``, else the newest ``clang-N`` on PATH). MissingDependencyError
        when there is none; HeaderCompileError, with clang's diagnostics, when the header does
        not compile.
        """
        import tempfile

        header = os.path.abspath(os.fsdecode(c_path(path, "path")))
        if not os.path.exists(header):
            raise LibbpfError.for_errno(errno.ENOENT, f"{header}: no such header")
        check_regular(os.fsencode(header), "header")
        dirs = [os.path.abspath(os.fsdecode(c_path(d, "include dir"))) for d in include_dirs]
        compiler = find_clang(clang)
        with tempfile.TemporaryDirectory(prefix="libbpf_py-header-") as workdir:
            obj = _compile_header(header, dirs, compiler, list(prelude), list(cflags), workdir)
            btf = cls.from_file(obj)
        btf._source = f"the BTF of header {header}"
        btf._header = header
        return btf

    # the handle ----------------------------------------------------------------------------

    @property
    def closed(self) -> bool:
        return self._owner.closed

    def close(self) -> None:
        """Free libbpf's memory (after a call another thread runs on it); safe twice. A BTF that
        extends this one keeps its memory until it is closed too."""
        self._finalizer()

    def __enter__(self) -> Btf:
        self._ptr()
        return self

    def __exit__(self, *exc: Any) -> None:
        self.close()

    def __repr__(self) -> str:
        return f"<Btf {self._source}{' closed' if self.closed else ''}>"

    def __reduce__(self) -> Any:
        raise InvalidTypeError("a Btf holds libbpf's memory and cannot be pickled: pass its file, raw_data() or "
                               "kernel id instead")

    def _ptr(self) -> int:
        if self._owner.closed:
            raise ClosedError(f"{self._source} is closed")
        return self._owner.ptr

    def as_libbpf(self) -> int:
        """libbpf's ``struct btf *``, valid until close(): for libbpf's own btf__* functions."""
        return self._ptr()

    def _call(self, name: str, *args: Any) -> Any:
        """libbpf's ``name`` on this BTF, under its lock."""
        owner = self._owner
        with owner.lock:
            return getattr(_libbpf.lib(), name)(self._ptr(), *args)

    # reading -------------------------------------------------------------------------------

    @property
    def type_count(self) -> int:
        """The number of types, a base's included (ids run from 1 to type_count)."""
        return int(self._call("btf__type_cnt")) - 1

    def raw_data(self) -> bytes:
        """The BTF as raw bytes (header, types, strings), as :meth:`from_bytes` takes them and
        ``/sys/kernel/btf/*`` holds them; a split BTF's hold its own types only."""
        self._ptr()
        return self._owner.raw()

    def find(self, name: Union[str, int]) -> int:
        """The type id of ``name``: ``"struct task_struct"``, ``"union u"``, ``"enum e"``, or a bare
        name (a typedef's first, then a struct's, union's, enum's, an int's, a float's); an int
        is an id. MissingTypeError (a KeyError) when there is none."""
        if isinstance(name, int) and not isinstance(name, bool):
            count = self.type_count
            if not 0 < name <= count:
                raise MissingTypeError(f"no type id {name} in {self._source} (ids run from 1 to {count})")
            return name
        if not isinstance(name, str):
            raise InvalidTypeError(f"a type name is a str (or an int id), not {type(name).__name__}")
        word, _, rest = name.strip().partition(" ")
        kinds = _TAGGED_KINDS.get(word)
        bare = rest.strip() if kinds is not None else name.strip()
        encoded = c_name_bytes(bare)
        if bare and b"\0" not in encoded:
            for kind in kinds or _BARE_KINDS:
                found = int(self._call("btf__find_by_name_kind", encoded, kind))
                if found > 0:
                    return found
        raise MissingTypeError(self._missing(name))

    def _missing(self, name: str) -> str:
        text = f"no type {name!r} in {self._source}"
        if self._header is None:
            return text
        return (f"{text}: from_header keeps each struct, union, enum and typedef the header itself declares, and "
                "those of the headers it includes where its own types use them")

    def __contains__(self, name: object) -> bool:
        if not isinstance(name, (str, int)):
            return False
        try:
            self.find(name)
        except MissingTypeError:
            return False
        return True

    def __getitem__(self, name: Union[str, int]) -> Any:
        """The ctypes type of ``name`` (see :meth:`find`), made on first use and kept, as
        ``obj.btf[name]`` makes an object's (see :mod:`libbpf_py.btf_ctypes`)."""
        type_id = self.find(name)
        return self.types.of(type_id)

    def get(self, name: Union[str, int], default: Any = None) -> Any:
        """``self[name]``, or ``default`` when there is no such type."""
        try:
            return self[name]
        except MissingTypeError:
            return default

    def enumerators(self, name: Union[str, int]) -> Dict[str, int]:
        """The members of enum ``name`` and their values, in declaration order:
        ``btf.enumerators("enum bpf_func_id")["BPF_FUNC_ktime_get_ns"]``."""
        type_id = self.find(name)
        with self._owner.lock:
            lib = _libbpf.lib()
            ptr = self._ptr()
            address = lib.btf__type_by_id(ptr, type_id)
            _name_off, info, _size = struct.unpack("=III", ctypes.string_at(address, 12))
            kind, vlen, signed = (info >> 24) & 0x1F, info & 0xFFFF, bool(info >> 31)
            if kind not in (_kinds.ENUM, _kinds.ENUM64):
                raise InvalidTypeError(f"{name!r} is no enum in {self._source}")
            record = "=Ii" if kind == _kinds.ENUM else "=III"
            width = struct.calcsize(record)
            values: Dict[str, int] = {}
            for name_off, *value in struct.iter_unpack(record, ctypes.string_at(address + 12, width * vlen)):
                number = value[0] if kind == _kinds.ENUM else value[0] | value[1] << 32
                if kind == _kinds.ENUM and not signed:
                    number &= 0xFFFFFFFF
                elif kind == _kinds.ENUM64 and signed and number >= 1 << 63:
                    number -= 1 << 64
                member = lib.btf__name_by_offset(ptr, name_off)
                values[(member or b"").decode("utf-8", "surrogateescape")] = number
            return values

    def check(self, name: Union[str, int], ctype: Any) -> None:
        """BtfTypeError naming the first member where ``ctype`` (a ctypes type written by hand)
        differs from BTF's type ``name``; nothing when they match."""
        self.types.check(self.find(name), ctype)

    @property
    def types(self) -> Types:
        """The :class:`~libbpf_py.btf_ctypes.Types` of this BTF (what ``obj.btf`` is for an object)."""
        self._ptr()
        if self._types is None:
            from .btf_ctypes import Types

            self._types = Types(self._pure_btf())
        return self._types

    def _pure_btf(self) -> PureBtf:
        """This BTF as the package's own reader sees it (a split BTF with its base's types)."""
        if self._pure is None:
            from .elf.btf import Btf as PureBtf

            levels = self._owner.levels()  # the root base first, this BTF last
            raw = levels[0].raw()
            for level in levels[1:]:  # (each split's ids continue its base's, whatever the depth)
                raw = _joined(raw, level.raw())
            self._pure = PureBtf.parse(raw, "little" if _order(raw) == "<" else "big")
        return self._pure

    def _validate(self) -> None:
        """Refuse a BTF whose types point outside it (or contain themselves) before any use."""
        from .elf.btf_check import validate

        try:
            validate(self._pure_btf())
        except ElfError as exc:
            raise type(exc)(f"{self._source}: {exc}") from None

    def __iter__(self) -> Iterator[str]:
        """The names ``[]`` takes, once each, in type id order: ``"struct task_struct"``,
        ``"enum pid_type"``, ``"u32"``..."""
        self._ptr()
        pure = self._pure_btf()
        seen: Set[str] = set()
        for t in pure.types:
            prefix = _NAMED_KINDS.get(t.kind)
            if prefix is None or not t.name_off:
                continue
            name = prefix + pure.name(t)
            if name not in seen:
                seen.add(name)
                yield name

    # writing C -----------------------------------------------------------------------------

    def dump_c(self, names: Optional[Iterable[Union[str, int]]] = None, *, header: bool = True) -> str:
        """The types as C, from libbpf's ``btf_dump``: all of them, or those ``names`` names and
        what they need. ``header``: wrapped as ``bpftool btf dump file F format c`` wraps them
        (the ``__VMLINUX_H__`` guard and the ``preserve_access_index`` pragma), which makes the
        text bpftool's on the same libbpf; without it, the declarations alone."""
        ids: List[int] = list(range(1, self.type_count + 1)) if names is None else [self.find(n) for n in names]
        bodies = 0 if self._vmlinux else _inline_bodies(self._pure_btf(), ids)  # (the kernel's own: pahole's C)
        if bodies > MAX_DUMP_BODIES:
            raise InvalidValueError(f"the C text of {self._source} would declare {bodies} anonymous structs, unions "
                                    f"and enums inline (more than {MAX_DUMP_BODIES}): its anonymous types are "
                                    "named from many places, and btf_dump writes each out at every one")
        chunks: List[bytes] = [_PROLOGUE.encode()] if header else []
        failed: List[BaseException] = []
        render = _renderer()

        def printf(ctx: Optional[int], fmt: int, args: int) -> None:
            try:  # (signals are deferred meanwhile: none is raised in here, at the frame's start or later)
                if not failed:
                    chunks.append(render(fmt, args))
            except BaseException as exc:  # never unwind through C: raised once the type is written
                failed.append(exc)

        callback = _DUMP_PRINTF(printf)
        lib = _libbpf.lib()
        levels = self._owner.levels()
        with self._owner.lock:
            padded = dump = None
            try:
                with _signals.deferred():  # (no handler runs inside btf_dump's printf: one raised there is lost)
                    self._ptr()
                    # a split BTF over the root base (libbpf splits one level deep), the types of every
                    # split level copied into it in order: the type ids are the dumped BTF's
                    padded = lib.btf__new_empty_split(levels[0].ptr if len(levels) > 1 else self._ptr())
                    for below, level in zip(levels, levels[1:]):
                        for type_id in range(lib.btf__type_cnt(below.ptr), lib.btf__type_cnt(level.ptr)):
                            lib.btf__add_type(padded, level.ptr, lib.btf__type_by_id(level.ptr, type_id))
                    dump = lib.btf_dump__new(padded, ctypes.cast(callback, ctypes.c_void_p), None, None)
                    _grow_decl_stack(padded, dump, chunks)
                done = 0
                while done < len(ids):  # a signal that came is handled after its type; a handler that
                    with _signals.deferred() as stopping:  # returns lets the dump go on
                        while done < len(ids) and not stopping.interrupted:
                            lib.btf_dump__dump_type(dump, ids[done])
                            done += 1
                            if failed:
                                raise failed[0]
            finally:
                with _signals.deferred():
                    if dump is not None:
                        lib.btf_dump__free(dump)
                    if padded is not None:
                        lib.btf__free(padded)
        if header:
            chunks.append(_EPILOGUE.encode())
        return b"".join(chunks).decode("utf-8", "replace")


_VMLINUX_SOURCE = "the kernel's BTF"
_DECL_STACK = 4096  # ids: more than any walk of a checked BTF (elf.btf_check.MAX_NESTING) can push
MAX_DUMP_BODIES = 1_000_000  # anonymous types written inline by one dump_c (vmlinux: about 10k)


def _inline_bodies(btf: PureBtf, ids: List[int]) -> int:
    """How many anonymous struct, union and enum bodies btf_dump writes for ``ids`` and what they
    need: it writes an anonymous type out in full wherever a declaration names it (through
    pointers, arrays, qualifiers and function prototypes), so a type named from two places in
    each of n nested ones is written 2**n times. Counted once per type, iteratively."""
    from .elf import btf as kinds

    inline: Dict[int, int] = {0: 0}  # type id -> bodies written where a declaration names it
    anonymous_records = (kinds.STRUCT, kinds.UNION)
    passes = (kinds.PTR, kinds.CONST, kinds.VOLATILE, kinds.RESTRICT, kinds.TYPE_TAG, kinds.ARRAY, kinds.FUNC_PROTO)

    def named(type_id: int) -> List[int]:  # the types a declaration of type_id goes on to write
        t = btf.get(type_id)
        if t.kind in anonymous_records:
            return [member for _, member, _ in btf.members(t)] if not t.name_off else []
        if t.kind == kinds.ARRAY:
            return [struct.unpack_from(btf._e + "I", t.tail, 0)[0]]
        if t.kind == kinds.FUNC_PROTO:
            return [t.size_or_type] + [struct.unpack_from(btf._e + "II", t.tail, 8 * i)[1] for i in range(t.vlen)]
        return [t.size_or_type] if t.kind in passes else []

    def weight(root: int) -> int:
        stack, on_stack = [root], {root}
        while stack:
            type_id = stack[-1]
            if type_id in inline:
                on_stack.discard(stack.pop())
                continue
            pending = [child for child in named(type_id) if child not in inline and child not in on_stack]
            if pending:  # (one already on the stack is a loop: btf_dump refuses it; counted as 0)
                stack += pending
                on_stack.update(pending)
                continue
            t = btf.get(type_id)
            own = int(not t.name_off and t.kind in (*anonymous_records, kinds.ENUM, kinds.ENUM64))
            inline[type_id] = own + sum(inline.get(child, 0) for child in named(type_id))
            on_stack.discard(stack.pop())
        return inline[root]

    from .elf.btf_check import references

    wanted, queue = set(ids), list(ids)  # and what they need: btf_dump writes those definitions first
    while queue:
        for child in references(btf, btf.get(queue.pop())):
            if child and child not in wanted:
                wanted.add(child)
                queue.append(child)
    total = 0
    for type_id in sorted(wanted):  # a definition writes its members' (or a typedef its target's) anonymous types
        t = btf.get(type_id)
        if t.kind in anonymous_records:
            total += sum(weight(member) for _, member, _ in btf.members(t))
        elif t.kind == kinds.TYPEDEF:
            total += weight(t.size_or_type)
        if total > MAX_DUMP_BODIES:
            break
    return total


def _grow_decl_stack(padded: int, dump: int, chunks: List[bytes]) -> None:
    """Work around libbpf's ``btf_dump`` (1.1 to 1.7 at least): an anonymous struct declared inline
    (``struct { struct { ... } *p; } *p``) keeps a pointer into the dump's declaration stack
    while the declarations inside it push onto that stack, and a push that grows it (realloc)
    leaves the pointer dangling: 8 such levels crash the process, ``bpftool btf dump`` too. A chain
    of :data:`_DECL_STACK` pointers, added to ``padded`` (a split BTF over the one dumped, or a
    copy of a split one, so type ids are unchanged) and declared once with its text dropped,
    grows the stack beforehand."""
    lib = _libbpf.lib()
    top = 0
    for _ in range(_DECL_STACK):
        top = lib.btf__add_ptr(padded, top)
    kept = len(chunks)
    lib.btf_dump__emit_type_decl(dump, top, None)
    del chunks[kept:]


_VA_LIST_SIZE = {"x86_64": 24, "aarch64": 32}.get(os.uname().machine)  # as _log knows it
_FIRST_TRY = 4096


def _renderer() -> Callable[[int, int], bytes]:
    """A printf for btf_dump's ~450k calls on vmlinux (about 2 s through :func:`_log.format_va`):
    as that one, libc's vsnprintf renders a copy of the va_list, here into buffers made once;
    a format without ``%`` is its own text, kept by address (btf_dump's formats are literals)."""
    constant: Dict[int, Optional[bytes]] = {}
    vsnprintf = _libbpf.libc().vsnprintf
    out = ctypes.create_string_buffer(_FIRST_TRY)
    copy = ctypes.create_string_buffer(_VA_LIST_SIZE or 1)

    def render(fmt: int, args: int) -> bytes:
        if fmt in constant:
            text = constant[fmt]
            if text is not None:
                return text
        else:
            raw = ctypes.string_at(fmt)
            constant[fmt] = None if b"%" in raw else raw
            if b"%" not in raw:
                return raw
        if _VA_LIST_SIZE is not None:
            ctypes.memmove(copy, args, _VA_LIST_SIZE)
            needed = vsnprintf(out, _FIRST_TRY, fmt, copy)
            if 0 <= needed < _FIRST_TRY:
                return ctypes.string_at(out, needed)
        return _log.format_va(fmt, args).encode("utf-8", "surrogateescape")  # long, or an unknown va_list

    return render


def _order(raw: bytes) -> str:
    """The struct byte order ("<" or ">") of raw BTF, from its magic number."""
    order = _BTF_MAGIC.get(raw[:2])
    if order is None:
        raise ElfError("not raw BTF (bad magic number)")
    return order


def _sections(raw: bytes) -> Tuple[bytes, bytes]:
    """The type and string sections of raw BTF (as libbpf made it: no bounds to doubt)."""
    e = _order(raw)
    _magic, _version, _flags, hdr_len, type_off, type_len, str_off, str_len = struct.unpack_from(e + _HEADER, raw)
    return (raw[hdr_len + type_off:hdr_len + type_off + type_len],
            raw[hdr_len + str_off:hdr_len + str_off + str_len])


def _joined(base_raw: bytes, split_raw: bytes) -> bytes:
    """One raw BTF of a base's types and then a split BTF's: a split BTF's type ids and string
    offsets continue its base's, so its sections simply follow the base's."""
    base_types, base_strings = _sections(base_raw)
    types, strings = _sections(split_raw)
    all_types, all_strings = base_types + types, base_strings + strings
    head = struct.pack(_order(base_raw) + _HEADER, 0xEB9F, 1, 0, struct.calcsize(_HEADER), 0, len(all_types),
                       len(all_types), len(all_strings))
    return head + all_types + all_strings


_CLANG_VERSIONED = re.compile(r"clang-(\d+)")


def find_clang(clang: Optional[str] = None) -> str:
    """The clang to run: ``clang`` as named, else $CLANG, ``clang``, or the newest ``clang-N``
    on PATH; MissingDependencyError when there is none."""
    if clang is not None:
        found = shutil.which(clang)
        if found is None:
            raise MissingDependencyError(f"clang {clang!r} is not found: Btf.from_header compiles the header with "
                                         "clang (Debian: apt install clang)")
        return found
    for candidate in (os.environ.get("CLANG"), "clang"):
        found = shutil.which(candidate) if candidate else None
        if found:
            return found
    versions: Dict[int, str] = {}
    for directory in os.environ.get("PATH", os.defpath).split(os.pathsep):
        try:
            entries = os.listdir(directory or ".")
        except OSError:
            continue
        for entry in entries:
            match = _CLANG_VERSIONED.fullmatch(entry)
            path = os.path.join(directory, entry)
            if match and int(match.group(1)) not in versions and os.access(path, os.X_OK):
                versions[int(match.group(1))] = path
    if not versions:
        raise MissingDependencyError("no clang on PATH (neither clang nor clang-N): Btf.from_header compiles the "
                                     "header with clang (Debian: apt install clang), or name one with clang=")
    return versions[max(versions)]


# a header compiled into BTF --------------------------------------------------------------------
#
# clang emits BTF only for the types its globals and functions use. The header's own
# declarations are listed from clang's AST (JSON), and a pointer global names each. The
# prelude is compiled once into a precompiled header: the AST then holds this header's
# declarations only, not the prelude's (vmlinux.h's would be ~180 MB of JSON).

_REF = "__libbpf_py_type_"
_CLANG_TIMEOUT = 600  # seconds: clang on a header never takes that long unless it hangs


def _compile_header(header: str, include_dirs: List[str], clang: str, prelude: List[str], cflags: List[str],
                    workdir: str) -> str:
    """Compile ``header`` into an object whose BTF holds every type it declares; its path."""
    import sysconfig

    flags = ["-g", "-O2", "-target", "bpf"]
    multiarch = sysconfig.get_config_var("MULTIARCH")  # Debian's asm/ headers live under it
    if multiarch and os.path.isdir(f"/usr/include/{multiarch}"):
        flags.append(f"-I/usr/include/{multiarch}")
    flags += [f"-I{d}" for d in include_dirs] + cflags
    if prelude:
        first = os.path.join(workdir, "prelude.h")
        with open(first, "w") as out:
            out.writelines(f"#include {_quoted(name)}\n" for name in prelude)
        pch = os.path.join(workdir, "prelude.pch")
        _run_clang([clang, *flags, "-x", "c-header", first, "-o", pch], "the prelude does not compile")
        flags += ["-include-pch", pch]
    flags += ["-include", header]
    empty = os.path.join(workdir, "declared.c")
    with open(empty, "w"):
        pass
    ast = _run_clang([clang, *flags, "-fsyntax-only", "-Xclang", "-ast-dump=json", empty],
                     f"{header} does not compile")
    import json

    try:
        declared = declared_types(json.loads(ast), header)
    except ValueError:
        raise HeaderCompileError(f"{clang} wrote no AST for {header}", "", [clang]) from None
    source = os.path.join(workdir, "types.c")
    with open(source, "w") as out:
        out.write("/* one global per type the header declares: clang emits BTF for the types globals use */\n")
        out.writelines(f"{spelling} *{_REF}{i};\n" for i, spelling in enumerate(declared))
    obj = os.path.join(workdir, "types.o")
    _run_clang([clang, *flags, "-c", source, "-o", obj], f"{header} does not compile")
    return obj


def _quoted(name: str) -> str:
    """``name`` as an #include names it: as given when already quoted or bracketed, else <name>."""
    return name if name[:1] in ('"', "<") else f"<{name}>"


def _run_clang(command: List[str], failure: str) -> str:
    """What clang writes to stdout; HeaderCompileError with its diagnostics when it fails."""
    import subprocess

    try:
        done = subprocess.run(command, capture_output=True, timeout=_CLANG_TIMEOUT)
    except subprocess.TimeoutExpired:
        raise HeaderCompileError(f"{failure}: clang ran for more than {_CLANG_TIMEOUT} s", "", command) from None
    except OSError as exc:
        raise MissingDependencyError(f"cannot run {command[0]}: {exc.strerror}") from None
    if done.returncode != 0:
        raise HeaderCompileError(failure, done.stderr.decode(errors="replace"), command)
    return done.stdout.decode(errors="replace")


def declared_types(ast: Any, header: str) -> List[str]:
    """How C names each struct, union, enum and typedef (by name, with a definition) that the
    top level of clang's JSON AST declares in ``header``, in order, once each.

    clang writes a location's ``file`` only where it differs from the location written before,
    so the file of a declaration is the last one named by any location up to its own: every
    location is followed in document order."""
    wanted = os.path.realpath(header)
    real: Dict[str, str] = {}
    current: Optional[str] = None
    found: List[str] = []
    for decl in ast.get("inner", ()) if isinstance(ast, dict) else ():
        if not isinstance(decl, dict):
            continue
        current = _last_file(decl.get("loc"), current)
        here = current
        for key, value in decl.items():
            if key != "loc":
                current = _last_file(value, current)
        if here is None or real.setdefault(here, os.path.realpath(here)) != wanted or decl.get("isImplicit"):
            continue
        spelling = _spelling(decl)
        if spelling and spelling not in found:
            found.append(spelling)
    return found


def _spelling(decl: Dict[str, Any]) -> Optional[str]:
    name, kind = decl.get("name"), decl.get("kind")
    if not isinstance(name, str) or not name:
        return None
    if kind == "RecordDecl" and decl.get("completeDefinition") and decl.get("tagUsed") in ("struct", "union"):
        return f"{decl['tagUsed']} {name}"
    if kind == "EnumDecl":
        return f"enum {name}"
    if kind == "TypedefDecl":
        return name
    return None


def _last_file(value: Any, current: Optional[str]) -> Optional[str]:
    """The file in force after the locations inside ``value``, in document order (a location
    is a dict with an ``offset``; ``includedFrom`` names another file, not a location's)."""
    stack = [value]
    while stack:
        item = stack.pop()
        if isinstance(item, dict):
            if "offset" in item and isinstance(item.get("file"), str):
                current = item["file"]
            stack.extend(reversed([v for k, v in item.items() if k != "includedFrom"]))
        elif isinstance(item, list):
            stack.extend(reversed(item))
    return current
