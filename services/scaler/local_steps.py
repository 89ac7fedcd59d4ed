"""The steps the scaler runs itself: the health probe and the lifecycle hooks.

``perform_local_step`` does the work (it may take minutes) and says how it went; the caller
records the outcome in the activity. A hook's external work (a Jenkins queue item) is reported
through ``on_checkpoint`` so a restarted replica follows it instead of starting it again.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass

from services.scaler.domain.model import ScalingGroup
from services.scaler.domain.saga import Activity, Phase, Step
from services.scaler.ports import HealthProbe, LifecycleHook
from shared.errors import OperationTimeout, PermanentError, RetryableError

__all__ = ["LocalStep", "LocalStepPorts", "perform_local_step"]


@dataclass(frozen=True)
class LocalStepPorts:
    """What local steps talk to."""

    probe: HealthProbe
    hooks: LifecycleHook


@dataclass(frozen=True)
class LocalStep:
    """One local step of one VM's track."""

    activity: Activity
    vm_name: str
    step: Step
    phase: Phase


async def perform_local_step(
    ports: LocalStepPorts,
    spec: ScalingGroup,
    job: LocalStep,
    health_s: float,
    on_checkpoint: Callable[[str], Awaitable[None]],
) -> tuple[bool, str, bool]:
    """Run ``job`` now; returns ``(ok, error, retryable)``. A group without the step's hook
    succeeds at once."""
    activity, vm_name, step, phase = job.activity, job.vm_name, job.step, job.phase
    track = activity.track(vm_name)
    try:
        if step is Step.WAIT_HEALTHY:
            url = f"http://{track.address}:{spec.member_port}{spec.health_path}"
            await ports.probe.wait_healthy(url, health_s)
            return True, "", False
        hook = spec.post_provision_hook if step is Step.POST_PROVISION_HOOK else spec.pre_termination_hook
        if hook is not None:
            context = {
                "activity_id": activity.id,
                "step": step.value,  # with the activity and VM: the hook's idempotency key
                "group": spec.name,
                "vm_name": vm_name,
                "ip": track.address or "",
            }
            run = track.current(phase)
            await ports.hooks.run(
                hook,
                context,
                checkpoint=run.checkpoint if run is not None and run.step is step else None,
                on_checkpoint=on_checkpoint,
            )
    except OperationTimeout as exc:
        return False, str(exc), False
    except RetryableError as exc:
        return False, str(exc), True
    except PermanentError as exc:
        return False, str(exc), False
    return True, "", False
