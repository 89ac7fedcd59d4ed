"""The allow-list of agent addresses: CIDRs an admin vouches for, and nothing that is not an IP."""

from __future__ import annotations

import pytest

from services.gateway.agent_scope import unmanaged
from services.gateway.clients import InventoryClient, ScalerClient


class NoBus:
    """Asked nothing: everything is explained by the allow-list (or refused outright)."""

    def __getattr__(self, name: str) -> object:
        raise AssertionError(f"the bus was used ({name}) although the allow-list decided")


@pytest.mark.parametrize(
    ("addresses", "cidrs", "refused"),
    [
        (["127.0.0.5"], ["127.0.0.0/24"], []),
        (["127.0.0.5", "127.0.0.9"], ["127.0.0.5/32", "127.0.0.9"], []),
        (["db.example.internal"], ["127.0.0.0/8"], ["db.example.internal"]),
        (["127.0.0.5", ""], ["127.0.0.0/24"], [""]),
    ],
    ids=["inside-a-cidr", "single-addresses", "a-name-is-never-managed", "blank"],
)
async def test_the_allow_list_decides_without_asking_anyone(
    addresses: list[str], cidrs: list[str], refused: list[str]
) -> None:
    scaler, inventory = ScalerClient(NoBus(), 1.0), InventoryClient(NoBus(), 1.0)  # type: ignore[arg-type]
    assert await unmanaged(scaler, inventory, addresses, cidrs) == refused
