"""Every test file carries its tier's marker: `make test` selects each tier with ``-m``, so a file
without one would never run, silently."""

from __future__ import annotations

from pathlib import Path

import pytest

pytestmark = pytest.mark.unit

TESTS = Path(__file__).resolve().parents[2]
TIERS = ("unit", "integration", "sim", "e2e", "ui")


@pytest.mark.parametrize("tier", TIERS)
def test_every_test_file_of_a_tier_is_marked_with_it(tier: str) -> None:
    files = sorted((TESTS / tier).rglob("test_*.py"))
    assert files, f"no tests under tests/{tier}"
    unmarked = [str(f.relative_to(TESTS)) for f in files if f"pytest.mark.{tier}" not in f.read_text()]
    assert unmarked == []
