"""F5 object paths and error translation."""

from __future__ import annotations

import pytest

from services.loadbalancer.adapters.f5 import tilde
from services.loadbalancer.adapters.f5_session import F5Error, translate
from shared.errors import Conflict, InvalidInput, NotFound, ServiceUnavailable, Unauthorized


@pytest.mark.parametrize(
    ("partition", "name", "path"),
    [
        ("Common", "web", "~Common~web"),
        ("Tenant_A", "vm-1:8080", "~Tenant_A~vm-1:8080"),
        ("Common", "127.0.0.5%2:80", "~Common~127.0.0.5%252:80"),
    ],
    ids=["plain", "other-partition", "route-domain-escaped"],
)
def test_object_paths_use_tildes_and_escape_route_domains(partition: str, name: str, path: str) -> None:
    assert tilde(partition, name) == path


@pytest.mark.parametrize(
    ("status", "message", "error"),
    [
        (404, "01020036:3: The requested Pool (/Common/web) was not found.", NotFound),
        (409, "01020066:3: ... already exists in partition Common.", Conflict),
        (400, "01070110:3: Node address '/Common/vm' is referenced by a member of pool '/Common/x'.", Conflict),
        (400, '01070911:3: invalid property value "state":"up"', InvalidInput),
        (401, "X-F5-Auth-Token does not exist.", Unauthorized),
        (503, "Configuration Utility restarting...", ServiceUnavailable),
    ],
    ids=["404", "409", "referenced", "400", "401", "503"],
)
def test_vendor_errors_map_to_the_most_specific_class(status: int, message: str, error: type) -> None:
    translated = translate(F5Error(status, message), pool="web")
    assert type(translated) is error
    assert translated.details == {"pool": "web"}
