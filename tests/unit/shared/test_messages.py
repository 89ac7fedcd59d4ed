"""Every message of the contract round-trips through JSON and refuses what it does not know."""

from __future__ import annotations

import json
from datetime import datetime

import pytest
from pydantic import BaseModel, ValidationError

from shared import subjects
from shared.messages import AlertFired, CloneVm, Message
from testkit.messages import sample

MODELS: list[type[BaseModel]] = sorted(
    {model for subject in subjects.ALL for model in (subject.model, subject.reply) if model is not None},
    key=lambda model: model.__name__,
)
IDS = [model.__name__ for model in MODELS]


@pytest.mark.parametrize("model", MODELS, ids=IDS)
def test_every_message_round_trips_through_json(model: type[BaseModel]) -> None:
    message = sample(model)
    again = model.model_validate_json(message.model_dump_json())
    assert again == message


@pytest.mark.parametrize("model", MODELS, ids=IDS)
def test_every_message_rejects_unknown_fields(model: type[BaseModel]) -> None:
    body = json.loads(sample(model).model_dump_json())
    body["unexpected_field"] = 1
    with pytest.raises(ValidationError, match="Extra inputs are not permitted"):
        model.model_validate(body)


@pytest.mark.parametrize("model", MODELS, ids=IDS)
def test_every_message_rejects_a_wrong_type(model: type[BaseModel]) -> None:
    body = json.loads(sample(model).model_dump_json())
    body["occurred_at"] = {"not": "a timestamp"}
    with pytest.raises(ValidationError):
        model.model_validate(body)


@pytest.mark.parametrize("model", MODELS, ids=IDS)
def test_every_message_is_frozen_and_carries_the_envelope(model: type[BaseModel]) -> None:
    message = sample(model)
    assert isinstance(message, Message)
    with pytest.raises(ValidationError):
        message.correlation_id = "changed"  # type: ignore[misc]
    assert message.occurred_at.utcoffset().total_seconds() == 0


def test_a_naive_timestamp_is_refused() -> None:
    with pytest.raises(ValidationError, match="time zone"):
        sample(AlertFired, starts_at=datetime(2026, 1, 1))


def test_a_clone_command_refuses_a_vm_name_with_shell_characters() -> None:
    with pytest.raises(ValidationError):
        sample(CloneVm, vm_name="web-1; rm -rf /")


def test_caused_by_keeps_the_correlation_and_points_at_the_cause() -> None:
    cause = sample(AlertFired, correlation_id="act-1")
    effect = sample(CloneVm).with_envelope(cause)
    assert effect.correlation_id == "act-1"
    assert effect.causation_id == str(cause.message_id)
