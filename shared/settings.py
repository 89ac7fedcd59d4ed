"""The base settings class every service's settings extend.

Settings are read once, in each service's ``__main__``, and passed down as arguments.
Secrets are ``SecretStr``; each (like any setting) may instead be given as a file path in ``<NAME>_FILE``
(Docker/systemd credentials), which wins over the plain variable. ``SecretStr`` keeps them out of
``repr`` and logs; ``public_dict`` is what may be shown or logged.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any, Literal

from pydantic import Field, SecretStr, field_validator, model_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

__all__ = ["PLACEHOLDER_SECRETS", "ServiceSettings", "read_secret_files"]

PLACEHOLDER_SECRETS = frozenset({"changeme", "change-me", "password", "secret", "admin", "xxx"})
"""Values that mark an example secret copied into a real configuration by mistake."""


def read_secret_files(cls: type[BaseSettings], values: dict[str, Any]) -> dict[str, Any]:
    """Fill fields from ``<NAME>_FILE`` paths found in the environment (the file wins).

    Meant for secrets (``SecretStr``) and for URLs that embed credentials (``DATABASE_URL``).
    """
    prefix = str(cls.model_config.get("env_prefix", ""))
    for name in cls.model_fields:
        env_name = f"{prefix}{name}".upper() + "_FILE"
        path = os.environ.get(env_name)
        if path:
            try:
                values[name] = Path(path).read_text(encoding="utf-8").strip()
            except OSError as exc:
                raise ValueError(f"{env_name}: cannot read secret file: {exc.strerror}") from exc
    return values


class ServiceSettings(BaseSettings):
    """Settings common to every service.

    Empty ``nats_url`` / ``redis_url`` / ``database_url`` mean "use the embedded default":
    the runner starts servers under ``state_dir`` and fills these in for the children.
    """

    model_config = SettingsConfigDict(extra="ignore", frozen=True, env_file=None)

    service_name: str = "vmscale"
    nats_url: str = Field(default="nats://127.0.0.1:4222")
    redis_url: str = Field(default="redis://127.0.0.1:6379/0")
    database_url: str = Field(default="")
    subject_prefix: str = Field(default="", pattern=r"^[A-Za-z0-9_-]*$")
    state_dir: Path = Path(".state")
    log_level: Literal["DEBUG", "INFO", "WARNING", "ERROR"] = "INFO"
    log_format: Literal["json", "console"] = "json"
    otel_exporter: Literal["none", "console"] = "none"
    heartbeat_interval_s: float = Field(default=2.0, gt=0)
    metrics_host: str = "127.0.0.1"
    metrics_port: int = Field(default=0, ge=0, le=65535)
    max_deliver: int = Field(default=5, ge=1)
    retry_delay_s: float = Field(default=2.0, ge=0)

    @model_validator(mode="before")
    @classmethod
    def _secret_files(cls, values: Any) -> Any:
        if isinstance(values, dict):
            return read_secret_files(cls, values)
        return values

    @field_validator("*", mode="after")
    @classmethod
    def _no_placeholder_secrets(cls, value: Any) -> Any:
        if isinstance(value, SecretStr) and value.get_secret_value().lower() in PLACEHOLDER_SECRETS:
            raise ValueError("a placeholder secret is configured; set a real one")
        return value

    def resolved_database_url(self) -> str:
        """The database URL, defaulting to a SQLite file under ``state_dir``."""
        if self.database_url:
            return self.database_url
        return f"sqlite:///{(self.state_dir / f'{self.service_name}.db').resolve()}"

    def __repr_args__(self) -> Any:
        """``repr``/``str`` show the public view: no secret, no password inside a URL."""
        return list(self.public_dict().items())

    def public_dict(self) -> dict[str, Any]:
        """Every setting with secrets masked and credentials stripped from URLs."""
        out: dict[str, Any] = {}
        for name in type(self).model_fields:
            value = getattr(self, name)
            if isinstance(value, SecretStr):
                out[name] = "**********" if value.get_secret_value() else ""
            elif isinstance(value, str) and "://" in value and "@" in value:
                scheme, rest = value.split("://", 1)
                out[name] = f"{scheme}://***@{rest.rsplit('@', 1)[1]}"
            else:
                out[name] = str(value) if isinstance(value, Path) else value
        return out
