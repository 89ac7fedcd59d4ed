"""Validation errors formatted once: dotted field paths and their messages."""

from __future__ import annotations

import pytest
from pydantic import BaseModel, ValidationError, model_validator

from shared.problems import field_errors, field_path, summary


class Inner(BaseModel):
    size: int


class Outer(BaseModel):
    name: str
    items: list[Inner]

    @model_validator(mode="after")
    def _enough(self) -> Outer:
        if len(self.items) > 2:
            raise ValueError("too many items")
        return self


def error_of(data: object) -> ValidationError:
    with pytest.raises(ValidationError) as caught:
        Outer.model_validate(data)
    return caught.value


@pytest.mark.parametrize(
    ("loc", "skip", "path"),
    [(("items", 0, "size"), (), "items.0.size"), (("body", "name"), ("body",), "name"), ((), (), "")],
    ids=["nested", "fastapi-body-dropped", "whole-object"],
)
def test_a_location_reads_as_a_dotted_path(loc: tuple[object, ...], skip: tuple[str, ...], path: str) -> None:
    assert field_path(loc, skip=skip) == path


def test_field_errors_keep_order_and_can_be_limited() -> None:
    exc = error_of({"items": [{"size": "x"}]})
    assert field_errors(exc) == [
        {"field": "name", "message": "Field required"},
        {"field": "items.0.size", "message": "Input should be a valid integer, unable to parse string as an integer"},
    ]
    assert field_errors(exc, limit=1) == [{"field": "name", "message": "Field required"}]


@pytest.mark.parametrize(
    ("whole", "line"),
    [("<body>", "<body>: Value error, too many items"), ("", "Value error, too many items")],
    ids=["named", "bare"],
)
def test_a_whole_object_error_is_named_as_asked(whole: str, line: str) -> None:
    exc = error_of({"name": "n", "items": [{"size": 1}] * 3})
    assert summary(exc, whole=whole) == line


def test_a_summary_is_one_line_of_every_problem() -> None:
    exc = error_of({"items": [{"size": "x"}]})
    assert summary(exc) == (
        "name: Field required; items.0.size: Input should be a valid integer, unable to parse string as an integer"
    )
