"""Secrets of HTTP hooks, resolved at call time from a reference the group names.

A group stores only ``secret_ref`` (``env:NAME`` or ``file:NAME``), never the secret:

* ``env:NAME`` is the scaler's environment variable ``VMSCALE_HOOK_SECRET_NAME``. Only that
  prefix is readable, so a group cannot make the scaler send, say, its NATS password.
* ``file:NAME`` is the file ``NAME`` in ``HOOK_SECRETS_DIR`` (one secret per file, a trailing
  newline dropped). A name is one path segment, so nothing outside that directory is readable.

The value goes to the hook as ``Authorization: Bearer <secret>``; errors name the reference only.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from pathlib import Path

from shared.errors import ConfigurationError

__all__ = ["ENV_PREFIX", "HookSecrets"]

ENV_PREFIX = "VMSCALE_HOOK_SECRET_"


class HookSecrets:
    """Resolves ``env:`` and ``file:`` references; reads them anew at every call (rotation)."""

    def __init__(self, directory: str = "", environ: Mapping[str, str] | None = None) -> None:
        self._directory = Path(directory) if directory else None
        self._environ = os.environ if environ is None else environ

    def resolve(self, ref: str) -> str:
        """The secret ``ref`` names; ``ConfigurationError`` (naming ``ref`` only) when it has none."""
        kind, _, name = ref.partition(":")
        if kind == "env":
            value = self._environ.get(ENV_PREFIX + name, "")
            where = f"the environment variable {ENV_PREFIX}{name}"
        elif kind == "file":
            if self._directory is None:
                raise ConfigurationError(f"hook secret {ref!r}: HOOK_SECRETS_DIR is not set", secret_ref=ref)
            if "/" in name or name in (".", ".."):
                raise ConfigurationError(f"hook secret {ref!r}: not a file name", secret_ref=ref)
            path = self._directory / name
            where = f"the file {path}"
            try:
                value = path.read_text(encoding="utf-8").rstrip("\r\n")
            except (OSError, UnicodeDecodeError) as exc:
                raise ConfigurationError(
                    f"hook secret {ref!r}: {where} cannot be read ({type(exc).__name__})", secret_ref=ref
                ) from exc
        else:
            raise ConfigurationError(f"hook secret {ref!r}: neither env: nor file:", secret_ref=ref)
        if not value:
            raise ConfigurationError(f"hook secret {ref!r}: {where} is empty or unset", secret_ref=ref)
        return value
