"""The Alertmanager payload model and the alert → event rules."""

from __future__ import annotations

import pytest
from pydantic import ValidationError

from services.gateway.webhook.ingest import direction_of
from services.gateway.webhook.model import AlertmanagerPayload, unquote_meta
from shared.messages import ScaleDirection


def payload(**alert_fields) -> dict:
    alert = {"status": "firing", "labels": {}, "startsAt": "2026-01-01T10:00:00.123+09:00", "fingerprint": "ab"}
    alert.update(alert_fields)
    return {"version": "4", "status": "firing", "alerts": [alert], "receiver": r"a\.b"}


@pytest.mark.parametrize(
    ("name", "expected"),
    [
        ("web_HighResourceUsage", ScaleDirection.OUT),
        ("web_LowResourceUsage", ScaleDirection.IN),
        ("HighResourceUsage", ScaleDirection.OUT),
        ("web_HighResourceUsageX", None),
        ("DiskFull", None),
        ("", None),
    ],
    ids=["out", "in", "bare-out", "suffix-mismatch", "unrelated", "empty"],
)
def test_direction_follows_the_original_alert_names_exactly(name: str, expected: ScaleDirection | None) -> None:
    assert direction_of(name) is expected


@pytest.mark.parametrize(
    ("quoted", "plain"),
    [(r"scale\.out", "scale.out"), (r"a\+b\*c", "a+b*c"), ("jenkins-webhook-web-out", "jenkins-webhook-web-out")],
)
def test_quote_meta_is_undone(quoted: str, plain: str) -> None:
    assert unquote_meta(quoted) == plain


def test_go_zero_time_means_still_firing_and_timestamps_are_normalised() -> None:
    parsed = AlertmanagerPayload.model_validate(payload(endsAt="0001-01-01T00:00:00Z"))
    alert = parsed.alerts[0]
    assert alert.ended_at is None
    assert alert.startsAt.utcoffset().total_seconds() == 9 * 3600
    assert parsed.receiver_name == "a.b"


@pytest.mark.parametrize(
    "change",
    [{"startsAt": "2026-01-01T10:00:00"}, {"startsAt": 1767261600}, {"fingerprint": ""}, {"status": "pending"}],
    ids=["no-offset", "epoch-number", "empty-fingerprint", "unknown-status"],
)
def test_invalid_alerts_are_refused(change: dict) -> None:
    with pytest.raises(ValidationError):
        AlertmanagerPayload.model_validate(payload(**change))
