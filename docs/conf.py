"""Sphinx configuration: the guide pages and the API reference, built offline (``make docs``)."""

from __future__ import annotations

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
