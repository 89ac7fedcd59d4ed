"""The systemd branch cannot run here (no systemd as PID 1), so its rendered units are checked
two ways: structurally, and by ``systemd-analyze verify`` (Debian ``systemd``, present on this
machine and listed in scripts/apt-packages.txt), which parses them as systemd would."""

from __future__ import annotations

import configparser
import shlex
import subprocess
from pathlib import Path, PurePosixPath

import pytest

from services.monitoring.agent_specs import (
    AgentSpec,
    jmx_exporter_spec,
    node_exporter_spec,
    promtail_spec,
    systemd_unit,
)

SYSTEMD_ANALYZE = "/usr/bin/systemd-analyze"
KNOWN_NOTICES = {"Special user nobody configured, this is not safe!"}
"""The original ran Node Exporter as ``nobody``; systemd notes it (DynamicUser needs systemd ≥ 232)."""


def specs(prefix: PurePosixPath) -> list[AgentSpec]:
    return [
        node_exporter_spec(prefix, port=9100),
        promtail_spec(prefix, hostname="web-01", loki_url="http://127.0.0.1:3100/loki/api/v1/push"),
        jmx_exporter_spec(prefix, port=9404, jmx_port=9999),
    ]


def install_programs(spec: AgentSpec) -> None:
    for path in (Path(str(spec.binary)), Path(spec.argv()[0])):
        if not path.exists():
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_text("#!/bin/sh\n")
            path.chmod(0o755)


def verify(unit: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [SYSTEMD_ANALYZE, "verify", "--man=no", str(unit)], capture_output=True, text=True, timeout=30, check=False
    )


@pytest.mark.parametrize("tool", ["node_exporter", "promtail", "jmx_exporter"])
def test_systemd_analyze_verify_accepts_each_rendered_unit(tmp_path: Path, tool: str) -> None:
    spec = next(s for s in specs(PurePosixPath(tmp_path / "vm")) if s.name == tool)
    install_programs(spec)
    unit = tmp_path / f"{spec.name}.service"
    unit.write_bytes(systemd_unit(spec))
    result = verify(unit)
    notices = {line.split(": ", 1)[-1].split(":", 1)[-1].strip() for line in result.stderr.splitlines() if line}
    assert result.returncode == 0, result.stderr
    assert notices <= KNOWN_NOTICES, result.stderr


def test_systemd_analyze_verify_rejects_a_unit_whose_program_is_missing(tmp_path: Path) -> None:
    spec = node_exporter_spec(PurePosixPath(tmp_path / "vm"), port=9100)
    unit = tmp_path / "node_exporter.service"
    unit.write_bytes(systemd_unit(spec))
    result = verify(unit)
    assert result.returncode != 0 and "is not executable" in result.stderr


@pytest.mark.parametrize("tool", ["node_exporter", "promtail", "jmx_exporter"])
def test_each_unit_has_the_originals_shape_and_runs_exactly_the_specs_argv(tool: str) -> None:
    spec = next(s for s in specs(PurePosixPath("/srv/vm root")) if s.name == tool)
    parser = configparser.ConfigParser(interpolation=None, strict=True)
    parser.optionxform = str  # type: ignore[assignment,method-assign]
    parser.read_string(systemd_unit(spec).decode())
    assert parser.sections() == ["Unit", "Service", "Install"]
    service = parser["Service"]
    assert shlex.split(service["ExecStart"]) == spec.argv()
    assert PurePosixPath(shlex.split(service["ExecStart"])[0]).is_absolute()
    assert (service["Type"], service["Restart"], service["RestartSec"], service["User"]) == (
        "simple",
        "always",
        "5",
        spec.user,
    )
    assert parser["Install"]["WantedBy"] == "multi-user.target"
    assert parser["Unit"]["After"] == "network-online.target"


def test_specifiers_and_variables_in_arguments_are_escaped_for_systemd(tmp_path: Path) -> None:
    spec = AgentSpec(name="odd", port=1, prefix=PurePosixPath(tmp_path / "vm dir"), args=("--label=100%", "$HOME"))
    install_programs(spec)
    unit = tmp_path / "odd.service"
    unit.write_bytes(systemd_unit(spec))
    exec_start = next(line for line in unit.read_text().splitlines() if line.startswith("ExecStart="))
    assert exec_start.endswith(" --label=100%% '$$HOME'")
    assert verify(unit).returncode == 0
