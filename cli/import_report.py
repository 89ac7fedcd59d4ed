"""How ``vmscale import`` shows its plan and what applying it did."""

from __future__ import annotations

from rich.console import Console
from rich.table import Table

from services.scaler.import_plan import ImportPlan
from services.scaler.importer import ApplyReport

__all__ = ["print_applied", "print_plan"]


def print_plan(console: Console, plan: ImportPlan) -> None:
    """Groups (enabled or why not), instances with their role, routes, IP ranges, and problems."""
    table = Table("service → group", "state", "template", "IP pool", "instances", title="import plan")
    for group in plan.groups:
        state = "[green]enable[/]" if group.enable else "disabled"
        if group.disabled_reasons:
            state = "[yellow]disabled[/]: " + "; ".join(group.disabled_reasons)
        ranges = ", ".join(f"{r.start}-{r.end}" for r in group.pool.ranges)
        instances = ", ".join(f"{i.vm_name} ({i.role})" for i in group.instances) or "-"
        name = group.spec.name if group.spec.name == group.service else f"{group.service} → {group.spec.name}"
        table.add_row(name, state, group.spec.template, f"{group.pool.name} {ranges}", instances)
    console.print(table)
    for group in plan.groups:
        for route in group.routes:
            console.print(f"[cyan]route[/] {group.spec.name}: {route}")
        for note in group.notes:
            console.print(f"[dim]note[/] {group.spec.name}: {note}")
    for problem in plan.problems:
        console.print(f"[yellow]![/] {problem}")


def print_applied(console: Console, report: ApplyReport) -> None:
    """Each group's outcome, the groups enabled, and problems."""
    table = Table("group", "outcome", "enabled", title="applied")
    for name, outcome in report.outcomes.items():
        table.add_row(name, outcome, "yes" if name in report.enabled else "no")
    console.print(table)
    for problem in report.problems:
        console.print(f"[yellow]![/] {problem}")
