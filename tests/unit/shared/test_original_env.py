"""The original system's environment names work as deprecated aliases of vmscale's own.

An operator's old env file configures the same things under vmscale (docs/original-system.md §1): each
original name is read, noted once at start with the name to use instead, refused when it
disagrees with vmscale's name, and never shows a secret in ``vmscale config check``.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from pydantic import ValidationError
from typer.testing import CliRunner

from cli.config_check import check_service
from cli.main import app
from services.gateway.settings import GatewaySettings
from services.inventory.settings import InventorySettings
from services.loadbalancer.settings import LoadbalancerSettings
from services.monitoring.settings import MonitoringSettings
from services.scaler.settings import ScalerSettings
from shared.original_env import UNUSED_ORIGINAL_NAMES, alias_names
from shared.settings import ServiceSettings

CLASSES: tuple[type[ServiceSettings], ...] = (
    GatewaySettings,
    ScalerSettings,
    InventorySettings,
    MonitoringSettings,
    LoadbalancerSettings,
)


@pytest.fixture(autouse=True)
def clean_env(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> Iterator[None]:
    """No variable any settings class reads leaks in from the test runner's environment."""
    for cls in CLASSES:
        for field_name in cls.model_fields:
            canonical, olds = alias_names(cls, field_name)
            for name in (canonical, f"{canonical}_FILE", *olds):
                monkeypatch.delenv(name, raising=False)
    for name in UNUSED_ORIGINAL_NAMES:
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("LAB_PASSWORD_FILE", str(tmp_path / "no-lab-password"))
    yield


def test_the_gateway_listens_on_the_original_port_by_default() -> None:
    settings = GatewaySettings()
    assert settings.http_port == 6010
    assert settings.deprecation_notes() == ()


@pytest.mark.parametrize("name", ["VM_AUTOSCALING_BACKEND_PORT", "PORT"])
def test_the_original_port_variables_set_the_gateway_port(monkeypatch: pytest.MonkeyPatch, name: str) -> None:
    monkeypatch.setenv(name, "7010")
    settings = GatewaySettings()
    assert settings.http_port == 7010
    assert settings.deprecation_notes() == (f"{name} is deprecated; use HTTP_PORT",)


ALIASES: list[tuple[type[ServiceSettings], str, str, str, Any]] = [
    (GatewaySettings, "PORT", "7011", "http_port", 7011),
    (ScalerSettings, "BACKEND_API_URL", "http://gw.example:6010", "webhook_base_url", "http://gw.example:6010"),
    (ScalerSettings, "JENKINS_WEB_USER", "ci-bot", "jenkins_user", "ci-bot"),
    (ScalerSettings, "JENKINS_API_TOKEN", "11aa22bb33cc", "jenkins_token", "11aa22bb33cc"),
    (ScalerSettings, "JENKINS_WEB_PASSWORD", "jw-pass-123", "jenkins_password", "jw-pass-123"),
    (InventorySettings, "GOVC_USERNAME", "ops@vsphere.local", "vcenter_username", "ops@vsphere.local"),
    (InventorySettings, "GOVC_PASSWORD", "vc-pass-123", "vcenter_password", "vc-pass-123"),
    (InventorySettings, "GOVC_INSECURE", "1", "vcenter_insecure", True),
    (LoadbalancerSettings, "F5_USER", "lb-ops", "f5_username", "lb-ops"),
    (LoadbalancerSettings, "F5_SERVERS", "127.0.0.5", "f5_devices", ["https://127.0.0.5"]),
    (MonitoringSettings, "PLG_STACK_SERVER", "plg.example", "plg_host", "plg.example"),
    (MonitoringSettings, "PLG_STACK_USER", "ubuntu", "plg_user", "ubuntu"),
    (MonitoringSettings, "PLG_STACK_SSH_KEY", "/keys/plg", "plg_key_file", Path("/keys/plg")),
    (MonitoringSettings, "DEFAULT_SSH_USER", "ubuntu", "ssh_user", "ubuntu"),
    (MonitoringSettings, "DEFAULT_SSH_KEY", "/keys/vm", "ssh_key_file", Path("/keys/vm")),
    (MonitoringSettings, "GRAFANA_PROMETHEUS_DATASOURCE", "Prometheus", "grafana_datasource_uid", "Prometheus"),
    (MonitoringSettings, "JAVA_APP_JMX_PORT", "9998", "jmx_target_port", 9998),
]


def _plain(value: Any) -> Any:
    return value.get_secret_value() if hasattr(value, "get_secret_value") else value


@pytest.mark.parametrize(
    ("cls", "name", "raw", "field_name", "expected"), ALIASES, ids=[f"{a[1]}->{a[3]}" for a in ALIASES]
)
def test_every_original_name_sets_its_setting_with_one_deprecation_note(
    monkeypatch: pytest.MonkeyPatch, cls: type[ServiceSettings], name: str, raw: str, field_name: str, expected: Any
) -> None:
    monkeypatch.setenv(name, raw)
    settings = cls()
    assert _plain(getattr(settings, field_name)) == expected
    canonical, _ = alias_names(cls, field_name)
    assert settings.deprecation_notes() == (f"{name} is deprecated; use {canonical}",)


def test_grafana_user_and_password_are_read_as_the_original_named_them(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("GRAFANA_USER", "grafana-ops")
    monkeypatch.setenv("GRAFANA_PASSWORD", "gr-pass-123")
    settings = MonitoringSettings()
    assert settings.grafana_user == "grafana-ops"
    assert settings.grafana_password is not None and settings.grafana_password.get_secret_value() == "gr-pass-123"


def test_a_setting_given_both_ways_with_different_values_refuses_to_start(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("HTTP_PORT", "6010")
    monkeypatch.setenv("PORT", "7000")
    with pytest.raises(ValidationError, match="HTTP_PORT and PORT are both set, to different values; set only"):
        GatewaySettings()


def test_a_setting_given_both_ways_with_the_same_value_is_accepted(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("F5_USERNAME", "lb-ops")
    monkeypatch.setenv("F5_USER", "lb-ops")
    settings = LoadbalancerSettings()
    assert settings.f5_username == "lb-ops"
    assert settings.deprecation_notes() == ("F5_USER is deprecated; use F5_USERNAME",)


def test_a_conflicting_secret_is_refused_without_showing_either_value(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("VCENTER_PASSWORD", "first-secret-1")
    monkeypatch.setenv("GOVC_PASSWORD", "second-secret-2")
    with pytest.raises(ValidationError) as caught:
        InventorySettings()
    assert "first-secret-1" not in str(caught.value) and "second-secret-2" not in str(caught.value)


def test_f5_servers_lists_every_unit_of_the_ha_pair(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("LB_DRIVER", "f5")
    monkeypatch.setenv("F5_PASSWORD", "lb-pass-123")
    monkeypatch.setenv("F5_SERVERS", "127.0.0.5, bigip-b.example.com:8443,")
    assert LoadbalancerSettings().f5_devices == ["https://127.0.0.5", "https://bigip-b.example.com:8443"]


def test_f5_devices_as_a_json_list_still_works(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("F5_DEVICES", '["https://127.0.0.1:18443", "https://127.0.0.1:18444"]')
    assert LoadbalancerSettings().f5_devices == ["https://127.0.0.1:18443", "https://127.0.0.1:18444"]


GOVC_URLS = [
    ("vc.example.com", ("vc.example.com", 443, "https", "vmscale", "")),
    ("vc.example.com:8443", ("vc.example.com", 8443, "https", "vmscale", "")),
    ("https://vc.example.com/sdk", ("vc.example.com", 443, "https", "vmscale", "")),
    ("ops:vc-pass-9@vc.example.com", ("vc.example.com", 443, "https", "ops", "vc-pass-9")),
    (
        "https://adm%40vsphere.local:p%40ss-9@vc.example.com/sdk",
        ("vc.example.com", 443, "https", "adm@vsphere.local", "p@ss-9"),
    ),
    ("http://127.0.0.1:18989/sdk", ("127.0.0.1", 18989, "http", "vmscale", "")),
]


@pytest.mark.parametrize(("url", "expected"), GOVC_URLS, ids=[u for u, _ in GOVC_URLS])
def test_govc_url_is_read_in_each_of_the_original_forms(
    monkeypatch: pytest.MonkeyPatch, url: str, expected: tuple[Any, ...]
) -> None:
    monkeypatch.setenv("GOVC_URL", url)
    s = InventorySettings()
    got = (s.vcenter_host, s.vcenter_port, s.vcenter_protocol, s.vcenter_username, s.vcenter_password)
    assert got[:4] == expected[:4] and got[4].get_secret_value() == expected[4]
    shown = repr(s) + str(s.public_dict()) + " ".join(s.deprecation_notes())
    assert "vc-pass-9" not in shown and "p@ss-9" not in shown and "p%40ss-9" not in shown


def test_credentials_in_govc_url_that_disagree_with_govc_username_refuse_to_start(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("GOVC_URL", "https://ops:vc-pass-9@vc.example.com/sdk")
    monkeypatch.setenv("GOVC_USERNAME", "someone-else")
    with pytest.raises(ValidationError, match="vCenter URL and VCENTER_USERNAME disagree") as caught:
        InventorySettings()
    assert "vc-pass-9" not in str(caught.value)


def test_a_malformed_govc_url_is_refused_without_echoing_it(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("GOVC_URL", "https://ops:vc-pass-9@vc.example.com:99999/sdk")
    with pytest.raises(ValidationError, match="not a URL") as caught:
        InventorySettings()
    assert "vc-pass-9" not in str(caught.value)


def test_govc_insecure_turns_tls_verification_off_like_vcenter_insecure(monkeypatch: pytest.MonkeyPatch) -> None:
    from services.inventory.app import _session

    monkeypatch.setenv("GOVC_URL", "vc.example.com")
    monkeypatch.setenv("GOVC_INSECURE", "1")
    settings = InventorySettings()
    assert settings.vcenter_insecure is True
    assert _session(settings).params.verify_tls is False


def test_the_scaler_webhook_url_is_derived_from_the_gateway_address() -> None:
    assert ScalerSettings().resolved_webhook_base_url() == "http://127.0.0.1:6010"


@pytest.mark.parametrize(
    ("env", "expected"),
    [
        ({"HTTP_PORT": "7001"}, "http://127.0.0.1:7001"),
        ({"VM_AUTOSCALING_BACKEND_PORT": "7002"}, "http://127.0.0.1:7002"),
        ({"HTTP_HOST": "0.0.0.0", "TLS_CERTFILE": "/tls/gw.pem"}, "https://127.0.0.1:6010"),
        ({"HTTP_HOST": "127.0.0.5"}, "http://127.0.0.5:6010"),
        ({"WEBHOOK_BASE_URL": "https://gw.example:443/", "HTTP_PORT": "7001"}, "https://gw.example:443"),
        ({"BACKEND_API_URL": "http://gw.example:6010"}, "http://gw.example:6010"),
    ],
    ids=["http-port", "original-port", "wildcard-tls", "host", "explicit-wins", "backend-api-url"],
)
def test_the_scaler_webhook_url_follows_the_gateway_unless_set(
    monkeypatch: pytest.MonkeyPatch, env: dict[str, str], expected: str
) -> None:
    for name, value in env.items():
        monkeypatch.setenv(name, value)
    assert ScalerSettings().resolved_webhook_base_url() == expected


def test_original_names_vmscale_does_not_read_are_named_at_start(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("GOVC_DATASTORE", "datastore1")
    notes = InventorySettings().deprecation_notes()
    assert notes == ("GOVC_DATASTORE is not used by vmscale: the datastore is set per group (placement.datastore)",)
    assert ScalerSettings().deprecation_notes() == ()


def test_config_check_names_each_source_and_masks_secrets(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    password_file = tmp_path / "f5-password"
    password_file.write_text("lb-file-secret-7\n")
    monkeypatch.setenv("LB_DRIVER", "f5")
    monkeypatch.setenv("F5_SERVERS", "127.0.0.5,127.0.0.6")
    monkeypatch.setenv("F5_PASSWORD_FILE", str(password_file))
    rows, notes, error = check_service("loadbalancer", __import__("os").environ)
    assert error == ""
    by_name = {name: (value, source) for name, value, source in rows}
    assert by_name["lb_driver"] == ("f5", "env LB_DRIVER")
    assert by_name["f5_devices"] == (
        ["https://127.0.0.5", "https://127.0.0.6"],
        "alias F5_SERVERS (deprecated: use F5_DEVICES)",
    )
    assert by_name["f5_password"] == ("**********", "file F5_PASSWORD_FILE")
    assert by_name["f5_partition"] == ("Common", "default")
    assert notes == ["F5_SERVERS is deprecated; use F5_DEVICES"]


def test_the_config_check_command_never_prints_a_secret(monkeypatch: pytest.MonkeyPatch) -> None:
    secrets = {
        "GOVC_URL": "https://ops:url-secret-1@vc.example.com/sdk",
        "F5_PASSWORD": "f5-secret-2",
        "JENKINS_API_TOKEN": "jenkins-secret-3",
        "GRAFANA_PASSWORD": "grafana-secret-4",
        "DATABASE_URL": "postgresql://vmscale:db-secret-5@127.0.0.1/vmscale",
    }
    for name, value in secrets.items():
        monkeypatch.setenv(name, value)
    result = CliRunner().invoke(app, ["config", "check"], env={"COLUMNS": "200"})
    assert result.exit_code == 0, result.output
    for needle in ("url-secret-1", "f5-secret-2", "jenkins-secret-3", "grafana-secret-4", "db-secret-5"):
        assert needle not in result.output
    assert "alias GOVC_URL (deprecated: use VCENTER_URL)" in result.output
    assert "JENKINS_API_TOKEN is deprecated; use JENKINS_TOKEN" in result.output


def test_the_config_check_command_fails_on_a_conflict_and_says_why(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("HTTP_PORT", "6010")
    monkeypatch.setenv("VM_AUTOSCALING_BACKEND_PORT", "6020")
    result = CliRunner().invoke(app, ["config", "check", "gateway"], env={"COLUMNS": "200"})
    assert result.exit_code == 1
    assert "will not start" in result.output and "set only HTTP_PORT" in result.output


def test_every_service_under_run_all_learns_the_gateway_port(tmp_path: Path) -> None:
    from cli.supervisor import Supervisor

    sup = Supervisor(state_dir=tmp_path, env={}, gateway_port=6123)
    sup.urls = {"NATS_URL": "nats://127.0.0.1:4222", "REDIS_URL": "redis://127.0.0.1:6379/0"}
    for service in ("gateway", "scaler", "inventory"):
        assert sup._child_env(service)["HTTP_PORT"] == "6123"
    # the original's names were read when the port was chosen; the children get one name only
    sup.env = {"PORT": "7000", "VM_AUTOSCALING_BACKEND_PORT": "7000"}
    assert {"PORT", "VM_AUTOSCALING_BACKEND_PORT"}.isdisjoint(sup._child_env("gateway"))
    assert Supervisor(state_dir=tmp_path).gateway_port == 6010


@pytest.mark.parametrize(
    ("env", "expected"),
    [({}, 6010), ({"PORT": "7100"}, 7100), ({"VM_AUTOSCALING_BACKEND_PORT": "7200", "PORT": "7200"}, 7200)],
    ids=["default", "port", "both-agreeing"],
)
def test_run_all_takes_the_gateway_port_from_the_environment(
    monkeypatch: pytest.MonkeyPatch, env: dict[str, str], expected: int
) -> None:
    from cli.main import _gateway_port_from_env

    for name, value in env.items():
        monkeypatch.setenv(name, value)
    assert _gateway_port_from_env() == expected


def test_run_all_refuses_two_gateway_ports(monkeypatch: pytest.MonkeyPatch) -> None:
    import typer

    from cli.main import _gateway_port_from_env

    monkeypatch.setenv("VM_AUTOSCALING_BACKEND_PORT", "7200")
    monkeypatch.setenv("PORT", "7300")
    with pytest.raises(typer.Exit) as caught:
        _gateway_port_from_env()
    assert caught.value.exit_code == 2


@pytest.mark.parametrize("load_balancer", ["haproxy", "f5"])
def test_the_lab_configured_only_by_the_original_names_gives_every_service_the_same_settings(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path, load_balancer: str
) -> None:
    from lab.config import LabConfig
    from lab.environment import original_names_env, service_env

    config = LabConfig(lab_dir=tmp_path / "lab")
    ours = service_env(config, gateway_url="http://127.0.0.1:6010", load_balancer=load_balancer)
    ours["HTTP_PORT"] = "6010"
    for name, value in ours.items():  # the secrets a started lab would have generated
        if name.endswith("_FILE") and not Path(value).exists():
            Path(value).parent.mkdir(parents=True, exist_ok=True)
            Path(value).write_text(f"lab-{name.lower()}-4f2a9c\n")
    theirs = original_names_env(ours)
    assert {"GOVC_URL", "GOVC_USERNAME", "GOVC_PASSWORD", "BACKEND_API_URL", "JENKINS_API_TOKEN"} <= set(theirs)
    assert "VCENTER_HOST" not in theirs and "WEBHOOK_BASE_URL" not in theirs

    def built(env: dict[str, str]) -> dict[str, dict[str, Any]]:
        with monkeypatch.context() as m:
            for name, value in env.items():
                m.setenv(name, value)
            out = {}
            for cls in CLASSES:
                settings = cls()
                out[cls.__name__] = {k: _plain(getattr(settings, k)) for k in cls.model_fields if k != "vcenter_url"}
                out[cls.__name__ + ".notes"] = settings.deprecation_notes()
            return out

    mine, original = built(ours), built(theirs)
    for cls in CLASSES:
        assert original[cls.__name__] == mine[cls.__name__], cls.__name__
    assert mine["InventorySettings.notes"] == ()
    assert "GOVC_URL is deprecated; use VCENTER_URL" in original["InventorySettings.notes"]
