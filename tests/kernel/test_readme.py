"""Every ```python block of the README runs as written: each in a fresh interpreter, from the
repository's root, in a private mount namespace whose /sys/fs/bpf is a new, empty bpffs (so
the README may use the real paths and nothing reaches the host's bpffs)."""

from __future__ import annotations

import re
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
_BLOCK = re.compile(r"^( *)```python\n(.*?)^\1```", re.S | re.M)  # also inside a list item (indented)


def readme_blocks():
    text = (ROOT / "README.md").read_text()
    for match in _BLOCK.finditer(text):
        line = text.count("\n", 0, match.start()) + 1
        yield pytest.param(textwrap.dedent(match.group(2)), id=f"README.md:{line}")


def test_the_readme_has_python_blocks():
    assert len(list(readme_blocks())) >= 3


@pytest.mark.parametrize("code", list(readme_blocks()))
def test_readme_block_runs(code, tmp_path):
    script = tmp_path / "block.py"
    script.write_text(code)
    done = subprocess.run(
        ["unshare", "--mount", "--propagation", "private", "sh", "-ec",
         'mount -t bpf bpf /sys/fs/bpf && exec "$0" "$1"', sys.executable, str(script)],
        capture_output=True, text=True, timeout=120, cwd=ROOT)
    assert done.returncode == 0, f"the README block failed:\n{code}\n{done.stderr}"
