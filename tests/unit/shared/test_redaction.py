"""Hook targets and parameters are masked where they must not be read, and masked values that
come back keep the stored ones."""

from __future__ import annotations

import pytest

from shared.redaction import MASK, mask_hooks, mask_url, restore_hooks

HOOK = {"kind": "http", "target": "https://ops:pw@ci.example:8443/hook/run?token=s3cret", "parameters": {"key": "k1"}}
SPEC = {"name": "web", "post_provision_hook": HOOK, "pre_termination_hook": {"kind": "jenkins", "target": "drain-job"}}


@pytest.mark.parametrize(
    ("url", "shown"),
    [
        ("https://ops:pw@ci.example:8443/hook/run?token=s3cret", "https://ci.example:8443/***"),
        ("http://127.0.0.1/hooks/abc123", "http://127.0.0.1/***"),
        ("http://[::1]:9000/x?t=1", "http://[::1]:9000/***"),
        ("not a url", MASK),
        ("http://[bad", MASK),
    ],
    ids=["credentials-path-query", "token-in-path", "ipv6", "no-scheme", "malformed"],
)
def test_a_url_keeps_only_scheme_host_and_port(url: str, shown: str) -> None:
    assert mask_url(url) == shown


def test_hooks_are_masked_and_the_rest_of_the_spec_and_the_input_are_untouched() -> None:
    masked = mask_hooks(SPEC)
    assert masked["post_provision_hook"]["target"] == "https://ci.example:8443/***"
    assert masked["post_provision_hook"]["parameters"] == {"key": MASK}
    assert masked["pre_termination_hook"]["target"] == "drain-job"  # a Jenkins job name is no secret
    assert masked["name"] == "web"
    assert "s3cret" not in repr(masked) and "pw@" not in repr(masked) and "k1" not in repr(masked)
    assert SPEC["post_provision_hook"] is HOOK and HOOK["target"].endswith("s3cret")


def test_masked_values_that_come_back_keep_the_stored_ones() -> None:
    returned = mask_hooks(SPEC)
    assert restore_hooks(returned, SPEC) == SPEC


def test_changed_values_win_over_the_stored_ones() -> None:
    returned = mask_hooks(SPEC)
    returned["post_provision_hook"] = {
        **returned["post_provision_hook"],
        "parameters": {"key": MASK, "extra": "new"},
        "target": "https://other.example/hook",
    }
    restored = restore_hooks(returned, SPEC)["post_provision_hook"]
    assert restored["target"] == "https://other.example/hook"
    assert restored["parameters"] == {"key": "k1", "extra": "new"}


def test_without_a_stored_spec_nothing_is_restored() -> None:
    returned = mask_hooks(SPEC)
    assert restore_hooks(returned, None) == returned
