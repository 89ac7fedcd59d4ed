"""Checking a clone request before anything reaches vCenter, and resolving its placement.

Everything here is pure: the inventory cache's view of vCenter comes in as arguments.
"""

from __future__ import annotations

from collections.abc import Sequence
from ipaddress import AddressValueError, IPv4Address, IPv4Network, NetmaskValueError
from typing import Any

from services.inventory.domain.model import ClonePlan, GuestIdentity, InventoryObjects
from services.inventory.domain.names import validate_hostname, validate_vm_name
from services.inventory.domain.requests import CloneRequest
from services.inventory.domain.tag import Tag, annotate
from shared.errors import InvalidInput, NotFound
from shared.vocabulary import FailureReason, Placement, VmInfo

__all__ = ["guest_identity", "plan_clone", "plan_template", "resolve_network"]


def _invalid(message: str, **details: Any) -> InvalidInput:
    return InvalidInput(message, reason=FailureReason.INVALID_INPUT.value, **details)


def _ipv4(value: object, what: str) -> IPv4Address:
    try:
        return IPv4Address(str(value))
    except (AddressValueError, ValueError) as exc:
        raise _invalid(f"{what} must be an IPv4 address", value=str(value)) from exc


def guest_identity(cmd: CloneRequest) -> GuestIdentity:
    """The validated customization of ``cmd``, or ``InvalidInput`` saying what is wrong."""
    validate_vm_name(cmd.vm_name)
    net = cmd.network
    ip = _ipv4(net.ip, "the VM's IP")
    if net.prefix_length > 32:
        raise _invalid("an IPv4 prefix length is at most 32", prefix_length=net.prefix_length)
    subnet = IPv4Network(f"{ip}/{net.prefix_length}", strict=False)
    if net.netmask is not None:
        try:
            given = IPv4Network(f"0.0.0.0/{net.netmask}")
        except (NetmaskValueError, ValueError) as exc:
            raise _invalid("the netmask is not a valid IPv4 netmask", netmask=net.netmask) from exc
        if given.prefixlen != net.prefix_length:
            raise _invalid("the netmask disagrees with the prefix length", netmask=net.netmask)
    if ip.is_unspecified or ip.is_multicast or ip == IPv4Address("255.255.255.255"):
        raise _invalid("the VM's IP cannot be assigned to a host", ip=str(ip))
    if net.prefix_length < 31 and ip in (subnet.network_address, subnet.broadcast_address):
        raise _invalid("the VM's IP is the network or broadcast address of its subnet", ip=str(ip))
    gateway = None
    if net.gateway is not None:
        gw = _ipv4(net.gateway, "the gateway")
        if gw not in subnet or gw == ip:
            raise _invalid("the gateway must be another address inside the VM's subnet", gateway=str(gw))
        gateway = str(gw)
    dns = tuple(str(_ipv4(server, "a DNS server")) for server in net.dns_servers)
    hostname = validate_hostname(net.hostname or cmd.vm_name)
    domain = net.domain.strip(".")
    for label in domain.split("."):
        validate_hostname(label)
    return GuestIdentity(
        hostname=hostname,
        domain=domain,
        ip=str(ip),
        prefix_length=net.prefix_length,
        netmask=str(subnet.netmask),
        gateway=gateway,
        dns_servers=dns,
    )


def _one(items: Sequence[object], what: str, name: str) -> object:
    if not items:
        raise NotFound(f"unknown {what} {name!r}", reason=FailureReason.NOT_FOUND.value)
    return items[0]


def plan_clone(cmd: CloneRequest, source: VmInfo | None, objects: InventoryObjects) -> ClonePlan:
    """Resolve ``cmd``'s template and placement against the inventory (``NotFound`` if not)."""
    if source is None:
        raise NotFound(f"unknown template {cmd.template!r}", reason=FailureReason.NOT_FOUND.value)
    tag = Tag(cmd.group, cmd.activity_id)
    return _resolve(
        cmd.vm_name,
        source,
        cmd.placement,
        objects,
        template=False,
        annotation=annotate(cmd.annotation, tag),
        tag_text=tag.render(),
        network=cmd.network.network,
    )


def plan_template(
    name: str, source: VmInfo, folder: str | None, description: str, objects: InventoryObjects
) -> ClonePlan:
    """A template copy of ``source`` beside it (or in ``folder``)."""
    return _resolve(name, source, Placement(folder=folder), objects, template=True, annotation=description, tag_text="")


def _pool(placement: Placement, source: VmInfo, pools: list[object]) -> object:
    """The resource pool: named, else the cluster's root, else the source's, else any root."""

    def named(name: str, cluster: str | None) -> list[object]:
        return [
            p
            for p in pools
            if getattr(p, "name", None) == name and (cluster is None or getattr(p, "parent", None) == cluster)
        ]

    if placement.resource_pool:
        return _one(named(placement.resource_pool, placement.cluster), "resource pool", placement.resource_pool)
    if placement.cluster:
        return _one(named("Resources", placement.cluster), "cluster", placement.cluster)
    if source.resource_pool and named(source.resource_pool, source.cluster):
        return named(source.resource_pool, source.cluster)[0]
    if source.cluster and named("Resources", source.cluster):
        return named("Resources", source.cluster)[0]
    return _one(named("Resources", None), "resource pool", "Resources")


def _resolve(
    name: str,
    source: VmInfo,
    placement: Placement,
    objects: InventoryObjects,
    *,
    template: bool,
    annotation: str,
    tag_text: str,
    network: str | None = None,
) -> ClonePlan:
    dc = placement.datacenter or source.datacenter

    def in_dc(items: Sequence[object]) -> list[object]:
        return [item for item in items if getattr(item, "datacenter", None) == dc]

    folder_path = placement.folder if placement.folder is not None else source.folder
    folders = [f for f in objects.folders if f.datacenter == dc and f.path == (folder_path or "").strip("/")]
    folder = _one(folders, "folder", folder_path or "")
    pool = _pool(placement, source, list(in_dc(objects.resource_pools)))
    datastore = None
    if placement.datastore:
        datastore = _one(
            [d for d in objects.datastores if d.datacenter == dc and d.name == placement.datastore],
            "datastore",
            placement.datastore,
        )
    host = None
    if placement.host:
        host = _one(
            [h for h in in_dc(objects.hosts) if getattr(h, "name", None) == placement.host], "host", placement.host
        )
    return ClonePlan(
        vm_name=name,
        source=source.moref,
        folder=folder.moref,  # type: ignore[attr-defined]
        resource_pool=pool.moref,  # type: ignore[attr-defined]
        datastore=datastore.moref if datastore else None,  # type: ignore[attr-defined]
        host=host.moref if host else None,  # type: ignore[attr-defined]
        template=template,
        annotation=annotation,
        tag_text=tag_text,
        network=resolve_network(network, dc, objects) if network else None,
    )


def resolve_network(name: str, datacenter: str | None, objects: InventoryObjects) -> str:
    """The moref of the network called ``name`` in ``datacenter`` (``NotFound`` if none)."""
    found = [n for n in objects.networks if n.name == name and n.datacenter == datacenter]
    return str(_one(found, "network", name).moref)  # type: ignore[attr-defined]
