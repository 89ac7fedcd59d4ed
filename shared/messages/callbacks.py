"""The original's Jenkins completion callbacks, handed to the scaler (gateway → scaler).

The original's ``plg-autoscale-out`` / ``plg-autoscale-in`` pipelines report each VM they
created or deleted (docs/original-system.md §10.3, §11.3). While an operator still runs them beside
vmscale, the gateway accepts those calls and asks the scaler to adopt the VM into its group
(``AdoptInstance``) or to mark it gone (``MarkInstanceGone``). Both are idempotent: asked again,
the scaler answers ``changed=False`` with the instance as it is.
"""

from __future__ import annotations

from typing import Literal

from pydantic import Field

from shared.messages.base import Query, Reply
from shared.messages.scaling import InstanceView

__all__ = ["AdoptInstance", "InstanceCallbackReply", "MarkInstanceGone"]


class AdoptInstance(Query):
    """A VM someone else created for ``group``: make it an autoscaled, in-service instance.

    A VM vmscale already manages (any state but terminated) is left as it is.
    """

    group: str = Field(min_length=1, max_length=128)
    vm_name: str = Field(min_length=1, max_length=80)
    address: str
    job: str = ""
    source: str = "jenkins"


class MarkInstanceGone(Query):
    """A VM someone else deleted: the instance is terminated and its address released."""

    group: str = Field(min_length=1, max_length=128)
    vm_name: str = Field(min_length=1, max_length=80)
    address: str
    source: str = "jenkins"


class InstanceCallbackReply(Reply):
    """What the scaler did: ``outcome`` says it in words, ``changed`` whether anything changed."""

    outcome: Literal["adopted", "already-managed", "marked-gone", "already-gone", ""] = ""
    changed: bool = False
    instance: InstanceView | None = None
