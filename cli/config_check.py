"""``vmscale config check``: what each service will use, and where each value came from.

Every service's settings are built from this process's environment exactly as the service
builds them at start (the same classes, the same ``*_FILE`` files, the original's names as
deprecated aliases). Secrets are masked and credentials stripped from URLs (``public_dict``);
a service whose settings do not validate is reported with the reason, and the command exits 1.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from typing import Annotated, Any

import typer
from pydantic import ValidationError
from rich.console import Console
from rich.table import Table

from shared.original_env import describe_sources
from shared.settings import ServiceSettings
from shared.subjects import SERVICES

__all__ = ["app", "check_service", "settings_class"]

app = typer.Typer(help="The services' configuration.")
console = Console()


def settings_class(service: str) -> type[ServiceSettings]:
    """The settings class a service reads at start."""
    if service == "gateway":
        from services.gateway.settings import GatewaySettings

        return GatewaySettings
    if service == "scaler":
        from services.scaler.settings import ScalerSettings

        return ScalerSettings
    if service == "inventory":
        from services.inventory.settings import InventorySettings

        return InventorySettings
    if service == "monitoring":
        from services.monitoring.settings import MonitoringSettings

        return MonitoringSettings
    if service == "loadbalancer":
        from services.loadbalancer.settings import LoadbalancerSettings

        return LoadbalancerSettings
    raise ValueError(f"unknown service {service!r}")


def check_service(service: str, environ: Mapping[str, str]) -> tuple[list[tuple[str, Any, str]], list[str], str]:
    """(rows of setting, shown value, source; notes; the error or ""), built from ``environ``.

    ``environ`` must be this process's environment (the settings classes read ``os.environ``);
    it is passed so that the sources are described from the same mapping.
    """
    cls = settings_class(service)
    try:
        settings = cls(service_name=service)
    except ValidationError as exc:
        reasons = "; ".join(f"{'.'.join(str(p) for p in e['loc']) or 'settings'}: {e['msg']}" for e in exc.errors())
        return [], [], reasons
    rows = [(s.name, s.value, s.source) for s in describe_sources(settings, environ) if s.name != "service_name"]
    return rows, list(settings.deprecation_notes()), ""


@app.command("check")
def check(
    service: Annotated[list[str] | None, typer.Argument(help="Services to check (default: all five).")] = None,
    changed_only: Annotated[bool, typer.Option(help="Show only settings that are not defaults.")] = False,
) -> None:
    """Print each service's settings: value (secrets masked) and source (env, alias, file, default)."""
    failed = False
    for name in service or list(SERVICES):
        if name not in SERVICES:
            console.print(f"[red]unknown service {name!r}[/]; one of {', '.join(SERVICES)}")
            raise typer.Exit(2)
        rows, notes, error = check_service(name, os.environ)
        if error:
            failed = True
            console.print(f"[bold]{name}[/]: [red]will not start[/]: {error}")
            continue
        table = Table("setting", "value", "source", title=name, title_justify="left")
        for setting, value, source in rows:
            if changed_only and source == "default":
                continue
            table.add_row(setting, "" if value is None else str(value), source)
        console.print(table)
        for note in notes:
            console.print(f"[yellow]![/] {note}")
    raise typer.Exit(1 if failed else 0)
