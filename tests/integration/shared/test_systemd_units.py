"""The systemd units of a package-style install pass ``systemd-analyze verify`` and give each
service only settings it reads, the secrets compose gives it, and a sandbox.

``verify`` needs no running systemd (PID 1 here is not systemd) but checks that ExecStart's binary
exists: the units name the install's interpreter, /opt/vmscale/bin/python, so each is verified from
a copy in a temporary directory with that path replaced by this test's interpreter. The copies sit
in one directory with the HAProxy drop-in under ``vmscale-loadbalancer.service.d/``, where verify
loads it. Warnings (an unknown key, a bad value) count as failures: verify prints them on stderr
and still exits 0.
"""

from __future__ import annotations

import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

from shared.subjects import SERVICES
from tests.unit.shared.test_compose import settings_class

ROOT = Path(__file__).resolve().parents[3]
UNITS = ROOT / "deploy" / "systemd"
INSTALLED_PYTHON = "/opt/vmscale/bin/python"


def unit_path(service: str) -> Path:
    return UNITS / f"vmscale-{service}.service"


def directives(text: str) -> dict[str, list[str]]:
    """Every ``Key=value`` of a unit file, values in order (sections merged; the names do not clash here)."""
    found: dict[str, list[str]] = {}
    for line in text.splitlines():
        line = line.strip()
        if line and not line.startswith(("#", ";", "[")):
            key, _, value = line.partition("=")
            found.setdefault(key, []).append(value)
    return found


def verify(directory: Path, names: list[str]) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        ["systemd-analyze", "verify", "--man=no", *names],
        cwd=directory,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )


def staged(tmp_path: Path) -> Path:
    """The units and the drop-in, with ExecStart's interpreter one that exists here."""
    for service in SERVICES:
        text = unit_path(service).read_text().replace(INSTALLED_PYTHON, sys.executable)
        (tmp_path / unit_path(service).name).write_text(text)
    drop_ins = tmp_path / "vmscale-loadbalancer.service.d"
    drop_ins.mkdir()
    shutil.copy(UNITS / "haproxy.conf", drop_ins / "haproxy.conf")
    return tmp_path


def test_there_is_one_unit_per_service_and_nothing_else() -> None:
    assert sorted(p.name for p in UNITS.glob("*.service")) == sorted(f"vmscale-{s}.service" for s in SERVICES)


def test_every_unit_passes_systemd_analyze_verify(tmp_path: Path) -> None:
    checked = verify(staged(tmp_path), [f"vmscale-{s}.service" for s in SERVICES])
    assert (checked.returncode, checked.stdout + checked.stderr) == (0, "")


@pytest.mark.parametrize(
    ("wrong", "right"),
    [
        ("ProtectSystem=strict", "ProtectSytem=strict"),  # a misspelt key is only a warning
        ("Restart=on-failure", "Restart=on-fail"),
        (f"{sys.executable} -I", f"{INSTALLED_PYTHON} -I"),  # not installed here: not executable
        ("[Service]", "[Service]\nUser=vmscale\nUser"),
    ],
    ids=["unknown-key", "bad-value", "missing-binary", "not-a-directive"],
)
def test_verify_fails_on_a_broken_unit(tmp_path: Path, wrong: str, right: str) -> None:
    directory = staged(tmp_path)
    unit = directory / "vmscale-scaler.service"
    unit.write_text(unit.read_text().replace(wrong, right, 1))
    checked = verify(directory, [unit.name])
    assert checked.returncode != 0 or checked.stderr != ""


@pytest.mark.parametrize("service", SERVICES)
def test_every_variable_a_unit_sets_exists_in_the_service_settings(service: str) -> None:
    cls = settings_class(service)
    prefix = str(cls.model_config.get("env_prefix", "")).upper()
    known = {f"{prefix}{name}".upper() for name in cls.model_fields}
    texts = [unit_path(service).read_text()]
    if service == "loadbalancer":
        texts.append((UNITS / "haproxy.conf").read_text())
    names = set()
    for text in texts:
        found = directives(text)
        names |= {pair.split("=", 1)[0] for value in found.get("Environment", []) for pair in value.split()}
        names |= {name for value in found.get("UnsetEnvironment", []) for name in value.split()}
    unknown = sorted(n for n in names if n not in known and n.removesuffix("_FILE") not in known)
    assert names and unknown == []


@pytest.mark.parametrize("service", SERVICES)
def test_every_unit_runs_its_service_unprivileged_sandboxed_and_restarted(service: str) -> None:
    found = directives(unit_path(service).read_text())
    assert found["ExecStart"] == [f"{INSTALLED_PYTHON} -I -m services.{service}"]
    assert (ROOT / "services" / service / "__main__.py").is_file()
    assert found["User"] == ["vmscale"] and found["Group"] == ["vmscale"]
    assert found["EnvironmentFile"] == [f"/etc/vmscale/{service}.env"]
    assert found["Restart"] == ["on-failure"]
    for key, value in {
        "NoNewPrivileges": "yes",
        "ProtectSystem": "strict",
        "ProtectHome": "yes",
        "PrivateTmp": "yes",
        "PrivateDevices": "yes",
        "CapabilityBoundingSet": "",
        "StateDirectory": f"vmscale/{service}",
    }.items():
        assert found[key] == [value], key
    assert "Environment" in found and f"STATE_DIR=%S/vmscale/{service}" in found["Environment"]


@pytest.mark.parametrize("service", SERVICES)
def test_every_unit_loads_the_secrets_compose_mounts_and_reads_them_from_its_credentials(service: str) -> None:
    found = directives(unit_path(service).read_text())
    loaded = {value.split(":", 1)[0]: value.split(":", 1)[1] for value in found["LoadCredential"]}
    assert all(path.startswith("/etc/vmscale/credentials/") for path in loaded.values())
    compose = yaml.safe_load((ROOT / "compose" / "docker-compose.yml").read_text())
    mounted = {
        re.sub(rf"^nats_password_{service}$", "nats_password", s) for s in compose["services"][service]["secrets"]
    }
    assert set(loaded) == mounted
    used = {m.group(1) for value in found["Environment"] for m in re.finditer(r"=%d/(\w+)", value)}
    assert used == set(loaded), "a credential loaded but not read, or read but not loaded"


def test_the_monitoring_unit_may_write_where_the_monitoring_service_writes_by_default() -> None:
    cls = settings_class("monitoring")
    found = directives(unit_path("monitoring").read_text())
    writable = [path.lstrip("-") for value in found["ReadWritePaths"] for path in value.split()]
    defaults = cls.model_fields
    targets = [
        defaults["file_sd_dir"].default,
        defaults["rules_dir"].default,
        defaults["alertmanager_config"].default.parent,
    ]
    for target in targets:  # the alertmanager config is replaced by a rename: its directory must be writable
        assert any(Path(target) == Path(w) or Path(w) in Path(target).parents for w in writable), target
    assert found["UMask"] == ["0022"], "Prometheus and Alertmanager must read what it writes"
    for tool in ("promtool", "amtool"):
        assert defaults[tool].default.startswith("/usr/bin/")
