"""The values the domains speak in: enums, a UTC timestamp type and small frozen value objects.

The wire messages (``shared.messages``) are built from these and re-export them, so the JSON on
the bus is unchanged; a domain module imports them from here and never loads the message models.
Nothing here is a message, a subject or I/O: a value belongs here when a pure domain function
takes or returns it.
"""

from __future__ import annotations

from datetime import UTC, datetime
from enum import StrEnum
from typing import Annotated

from pydantic import AfterValidator, BaseModel, ConfigDict, Field, IPvAnyAddress

__all__ = [
    "ActivityKind",
    "AlertRuleSpec",
    "DatastoreInfo",
    "FailureReason",
    "FolderInfo",
    "InventoryObject",
    "NetworkSpec",
    "NicInfo",
    "Placement",
    "ScaleDirection",
    "UtcDatetime",
    "VmInfo",
]


def _to_utc(value: datetime) -> datetime:
    if value.tzinfo is None:
        raise ValueError("timestamps must carry a time zone")
    return value.astimezone(UTC)


UtcDatetime = Annotated[datetime, AfterValidator(_to_utc)]
"""A datetime that must be aware and is normalised to UTC."""


class ScaleDirection(StrEnum):
    """Which way an alert asks the group to move."""

    OUT = "out"
    IN = "in"


class ActivityKind(StrEnum):
    """What an activity does to its group."""

    SCALE_OUT = "scale_out"
    SCALE_IN = "scale_in"


class FailureReason(StrEnum):
    """Why a VM or template command failed (``VmOperationFailed.reason``)."""

    DUPLICATE_NAME = "duplicate_name"
    INSUFFICIENT_RESOURCES = "insufficient_resources"
    NOT_FOUND = "not_found"
    INVALID_POWER_STATE = "invalid_power_state"
    CUSTOMIZATION_FAILED = "customization_failed"
    IP_TIMEOUT = "ip_timeout"
    PERMISSION = "permission"
    CONNECTION = "connection"
    TIMEOUT = "timeout"
    INVALID_INPUT = "invalid_input"
    CONFLICT = "conflict"


class _Value(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")


class Placement(_Value):
    """Where a clone lands; empty fields mean "same as the template"."""

    datacenter: str | None = None
    cluster: str | None = None
    host: str | None = None
    resource_pool: str | None = None
    folder: str | None = None
    datastore: str | None = None


class NetworkSpec(_Value):
    """The static IPv4 identity a clone gets through guest customization.

    ``netmask`` (dotted, optional) must agree with ``prefix_length`` when given; ``hostname``
    defaults to the VM name, which must then be a valid DNS label.
    """

    ip: IPvAnyAddress
    prefix_length: int = Field(ge=1, le=128)
    gateway: IPvAnyAddress | None = None
    dns_servers: tuple[IPvAnyAddress, ...] = ()
    network: str | None = None
    hostname: str | None = None
    domain: str = "local"
    netmask: str | None = None


class AlertRuleSpec(_Value):
    """The thresholds of a group, rendered into the original's two alert rules."""

    job: str
    cpu_high: float = Field(gt=0, le=100)
    memory_high: float = Field(gt=0, le=100)
    cpu_low: float = Field(ge=0, lt=100)
    memory_low: float = Field(ge=0, lt=100)
    out_for_s: int = Field(ge=0)
    in_for_s: int = Field(ge=0)


class NicInfo(_Value):
    """One virtual NIC as the guest reports it (addresses need VMware Tools)."""

    mac: str | None = None
    network: str | None = None
    ipv4: tuple[str, ...] = ()
    ipv6: tuple[str, ...] = ()
    connected: bool = True


class VmInfo(_Value):
    """One VM (or template) as the inventory cache knows it.

    ``template`` is vCenter's ``config.template`` flag, never guessed from the name. ``ip`` is
    the first IPv4 address the guest reports. ``group`` / ``activity_id`` are our tag: set only
    on VMs vmscale created. ``revision`` is the cache revision of the last change to this VM.
    """

    name: str
    moref: str
    instance_uuid: str | None = None
    power_state: str = "poweredOff"
    template: bool = False
    ip: str | None = None
    hostname: str | None = None
    nics: tuple[NicInfo, ...] = ()
    datacenter: str | None = None
    folder: str | None = None
    cluster: str | None = None
    host: str | None = None
    resource_pool: str | None = None
    datastores: tuple[str, ...] = ()
    annotation: str = ""
    group: str | None = None
    activity_id: str | None = None
    revision: int = 0


class InventoryObject(_Value):
    """A named vCenter object (network, cluster, host, resource pool)."""

    moref: str
    name: str
    datacenter: str | None = None
    parent: str | None = Field(default=None, description="name of the cluster / pool it sits in")
    path: str | None = None


class DatastoreInfo(_Value):
    """A datastore and its space, in bytes (when vCenter reports it)."""

    moref: str
    name: str
    datacenter: str | None = None
    capacity: int | None = None
    free_space: int | None = None


class FolderInfo(_Value):
    """A VM folder; ``path`` is relative to its datacenter's VM folder (``prod/web``)."""

    moref: str
    name: str
    path: str
    datacenter: str | None = None
