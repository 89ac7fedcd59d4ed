"""The contract of ``OperationClaims`` (STYLE rule 12): the in-memory fake and the SQL adapter.

Subclass ``OperationClaimsContract`` and provide the fixture ``claims``. A TTL of zero makes a
claim expire at once, so expiry is tested without waiting.
"""

from __future__ import annotations

import pytest

from services.inventory.claims import OperationClaims

__all__ = ["OperationClaimsContract"]

KEY = "clone:act-1:web-11"


class OperationClaimsContract:
    """Run against every ``OperationClaims`` implementation."""

    @pytest.fixture
    def claims(self) -> OperationClaims:
        raise NotImplementedError

    def test_a_first_claim_is_granted_and_renewing_keeps_its_token(self, claims: OperationClaims) -> None:
        token = claims.claim(KEY, "replica-a", 60)
        assert token is not None
        assert claims.claim(KEY, "replica-a", 60) == token
        assert claims.holds(KEY, "replica-a", token)

    def test_another_replica_is_refused_while_the_claim_lives(self, claims: OperationClaims) -> None:
        token = claims.claim(KEY, "replica-a", 60)
        assert claims.claim(KEY, "replica-b", 60) is None
        assert token is not None and claims.holds(KEY, "replica-a", token)
        assert claims.claim("clone:act-2:web-12", "replica-b", 60) is not None  # other operations are free

    def test_an_expired_claim_is_taken_over_with_a_higher_token(self, claims: OperationClaims) -> None:
        old = claims.claim(KEY, "replica-a", 0)
        new = claims.claim(KEY, "replica-b", 60)
        assert old is not None and new is not None and new > old
        assert not claims.holds(KEY, "replica-a", old)
        assert claims.claim(KEY, "replica-a", 60) is None  # the stalled holder cannot renew

    def test_a_released_claim_is_free_at_once_and_only_its_owner_releases_it(self, claims: OperationClaims) -> None:
        first = claims.claim(KEY, "replica-a", 60)
        claims.release(KEY, "replica-b")
        assert claims.claim(KEY, "replica-b", 60) is None
        claims.release(KEY, "replica-a")
        claims.release(KEY, "replica-a")  # idempotent
        second = claims.claim(KEY, "replica-b", 60)
        assert first is not None and second is not None and second > first

    def test_holds_checks_owner_and_token(self, claims: OperationClaims) -> None:
        token = claims.claim(KEY, "replica-a", 60)
        assert token is not None
        assert not claims.holds(KEY, "replica-b", token)
        assert not claims.holds(KEY, "replica-a", token + 1)
        assert not claims.holds("unknown", "replica-a", token)
