"""``vmscale dead-letters``: list, replay and discard dead letters through the gateway's REST API.

Through the API, not the bus, so the caller's role is checked and every change lands in the audit
log like one made in the UI. The gateway and an API key come from ``--url`` / ``VMSCALE_URL`` and
``--api-key`` / ``VMSCALE_API_KEY`` (never echoed).
"""

from __future__ import annotations

import json
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
DEFAULT_URL = "http://127.0.0.1:8400"


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
