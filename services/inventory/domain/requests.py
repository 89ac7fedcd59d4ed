"""What the domain reads of a request: the fields it decides on, as read-only Protocols.

The wire messages (``shared.messages.CloneVm``, ``VmsQuery``) satisfy them structurally, so the
handlers pass the message itself and the domain never imports the wire module.
"""

from __future__ import annotations

from typing import Protocol

from shared.vocabulary import NetworkSpec, Placement

__all__ = ["CloneRequest", "VmFilter"]


class CloneRequest(Protocol):
    """A request to clone ``template`` into ``vm_name`` for ``group`` (``CloneVm``)."""

    @property
    def activity_id(self) -> str: ...
    @property
    def group(self) -> str: ...
    @property
    def vm_name(self) -> str: ...
    @property
    def template(self) -> str: ...
    @property
    def network(self) -> NetworkSpec: ...
    @property
    def placement(self) -> Placement: ...
    @property
    def annotation(self) -> str: ...


class VmFilter(Protocol):
    """The filters of a VM listing (``VmsQuery``); ``None`` means "any"."""

    @property
    def name_prefix(self) -> str | None: ...
    @property
    def name_pattern(self) -> str | None: ...
    @property
    def folder(self) -> str | None: ...
    @property
    def datacenter(self) -> str | None: ...
    @property
    def cluster(self) -> str | None: ...
    @property
    def power_state(self) -> str | None: ...
    @property
    def template(self) -> bool | None: ...
    @property
    def has_ip(self) -> bool | None: ...
    @property
    def group(self) -> str | None: ...
