"""A typed Python skeleton of a BPF object: :func:`generate` writes a module that embeds the
object and names its maps, programs and global variables as attributes mypy can check.

The generated module (``x_skel.open()`` → ``load()`` → ``attach()`` → ``close()``) imports only
the standard library and ``libbpf_py``'s public names. Maps and programs are the package's own
:class:`~libbpf_py.Map` and :class:`~libbpf_py.Program`; global variables are read and written
through :attr:`Object.globals <libbpf_py.Object.globals>`, so they behave exactly as there
(initial values before load, the maps' memory after, ``.rodata`` read-only once loaded).
Structures are typed by :class:`typing.Protocol` classes written from the ctypes types that
``obj.globals`` makes from BTF at run time, so what mypy sees is what the program reads.

Names (see docs/skeleton.rst): a character that cannot be in a Python name becomes ``_``; a name
that starts with a digit or with two underscores (Python would mangle it in a class) gets an
``x`` in front; a keyword or a name the skeleton's classes use itself gets ``_`` appended, and so
does a name already taken, until it is free (in the object's order: the first keeps its name).
An internal map is named after its section (``globals.bss`` → ``bss``, ``.data.custom`` →
``data_custom``), as is the attribute of the section's variables.
"""

from __future__ import annotations

import base64
import ctypes
import hashlib
import keyword
import os
import re
import textwrap
import zlib
from typing import TYPE_CHECKING, Any, Dict, Iterable, List, NamedTuple, Optional, Set, Tuple

from .errors import InvalidValueError, MissingBtfError
from .object import BYTES_NAME, Object, default_name, read_source

if TYPE_CHECKING:
    from .object import Source

# what the generated classes use themselves (a map, program, variable or section so named gets "_")
_NAMESPACE_ATTRIBUTES = frozenset({"_obj", "_touched",
                                   "property", "_Var"})  # (what the class bodies call: not to be shadowed)
_SKELETON_ATTRIBUTES = frozenset({"obj", "links", "maps", "progs", "load", "attach", "detach", "close", "closed",
                                  "loaded", "_touched"})
# module-level names of the generated module (a structure's protocol is never named so)
_MODULE_NAMES = frozenset({"Skeleton", "Maps", "Progs", "CArray", "CharArray", "open", "open_and_load",
                           "object_bytes", "OBJECT_NAME", "OBJECT_SHA256", "OBJECT_FILE", "LIBBPF_PY_VERSION"})
_NOT_NAME_CHARS = re.compile(r"[^A-Za-z0-9_]")
_UNSHOWN = re.compile(r"[^A-Za-z0-9_.\-+<>' ]")
_INT_CODES = frozenset("bBhHiIlLqQ")
_LINE = 76  # characters of base64 per line of the embedded object
_TYPING = "\0typing\0"  # a line replaced by the names the module uses (no name of the object holds a NUL)
_TYPING_NAMES = ("Any", "Dict", "Generic", "Iterator", "List", "Optional", "Protocol", "Sequence", "Set", "TypeVar",
                 "Union", "cast")


def python_name(name: str, taken: Set[str], reserved: Iterable[str] = ()) -> str:
    """``name`` as a Python attribute name by the skeleton's rule (module docstring), added to ``taken``."""
    ident = _NOT_NAME_CHARS.sub("_", name)
    if not ident or ident[0].isdigit() or ident.startswith("__"):
        ident = "x" + ident
    if keyword.iskeyword(ident) or ident in reserved:
        ident += "_"
    while ident in taken:
        ident += "_"
    taken.add(ident)
    return ident


def _is_member_name(name: str) -> bool:
    """Whether a structure's member can be declared as is in a class body."""
    return name.isidentifier() and not keyword.iskeyword(name) and not name.startswith("__") and name.isascii()


class _Variable(NamedTuple):
    name: str        # as in C (the key of obj.globals)
    attribute: str   # in the section's class
    read: str        # its annotation when read
    write: str       # what a write takes
    aggregate: bool  # a structure or an array: changed in place


class _Section(NamedTuple):
    name: str        # ".bss", ".data.custom"...
    attribute: str   # of the skeleton
    cls: str         # the section's class
    read_only: bool  # .kconfig: libbpf sets it
    variables: List[_Variable]


class _Typer:
    """Annotations for the ctypes types btf_ctypes made, and the protocols of their structures."""

    def __init__(self) -> None:
        self.protocols: Dict[Any, str] = {}    # record class -> protocol name
        self.bodies: List[Tuple[str, Any]] = []  # (protocol name, record class), dependencies first
        self._taken: Set[str] = set(_MODULE_NAMES)

    def read(self, ctype: Any) -> str:
        if ctype is ctypes.c_bool:
            return "bool"
        if ctype is ctypes.c_char:
            return "bytes"
        if ctype in (ctypes.c_float, ctypes.c_double):
            return "float"
        if _is_record(ctype):
            return self._protocol(ctype)
        if isinstance(ctype, type) and issubclass(ctype, ctypes.Array):
            item: Any = ctype._type_
            return "CharArray" if item is ctypes.c_char else f"CArray[{self.read(item)}]"
        if getattr(ctype, "_type_", None) in _INT_CODES:
            return "int"
        return "Any"

    def write(self, ctype: Any) -> str:
        if _is_record(ctype):
            return f"Union[{self._protocol(ctype)}, Dict[str, Any]]"
        if isinstance(ctype, type) and issubclass(ctype, ctypes.Array):
            item: Any = ctype._type_
            if item is ctypes.c_char:
                return "Union[bytes, str]"
            return f"Union[{self.read(ctype)}, Sequence[{self.write(item)}]]"
        return self.read(ctype)

    def _protocol(self, record: Any) -> str:
        name = self.protocols.get(record)
        if name is None:
            c_name = record.__name__
            kind = "union" if issubclass(record, ctypes.Union) else "struct"
            name = python_name(c_name if c_name.startswith("anon_") else f"{kind}_{c_name}", self._taken)
            self.protocols[record] = name
            for _, ctype, chars in _members(record):  # (the protocols it names come first)
                if not chars:
                    self.read(ctype)
            self.bodies.append((name, record))
        return name

    def render(self) -> List[str]:
        out: List[str] = []
        for name, record in self.bodies:
            kind = "union" if issubclass(record, ctypes.Union) else "struct"
            out += ["", "", f"class {name}(Protocol):",
                    f'    """{kind} {_shown(record.__name__)} ({ctypes.sizeof(record)} bytes): a ctypes {kind} '
                    'made from BTF at run time."""', ""]
            for member, ctype, chars in _members(record):
                annotation = "bytes" if chars else self.read(ctype)
                if _is_member_name(member):
                    out.append(f"    {member}: {annotation}")
                else:
                    out.append(f"    # {member!r} ({annotation}) is no Python name: getattr(value, {member!r})")
        return out


def _is_record(ctype: Any) -> bool:
    return isinstance(ctype, type) and issubclass(ctype, (ctypes.Structure, ctypes.Union))


def _members(record: Any) -> List[Tuple[str, Any, bool]]:
    """(name, ctypes type, read whole as bytes) of a record's members as Python reads them: an
    anonymous member's own members lifted (as in C), bitfields as ints, btf_ctypes' padding left out."""
    chars = {entry[0] for entry in getattr(record, "_chars_", ())}
    out: List[Tuple[str, Any, bool]] = []

    def walk(fields: Any) -> None:
        for field in fields:
            name, ctype = field[0], field[1]
            if name.startswith("@anon"):
                walk(ctype._fields_)
            elif not name.startswith("@"):
                out.append((name, ctype, name in chars))

    walk(record._fields_)
    out += [(entry[0], ctypes.c_int64, False) for entry in getattr(record, "_bitfields_", ())]
    return out


def _sections(obj: Object, typer: _Typer, taken: Set[str]) -> List[_Section]:
    """The object's sections of global variables, as obj.globals sees them."""
    try:
        values = obj.globals
    except MissingBtfError:
        return []
    seen: Set[str] = set()  # obj.globals names each variable by the first section that has it
    sections = []
    for section_name in values.sections:
        layout = type(values.section(section_name))
        attribute = python_name(section_name.lstrip("."), taken, _SKELETON_ATTRIBUTES)
        names: Set[str] = set()
        variables = []
        for name, ctype, chars in _members(layout):
            if name in seen:
                continue
            seen.add(name)
            read, write = ("bytes", "Union[bytes, str]") if chars else (typer.read(ctype), typer.write(ctype))
            aggregate = not chars and (_is_record(ctype) or issubclass(ctype, ctypes.Array))
            variables.append(_Variable(name, python_name(name, names, _NAMESPACE_ATTRIBUTES), read, write, aggregate))
        sections.append(_Section(section_name, attribute, f"Section_{attribute}", section_name == ".kconfig",
                                 variables))
    return sections


def _map_attribute(name: str, internal: bool) -> str:
    """An internal map's attribute comes from its section: libbpf names it after the object
    (``globals.bss``) or, for a custom section, the section itself (``.data.custom``)."""
    return name[name.index("."):].lstrip(".") if internal and "." in name else name


def _shown(text: str) -> str:
    """``text`` (a name from the object) safe inside a docstring or a comment: a character other
    than an ASCII letter, digit or ``_.-+<>' `` becomes ``?`` (no quote, backslash or line break)."""
    return _UNSHOWN.sub("?", text)


def _literal(text: str) -> str:
    """``text`` as a Python string literal, in double quotes when it holds none."""
    quoted = repr(text)
    return f'"{quoted[1:-1]}"' if quoted[0] == "'" and '"' not in text else quoted


def _version() -> str:
    try:
        from ._version import version
    except ImportError:  # a source tree without setuptools-scm's generated file (as the package says then)
        return "0.0.0+unknown"
    return version


def generate(obj_path_or_bytes: Source, module_name: Optional[str] = None) -> str:
    """The source of a typed Python module for the BPF object at a path (or its bytes).

    ``module_name`` is the module's name in its docstring (default: the object's name + ``_skel``);
    for bytes it also names the object (libbpf names internal maps after it; default ``object``).
    The object is opened (not loaded) with the system's libbpf: no privileges are needed.
    """
    if module_name is not None and (not isinstance(module_name, str) or
                                    not all(part.isidentifier() for part in module_name.split("."))):
        raise InvalidValueError(f"module_name must be a Python module name, not {module_name!r}")
    data, path = read_source(obj_path_or_bytes)
    object_name = default_name(path) if path is not None else (module_name or BYTES_NAME).split(".")[-1]
    source = os.path.basename(path) if path is not None else f"<bytes of object {object_name!r}>"
    module_name = module_name or python_name(f"{object_name}_skel", set())
    with Object.open(data, name=object_name) as obj:
        map_names = [(_map_attribute(m.name, m.is_internal), m.name) for m in obj.maps.values()]
        typer = _Typer()
        sections = _sections(obj, typer, set())
        programs = list(obj.programs)
    taken: Set[str] = set()
    maps = [(python_name(wanted, taken, _NAMESPACE_ATTRIBUTES), name) for wanted, name in map_names]
    taken = set()
    progs = [(python_name(name, taken, _NAMESPACE_ATTRIBUTES), name) for name in programs]
    return _Writer(data, object_name, source, module_name, maps, progs, sections, typer).text()


class _Writer:
    """The generated module's text."""

    def __init__(self, data: bytes, object_name: str, source: str, module_name: str, maps: List[Tuple[str, str]],
                 progs: List[Tuple[str, str]], sections: List[_Section], typer: _Typer):
        self.data, self.object_name, self.source, self.module_name = data, object_name, source, module_name
        self.maps, self.progs, self.sections, self.typer = maps, progs, sections, typer
        self.sha256 = hashlib.sha256(data).hexdigest()

    def text(self) -> str:
        lines = self._head() + _RUNTIME.splitlines() + self.typer.render()
        lines += self._items("Maps", "maps", "libbpf_py.Map", "maps", self.maps)
        lines += self._items("Progs", "programs", "libbpf_py.Program", "programs", self.progs)
        for section in self.sections:
            lines += self._section(section)
        lines += self._skeleton() + _FUNCTIONS.splitlines()
        text = "\n".join(lines).replace("\n\n\n\n", "\n\n\n") + "\n"
        used = [name for name in _TYPING_NAMES if re.search(rf"\b{name}\b", text.split(_TYPING, 1)[1])]
        return text.replace(_TYPING, f"from typing import {', '.join(used)}", 1)

    def _head(self) -> List[str]:
        packed = base64.b64encode(zlib.compress(self.data, 9)).decode()
        chunks = [packed[i:i + _LINE] for i in range(0, len(packed), _LINE)] or [""]
        summary = [f"Maps: {', '.join(a for a, _ in self.maps) or 'none'}.",
                   f"Programs: {', '.join(a for a, _ in self.progs) or 'none'}."]
        for section in self.sections:
            summary.append(f"{_shown(section.name)} (skel.{section.attribute}): "
                           f"{', '.join(v.attribute for v in section.variables) or 'no variables'}.")
        return [f"# Generated by libbpf_py {_version()} (libbpf_py.skeleton) from {_shown(self.source)}",
                f"# (sha256 {self.sha256}).",
                "# Do not edit: generate it again from the object.",
                f'"""Skeleton of the BPF object {_shown(self.source)} (module {self.module_name}): ``open()``, then',
                "``load()``, ``attach()`` and ``close()`` (or ``with``); see libbpf_py's skeleton guide.", "",
                *[line for entry in summary for line in textwrap.wrap(entry, 100, subsequent_indent="    ")],
                '"""', "",
                "from __future__ import annotations", "",
                "import base64", "import hashlib", "import zlib",
                _TYPING, "", "import libbpf_py", "",
                f"OBJECT_NAME = {_literal(self.object_name)}", f"OBJECT_FILE = {_literal(self.source)}",
                f"OBJECT_SHA256 = {_literal(self.sha256)}", f"LIBBPF_PY_VERSION = {_literal(_version())}",
                "_OBJECT = (  # zlib, then base64", *[f'    b"{chunk}"' for chunk in chunks], ")"]

    @staticmethod
    def _items(cls: str, what: str, annotation: str, attribute: str, items: List[Tuple[str, str]]) -> List[str]:
        out = ["", "", f"class {cls}:",
               f'    """The object\'s {what} ({annotation}) by attribute; skel.obj.{attribute} has them by libbpf\'s '
               'name."""', "", '    __slots__ = ("_obj",)', "",
               "    def __init__(self, obj: libbpf_py.Object) -> None:", "        self._obj = obj"]
        for name, real in items:
            out += ["", "    @property", f"    def {name}(self) -> {annotation}:"]
            out.append(f"        return self._obj.{attribute}[{_literal(real)}]"
                       + (f"  # (libbpf's name: {what[:-1]} {_literal(real)})" if name != real else ""))
        return out

    @staticmethod
    def _section(section: _Section) -> List[str]:
        note = "read-only: libbpf sets them at load" if section.read_only else (
            "read-only once loaded" if section.name.startswith(".rodata") else "live in the map's memory once loaded")
        out = ["", "", f"class {section.cls}(_Section):",
               f'    """The variables of {_shown(section.name)} ({note})."""', "", "    __slots__ = ()"]
        for v in section.variables:
            if section.read_only:
                out += ["", "    @property", f"    def {v.attribute}(self) -> {v.read}:",
                        f"        return cast({_literal(v.read)}, self._obj.globals[{_literal(v.name)}])"]
            else:
                out.append(f"    {v.attribute}: _Var[{v.read}, {v.write}] = _Var({_literal(v.name)}"
                           + (", aggregate=True)" if v.aggregate else ")"))
        return out

    def _skeleton(self) -> List[str]:
        slots = ", ".join(_literal(a) for a in ["obj", "links", "maps", "progs", "_touched"]
                          + [s.attribute for s in self.sections])
        out = ["", "", "class Skeleton:",
               f'    """The object {_shown(self.source)} opened: ``load()`` it, ``attach()`` its programs, '
               '``close()`` it."""',
               "", *textwrap.wrap(f"__slots__ = ({slots})", 116, initial_indent="    ", subsequent_indent=" " * 17,
                                 break_long_words=False, break_on_hyphens=False),
               "",
               "    def __init__(self, obj: libbpf_py.Object) -> None:",
               "        self.obj = obj",
               "        self.links: List[libbpf_py.Link] = []",
               "        self._touched: Set[str] = set()  # structures and arrays read before load",
               "        self.maps = Maps(obj)", "        self.progs = Progs(obj)"]
        out += [f"        self.{s.attribute} = {s.cls}(obj, self._touched)" for s in self.sections]
        return out + _SKELETON_METHODS.splitlines()


_RUNTIME = '''

def object_bytes() -> bytes:
    """The embedded object (checked against OBJECT_SHA256)."""
    try:
        data = zlib.decompress(base64.b64decode(_OBJECT))
    except (ValueError, zlib.error):  # (binascii.Error is a ValueError)
        data = b""
    if hashlib.sha256(data).hexdigest() != OBJECT_SHA256:
        raise libbpf_py.ElfError(f"the object embedded in {__name__} is not {OBJECT_FILE} (sha256 differs)")
    return data


_T = TypeVar("_T")
_R = TypeVar("_R")
_W = TypeVar("_W")


class CArray(Protocol[_T]):
    """A ctypes array of a global or a structure: read and written in place."""

    def __len__(self) -> int: ...
    def __getitem__(self, index: int) -> _T: ...
    def __setitem__(self, index: int, value: _T) -> None: ...
    def __iter__(self) -> Iterator[_T]: ...


class CharArray(Protocol):
    """A ctypes char array (an item of a char[M][N]): ``raw`` all its bytes, ``value`` up to the first NUL."""

    raw: bytes
    value: bytes


class _Section:
    """The variables of one section, as attributes (through obj.globals)."""

    __slots__ = ("_obj", "_touched")

    def __init__(self, obj: libbpf_py.Object, touched: Set[str]) -> None:
        self._obj = obj
        self._touched = touched


class _Var(Generic[_R, _W]):
    """One global variable: reads give _R, writes take _W (obj.globals converts and checks them)."""

    __slots__ = ("_name", "_aggregate")

    def __init__(self, name: str, aggregate: bool = False) -> None:
        self._name = name
        self._aggregate = aggregate

    def __get__(self, section: Optional[_Section], owner: Optional[type] = None) -> _R:
        if section is None:  # (on the class: the descriptor itself, for help() and the like)
            return cast(_R, self)
        value = section._obj.globals[self._name]
        if self._aggregate and not section._obj.loaded:  # changed in place, maybe: load() writes it back
            section._touched.add(self._name)
        return cast(_R, value)

    def __set__(self, section: _Section, value: _W) -> None:
        section._obj.globals[self._name] = value'''

_SKELETON_METHODS = '''
    @property
    def loaded(self) -> bool:
        return self.obj.loaded

    @property
    def closed(self) -> bool:
        return self.obj.closed

    def load(self) -> Skeleton:
        """Create the maps and load the programs (Object.load). A structure or array global changed
        in place before load (``skel.data.cfg.limit = 5``) is written back first: the programs see it."""
        if self._touched and not self.obj.closed and not self.obj.loaded:
            values = self.obj.globals
            for name in sorted(self._touched):
                values[name] = values[name]
            self._touched.clear()
        self.obj.load()
        return self

    def attach(self) -> List[libbpf_py.Link]:
        """Attach every program whose section names its hook (Object.attach_all); the links are kept
        in ``links`` and detached by ``detach()`` or ``close()``."""
        links = self.obj.attach_all()
        self.links.extend(links)
        return links

    def detach(self) -> None:
        """Detach the links ``attach()`` made."""
        while self.links:
            self.links.pop().detach()

    def close(self) -> None:
        """Detach the links and close the object; safe to call twice."""
        try:
            self.detach()
        finally:
            self.obj.close()

    def __enter__(self) -> Skeleton:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def __repr__(self) -> str:
        return f"<Skeleton of {OBJECT_FILE} {self.obj!r}>"'''

_FUNCTIONS = '''

def open(**options: Any) -> Skeleton:
    """The embedded object opened (libbpf_py.Object.open's keyword options: pinning=, pin_root=,
    kconfig=, log_size=...); nothing reaches the kernel before ``load()``."""
    if "name" in options:
        raise libbpf_py.InvalidValueError("a skeleton's object keeps its name (its internal maps are named after it)")
    return Skeleton(libbpf_py.Object.open(object_bytes(), name=OBJECT_NAME, **options))


def open_and_load(**options: Any) -> Skeleton:
    """``open(**options).load()``; the object is closed again if the load fails."""
    skel = open(**options)
    try:
        return skel.load()
    except BaseException:
        skel.close()
        raise'''
