"""The ``vmscale`` command."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console
from rich.table import Table

from cli import config_check, dead_letters
from cli.supervisor import Supervisor
from lab.config import LabConfig, lab_config
from lab.parts import all_parts
from lab.runner import Lab
from shared.subjects import SERVICES

__all__ = ["app", "main"]

app = typer.Typer(help="vmscale: autoscaling for VMware vSphere VM groups.", no_args_is_help=True)
lab_app = typer.Typer(help="The local lab: vcsim, Prometheus, Alertmanager, HAProxy, simulators.")
app.add_typer(lab_app, name="lab")
app.add_typer(dead_letters.app, name="dead-letters")
app.add_typer(config_check.app, name="config")
console = Console()
err = Console(stderr=True)

StateDir = Annotated[Path, typer.Option(help="Where state, logs and embedded servers live.")]
LabDir = Annotated[Path, typer.Option(help="Where lab parts keep state, PIDs and logs.")]


def _lab(lab_dir: Path) -> Lab:
    config = LabConfig(lab_dir=lab_dir)
    return Lab(lab_dir, all_parts(config))


@app.command()
def run(
    service: Annotated[str, typer.Argument(help="A service name, or 'all'.")],
    state_dir: StateDir = Path(".state"),
    gateway_port: Annotated[
        int | None,
        typer.Option(help="HTTP port of the gateway (default: HTTP_PORT, VM_AUTOSCALING_BACKEND_PORT, PORT or 6010)."),
    ] = None,
    demo: Annotated[bool, typer.Option(help="Start the lab and print how to use it.")] = False,
    metrics_base_port: Annotated[
        int | None, typer.Option(help="Metrics port of the first service (+1 each); 0 picks free ports.")
    ] = None,
    log_max_bytes: Annotated[
        int, typer.Option(min=1024, help="Rotate a service's log file once it reaches this size (bytes).")
    ] = 10 * 1024 * 1024,
    log_keep: Annotated[int, typer.Option(min=0, max=100, help="Rotated log files kept per service.")] = 5,
) -> None:
    """Run one service in the foreground, or all five under a supervisor."""
    if service != "all":
        if service not in SERVICES:
            err.print(f"[red]unknown service {service!r}[/]; one of {', '.join(SERVICES)} or 'all'")
            raise typer.Exit(2)
        os.execv(sys.executable, [sys.executable, "-m", f"services.{service}"])  # noqa: S606
    if gateway_port is None:
        gateway_port = _gateway_port_from_env()
    url = f"http://127.0.0.1:{gateway_port}"
    env = dict(os.environ)
    lab = None
    config = lab_config(Path(".lab"))
    if demo:
        from lab.environment import service_env

        lab = Lab(config.lab_dir, all_parts(config))
        env.update(service_env(config, gateway_url=url))

    def ready(supervisor: Supervisor) -> None:
        if demo:
            _set_up_demo(url, config)
        console.print(f"[bold green]vmscale is running[/]  UI and API: [link={url}]{url}[/]")
        console.print(f"  readiness: {url}/readyz   API docs: {url}/docs   events: {url}/api/asyncapi")
        if demo:
            _print_demo(config)
        console.print(f"  logs: {supervisor.state_dir / 'logs'}   stop: Ctrl-C")

    if lab is not None:
        with console.status("starting the lab (vcsim, Prometheus, Alertmanager, HAProxy, simulators)"):
            lab.up()
    try:
        supervisor = Supervisor(
            state_dir=state_dir,
            env=env,
            gateway_port=gateway_port,
            metrics_base_port=metrics_base_port,
            on_ready=ready,
            log_max_bytes=log_max_bytes,
            log_keep=log_keep,
        )
        code = supervisor.run()
    finally:
        if lab is not None:
            lab.down()
    raise typer.Exit(code)


def _gateway_port_from_env() -> int:
    """The gateway's port as the gateway reads it (its own name or the original's), else 6010."""
    from services.gateway.settings import GatewaySettings
    from shared.original_env import check_original_names, first_given

    try:
        check_original_names(GatewaySettings, os.environ)  # HTTP_PORT=6010 beside PORT=7000: which?
    except ValueError as exc:
        err.print(f"[red]{exc}[/]")
        raise typer.Exit(2) from exc
    given = first_given(GatewaySettings, "http_port", os.environ)
    if given is None:
        return 6010
    for note in check_original_names(GatewaySettings, {k: v for k, v in os.environ.items() if "PORT" in k.upper()}):
        err.print(f"[yellow]![/] {note}")
    if not given.isdigit() or not 1 <= int(given) <= 65535:
        err.print(f"[red]the gateway port {given!r} is not a port number[/]")
        raise typer.Exit(2)
    return int(given)


def _set_up_demo(url: str, config: LabConfig) -> None:
    from lab.demo import create_demo_group
    from lab.environment import admin_password_file
    from lab.system import ApiClient, admin_api_key, readiness, wait_until

    with console.status("waiting for the five services"):
        wait_until(lambda: readiness(url), 180, "every service ready")
    with console.status("creating the demo group 'web' (two base VMs behind HAProxy)"):
        api = ApiClient(url, admin_api_key(url, admin_password_file(config), "demo"))
        try:
            create_demo_group(api, config)
        finally:
            api.close()


def _print_demo(config: LabConfig) -> None:
    from lab.environment import admin_password_file

    host = config.host
    console.print(f"  log in: [bold]admin[/], password: [bold]cat {admin_password_file(config)}[/]")
    console.print(
        f"  Prometheus: http://{host}:{config.prometheus_port}   Alertmanager: http://{host}:{config.alertmanager_port}"
    )
    console.print(f"  the demo service 'web' behind HAProxy: http://{host}:{config.haproxy_frontend_port}/")
    console.print("  raise the load (scale-out within ~15 s):  [bold].venv/bin/vmscale lab load web-1 --cpu 90[/]")
    console.print("  drop it again (scale-in to 2 VMs):        [bold].venv/bin/vmscale lab load web-1 --cpu 5[/]")
    console.print("  then watch Groups → web and Events in the UI")


@lab_app.command("up")
def lab_up(
    lab_dir: LabDir = Path(".lab"),
    only: Annotated[list[str] | None, typer.Option(help="Start only these parts.")] = None,
) -> None:
    """Start every lab part (or those named) and wait until each is ready."""
    lab = _lab(lab_dir)
    started = lab.up(only)
    for name, pid in started.items():
        console.print(f"[green]up[/] {name} (pid {pid})")


@lab_app.command("down")
def lab_down(lab_dir: LabDir = Path(".lab")) -> None:
    """Stop every lab part by its recorded PID."""
    _lab(lab_dir).down()
    console.print("lab stopped")


@lab_app.command("status")
def lab_status(lab_dir: LabDir = Path(".lab")) -> None:
    """Show each lab part's PID and readiness."""
    table = Table("part", "pid", "running", "ready", "log")
    for status in _lab(lab_dir).status():
        table.add_row(
            status.name,
            str(status.pid or "-"),
            "yes" if status.running else "no",
            "yes" if status.ready else "no",
            str(status.log),
        )
    console.print(table)


@lab_app.command("load")
def lab_load(
    vm: Annotated[str, typer.Argument(help="The lab VM's name (as in vCenter), e.g. web-1.")],
    cpu: Annotated[float | None, typer.Option(min=0, max=100, help="CPU use in percent.")] = None,
    memory: Annotated[float | None, typer.Option(min=0, max=100, help="Memory use in percent.")] = None,
    lab_dir: LabDir = Path(".lab"),
) -> None:
    """Set the load a lab VM's agent reports (what Prometheus will scrape)."""
    from lab.agent import set_load

    argv_file = lab_dir / "agents" / f"agent-{vm}" / "argv.json"
    if not argv_file.exists():
        running = sorted(p.parent.name.removeprefix("agent-") for p in (lab_dir / "agents").glob("*/argv.json"))
        err.print(f"[red]no lab agent for {vm!r}[/]; running: {', '.join(running) or 'none'}")
        raise typer.Exit(1)
    argv = json.loads(argv_file.read_text())
    address = argv[argv.index("--address") + 1]
    port = int(argv[argv.index("--metrics-port") + 1])
    state = set_load(address, cpu=cpu, memory=memory, port=port)
    console.print(f"{vm} ({address}): {state}")


admin_app = typer.Typer(help="Users of the web UI and API.")
app.add_typer(admin_app, name="admin")


@admin_app.command("create")
def admin_create(
    username: Annotated[str, typer.Argument(help="The new user's name.")],
    role: Annotated[str, typer.Option(help="viewer, operator or admin.")] = "admin",
) -> None:
    """Create a user; the password is read from stdin or prompted (never an argument)."""
    from services.gateway.admin import main as admin_main

    raise typer.Exit(admin_main(["create", username, "--role", role]))


@app.command("import")
def import_original(
    directory: Annotated[
        Path, typer.Argument(help="The original's backend/data (with its PLG files beside it or in plg/).")
    ],
    apply: Annotated[bool, typer.Option("--apply", help="Write the plan (default: a dry run that prints it).")] = False,
    enable: Annotated[bool, typer.Option(help="Enable every group nothing keeps disabled.")] = False,
    discover: Annotated[
        bool, typer.Option(help="Ask the running services for the jobs' VMs and vCenter's templates.")
    ] = True,
) -> None:
    """Take over the original system: groups, IP pools, base and autoscaled VMs, cooldowns."""
    import asyncio

    from cli.import_report import print_applied, print_plan
    from services.scaler.importer import run_import
    from services.scaler.settings import ScalerSettings

    try:
        plan, report = asyncio.run(
            run_import(ScalerSettings(), directory, apply=apply, enable=enable, discover=discover)
        )
    except ValueError as exc:
        err.print(f"[red]{exc}[/]")
        raise typer.Exit(2) from exc
    print_plan(console, plan)
    if report is None:
        console.print("dry run: nothing was written; run again with --apply")
        raise typer.Exit(0)
    print_applied(console, report)
    raise typer.Exit(1 if any(o.startswith("not imported") for o in report.outcomes.values()) else 0)


@app.command()
def asyncapi(out: Annotated[Path, typer.Option(help="Directory to write asyncapi.json to.")] = Path("docs")) -> None:
    """Write the AsyncAPI document of every subject and message schema."""
    from shared.asyncapi import build_asyncapi

    out.mkdir(parents=True, exist_ok=True)
    target = out / "asyncapi.json"
    target.write_text(json.dumps(build_asyncapi(), indent=2))
    console.print(f"wrote {target}")


@app.command("nats-auth")
def nats_auth(
    prefix: Annotated[str, typer.Option(help="Subject prefix the deployment runs under (SUBJECT_PREFIX).")] = "",
    nkey: Annotated[
        list[str] | None, typer.Option(help="SERVICE=PUBLIC_NKEY: that service logs in with an NKey (repeatable).")
    ] = None,
) -> None:
    """Print the least-privilege nats-server authorization block (one user per service).

    Each user may publish and subscribe exactly what its service does (from shared/subjects.py);
    passwords are read by nats-server from VMSCALE_<SERVICE>_NATS_PASSWORD, unless the service
    is given an NKey.
    """
    from shared.nats_auth import authorization_block

    nkeys = dict(item.split("=", 1) for item in nkey or [] if "=" in item)
    if len(nkeys) != len(nkey or []):
        raise typer.BadParameter("--nkey takes SERVICE=PUBLIC_NKEY")
    try:
        block = authorization_block(prefix, nkeys=nkeys)
    except ValueError as exc:
        raise typer.BadParameter(str(exc)) from exc
    typer.echo(block, nl=False)


@app.command()
def status(state_dir: StateDir = Path(".state")) -> None:
    """Show what `vmscale run all` is running."""
    state_file = state_dir / "run.json"
    if not state_file.exists():
        err.print("vmscale is not running (no run.json)")
        raise typer.Exit(1)
    state = json.loads(state_file.read_text())
    table = Table("process", "pid")
    for name, pid in state["children"].items():
        table.add_row(name, str(pid))
    console.print(table)
    subprocess.run(["curl", "-s", f"{state['gateway_url']}/readyz"], check=False)


def main() -> None:
    """Entry point of the ``vmscale`` script."""
    app()
