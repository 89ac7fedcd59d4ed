"""Offline validation with ``promtool check rules`` and ``amtool check-config``."""

from __future__ import annotations

import asyncio
import tempfile
from pathlib import Path

from shared.errors import ConfigurationError, InvalidInput

__all__ = ["ToolChecker"]


class ToolChecker:
    """``ConfigChecker`` running the Prometheus tools on a temp copy of the text."""

    def __init__(self, promtool: str = "/usr/bin/promtool", amtool: str = "/usr/bin/amtool") -> None:
        self._promtool = promtool
        self._amtool = amtool

    async def _run(self, argv: list[str], text: str, suffix: str, what: str) -> None:
        with tempfile.TemporaryDirectory(prefix="vmscale-check-") as tmp:
            path = Path(tmp) / f"candidate{suffix}"
            path.write_text(text, encoding="utf-8")
            try:
                process = await asyncio.create_subprocess_exec(
                    *argv,
                    str(path),
                    stdout=asyncio.subprocess.PIPE,
                    stderr=asyncio.subprocess.STDOUT,
                )
            except OSError as exc:
                raise ConfigurationError(f"cannot run {argv[0]}", error=exc.strerror) from exc
            output, _ = await process.communicate()
        if process.returncode != 0:
            message = output.decode(errors="replace").replace(str(path), "<candidate>").strip()
            raise InvalidInput(f"{what} rejected by {Path(argv[0]).name}", output=message[-1500:])

    async def check_rules(self, text: str) -> None:
        """``promtool check rules``."""
        await self._run([self._promtool, "check", "rules"], text, ".yml", "rule file")

    async def check_alertmanager(self, text: str) -> None:
        """``amtool check-config``."""
        await self._run([self._amtool, "check-config"], text, ".yml", "Alertmanager config")
