"""NATS_URL lists, credentials and TLS options are validated and never leak a secret."""

from __future__ import annotations

import ssl
from pathlib import Path

import pytest
from faststream.nats.security import NatsCredentials, NatsNKey, NatsSecurity, NatsUserPassword
from pydantic import SecretStr

from shared.errors import ConfigurationError
from shared.nats_connection import NatsConnection, parse_servers
from shared.settings import ServiceSettings
from testkit.tls import Pki, make_pki


@pytest.fixture
def pki(tmp_path: Path) -> Pki:
    """A CA and a server certificate, generated for this test."""
    return make_pki(tmp_path / "pki")


@pytest.mark.parametrize(
    ("url", "servers"),
    [
        ("nats://127.0.0.1:4222", ["nats://127.0.0.1:4222"]),
        (
            "nats://127.0.0.1:4222, nats://127.0.0.1:4223,nats://127.0.0.1:4224",
            ["nats://127.0.0.1:4222", "nats://127.0.0.1:4223", "nats://127.0.0.1:4224"],
        ),
        ("tls://127.0.0.1:4222,", ["tls://127.0.0.1:4222"]),
    ],
    ids=["one", "comma-list-with-spaces", "trailing-comma"],
)
def test_nats_url_is_one_url_or_a_comma_list(url: str, servers: list[str]) -> None:
    assert parse_servers(url) == servers


@pytest.mark.parametrize(
    ("url", "problem"),
    [
        ("", "empty"),
        (" , ", "empty"),
        ("127.0.0.1:4222", "must look like nats://host:port"),
        ("http://127.0.0.1:4222", "must look like nats://host:port"),
        ("nats://127.0.0.1", "has no port"),
        ("nats://127.0.0.1:99999", "is not a URL"),
    ],
    ids=["empty", "only-commas", "no-scheme", "http", "no-port", "bad-port"],
)
def test_a_bad_nats_url_entry_is_refused_with_the_reason(url: str, problem: str) -> None:
    with pytest.raises(ConfigurationError, match=problem):
        parse_servers(url)


def test_a_refused_entry_does_not_show_its_password() -> None:
    with pytest.raises(ConfigurationError) as caught:
        parse_servers("nats://127.0.0.1:4222,http://svc:pa55-w0rd@127.0.0.1:4223")
    assert "pa55-w0rd" not in str(caught.value)
    assert "***@127.0.0.1:4223" in str(caught.value)


def test_user_and_password_become_the_brokers_credentials() -> None:
    connection = NatsConnection(("nats://127.0.0.1:4222",), user="scaler", password=SecretStr("s3cr3t-pw"))
    security = connection.security()
    assert isinstance(security, NatsUserPassword)
    assert (security.username, security.password) == ("scaler", "s3cr3t-pw")
    assert connection.public() == {"servers": ["nats://127.0.0.1:4222"], "auth": "user/password", "tls": False}
    assert "s3cr3t-pw" not in repr(connection)


def test_anonymous_plain_connection_has_no_security() -> None:
    connection = NatsConnection(("nats://127.0.0.1:4222",))
    assert connection.security() is None
    assert connection.auth_kind == "none"


def test_a_client_certificate_is_loaded_with_its_key(pki: Pki) -> None:
    connection = NatsConnection(
        ("tls://127.0.0.1:4222",), tls_ca_file=pki.ca, tls_cert_file=pki.cert, tls_key_file=pki.key
    )
    security = connection.security()
    assert security is not None and isinstance(security.ssl_context, ssl.SSLContext)


def test_an_nkey_seed_file_or_a_creds_file_becomes_the_brokers_credentials(tmp_path: Path) -> None:
    seed = tmp_path / "service.nk"
    seed.write_text("SUAEXAMPLEONLYNOTAREALSEED\n")
    by_seed = NatsConnection(("nats://127.0.0.1:4222",), nkey_seed_file=seed)
    assert by_seed.auth_kind == "nkey seed"
    assert isinstance(by_seed.security(), NatsNKey)
    creds = tmp_path / "service.creds"
    creds.write_text("-----BEGIN NATS USER JWT-----\n...\n")
    by_creds = NatsConnection(("nats://127.0.0.1:4222",), creds_file=creds)
    assert by_creds.auth_kind == ".creds"
    assert isinstance(by_creds.security(), NatsCredentials)
    assert by_creds.public() == {"servers": ["nats://127.0.0.1:4222"], "auth": ".creds", "tls": False}


def test_a_ca_file_turns_on_tls_with_server_verification(pki: Pki) -> None:
    connection = NatsConnection(("tls://127.0.0.1:4222",), tls_ca_file=pki.ca)
    security = connection.security()
    assert type(security) is NatsSecurity
    context = security.ssl_context
    assert isinstance(context, ssl.SSLContext)
    assert context.verify_mode is ssl.CERT_REQUIRED
    assert context.check_hostname
    assert connection.public()["tls"] is True


@pytest.mark.parametrize(
    ("options", "problem"),
    [
        ({"user": "a", "creds_file": "ca"}, "give one of"),
        ({"password": SecretStr("pw-without-user")}, "without NATS_USER"),
        ({"tls_cert_file": "cert"}, "go together"),
        ({"tls_ca_file": Path("/nonexistent/ca.pem")}, "NATS_TLS_CA_FILE does not name a readable file"),
        ({"nkey_seed_file": Path("/nonexistent/seed.nk")}, "NATS_NKEY_SEED_FILE does not name a readable file"),
    ],
    ids=["two-kinds", "password-alone", "cert-without-key", "missing-ca", "missing-seed"],
)
def test_inconsistent_credentials_are_refused(options: dict[str, object], problem: str, pki: Pki) -> None:
    files = {"ca": pki.ca, "cert": pki.cert}
    given = {name: files.get(value, value) if isinstance(value, str) else value for name, value in options.items()}
    with pytest.raises(ConfigurationError, match=problem):
        NatsConnection(("nats://127.0.0.1:4222",), **given)  # type: ignore[arg-type]


def test_settings_read_the_nats_password_from_its_file(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    secret = tmp_path / "nats-password"
    secret.write_text("from-a-file-pw\n")
    monkeypatch.setenv("NATS_URL", "nats://127.0.0.1:4222,nats://127.0.0.1:4223")
    monkeypatch.setenv("NATS_USER", "inventory")
    monkeypatch.setenv("NATS_PASSWORD_FILE", str(secret))
    monkeypatch.setenv("NATS_REPLICAS", "3")
    settings = ServiceSettings()
    connection = NatsConnection.from_settings(settings)
    assert connection.servers == ("nats://127.0.0.1:4222", "nats://127.0.0.1:4223")
    assert connection.password.get_secret_value() == "from-a-file-pw"
    assert settings.nats_replicas == 3
    assert "from-a-file-pw" not in str(settings.public_dict())
