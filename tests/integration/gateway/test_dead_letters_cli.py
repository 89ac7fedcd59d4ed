"""``vmscale dead-letters list|replay|discard`` against a gateway served over loopback HTTP."""

from __future__ import annotations

import asyncio
import json
from typing import Any

from typer.testing import CliRunner, Result

from cli.main import app
from services.gateway.auth.model import ApiKeyCreate, Principal, Role
from shared import subjects
from tests.integration.gateway.gateway_support import Gateway, dead_letter, stored

SUBJECT = subjects.CMD_POOL_REMOVE
OTHER = subjects.CMD_VM_CLONE


def key(gateway: Gateway, role: Role) -> str:
    creator = Principal(name="admin", role=Role.ADMIN, via="session", user_id=1)
    return gateway.state.auth.create_key(ApiKeyCreate(name=f"cli-{role.value}", role=role), creator).key


async def vmscale(url: str, api_key: str, *args: str, input: str | None = None) -> Result:
    # in a thread: the CLI blocks on HTTP while this loop serves the gateway
    env = {"VMSCALE_URL": url, "VMSCALE_API_KEY": api_key, "COLUMNS": "200"}
    return await asyncio.to_thread(CliRunner().invoke, app, ["dead-letters", *args], input=input, env=env)


def printed_json(output: str) -> Any:
    """The JSON the CLI printed: in this process the gateway's access log shares the captured stdout."""
    lines = output.splitlines()
    return json.loads("\n".join(lines[lines.index("{") :]))


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
        (letter,) = printed_json(only.output)["letters"]
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


async def test_the_cli_counts_then_acts_on_the_letters_a_filter_selects(gateway: Gateway) -> None:
    await dead_letter(gateway, SUBJECT, '{"group": "web"}')
    await dead_letter(gateway, SUBJECT, '{"group": "db"}')
    await dead_letter(gateway, OTHER, '{"group": "web"}')
    await stored(gateway, 3)
    operator, admin = key(gateway, Role.OPERATOR), key(gateway, Role.ADMIN)
    async with gateway.served() as url:
        counted = await vmscale(url, operator, "bulk-replay", "--group", "web", "--dry-run")
        assert counted.exit_code == 0 and "2 dead letter(s) match" in counted.output
        kept = await vmscale(url, operator, "bulk-replay", "--group", "web", input="n\n")
        assert kept.exit_code == 1 and sum((await gateway.state.dead_letters.counts()).values()) == 3
        bad = await vmscale(url, operator, "bulk-replay", "--since", "yesterday")
        assert bad.exit_code == 2 and "ISO 8601" in bad.output
        replayed = await vmscale(url, operator, "bulk-replay", "--group", "web", "--subject", SUBJECT.name, "--yes")
        assert replayed.exit_code == 0 and "replayed 1 dead letter(s)" in replayed.output
        assert await gateway.state.dead_letters.counts() == {SUBJECT.name: 1, OTHER.name: 1}

        denied = await vmscale(url, operator, "bulk-discard", "--reason-contains", "not allowed", "--yes")
        assert denied.exit_code == 1 and "403" in denied.output
        gone = await vmscale(
            url,
            admin,
            "bulk-discard",
            "--reason-contains",
            "NOT ALLOWED",
            "--until",
            "2999-01-01",
            "--reason",
            "x",
            "-y",
        )
        assert gone.exit_code == 0 and "discarded 2 dead letter(s)" in gone.output
        assert await gateway.state.dead_letters.counts() == {}
    (whole,) = [e for e in gateway.state.audit_log.recent(50) if e.action == "dead_letters.bulk_discard"]
    assert whole.detail["reason_contains"] == "NOT ALLOWED" and whole.detail["until"].startswith("2999-01-01T00:00")
