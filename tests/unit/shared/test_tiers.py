"""A test's tier is its directory: tests/conftest.py marks every test with it, so `make test`'s
``-m <tier>`` per directory selects each test exactly once."""

from __future__ import annotations

from pathlib import Path

import pytest

TESTS = Path(__file__).resolve().parents[2]
TIERS = ("unit", "integration", "sim", "ha", "e2e", "ui")


def test_every_test_file_sits_in_a_tier_directory() -> None:
    # a test file elsewhere would be collected by no `make test` line, silently
    outside = [
        str(f.relative_to(TESTS)) for f in TESTS.rglob("test_*.py") if f.relative_to(TESTS).parts[0] not in TIERS
    ]
    assert outside == []


@pytest.mark.parametrize("tier", TIERS)
def test_every_tier_directory_holds_tests(tier: str) -> None:
    assert sorted((TESTS / tier).rglob("test_*.py")), f"no tests under tests/{tier}"


def test_every_collected_test_carries_exactly_the_tier_of_its_directory(request: pytest.FixtureRequest) -> None:
    wrong = []
    for item in request.session.items:
        tier = Path(item.path).resolve().relative_to(TESTS).parts[0]
        marked = {m.name for m in item.iter_markers() if m.name in TIERS}
        if marked != {tier}:
            wrong.append((item.nodeid, sorted(marked)))
    assert request.session.items
    assert wrong == []
