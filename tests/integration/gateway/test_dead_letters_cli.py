"""``vmscale dead-letters list|replay|discard`` against a gateway served over loopback HTTP."""

from __future__ import annotations

import asyncio
import json

import pytest
from gateway_support import Gateway, dead_letter, stored
from typer.testing import CliRunner, Result

from cli.main import app
from services.gateway.auth.model import ApiKeyCreate, Principal, Role
from shared import subjects

pytestmark = pytest.mark.integration

SUBJECT = subjects.CMD_POOL_REMOVE
OTHER = subjects.CMD_VM_CLONE


def key(gateway: Gateway, role: Role) -> str:
    creator = Principal(name="admin", role=Role.ADMIN, via="session", user_id=1)
    return gateway.state.auth.create_key(ApiKeyCreate(name=f"cli-{role.value}", role=role), creator).key


async def vmscale(url: str, api_key: str, *args: str, input: str | None = None) -> Result:
    # in a thread: the CLI blocks on HTTP while this loop serves the gateway
    env = {"VMSCALE_URL": url, "VMSCALE_API_KEY": api_key, "COLUMNS": "200"}
    return await asyncio.to_thread(CliRunner().invoke, app, ["dead-letters", *args], input=input, env=env)


async def test_the_cli_lists_replays_and_discards_with_the_roles_of_its_key(gateway: Gateway) -> None:
    await dead_letter(gateway, SUBJECT, "{}")
    await dead_letter(gateway, OTHER, "{}")
    await stored(gateway, 2)
    viewer, operator, admin = (key(gateway, role) for role in (Role.VIEWER, Role.OPERATOR, Role.ADMIN))
    async with gateway.served() as url:
        listed = await vmscale(url, viewer, "list")
        assert listed.exit_code == 0, listed.output
        assert SUBJECT.name in listed.output and OTHER.name in listed.output and "2 of 2" in listed.output
        only = await vmscale(url, viewer, "list", "--subject", SUBJECT.name, "--json")
        (letter,) = json.loads(only.output)["letters"]
        assert letter["subject"] == SUBJECT.name

        refused = await vmscale(url, viewer, "replay", str(letter["seq"]))
        assert refused.exit_code == 1 and "403" in refused.output
        replayed = await vmscale(url, operator, "replay", str(letter["seq"]))
        assert replayed.exit_code == 0 and f"replayed {letter['seq']} on {SUBJECT.name}" in replayed.output
        again = await vmscale(url, operator, "replay", str(letter["seq"]))
        assert again.exit_code == 1 and "404" in again.output

        (other,) = (await gateway.state.dead_letters.page()).letters
        denied = await vmscale(url, operator, "discard", str(other.sequence), "--yes")
        assert denied.exit_code == 1 and "403" in denied.output
        kept = await vmscale(url, admin, "discard", str(other.sequence), input="n\n")
        assert kept.exit_code == 1 and await gateway.state.dead_letters.counts() == {OTHER.name: 1}
        gone = await vmscale(url, admin, "discard", str(other.sequence), "--reason", "known poison", "--yes")
        assert gone.exit_code == 0 and "discarded" in gone.output
        assert await gateway.state.dead_letters.counts() == {}
    missing_key = await vmscale(url, "", "list")
    assert missing_key.exit_code == 2
