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

from pydantic import Field, PrivateAttr, SecretStr, field_validator, model_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

from shared.original_env import check_original_names, unused_original_names
from shared.telemetry import DEFAULT_OTLP_TRACES_ENDPOINT, parse_otlp_headers

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

    _deprecations: tuple[str, ...] = PrivateAttr(default=())

    service_name: str = "vmscale"
    nats_url: str = Field(default="nats://127.0.0.1:4222")
    """One NATS URL or a comma list of a cluster's nodes (``shared.nats_connection``)."""
    nats_replicas: int = Field(default=1, ge=1, le=5)
    """Replicas of every JetStream stream and consumer: 1 on one server, 3 on a three-node cluster."""
    nats_user: str = ""
    nats_password: SecretStr = SecretStr("")
    nats_nkey_seed_file: Path | None = None
    nats_creds_file: Path | None = None
    nats_tls_ca_file: Path | None = None
    nats_tls_cert_file: Path | None = None
    nats_tls_key_file: Path | None = None
    redis_url: str = Field(default="redis://127.0.0.1:6379/0")
    database_url: str = Field(default="")
    subject_prefix: str = Field(default="", pattern=r"^[A-Za-z0-9_-]*$")
    state_dir: Path = Path(".state")
    log_level: Literal["DEBUG", "INFO", "WARNING", "ERROR"] = "INFO"
    log_format: Literal["json", "console"] = "json"
    otel_traces_exporter: Literal["none", "console", "otlp"] = "none"
    """Where spans go: nowhere (not even recorded), stderr, or an OTLP/HTTP collector."""
    otel_exporter_otlp_endpoint: str = Field(default="", pattern=r"^(https?://\S+)?$")
    """The collector's base URL (``/v1/traces`` is appended); empty: ``http://localhost:4318``."""
    otel_exporter_otlp_traces_endpoint: str = Field(default="", pattern=r"^(https?://\S+)?$")
    """The full traces URL; wins over ``otel_exporter_otlp_endpoint``."""
    otel_exporter_otlp_headers: SecretStr = SecretStr("")
    """Headers sent with every export, ``key=value,key2=value2`` (URL-encoded values): usually a
    credential, so give it as ``OTEL_EXPORTER_OTLP_HEADERS_FILE``; never logged."""
    heartbeat_interval_s: float = Field(default=2.0, gt=0)
    metrics_host: str = "127.0.0.1"
    metrics_port: int = Field(default=0, ge=0, le=65535)
    max_deliver: int = Field(default=5, ge=1)
    retry_delay_s: float = Field(default=2.0, ge=0)
    republish_interval_s: float = Field(default=5.0, gt=0)
    """How often results whose publish failed (a NATS blip) are published again."""
    singleton_ttl_s: float = Field(default=15.0, gt=0)
    """How long a replica's lease on singleton work (a reconcile loop, an orphan pass) lasts
    unrenewed (``shared/singleton.py``); renewed every third of it, so a dead holder's work moves
    to another replica within TTL + TTL/3."""

    @model_validator(mode="before")
    @classmethod
    def _secret_files(cls, values: Any) -> Any:
        if isinstance(values, dict):
            return read_secret_files(cls, values)
        return values

    @model_validator(mode="after")
    def _original_names(self) -> ServiceSettings:
        # Read the environment once more (as the settings sources just did): the original's names
        # given beside vmscale's must agree; each one in use is noted for the start-up log.
        notes = check_original_names(type(self), os.environ)
        self._deprecations = notes + unused_original_names(self.service_name, os.environ)
        return self

    def deprecation_notes(self) -> tuple[str, ...]:
        """One line per original environment name in use: "X is deprecated; use Y" or "X is not used"."""
        return self._deprecations

    def otlp_traces_endpoint(self) -> str:
        """Where the ``otlp`` exporter sends spans (the OpenTelemetry rules: the traces URL as
        given, else the base URL with ``/v1/traces``, else the local default)."""
        if self.otel_exporter_otlp_traces_endpoint:
            return self.otel_exporter_otlp_traces_endpoint
        if self.otel_exporter_otlp_endpoint:
            return self.otel_exporter_otlp_endpoint.rstrip("/") + "/v1/traces"
        return DEFAULT_OTLP_TRACES_ENDPOINT

    def otlp_headers(self) -> dict[str, str]:
        """The export headers as a dict (secrets: pass them on, never log them).

        Raises ``ValueError`` on a malformed pair, naming the setting and the pair's position,
        never its text (checked here, when the tracer is built at start, rather than by a
        validator, whose error would repeat the value)."""
        try:
            return parse_otlp_headers(self.otel_exporter_otlp_headers.get_secret_value())
        except ValueError as exc:
            raise ValueError(f"OTEL_EXPORTER_OTLP_HEADERS: {exc}") from None

    def derived_sources(self) -> dict[str, str]:
        """Fields filled from another setting, with that origin (for ``vmscale config check``)."""
        return {}

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
