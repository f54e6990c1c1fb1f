"""Compiling a native harness of bench/ (bench/NAME.c, with harness.h) into bench/build/NAME."""

from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path

BENCH = Path(__file__).resolve().parent


def build(name: str) -> Path:
    """bench/build/NAME, compiled when missing or older than its source or harness.h."""
    source, binary = BENCH / f"{name}.c", BENCH / "build" / name
    newest = max(source.stat().st_mtime, (BENCH / "harness.h").stat().st_mtime)
    if not binary.exists() or binary.stat().st_mtime < newest:
        if shutil.which("gcc") is None:
            sys.exit("gcc is needed for the native baseline (Debian: apt-get install gcc libbpf-dev)")
        binary.parent.mkdir(exist_ok=True)
        subprocess.run(["gcc", "-O2", str(source), "-lbpf", "-o", str(binary)], check=True)
    return binary
