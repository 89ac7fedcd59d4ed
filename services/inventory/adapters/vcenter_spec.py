# mypy: disable-error-code="no-untyped-call,attr-defined"
"""Building pyvmomi specs from our plans (no calls to vCenter here)."""

from __future__ import annotations

from typing import Any

from pyVmomi import vim

from services.inventory.domain import EXTRA_CONFIG_KEY, ClonePlan, GuestIdentity

__all__ = ["clone_spec", "customization_spec"]


def _ref(kind: Any, moref: str | None, stub: Any) -> Any:
    return kind(moref, stub) if moref else None


def clone_spec(plan: ClonePlan, stub: Any) -> Any:
    """A ``CloneSpec``: always powered off and uncustomized (customization is its own step).

    The tag rides in ``config`` (ExtraConfig + annotation) so the VM is born tagged.
    """
    location = vim.vm.RelocateSpec(
        pool=_ref(vim.ResourcePool, plan.resource_pool, stub),
        datastore=_ref(vim.Datastore, plan.datastore, stub),
        host=_ref(vim.HostSystem, plan.host, stub),
    )
    config = vim.vm.ConfigSpec(annotation=plan.annotation)
    if plan.tag_text:
        config.extraConfig = [vim.option.OptionValue(key=EXTRA_CONFIG_KEY, value=plan.tag_text)]
    return vim.vm.CloneSpec(location=location, powerOn=False, template=plan.template, config=config)


def customization_spec(identity: GuestIdentity, nic_count: int) -> Any:
    """Linux guest customization: fixed IPv4 on the first NIC, DHCP on any others.

    ``nicSettingMap`` must have one entry per NIC (vCenter answers ``NicSettingMismatch``).
    """
    first = vim.vm.customization.IPSettings(
        ip=vim.vm.customization.FixedIp(ipAddress=identity.ip),
        subnetMask=identity.netmask,
        gateway=[identity.gateway] if identity.gateway else [],
        dnsServerList=list(identity.dns_servers),
        dnsDomain=identity.domain,
    )
    adapters = [vim.vm.customization.AdapterMapping(adapter=first)]
    for _ in range(max(nic_count, 1) - 1):
        adapters.append(
            vim.vm.customization.AdapterMapping(
                adapter=vim.vm.customization.IPSettings(ip=vim.vm.customization.DhcpIpGenerator())
            )
        )
    return vim.vm.customization.Specification(
        identity=vim.vm.customization.LinuxPrep(
            hostName=vim.vm.customization.FixedName(name=identity.hostname),
            domain=identity.domain,
            hwClockUTC=True,
        ),
        globalIPSettings=vim.vm.customization.GlobalIPSettings(
            dnsServerList=list(identity.dns_servers), dnsSuffixList=[identity.domain]
        ),
        nicSettingMap=adapters,
    )
