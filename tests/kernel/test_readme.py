"""The README and the documentation pages stay true.

- Every python block (```python in README.md, ``.. code-block:: python`` in docs/**/*.rst) runs
  as written: each in a fresh interpreter, from the repository's root, in a private mount
  namespace whose /sys/fs/bpf is a new, empty bpffs (so a page may use the real paths and
  nothing reaches the host's bpffs).
- Every console block (```console, ``.. code-block:: console``: ``$ command`` lines, each
  followed by its output) runs as one shell session the same way, also in a network namespace
  of its own (its ``lo`` is the device), and each command must print what the page shows,
  kernel ids aside. ``python tests/kernel/test_readme.py --update`` writes the real outputs into
  the README and the pages.
"""

from __future__ import annotations

import os
import re
import subprocess
import sys
import textwrap
from pathlib import Path
from typing import Iterator, List, NamedTuple

import pytest

ROOT = Path(__file__).resolve().parents[2]
DOCS = ROOT / "docs"
_FENCE = re.compile(r"^( *)```(python|console)\n(.*?)^\1```", re.S | re.M)  # also inside a list item (indented)
_DIRECTIVE = re.compile(r"^( *)\.\. code-block:: (python|console) *$")
_MARK = "@@readme-command-done@@"
_IDS = re.compile(r"(\b(?:id|prog_id)\W{1,3})\d+")                # kernel ids differ from run to run
_ID_LISTS = re.compile(r"(\bmap_ids\W{1,3})(\[[\d,\s]*\]|[\d,]+)")


class Block(NamedTuple):
    """A code block of a page: its language, its text (dedented), and where it lies in the file."""

    language: str
    code: str
    line: int     # the first line of the block's text, 1-based
    start: int    # its text: text[start:end] of the file
    end: int
    indent: str   # what precedes each of its lines in the file


def markdown_blocks(text: str) -> Iterator[Block]:
    for match in _FENCE.finditer(text):
        line = text.count("\n", 0, match.start(3)) + 1
        yield Block(match.group(2), textwrap.dedent(match.group(3)), line, match.start(3), match.end(3),
                    match.group(1))


def rst_blocks(text: str) -> Iterator[Block]:
    """``.. code-block:: python|console`` directives: options, a blank line, the indented body."""
    lines = text.splitlines(keepends=True)
    offsets = [0]
    for line in lines:
        offsets.append(offsets[-1] + len(line))
    i = 0
    while i < len(lines):
        match = _DIRECTIVE.match(lines[i].rstrip("\n"))
        i += 1
        if not match:
            continue
        outer = len(match.group(1))
        while i < len(lines) and lines[i].strip().startswith(":") and _indent(lines[i]) > outer:
            i += 1  # the directive's options
        first = i
        while first < len(lines) and not lines[first].strip():
            first += 1
        if first == len(lines) or _indent(lines[first]) <= outer:
            raise AssertionError(f"line {i}: a code-block without a body")
        body = _indent(lines[first])
        last = first
        for j in range(first, len(lines)):
            if lines[j].strip() and _indent(lines[j]) < body:
                break
            if lines[j].strip():
                last = j
        yield Block(match.group(2), textwrap.dedent("".join(lines[first:last + 1])), first + 1, offsets[first],
                    offsets[last + 1], " " * body)
        i = last + 1


def _indent(line: str) -> int:
    return len(line) - len(line.lstrip(" "))


def pages() -> List[Path]:
    """The README, then every page of docs/ (none in a tree without docs/, e.g. the installed-wheel run)."""
    return [ROOT / "README.md", *sorted(DOCS.rglob("*.rst"))]


def blocks_of(page: Path) -> Iterator[Block]:
    text = page.read_text()
    return markdown_blocks(text) if page.suffix == ".md" else rst_blocks(text)


def blocks(language: str) -> Iterator[tuple]:
    for page in pages():
        for block in blocks_of(page):
            if block.language == language:
                yield page, block


def label(page: Path, block: Block) -> str:
    return f"{page.relative_to(ROOT)}:{block.line}"


def test_the_readme_and_the_pages_have_python_blocks():
    readme = [block for page, block in blocks("python") if page.name == "README.md"]
    assert len(readme) >= 1, "the README's quick start"
    if not DOCS.is_dir():
        pytest.skip("no docs/ in this tree (the installed-wheel run copies the tests and the README only)")
    in_docs = {page.relative_to(DOCS).as_posix() for page, _ in blocks("python") if page.suffix == ".rst"}
    assert {"getting-started.rst", "maps.rst", "programs.rst", "events.rst", "pinning.rst", "legacy-tc.rst",
            "old-formats.rst", "reliability.rst"} <= in_docs


def in_fresh_namespaces(argv: list, *, net: bool = False) -> subprocess.CompletedProcess:
    """``argv`` where /sys/fs/bpf is a new bpffs (and, with ``net``, in a new network namespace)."""
    env = {**os.environ, "PATH": f"{Path(sys.executable).parent}:{os.environ.get('PATH', '')}"}
    return subprocess.run(["unshare", "--mount", "--propagation", "private", *(["--net"] if net else []),
                           "sh", "-ec", 'mount -t bpf bpf /sys/fs/bpf && exec "$@"', "sh", *argv],
                          capture_output=True, text=True, timeout=300, cwd=ROOT, env=env)


@pytest.mark.parametrize("code", [pytest.param(block.code, id=label(page, block)) for page, block in blocks("python")])
def test_python_block_runs(code, tmp_path):
    script = tmp_path / "block.py"
    script.write_text(code)
    done = in_fresh_namespaces([sys.executable, str(script)])
    assert done.returncode == 0, f"the block failed:\n{code}\n{done.stderr}"


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


def test_the_readme_and_the_cli_page_have_console_blocks():
    consoles = {page.name for page, _ in blocks("console")}
    assert "README.md" in consoles
    if DOCS.is_dir():
        assert "cli.rst" in consoles


@pytest.mark.parametrize("steps", [pytest.param(parse_console(block.code), id=label(page, block))
                                   for page, block in blocks("console")])
def test_console_block_prints_what_it_shows(steps):
    assert steps, "a console block without a $ command"
    for (command, expected), output in zip(steps, run_console(steps)):
        assert normalized(output) == normalized(expected), f"$ {command}"


def test_rst_blocks_are_read_whole():
    """The reader of the pages takes a directive's whole body, options and blank lines inside it too."""
    text = ("Intro\n\n.. code-block:: python\n   :caption: x\n\n   a = 1\n\n   b = 2\n\nAfter\n"
            "- item\n\n  .. code-block:: console\n\n     $ true\n     out\n")
    found = list(rst_blocks(text))
    assert [(b.language, b.code, b.line) for b in found] == [("python", "a = 1\n\nb = 2\n", 6),
                                                               ("console", "$ true\nout\n", 15)]
    assert text[found[1].start:found[1].end] == "     $ true\n     out\n" and found[1].indent == "     "


def update() -> None:
    """Write each console block's real outputs into the README and the pages."""
    for page in pages():
        text = page.read_text()
        pieces, last = [], 0
        for block in blocks_of(page):
            if block.language != "console":
                continue
            steps = parse_console(block.code)
            outputs = run_console(steps)
            body = "".join(f"$ {command}\n" + (f"{output}\n" if output else "")
                           for (command, _), output in zip(steps, outputs))
            pieces += [text[last:block.start], textwrap.indent(body, block.indent, lambda line: bool(line.strip()))]
            last = block.end
        if pieces:
            page.write_text("".join(pieces) + text[last:])


if __name__ == "__main__":
    if sys.argv[1:] != ["--update"]:
        sys.exit("usage: python tests/kernel/test_readme.py --update")
    update()
