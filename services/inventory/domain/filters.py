"""Which cached VMs a ``VmsQuery`` selects."""

from __future__ import annotations

from services.inventory.domain.names import glob_match
from services.inventory.domain.requests import VmFilter
from shared.vocabulary import VmInfo

__all__ = ["matches"]


def matches(vm: VmInfo, query: VmFilter) -> bool:
    """True when ``vm`` passes every filter set in ``query``."""
    if query.template is not None and vm.template != query.template:
        return False
    if query.name_prefix and not vm.name.startswith(query.name_prefix):
        return False
    if query.name_pattern and not glob_match(vm.name, query.name_pattern):
        return False
    if query.folder is not None:
        wanted = query.folder.strip("/")
        folder = vm.folder or ""
        if wanted and folder != wanted and not folder.startswith(wanted + "/"):
            return False
    if query.datacenter and vm.datacenter != query.datacenter:
        return False
    if query.cluster and vm.cluster != query.cluster:
        return False
    if query.power_state and vm.power_state != query.power_state:
        return False
    if query.has_ip is not None and (vm.ip is not None) != query.has_ip:
        return False
    return not (query.group and vm.group != query.group)
