"""Prometheus' own checker (``promtool``, Debian's prometheus package) for the tests: lint of a
metrics exposition and checks of rule files."""

from __future__ import annotations

import subprocess
from pathlib import Path

__all__ = ["PROMTOOL", "lint_metrics", "promtool"]

PROMTOOL = "/usr/bin/promtool"


def promtool(*args: str, stdin: str | None = None, cwd: Path | None = None) -> subprocess.CompletedProcess[str]:
    """Run ``promtool`` with ``args`` (blocking; call it in a thread from async code)."""
    return subprocess.run([PROMTOOL, *args], input=stdin, capture_output=True, text=True, cwd=cwd, timeout=60)


def lint_metrics(exposition: str) -> str | None:
    """``promtool check metrics`` over a text exposition: None when it passes, else its complaints."""
    run = promtool("check", "metrics", stdin=exposition)
    return None if run.returncode == 0 else (run.stdout + run.stderr).strip() or f"exit {run.returncode}"
