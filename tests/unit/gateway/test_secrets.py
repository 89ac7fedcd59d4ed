"""Passwords are salted scrypt hashes; API keys are random and looked up by prefix."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from services.gateway.auth import secrets as sec

pytestmark = pytest.mark.unit


def test_a_password_verifies_only_against_its_own_hash() -> None:
    stored = sec.hash_password("correct horse battery staple")
    assert stored.startswith("scrypt$") and "correct" not in stored
    assert sec.verify_password("correct horse battery staple", stored)
    assert not sec.verify_password("correct horse battery stapl", stored)


def test_two_hashes_of_one_password_differ_by_salt() -> None:
    assert sec.hash_password("same password!") != sec.hash_password("same password!")


@pytest.mark.parametrize(
    "stored", ["", "plain", "bcrypt$1$2$3$4$5", "scrypt$x$8$1$AAAA$AAAA", "scrypt$16384$8$1$!!$!!"]
)
def test_a_malformed_hash_never_matches(stored: str) -> None:
    assert not sec.verify_password("anything", stored)


@settings(max_examples=50)
@given(st.text(min_size=1, max_size=80), st.text(min_size=1, max_size=80))
def test_constant_time_equals_is_plain_equality(a: str, b: str) -> None:
    assert sec.constant_time_equals(a, b) is (a == b)
    assert sec.constant_time_equals(a, a)


def test_an_api_key_carries_its_prefix_and_nothing_else_parses_as_one() -> None:
    key, prefix = sec.new_api_key()
    assert key.startswith(f"vms_{prefix}_") and sec.split_api_key(key) == prefix
    assert sec.split_api_key("vms_short_x") is None
    assert sec.split_api_key("Bearer something") is None
    assert sec.new_api_key()[0] != key
