"""The README stays true.

- Every ```python block runs as written: each in a fresh interpreter, from the repository's
  root, in a private mount namespace whose /sys/fs/bpf is a new, empty bpffs (so the README may
  use the real paths and nothing reaches the host's bpffs).
- Every ```console block (``$ command`` lines, each followed by its output) runs as one shell
  session the same way, also in a network namespace of its own (its ``lo`` is the device), and
  each command must print what the README shows, kernel ids aside. ``python
  tests/kernel/test_readme.py --update`` writes the real outputs into the README.
"""

from __future__ import annotations

import os
import re
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
_BLOCK = re.compile(r"^( *)```python\n(.*?)^\1```", re.S | re.M)  # also inside a list item (indented)
_CONSOLE = re.compile(r"^```console\n(.*?)^```", re.S | re.M)
_MARK = "@@readme-command-done@@"
_IDS = re.compile(r"(\b(?:id|prog_id)\W{1,3})\d+")                # kernel ids differ from run to run
_ID_LISTS = re.compile(r"(\bmap_ids\W{1,3})(\[[\d,\s]*\]|[\d,]+)")


def readme_blocks():
    text = (ROOT / "README.md").read_text()
    for match in _BLOCK.finditer(text):
        line = text.count("\n", 0, match.start()) + 1
        yield pytest.param(textwrap.dedent(match.group(2)), id=f"README.md:{line}")


def test_the_readme_has_python_blocks():
    assert len(list(readme_blocks())) >= 3


def in_fresh_namespaces(argv: list, *, net: bool = False) -> subprocess.CompletedProcess:
    """``argv`` where /sys/fs/bpf is a new bpffs (and, with ``net``, in a new network namespace)."""
    env = {**os.environ, "PATH": f"{Path(sys.executable).parent}:{os.environ.get('PATH', '')}"}
    return subprocess.run(["unshare", "--mount", "--propagation", "private", *(["--net"] if net else []),
                           "sh", "-ec", 'mount -t bpf bpf /sys/fs/bpf && exec "$@"', "sh", *argv],
                          capture_output=True, text=True, timeout=300, cwd=ROOT, env=env)


@pytest.mark.parametrize("code", list(readme_blocks()))
def test_readme_block_runs(code, tmp_path):
    script = tmp_path / "block.py"
    script.write_text(code)
    done = in_fresh_namespaces([sys.executable, str(script)])
    assert done.returncode == 0, f"the README block failed:\n{code}\n{done.stderr}"


def console_blocks():
    text = (ROOT / "README.md").read_text()
    for match in _CONSOLE.finditer(text):
        yield match, parse_console(match.group(1))


def parse_console(block: str) -> list:
    """[(command, expected output)] of a console block."""
    steps: list = []
    for line in block.splitlines():
        if line.startswith("$ "):
            steps.append([line[2:], []])
        elif steps:
            steps[-1][1].append(line)
    return [(command, "\n".join(output)) for command, output in steps]


def run_console(steps: list) -> list:
    """Each command's output (stdout and stderr, as a terminal shows them), run as one session."""
    script = "".join(f"{command} 2>&1 || true\necho {_MARK}\n" for command, _ in steps)
    done = in_fresh_namespaces(["sh", "-c", script], net=True)
    assert done.returncode == 0, done.stderr
    outputs = done.stdout.split(f"{_MARK}\n")
    assert len(outputs) == len(steps) + 1, done.stdout
    return ["\n".join(line.rstrip() for line in output.splitlines()) for output in outputs[:-1]]


def normalized(text: str) -> str:
    text = "\n".join(line.rstrip() for line in text.splitlines())
    return _ID_LISTS.sub(r"\1[N]", _IDS.sub(r"\1N", text))


def test_the_readme_has_console_blocks():
    assert len(list(console_blocks())) >= 1


@pytest.mark.parametrize("steps", [pytest.param(steps, id=f"README.md:{n}") for n, (_, steps)
                                   in enumerate(console_blocks(), 1)])
def test_readme_console_block_prints_what_it_shows(steps):
    for (command, expected), output in zip(steps, run_console(steps)):
        assert normalized(output) == normalized(expected), f"$ {command}"


def update() -> None:
    """Write each console block's real outputs into the README."""
    text = (ROOT / "README.md").read_text()
    pieces, last = [], 0
    for match, steps in console_blocks():
        outputs = run_console(steps)
        body = "".join(f"$ {command}\n" + (f"{output}\n" if output else "")
                       for (command, _), output in zip(steps, outputs))
        pieces += [text[last:match.start(1)], body]
        last = match.end(1)
    (ROOT / "README.md").write_text("".join(pieces) + text[last:])


if __name__ == "__main__":
    if sys.argv[1:] != ["--update"]:
        sys.exit("usage: python tests/kernel/test_readme.py --update")
    update()
