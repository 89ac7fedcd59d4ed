"""Settings read secrets from files, hide them everywhere, and refuse placeholders."""

from __future__ import annotations

from pathlib import Path

import pytest
from pydantic import SecretStr, ValidationError
from pydantic_settings import SettingsConfigDict

from shared.settings import ServiceSettings


class VcenterSettings(ServiceSettings):
    model_config = SettingsConfigDict(extra="ignore", frozen=True, env_prefix="VC_")

    user: str = "svc-vmscale"
    password: SecretStr = SecretStr("")


def test_a_secret_comes_from_its_file_and_the_file_wins(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    secret = tmp_path / "vc-password"
    secret.write_text("s3cr3t-from-file\n")
    monkeypatch.setenv("VC_PASSWORD", "from-env-value")
    monkeypatch.setenv("VC_PASSWORD_FILE", str(secret))
    settings = VcenterSettings()
    assert settings.password.get_secret_value() == "s3cr3t-from-file"


def test_a_secret_never_shows_in_repr_str_or_public_dict(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("VC_PASSWORD", "hunter2-real-secret")
    settings = VcenterSettings(database_url="postgresql://vmscale:dbpass-123@127.0.0.1/db")
    shown = repr(settings) + str(settings) + str(settings.public_dict())
    assert "hunter2-real-secret" not in shown
    assert "dbpass-123" not in shown
    assert settings.public_dict()["password"] == "**********"


def test_a_placeholder_secret_is_refused(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("VC_PASSWORD", "changeme")
    with pytest.raises(ValidationError, match="placeholder"):
        VcenterSettings()


def test_an_unreadable_secret_file_is_a_clear_error(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setenv("VC_PASSWORD_FILE", str(tmp_path / "missing"))
    with pytest.raises(ValidationError, match="VC_PASSWORD_FILE"):
        VcenterSettings()


def test_the_default_database_is_a_sqlite_file_under_the_state_dir(tmp_path: Path) -> None:
    settings = ServiceSettings(service_name="scaler", state_dir=tmp_path)
    assert settings.resolved_database_url() == f"sqlite:///{tmp_path.resolve()}/scaler.db"
