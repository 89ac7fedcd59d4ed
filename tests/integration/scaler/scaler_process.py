"""The real scaler process for crash tests: ``python -m services.scaler``, SIGKILLed by PID."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[3]


def scaler_env(nats_url: str, redis_url: str, db_url: str, prefix: str, state_dir: Path) -> dict[str, str]:
    """Compressed timings, an unreachable Prometheus, this test's prefix, database and state dir."""
    return {
        **os.environ,
        "NATS_URL": nats_url,
        "REDIS_URL": redis_url,
        "DATABASE_URL": db_url,
        "SUBJECT_PREFIX": prefix,
        "METRICS_PORT": "0",
        "LEASE_TTL_S": "1.5",
        "TICK_INTERVAL_S": "0.2",
        "HEALTH_INTERVAL_S": "0.2",
        "HEALTH_TIMEOUT_S": "20",
        "STEP_BACKOFF_S": "0.2",
        "PROMETHEUS_URL": "http://127.0.0.1:1",
        "STATE_DIR": str(state_dir),
        "LOG_LEVEL": "WARNING",
    }


class ScalerProcess:
    """``python -m services.scaler`` with test settings, started and SIGKILLed by PID."""

    def __init__(self, env: dict[str, str], log: Path) -> None:
        self.env = env
        self.log = log
        self.process: subprocess.Popen[bytes] | None = None

    def start(self) -> None:
        with self.log.open("ab") as out:
            self.process = subprocess.Popen(
                [sys.executable, "-m", "services.scaler"], env=self.env, cwd=ROOT, stdout=out, stderr=subprocess.STDOUT
            )

    def kill(self) -> None:
        if self.process is not None and self.process.poll() is None:
            self.process.kill()
            self.process.wait(10)

    def stop(self) -> None:
        if self.process is not None and self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(10)
            except subprocess.TimeoutExpired:
                self.kill()
