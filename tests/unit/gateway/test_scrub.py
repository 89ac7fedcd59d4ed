"""What the gateway shows of a message never carries a value named like a secret."""

from __future__ import annotations

import pytest

from services.gateway.events import scrub, scrub_text


def test_json_values_under_secret_keys_are_starred_at_any_depth() -> None:
    data = {"pool": "web", "auth": {"Password": "p", "hosts": [{"api_token": "t", "name": "a"}]}}
    assert scrub(data) == {"pool": "web", "auth": {"Password": "***", "hosts": [{"api_token": "***", "name": "a"}]}}


@pytest.mark.parametrize(
    ("text", "scrubbed"),
    [
        ("user=a password=hunter2 ok", "user=a password=*** ok"),
        ('api_token: "x y" rest', "api_token: *** rest"),
        ("Authorization: Bearer abc.def next", "Authorization: *** next"),
        ("SECRET_KEY=zz", "SECRET_KEY=***"),
        ("nothing to hide here", "nothing to hide here"),
    ],
    ids=["assignment", "quoted", "bearer", "upper-case", "plain"],
)
def test_secret_assignments_in_text_are_starred(text: str, scrubbed: str) -> None:
    assert scrub_text(text) == scrubbed
