"""The committed corpus of malformed objects (tests/data/bad): each raises exactly what
expected.json says. Cases only the kernel refuses are in tests/kernel/test_bad_objects_load.py."""

from __future__ import annotations

import pytest
from support import BAD_EXPECTED, check_bad_object


@pytest.mark.parametrize("name", sorted(n for n, c in BAD_EXPECTED.items() if c["entry"] != "load"))
def test_malformed_object(name):
    check_bad_object(name)
