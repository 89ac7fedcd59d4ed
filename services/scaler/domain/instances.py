"""A group's instances (its VMs) and the states they go through.

The state changes an activity makes are pure functions here (``on_command_sent``,
``on_instant_step``, ``at_activity_end``); the shell saves what they return.
"""

from __future__ import annotations

from enum import StrEnum
from ipaddress import IPv4Address

from services.scaler.domain.saga import Activity, ActivityStatus, Step
from services.scaler.domain.values import Frozen
from shared.vocabulary import ActivityKind, UtcDatetime

__all__ = [
    "CAPACITY_STATES",
    "Instance",
    "InstanceState",
    "at_activity_end",
    "on_command_sent",
    "on_instant_step",
]


class InstanceState(StrEnum):
    """Life of a group member."""

    PENDING = "pending"
    PROVISIONING = "provisioning"
    IN_SERVICE = "in_service"
    DRAINING = "draining"
    TERMINATING = "terminating"
    TERMINATED = "terminated"
    FAILED = "failed"


CAPACITY_STATES = frozenset({InstanceState.PENDING, InstanceState.PROVISIONING, InstanceState.IN_SERVICE})
"""States counted as the group's size: in-flight scale-outs count toward max."""


class Instance(Frozen):
    """A VM of a group. ``base`` VMs (imported, pre-existing) are never scaled in."""

    group: str
    vm_name: str
    address: IPv4Address | None = None
    state: InstanceState = InstanceState.PENDING
    protected: bool = False
    base: bool = False
    activity_id: str | None = None
    created_at: UtcDatetime
    moref: str | None = None
    instance_uuid: str | None = None
    load: float | None = None

    @property
    def counts(self) -> bool:
        """True when the instance is part of the group's size."""
        return self.state in CAPACITY_STATES

    @property
    def removable(self) -> bool:
        """True when a scale-in may choose it: autoscaled, unprotected and in service."""
        return not self.base and not self.protected and self.state is InstanceState.IN_SERVICE


def on_command_sent(instance: Instance, step: Step) -> Instance | None:
    """The instance once ``step``'s command is sent (None: unchanged): a clone makes a pending
    instance provisioning; a destroy makes a draining one terminating."""
    if step is Step.CLONE and instance.state is InstanceState.PENDING:
        return instance.model_copy(update={"state": InstanceState.PROVISIONING})
    if step is Step.DESTROY and instance.state is InstanceState.DRAINING:
        return instance.model_copy(update={"state": InstanceState.TERMINATING})
    return None


def on_instant_step(instance: Instance, step: Step) -> Instance:
    """The instance once an instant step ran: in service, or terminated (its address released)."""
    return instance.model_copy(
        update={"state": InstanceState.IN_SERVICE if step is Step.IN_SERVICE else InstanceState.TERMINATED}
    )


def at_activity_end(instance: Instance, activity: Activity) -> Instance | None:
    """The instance once its ``activity`` ended (None: unchanged, or already terminated).

    A failed activity leaves its instances failed (an operator looks); a scale-out that
    succeeded puts them in service and one that rolled back terminated them; a scale-in that
    did not finish leaves its victims in service.
    """
    if instance.state is InstanceState.TERMINATED:
        return None
    if activity.status is ActivityStatus.FAILED:
        state = InstanceState.FAILED
    elif activity.kind is ActivityKind.SCALE_OUT:
        succeeded = activity.status is ActivityStatus.SUCCEEDED
        state = InstanceState.IN_SERVICE if succeeded else InstanceState.TERMINATED
    else:
        state = InstanceState.IN_SERVICE
    return instance.model_copy(update={"state": state})
