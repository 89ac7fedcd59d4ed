"""Passwords are salted Argon2id hashes (older scrypt ones still verify); API keys are random and
looked up by prefix."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from services.gateway.auth import secrets as sec


def test_a_password_verifies_only_against_its_own_hash() -> None:
    stored = sec.hash_password("correct horse battery staple")
    assert stored.startswith("$argon2id$v=19$m=19456,t=2,p=1$") and "correct" not in stored
    assert sec.verify_password("correct horse battery staple", stored)
    assert not sec.verify_password("correct horse battery stapl", stored)


def test_two_hashes_of_one_password_differ_by_salt() -> None:
    assert sec.hash_password("same password!") != sec.hash_password("same password!")


@pytest.mark.parametrize(
    "stored",
    [
        "",
        "plain",
        "bcrypt$1$2$3$4$5",
        "scrypt$x$8$1$AAAA$AAAA",
        "scrypt$16384$8$1$!!$!!",
        "$argon2id$v=19$m=19456,t=2,p=1$!!$!!",
        "$argon2i$v=19$m=19456,t=2,p=1$c2FsdHNhbHRzYWx0$AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA",
    ],
)
def test_a_malformed_hash_never_matches(stored: str) -> None:
    assert not sec.verify_password("anything", stored)


def test_a_stored_hash_asking_for_more_than_the_cap_is_refused_without_computing_it() -> None:
    huge = sec.PasswordHashing(memory_kib=8, time_cost=1).hash("pw").replace("m=8,", "m=4194304,")
    assert not sec.verify_password("pw", huge)


def test_cheaper_parameters_verify_and_are_flagged_for_rehash_at_the_default_cost() -> None:
    cheap = sec.PasswordHashing(memory_kib=64, time_cost=1)
    stored = cheap.hash("pw")
    assert stored.startswith("$argon2id$v=19$m=64,t=1,p=1$")
    assert cheap.verify("pw", stored) and not cheap.needs_rehash(stored)
    assert sec.verify_password("pw", stored) and sec.needs_rehash(stored)


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
