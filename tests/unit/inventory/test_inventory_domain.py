"""Names, tags, clone validation and query filters: pure rules."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from services.inventory.domain import (
    Tag,
    annotate,
    guest_identity,
    is_hidden,
    matches,
    natural_key,
    parse_tag,
    plan_clone,
)
from services.inventory.domain.model import InventoryObjects
from shared.errors import InvalidInput, NotFound
from shared.messages import CloneVm, FolderInfo, InventoryObject, NetworkSpec, Placement, VmInfo, VmsQuery


def test_natural_order_puts_web_2_before_web_10() -> None:
    names = ["web-10", "web-2", "Web-1", "db-1", "web-1a"]
    assert sorted(names, key=natural_key) == ["db-1", "Web-1", "web-1a", "web-2", "web-10"]


@given(st.lists(st.integers(min_value=0, max_value=10_000), unique=True))
def test_numbered_names_sort_by_number(numbers: list[int]) -> None:
    names = [f"web-{n}" for n in numbers]
    assert sorted(names, key=natural_key) == [f"web-{n}" for n in sorted(numbers)]


@pytest.mark.parametrize(("name", "hidden"), [("vCLS-abc", True), ("vCLS (1)", True), ("web-vCLS", False)])
def test_cluster_service_vms_are_hidden(name: str, hidden: bool) -> None:
    assert is_hidden(name) is hidden


def test_a_tag_survives_annotation_edits() -> None:
    text = annotate("owner: team-a", Tag("web", "act-1"))
    assert text == "owner: team-a\nvmscale:group=web;activity=act-1"
    assert parse_tag(text) == Tag("web", "act-1")
    assert parse_tag(annotate(text, Tag("web", "act-2"))) == Tag("web", "act-2")
    assert parse_tag("no tag here") is None


def command(**network: object) -> CloneVm:
    spec = {"ip": "127.0.10.31", "prefix_length": 24, **network}
    return CloneVm(activity_id="a", group="web", vm_name="web-11", template="tpl", network=NetworkSpec(**spec))


@pytest.mark.parametrize(
    ("network", "words"),
    [
        ({"ip": "fd00::1", "prefix_length": 64}, "IPv4"),
        ({"prefix_length": 33}, "at most 32"),
        ({"netmask": "255.0.255.0"}, "not a valid IPv4 netmask"),
        ({"netmask": "255.255.0.0"}, "disagrees"),
        ({"ip": "127.0.10.0"}, "network or broadcast"),
        ({"ip": "127.0.10.255"}, "network or broadcast"),
        ({"gateway": "127.0.11.1"}, "inside the VM's subnet"),
        ({"dns_servers": ("fd00::53",)}, "DNS server"),
        ({"hostname": "web_11"}, "DNS label"),
        ({"domain": "lab..example"}, "DNS label"),
    ],
    ids=[
        "ipv6",
        "prefix",
        "netmask-shape",
        "netmask-mismatch",
        "network",
        "broadcast",
        "gateway",
        "dns",
        "host",
        "domain",
    ],
)
def test_bad_network_input_is_rejected_with_the_reason(network: dict[str, object], words: str) -> None:
    with pytest.raises(InvalidInput) as caught:
        guest_identity(command(**network))
    assert words in str(caught.value)
    assert caught.value.details["reason"] == "invalid_input"


def test_a_vm_name_that_is_no_dns_label_needs_an_explicit_host_name() -> None:
    cmd = CloneVm(
        activity_id="a", group="g", vm_name="web_1", template="t", network=NetworkSpec(ip="127.0.0.5", prefix_length=24)
    )
    with pytest.raises(InvalidInput):
        guest_identity(cmd)
    ok = cmd.model_copy(update={"network": NetworkSpec(ip="127.0.0.5", prefix_length=24, hostname="web-1")})
    assert guest_identity(ok).hostname == "web-1"


def test_a_good_request_gives_the_customization() -> None:
    identity = guest_identity(command(gateway="127.0.10.1", netmask="255.255.255.0", dns_servers=("127.0.0.53",)))
    assert (identity.ip, identity.netmask, identity.gateway, identity.hostname) == (
        "127.0.10.31",
        "255.255.255.0",
        "127.0.10.1",
        "web-11",
    )


OBJECTS = InventoryObjects(
    folders=(FolderInfo(moref="f-1", name="web", path="prod/web", datacenter="DC1"),),
    resource_pools=(
        InventoryObject(moref="rp-0", name="Resources", datacenter="DC1", parent="c1"),
        InventoryObject(moref="rp-1", name="web", datacenter="DC1", parent="c1"),
    ),
    networks=(
        InventoryObject(moref="network-1", name="lab-net", datacenter="DC1"),
        InventoryObject(moref="network-9", name="backend-net", datacenter="DC2"),
    ),
)
TEMPLATE = VmInfo(name="tpl", moref="vm-1", template=True, datacenter="DC1", folder="prod/web", cluster="c1")


def test_placement_resolves_names_to_morefs_and_unknown_names_fail() -> None:
    plan = plan_clone(command().model_copy(update={"placement": Placement(resource_pool="web")}), TEMPLATE, OBJECTS)
    assert (plan.source, plan.folder, plan.resource_pool, plan.tag_text) == (
        "vm-1",
        "f-1",
        "rp-1",
        "vmscale:group=web;activity=a",
    )
    assert plan_clone(command(), TEMPLATE, OBJECTS).resource_pool == "rp-0"
    with pytest.raises(NotFound, match="unknown template"):
        plan_clone(command(), None, OBJECTS)
    with pytest.raises(NotFound, match="folder"):
        plan_clone(command().model_copy(update={"placement": Placement(folder="nope")}), TEMPLATE, OBJECTS)
    with pytest.raises(NotFound, match="datastore"):
        plan_clone(command().model_copy(update={"placement": Placement(datastore="ds9")}), TEMPLATE, OBJECTS)
    assert plan_clone(command(network="lab-net"), TEMPLATE, OBJECTS).network == "network-1"
    assert plan_clone(command(), TEMPLATE, OBJECTS).network is None
    with pytest.raises(NotFound, match="network"):  # a network of another datacenter is not one
        plan_clone(command(network="backend-net"), TEMPLATE, OBJECTS)


VM = VmInfo(name="web-3", moref="vm-3", power_state="poweredOn", ip="127.0.10.3", folder="prod/web/a", cluster="c1")


@pytest.mark.parametrize(
    ("query", "selected"),
    [
        (VmsQuery(), True),
        (VmsQuery(folder="prod/web"), True),
        (VmsQuery(folder="prod/we"), False),
        (VmsQuery(name_pattern="web-?"), True),
        (VmsQuery(name_prefix="db"), False),
        (VmsQuery(has_ip=False), False),
        (VmsQuery(power_state="poweredOff"), False),
        (VmsQuery(template=True), False),
        (VmsQuery(template=None, cluster="c1"), True),
    ],
    ids=["all", "folder-subtree", "folder-partial", "glob", "prefix", "has-ip", "power", "templates", "cluster"],
)
def test_query_filters_combine_with_and(query: VmsQuery, selected: bool) -> None:
    assert matches(VM, query) is selected
