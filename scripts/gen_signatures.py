#!/usr/bin/env python3
"""Generate libbpf_py/_libbpf_functions.py: every function of libbpf's ABI, from its own sources.

    scripts/gen_signatures.py [LIBBPF_SRC] [-o FILE]
        (default source: vendor/cache/libbpf-1.7.0-1-src/source/src; default FILE: the package's)

``libbpf.map`` says which functions libbpf exports and the version node that first exported each;
the public headers (libbpf.h, bpf.h, btf.h, libbpf_legacy.h, libbpf_common.h) give each one's C
prototype. Each row maps the prototype mechanically to ctypes names, and says how a failure is
reported: an ``int`` result is a negative errno (libbpf 1.x's rule for every int-returning
function, ``__s32`` and ``__s64`` ones too, but for the few that give -1 for "none"); a pointer
result is NULL with errno where the header's comment says so, where the function makes something
(``__new``, ``__open``, ``__load``, ``__attach``, ``__parse``), or where libbpf's sources set errno
(a short list); other results are returned as they come. Run it again when a newer libbpf joins the matrix; the test
``tests/unit/test_libbpf_functions.py`` checks the table against every libbpf build there.
"""

from __future__ import annotations

import argparse
import re
import sys
from pathlib import Path
from typing import Dict, Iterator, List, NamedTuple, Tuple

ROOT = Path(__file__).resolve().parent.parent
DEFAULT_SRC = ROOT / "vendor" / "cache" / "libbpf-1.7.0-1-src" / "source" / "src"
OUTPUT = ROOT / "libbpf_py" / "_libbpf_functions.py"
HEADERS = ("libbpf.h", "bpf.h", "btf.h", "libbpf_legacy.h", "libbpf_common.h")

# C scalar types (after const and the parameter name are gone) -> ctypes names
SCALARS = {
    "void": "None", "_Bool": "c_bool", "bool": "c_bool", "char": "c_char", "int": "c_int",
    "unsigned int": "c_uint", "unsigned": "c_uint", "long": "c_long", "unsigned long": "c_ulong",
    "long long": "c_longlong", "unsigned long long": "c_ulonglong", "size_t": "c_size_t",
    "ssize_t": "c_ssize_t", "pid_t": "c_int", "__u8": "c_uint8", "__u16": "c_uint16", "__u32": "c_uint32",
    "__u64": "c_uint64", "__s8": "c_int8", "__s16": "c_int16", "__s32": "c_int32", "__s64": "c_int64",
    "uint32_t": "c_uint32", "uint64_t": "c_uint64", "int32_t": "c_int32",
}
# typedefs of function pointers: passed as a ctypes callback (CFUNCTYPE) or None
CALLBACKS = {"libbpf_print_fn_t", "ring_buffer_sample_fn", "perf_buffer_sample_fn", "perf_buffer_lost_fn",
             "perf_buffer_event_fn", "btf_dump_printf_fn_t", "libbpf_prog_setup_fn_t",
             "libbpf_prog_prepare_load_fn_t", "libbpf_prog_attach_fn_t", "user_ring_buffer_sample_fn"}
# exported later than libbpf.map's node says: the header lacked LIBBPF_API until a later release
# (measured: 1.1.2 does not export it, 1.4.6 does; the first release between is not in the matrix)
EXPORTED_LATER = {"libbpf_set_memlock_rlim": "1.4.0"}
MAKERS = re.compile(r"__new|__open|__load|__attach|__parse|_new$|__split|__reserve")
# a signed result is a negative errno, but these give -1 for "none" (no BTF loaded, no token, a map not
# created yet), or 0 with errno (btf__align_of): returned as they come
MINUS_ONE_IS_NONE = {"btf__fd", "bpf_object__btf_fd", "bpf_object__token_fd", "bpf_map__fd",
                     "bpf_object__find_map_fd_by_name", "btf__align_of"}
# NULL with errno, though neither the name nor the header's comment says so (read in libbpf 1.7's sources)
NULL_WITH_ERRNO = {"libbpf_find_kernel_btf", "btf__type_by_id", "btf__raw_data", "bpf_object__find_map_by_name",
                   "bpf_object__find_program_by_name", "bpf_prog_linfo__lfind", "bpf_prog_linfo__lfind_addr_func",
                   "btf__str_by_offset", "btf__name_by_offset", "btf_ext__raw_data"}
SIGNED = ("c_int", "c_int32", "c_int64")  # int, __s32, __s64 results


class Row(NamedTuple):
    name: str
    restype: str
    argtypes: Tuple[str, ...]
    check: str        # "neg", "null" or ""
    since: str        # the version node that first exports it
    prototype: str    # the C declaration, one line


def version_nodes(text: str) -> Dict[str, str]:
    """libbpf.map: symbol -> the version of the node that first lists it."""
    since: Dict[str, str] = {}
    for node, body in re.findall(r"LIBBPF_([0-9.]+)\s*\{(.*?)\}", text, re.S):
        for symbol in re.findall(r"^\s*([A-Za-z_][A-Za-z0-9_]*)\s*;", body, re.M):
            since.setdefault(symbol, node)
    return since


def declarations(text: str) -> Iterator[Tuple[str, str]]:
    """(doc comment before it, the declaration) for each ``LIBBPF_API`` function of a header."""
    for match in re.finditer(r"(/\*\*(?:(?!\*/).)*\*/\s*)?(LIBBPF_API\s[^;{]*?\)\s*;)", text, re.S):
        doc, decl = match.group(1) or "", match.group(2)
        decl = re.sub(r"/\*.*?\*/", " ", decl, flags=re.S)
        decl = re.sub(r"\bLIBBPF_(API|DEPRECATED\w*\([^)]*\)|DEPRECATED\w*)\b", " ", decl)
        yield doc, re.sub(r"\* (?=\w)", "*", " ".join(decl.split()))


def split_params(params: str) -> List[str]:
    parts, depth, current = [], 0, ""
    for ch in params:
        if ch == "," and depth == 0:
            parts.append(current)
            current = ""
            continue
        depth += ch == "("
        depth -= ch == ")"
        current += ch
    parts.append(current)
    return [p.strip() for p in parts if p.strip()]


def ctype(decl: str, is_param: bool) -> str:
    """A C parameter or return type -> a ctypes name."""
    if "(" in decl:  # an inline function pointer
        return "c_void_p"
    decl = decl.replace("const ", " ").replace("volatile ", " ").replace("restrict", " ")
    decl = re.sub(r"\[[^\]]*\]", "*", decl)  # arrays decay to pointers
    stars = decl.count("*")
    words = decl.replace("*", " ").split()
    if is_param and words and words[-1] not in SCALARS and words[-1] not in CALLBACKS \
            and len(words) > 1 and words[-2] not in ("struct", "enum", "union"):
        words = words[:-1]  # the parameter's name
    base = " ".join(words)
    if stars == 0:
        if base.startswith("enum "):
            return "c_int"
        if base in CALLBACKS:
            return "c_void_p"
        if base in SCALARS:
            return SCALARS[base]
        raise ValueError(f"no ctypes mapping for {decl!r}")
    if stars == 1 and base == "char":
        return "c_char_p"
    return "c_void_p"


def rows(src: Path) -> Tuple[List[Row], List[str]]:
    since = version_nodes((src / "libbpf.map").read_text())
    found: Dict[str, Row] = {}
    for header in HEADERS:
        for doc, decl in declarations((src / header).read_text()):
            head, _, params = decl.partition("(")
            params = params.rsplit(")", 1)[0]
            name = re.findall(r"[A-Za-z_][A-Za-z0-9_]*", head)[-1]
            if name not in since or name in found:
                continue
            ret_decl = head[: head.rindex(name)]
            restype = ctype(ret_decl, False)
            argtypes = tuple(ctype(p, True) for p in split_params(params) if p != "void")
            if restype in SIGNED and name not in MINUS_ONE_IS_NONE:
                check = "neg"
            elif restype in ("c_void_p", "c_char_p") and ("errno" in doc or MAKERS.search(name)
                                                         or name in NULL_WITH_ERRNO):
                check = "null"
            else:
                check = ""
            found[name] = Row(name, restype, argtypes, check, EXPORTED_LATER.get(name, since[name]), decl)
    missing = sorted(set(since) - set(found))
    return [found[name] for name in sorted(found)], missing


def render(table: List[Row], version: str) -> str:
    out = [
        f'"""Every function libbpf {version} exports, as ctypes sees it. Generated by',
        "scripts/gen_signatures.py from libbpf's libbpf.map and public headers: do not edit.",
        "",
        "Each row: (return type, argument types, how a failure shows, the version node that first",
        'exports it). Types are ctypes names; "neg" is a negative errno, "null" a NULL result with',
        'errno, "" a result returned as it comes."""',
        "",
        "from typing import Dict, Tuple",
        "",
        f'SOURCE_VERSION = "{version}"',
        "",
        "FUNCTIONS: Dict[str, Tuple[str, Tuple[str, ...], str, str]] = {",
    ]
    for row in table:
        out.append(f"    # {row.prototype}")
        args = "(" + "".join(f'"{a}", ' for a in row.argtypes).rstrip(" ") + ")" if row.argtypes else "()"
        if len(row.argtypes) == 1:
            args = f'("{row.argtypes[0]}",)'
        else:
            args = "(" + ", ".join(f'"{a}"' for a in row.argtypes) + ")"
        out.append(f'    "{row.name}": ("{row.restype}", {args}, "{row.check}", "{row.since}"),')
    out.append("}")
    return "\n".join(out) + "\n"


def source_version(src: Path) -> str:
    text = (src / "libbpf_version.h").read_text()
    major = re.search(r"LIBBPF_MAJOR_VERSION\s+(\d+)", text)
    minor = re.search(r"LIBBPF_MINOR_VERSION\s+(\d+)", text)
    assert major and minor, "libbpf_version.h without its version"
    return f"{major.group(1)}.{minor.group(1)}"


def main() -> int:
    parser = argparse.ArgumentParser(description="Generate libbpf_py/_libbpf_functions.py from libbpf's sources.")
    parser.add_argument("source", nargs="?", type=Path, default=DEFAULT_SRC, help="libbpf's src/ directory")
    parser.add_argument("-o", "--output", type=Path, default=OUTPUT, help="where to write the table")
    args = parser.parse_args()
    src = args.source
    if not (src / "libbpf.map").exists():
        sys.exit(f"{src}: no libbpf.map (give libbpf's src/ directory; vendor/libbpf/build-sources fetches one)")
    table, missing = rows(src)
    if missing:
        sys.exit(f"exported but not declared in {', '.join(HEADERS)}: {', '.join(missing)}")
    args.output.write_text(render(table, source_version(src)))
    print(f"{args.output}: {len(table)} functions of libbpf {source_version(src)}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
