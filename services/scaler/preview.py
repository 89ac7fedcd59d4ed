"""Use cases that change nothing: validate a group's settings, and "what would happen now and why".

Both answer the gateway's ``validate`` and ``dry-run`` requests. The dry run reads the group, its
instances, IP pool and current metrics exactly as a decision does and runs the same pure
``decide`` for each thing the loop evaluates (convergence, the step policy's rules read from
Prometheus with fresh evidence only, target tracking), but takes no lease, claims no cooldown and
stores nothing.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from pydantic import ValidationError

from services.scaler.domain.decide import Allow, decide
from services.scaler.domain.model import Converge, Observed, Policy, ScalingGroup, StepPolicy
from services.scaler.field_errors import field_problems
from services.scaler.observation import Readings, observe, read_condition, snapshot
from services.scaler.ports import MetricsQuery, ResourceChecker, Store, UnitOfWork
from shared.clock import Clock
from shared.errors import NotFound

__all__ = ["Preview", "PreviewOutcome", "ValidationOutcome"]


@dataclass(frozen=True)
class ValidationOutcome:
    """What is wrong with a group's settings (``problems``) and what merely looks odd."""

    problems: tuple[str, ...]
    warnings: tuple[str, ...]


@dataclass(frozen=True)
class PreviewOutcome:
    """The decision one trigger would get now, with the values it would see."""

    trigger: str
    allowed: bool
    delta: int
    reason: str
    message: str
    rule: str
    observed: dict[str, Any]


def validation_problems(exc: ValidationError, spec: Any) -> tuple[str, ...]:
    """Each problem of invalid group settings ``spec`` as ``field: message`` (``settings`` for the
    whole group), once, on the field it is about (``field_problems``)."""
    return tuple(f"{field or 'settings'}: {message}" for field, message in field_problems(exc, spec))


class Preview:
    """Validation and dry runs over the scaler's ports (read-only)."""

    def __init__(
        self, store: Store, metrics: MetricsQuery, checker: ResourceChecker, clock: Clock, step_s: float = 15.0
    ) -> None:
        self._step_s = step_s
        self._store = store
        self._metrics = metrics
        self._checker = checker
        self._clock = clock

    async def validate(self, spec: dict[str, Any]) -> ValidationOutcome:
        """The MUST validations and the flapping lint, then whether job, template and pool exist."""
        try:
            group = ScalingGroup.model_validate(spec)
        except ValidationError as exc:
            return ValidationOutcome(problems=validation_problems(exc, spec), warnings=())
        missing = await self._checker.missing(group)
        warnings = () if group.enabled else ("the group is disabled: no alert reaches it until it is enabled",)
        return ValidationOutcome(problems=tuple(missing), warnings=warnings)

    async def dry_run(self, name: str) -> list[PreviewOutcome]:
        """What each of the group's triggers would decide now; raises ``NotFound``."""
        record = await self._store.transaction(lambda uow: uow.groups.get(name))
        if record is None:
            raise NotFound(f"no group {name}", group=name)
        spec = record.spec
        now = self._clock.now()
        policies: list[tuple[str, Policy]] = [("converge", Converge()), ("evaluation", StepPolicy())]
        tracking = spec.target_tracking()
        if tracking is not None:
            policies.append(("target_tracking", tracking))
        condition = await read_condition(self._metrics, spec, record.state, now, self._step_s)
        outcomes = []
        for trigger, policy in policies:
            metrics = await self._metrics.read(spec, tracking if policy is tracking else None)
            readings = Readings(condition=condition, metrics=metrics)

            def observe_now(uow: UnitOfWork, readings: Readings = readings) -> Observed | None:
                snap = snapshot(uow, name, for_update=False)
                return observe(snap, readings) if snap is not None else None

            observed = await self._store.transaction(observe_now)
            if observed is None:
                raise NotFound(f"no group {name}", group=name)
            decision = decide(spec, policy, observed, now)
            allowed = isinstance(decision, Allow)
            outcomes.append(
                PreviewOutcome(
                    trigger=trigger,
                    allowed=allowed,
                    delta=decision.delta if isinstance(decision, Allow) else 0,
                    reason=str(decision.reason),
                    message=decision.message
                    if not isinstance(decision, Allow)
                    else f"would {'add' if decision.delta > 0 else 'remove'} {abs(decision.delta)} VM(s): "
                    f"{decision.reason}",
                    rule=decision.rule,
                    observed=observed.summary(),
                )
            )
        return outcomes
