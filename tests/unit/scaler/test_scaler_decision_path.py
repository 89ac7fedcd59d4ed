"""The path from ``alert.fired`` to the first command reads in one direction: each module on it
imports only modules further down the path (or the pure domain), never one before it."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

pytestmark = pytest.mark.unit

ROOT = Path(__file__).resolve().parents[3]

PATH = (
    "services.scaler.handlers.alerts",
    "services.scaler.triggers",
    "services.scaler.decisions",
    "services.scaler.observation",
    "services.scaler.plans",
    "services.scaler.decision_log",
    "services.scaler.activities",
    "services.scaler.silence",
    "services.scaler.step_replies",
    "services.scaler.steps",
    "services.scaler.local_steps",
    "services.scaler.activity_events",
    "services.scaler.pingcheck",
    "services.scaler.outbox",
    "services.scaler.ports",
    "services.scaler.records",
)
"""In the order one alert meets them; the domain (``services.scaler.domain``) comes after all."""


def scaler_imports(module: str) -> set[str]:
    tree = ast.parse((ROOT / (module.replace(".", "/") + ".py")).read_text())
    found = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.ImportFrom) and node.module and node.module.startswith("services.scaler"):
            found.add(node.module)
            found.update(f"{node.module}.{alias.name}" for alias in node.names)
        elif isinstance(node, ast.Import):
            found.update(alias.name for alias in node.names if alias.name.startswith("services.scaler"))
    return found & set(PATH) | {m for m in found if m.startswith("services.scaler.domain")}


@pytest.mark.parametrize("module", PATH)
def test_a_module_on_the_decision_path_imports_nothing_before_it(module: str) -> None:
    before = set(PATH[: PATH.index(module)])
    assert not scaler_imports(module) & before


def test_the_domain_imports_no_module_of_the_path() -> None:
    for file in (ROOT / "services/scaler/domain").glob("*.py"):
        tree = ast.parse(file.read_text())
        modules = {n.module for n in ast.walk(tree) if isinstance(n, ast.ImportFrom) and n.module}
        assert not modules & set(PATH), file.name
