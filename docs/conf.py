"""Sphinx configuration: the guide pages and the API reference, built offline (``make docs``)."""

from __future__ import annotations

import re
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))  # the package of this tree, installed or not

import libbpf_py  # noqa: E402

project = "libbpf_py"
author = "the libbpf_py authors"
copyright = "the libbpf_py authors; LGPL-2.1-only OR BSD-2-Clause"
release = libbpf_py.__version__
version = ".".join(release.split(".")[:2])

extensions = ["sphinx.ext.autodoc"]  # nothing that fetches: no intersphinx
exclude_patterns = ["_build"]
root_doc = "index"
language = "en"
pygments_style = "sphinx"

# The API reference documents each public name where the user finds it (libbpf_py.Object, not
# libbpf_py.object.Object): the pages name them one by one, and the test
# tests/unit/test_public_names.py checks that every name of each __all__ is there.
autodoc_member_order = "bysource"
autodoc_typehints = "description"
autodoc_typehints_description_target = "documented_params"  # return types; the prose says the rest
autodoc_typehints_format = "short"
autodoc_preserve_defaults = True
autodoc_class_signature = "mixed"
autodoc_inherit_docstrings = False
add_module_names = False
nitpicky = False

html_theme = "alabaster"
html_title = f"libbpf_py {release}"
html_theme_options = {"description": "The system's libbpf from Python, through ctypes", "fixed_sidebar": True}
html_static_path: list = []
html_show_sourcelink = False


# TEMPORARY, until the docstrings quote them (reported for issue 19): the class docstrings of
# libbpf_py.AttachType ("enum bpf_attach_type, named without BPF_.") and libbpf_py.LinkType
# ("... named without BPF_LINK_TYPE_.") write C prefixes that end in "_" unquoted, which
# reStructuredText reads as links to targets that do not exist ('Unknown target name: "bpf"').
# Quoted here for those two docstrings only; once the docstrings say ``BPF_`` this matches nothing.
_UNQUOTED_PREFIXES = {"libbpf_py.AttachType": "BPF_", "libbpf_py.LinkType": "BPF_LINK_TYPE_"}


def _quote_prefix(app: object, what: str, name: str, obj: object, options: object, lines: list) -> None:
    prefix = _UNQUOTED_PREFIXES.get(name)
    if prefix:
        lines[:] = [re.sub(rf"(?<![`\w]){prefix}(?![`\w])", f"``{prefix}``", line) for line in lines]


def setup(app: object) -> None:
    app.connect("autodoc-process-docstring", _quote_prefix)  # type: ignore[attr-defined]
