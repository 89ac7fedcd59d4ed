"""``vmscale dead-letters``: list, replay and discard dead letters, one by one or by filter
(``bulk-replay`` / ``bulk-discard``: a count first, then a confirmation), through the gateway's REST API.

Through the API, not the bus, so the caller's role is checked and every change lands in the audit
log like one made in the UI. The gateway and an API key come from ``--url`` / ``VMSCALE_URL`` and
``--api-key`` / ``VMSCALE_API_KEY`` (never echoed).
"""

from __future__ import annotations

import json
from datetime import UTC, datetime
from typing import Annotated, Any

import httpx
import typer
from rich.console import Console
from rich.table import Table

__all__ = ["app"]

app = typer.Typer(help="Messages a service gave up on: list, replay or discard them.", no_args_is_help=True)
console = Console()
err = Console(stderr=True)

Url = Annotated[str, typer.Option(envvar="VMSCALE_URL", help="The gateway's base URL.")]
ApiKey = Annotated[
    str,
    typer.Option(
        envvar="VMSCALE_API_KEY", show_default=False, help="An API key: viewer lists, operator replays, admin discards."
    ),
]
Seq = Annotated[int, typer.Argument(min=1, help="The dead letter's sequence (the 'seq' column of list).")]
DEFAULT_URL = "http://127.0.0.1:6010"


def _call(url: str, api_key: str, method: str, path: str, **kwargs: Any) -> Any:
    """One API call; a problem+json answer or an unreachable gateway ends the command (exit 1)."""
    if not api_key:
        err.print("[red]an API key is needed[/]: --api-key or VMSCALE_API_KEY")
        raise typer.Exit(2)
    headers = {"Authorization": f"Bearer {api_key}", "Accept": "application/json"}
    try:
        with httpx.Client(base_url=url, headers=headers, timeout=30.0, trust_env=False) as http:
            response = http.request(method, path, **kwargs)
    except httpx.HTTPError as exc:
        err.print(f"[red]the gateway at {url} did not answer[/]: {type(exc).__name__}")
        raise typer.Exit(1) from exc
    body = response.json() if "json" in response.headers.get("content-type", "") else {}
    if response.status_code >= 400:
        detail = body.get("detail") or body.get("title") or response.reason_phrase
        err.print(f"[red]{response.status_code}[/] {detail}")
        raise typer.Exit(1)
    return body


@app.command("list")
def list_letters(
    subject: Annotated[str | None, typer.Option(help="Only letters of this original subject.")] = None,
    limit: Annotated[int, typer.Option(min=1, max=500, help="At most this many, newest first.")] = 50,
    before: Annotated[int | None, typer.Option(min=1, help="Only letters older than this seq (paging).")] = None,
    as_json: Annotated[bool, typer.Option("--json", help="Print the API's JSON, payloads included.")] = False,
    url: Url = DEFAULT_URL,
    api_key: ApiKey = "",
) -> None:
    """List dead letters, newest first."""
    params: dict[str, Any] = {"limit": limit}
    if subject:
        params["subject"] = subject
    if before:
        params["before"] = before
    page = _call(url, api_key, "GET", "/api/v1/dead-letters", params=params)
    if as_json:
        console.print_json(json.dumps(page))
        return
    table = Table("seq", "when", "subject", "service", "deliveries", "reason")
    for letter in page["letters"]:
        table.add_row(
            str(letter["seq"]),
            letter["dead_lettered_at"],
            letter["subject"],
            letter["service"] or "-",
            str(letter["deliveries"]),
            letter["reason"],
        )
    console.print(table)
    more = f"; older ones: --before {page['next_before']}" if page["next_before"] else ""
    console.print(f"{len(page['letters'])} of {page['total']} dead letter(s){more}")


@app.command("replay")
def replay(seq: Seq, url: Url = DEFAULT_URL, api_key: ApiKey = "") -> None:
    """Publish a dead letter's original message again on its subject, and remove the letter."""
    outcome = _call(url, api_key, "POST", f"/api/v1/dead-letters/{seq}/replay")
    console.print(f"[green]replayed[/] {seq} on {outcome['subject']} as message {outcome['message_id']}")


@app.command("discard")
def discard(
    seq: Seq,
    reason: Annotated[str, typer.Option(help="Why, for the audit log.")] = "",
    yes: Annotated[bool, typer.Option("--yes", "-y", help="Do not ask first.")] = False,
    url: Url = DEFAULT_URL,
    api_key: ApiKey = "",
) -> None:
    """Delete a dead letter without replaying it (admin)."""
    if not yes and not typer.confirm(f"Discard dead letter {seq}? It cannot be replayed afterwards."):
        raise typer.Exit(1)
    outcome = _call(url, api_key, "DELETE", f"/api/v1/dead-letters/{seq}", params={"reason": reason} if reason else {})
    console.print(f"[yellow]discarded[/] {seq} ({outcome['subject']})")


def _when(value: str | None, name: str) -> str | None:
    """An ISO 8601 time for the API; one without a UTC offset is taken as UTC."""
    if value is None:
        return None
    try:
        at = datetime.fromisoformat(value)
    except ValueError as exc:
        raise typer.BadParameter(f"not an ISO 8601 time: {value!r}", param_hint=name) from exc
    return (at if at.tzinfo else at.replace(tzinfo=UTC)).isoformat()


def _bulk(action: str, criteria: dict[str, Any], dry_run: bool, yes: bool, url: str, api_key: str) -> None:
    """Count first (a dry run), then ask, then act; print what was done and what failed."""
    selection = {key: value for key, value in criteria.items() if value not in (None, "")}
    path = f"/api/v1/dead-letters/bulk/{action}"
    counted = _call(url, api_key, "POST", path, json={**selection, "dry_run": True})
    matched, limit = counted["matched"], counted["limit"]
    cap = f" (at most {limit} per run)" if matched >= limit else ""
    console.print(f"{matched} dead letter(s) match{cap}")
    if dry_run or matched == 0:
        return
    if not yes and not typer.confirm(f"{action.capitalize()} {matched} dead letter(s)?"):
        raise typer.Exit(1)
    outcome = _call(url, api_key, "POST", path, json=selection)
    verb = "replayed" if action == "replay" else "discarded"
    console.print(f"[green]{verb}[/] {len(outcome['done'])} dead letter(s)")
    for seq, why in outcome["failed"].items():
        err.print(f"[yellow]{seq}[/] not {verb}: {why}")


Subject = Annotated[str | None, typer.Option(help="Only letters of this original subject.")]
Group = Annotated[str | None, typer.Option(help="Only letters whose message names this scaling group.")]
Since = Annotated[str | None, typer.Option(help="Dead-lettered at or after this ISO 8601 time (UTC if no offset).")]
Until = Annotated[str | None, typer.Option(help="Dead-lettered before this ISO 8601 time (UTC if no offset).")]
ReasonContains = Annotated[str | None, typer.Option(help="Only letters whose reason contains this (any case).")]
DryRun = Annotated[bool, typer.Option("--dry-run", help="Only count the letters it would take.")]
Yes = Annotated[bool, typer.Option("--yes", "-y", help="Do not ask first.")]


@app.command("bulk-replay")
def bulk_replay(
    subject: Subject = None,
    group: Group = None,
    since: Since = None,
    until: Until = None,
    reason_contains: ReasonContains = None,
    dry_run: DryRun = False,
    yes: Yes = False,
    url: Url = DEFAULT_URL,
    api_key: ApiKey = "",
) -> None:
    """Replay every dead letter the filter selects (all when none is given), oldest first."""
    criteria = _criteria(subject, group, since, until, reason_contains)
    _bulk("replay", criteria, dry_run, yes, url, api_key)


@app.command("bulk-discard")
def bulk_discard(
    subject: Subject = None,
    group: Group = None,
    since: Since = None,
    until: Until = None,
    reason_contains: ReasonContains = None,
    reason: Annotated[str, typer.Option(help="Why, for the audit log.")] = "",
    dry_run: DryRun = False,
    yes: Yes = False,
    url: Url = DEFAULT_URL,
    api_key: ApiKey = "",
) -> None:
    """Delete every dead letter the filter selects without replaying it (admin)."""
    criteria = {**_criteria(subject, group, since, until, reason_contains), "reason": reason}
    _bulk("discard", criteria, dry_run, yes, url, api_key)


def _criteria(
    subject: str | None, group: str | None, since: str | None, until: str | None, reason_contains: str | None
) -> dict[str, object]:
    """The filter both bulk commands send (times read as UTC when they carry no offset)."""
    return {
        "subject": subject,
        "group": group,
        "since": _when(since, "--since"),
        "until": _when(until, "--until"),
        "reason_contains": reason_contains,
    }
