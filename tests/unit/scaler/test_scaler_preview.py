"""Validation and the dry run answer without changing anything."""

from __future__ import annotations

from shared import subjects
from tests.unit.scaler.scaler_factories import group as make_group
from tests.unit.scaler.scaler_harness import Harness


async def test_validation_names_each_broken_setting_and_each_missing_resource() -> None:
    h = Harness()
    spec = make_group().model_dump(mode="json")
    bad = {**spec, "min_size": 5, "max_size": 2, "thresholds": {**spec["thresholds"], "cpu_low": 90}}
    outcome = await h.scaler.preview.validate(bad)
    assert outcome.problems, outcome
    assert all(":" in problem for problem in outcome.problems), "each problem names its setting"
    h.checker.templates.clear()
    missing = await h.scaler.preview.validate(spec)
    assert missing.problems == ("template 'web-template' does not exist",)
    h.checker.templates.add("web-template")
    assert (await h.scaler.preview.validate(spec)).problems == ()


async def test_the_dry_run_says_what_the_loop_would_do_and_stores_nothing() -> None:
    h = Harness()
    await h.setup(base=2)  # busy metrics: cpu 95
    decisions_before = await h.store.transaction(lambda uow: len(uow.decisions.find("web", limit=1000)))
    outcomes = {o.trigger: o for o in await h.scaler.preview.dry_run("web")}
    level, converge = outcomes["evaluation"], outcomes["converge"]
    assert level.allowed and level.delta == 1 and "high usage" in level.message, level
    assert level.observed["condition"]["direction"] == "out"
    assert not converge.allowed and converge.reason == "no_change", converge
    assert await h.store.transaction(lambda uow: len(uow.decisions.find("web", limit=1000))) == decisions_before
    assert h.publisher.of(subjects.CMD_VM_CLONE) == []
    assert (await h.group()).state.last_scale_out_at is None
