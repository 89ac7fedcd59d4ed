"""`vmscale run all` as real processes: ready, self-healing, and gone within 10 s of SIGTERM."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from shared.embedded import free_port, port_open
from shared.subjects import SERVICES
from testkit.promtool import lint_metrics

pytestmark = pytest.mark.usefixtures("js_cleanup")

ROOT = Path(__file__).resolve().parents[3]


def alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    stat = Path(f"/proc/{pid}/stat")
    return stat.exists() and stat.read_text().split()[2] != "Z"


def wait_until(predicate, timeout: float, what: str):
    deadline = time.monotonic() + timeout
    last = None
    while time.monotonic() < deadline:
        last = predicate()
        if last:
            return last
        time.sleep(0.25)
    raise AssertionError(f"{what} not reached within {timeout} s (last: {last!r})")


def readiness(url: str) -> dict | None:
    try:
        response = httpx.get(f"{url}/readyz", timeout=2)
    except httpx.HTTPError:
        return None
    return response.json() if response.status_code == 200 else None


class RunAll:
    def __init__(self, state_dir: Path, env: dict[str, str]) -> None:
        self.state_dir = state_dir
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        argv = [
            sys.executable,
            "-m",
            "cli",
            "run",
            "all",
            "--state-dir",
            str(state_dir),
            "--gateway-port",
            str(self.port),
            "--metrics-base-port",
            "0",
        ]
        self.log = (state_dir.parent / "supervisor.log").open("wb")
        self.process = subprocess.Popen(argv, cwd=ROOT, env=env, stdout=self.log, stderr=subprocess.STDOUT)

    def state(self) -> dict:
        return json.loads((self.state_dir / "run.json").read_text())

    def stop(self) -> float:
        started = time.monotonic()
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
            try:
                self.process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()
                raise AssertionError("vmscale run all did not stop within 10 s of SIGTERM") from None
        self.log.close()
        return time.monotonic() - started


@pytest.fixture
def base_env(prefix: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if k not in {"NATS_URL", "REDIS_URL", "DATABASE_URL"}}
    env["SUBJECT_PREFIX"] = prefix
    env["HEARTBEAT_INTERVAL_S"] = "1"
    return env


@pytest.fixture
def run_all(tmp_path: Path, base_env: dict[str, str], nats_url: str, redis_url: str) -> Iterator[RunAll]:
    runner = RunAll(tmp_path / "state", {**base_env, "NATS_URL": nats_url, "REDIS_URL": redis_url})
    try:
        yield runner
    finally:
        runner.stop()


def test_run_all_reports_five_healthy_services(run_all: RunAll) -> None:
    body = wait_until(lambda: readiness(run_all.url), 60, "five healthy services")
    assert set(body["services"]) == set(SERVICES)
    assert all(item["healthy"] for item in body["services"].values())
    assert body["checks"] == {"nats": "ok", "database": "ok", "redis": "ok"}


def test_a_killed_service_is_restarted_and_readiness_recovers(run_all: RunAll) -> None:
    wait_until(lambda: readiness(run_all.url), 60, "ready")
    victim = run_all.state()["children"]["scaler"]
    os.kill(victim, signal.SIGKILL)
    wait_until(lambda: run_all.state()["children"]["scaler"] not in (None, victim), 30, "a new scaler process")
    body = wait_until(
        lambda: (r := readiness(run_all.url)) and r["services"]["scaler"]["pid"] != victim and r,
        60,
        "readiness with the new scaler",
    )
    assert body["services"]["scaler"]["healthy"]


def test_sigterm_stops_everything_and_leaves_no_process(run_all: RunAll) -> None:
    wait_until(lambda: readiness(run_all.url), 60, "ready")
    pids = [pid for pid in run_all.state()["children"].values() if pid]
    assert len(pids) == len(SERVICES)
    run_all.stop()
    assert run_all.process.returncode == 0
    assert [pid for pid in pids if alive(pid)] == []
    assert not port_open("127.0.0.1", run_all.port)


def test_with_nothing_configured_it_starts_embedded_nats_and_redis(tmp_path: Path, base_env: dict[str, str]) -> None:
    runner = RunAll(tmp_path / "state", base_env)
    try:
        body = wait_until(lambda: readiness(runner.url), 90, "ready on embedded servers")
        state = runner.state()
        assert set(state["servers"]) == {"nats", "redis"}
        assert all(item["healthy"] for item in body["services"].values())
        assert not state["urls"]["NATS_URL"].endswith(":4222")
        servers = list(state["servers"].values())
    finally:
        runner.stop()
    assert [pid for pid in servers if alive(pid)] == []
    assert list((tmp_path / "state").glob("*.db")), "SQLite files live under the state directory"


def test_every_services_metrics_pass_promtool(
    tmp_path: Path, base_env: dict[str, str], nats_url: str, redis_url: str
) -> None:
    """Each of the five real processes' ``/metrics`` (the addresses ``vmscale run all`` writes for
    Prometheus) is accepted by ``promtool check metrics`` and carries the ``vmscale_`` families."""
    targets_file = tmp_path / "self_sd" / "vmscale.json"
    env = {**base_env, "NATS_URL": nats_url, "REDIS_URL": redis_url, "SCRAPE_TARGETS_FILE": str(targets_file)}
    runner = RunAll(tmp_path / "state", env)
    try:
        wait_until(lambda: readiness(runner.url), 60, "ready")
        groups = wait_until(
            lambda: targets_file.exists() and len(json.loads(targets_file.read_text())) == len(SERVICES) and True,
            30,
            "a scrape target per service",
        ) and json.loads(targets_file.read_text())
        expositions = {
            group["labels"]["service"]: httpx.get(f"http://{group['targets'][0]}/metrics", timeout=10).text
            for group in groups
        }
    finally:
        runner.stop()
    assert set(expositions) == set(SERVICES)
    for service, text in expositions.items():
        assert "vmscale_" in text, service
        assert lint_metrics(text) is None, (service, lint_metrics(text))
