"""With local config directories, the wiring guards every file write with cross-process locks."""

from __future__ import annotations

from pathlib import Path

import httpx

from services.monitoring.adapters.flock import LOCKS_DIR
from services.monitoring.domain import Target
from services.monitoring.settings import MonitoringSettings
from services.monitoring.wiring import build_monitoring


async def test_a_registration_takes_the_job_files_lock_in_the_shared_directory(tmp_path: Path) -> None:
    settings = MonitoringSettings(
        file_sd_dir=tmp_path / "file_sd",
        rules_dir=tmp_path / "rules",
        alertmanager_config=tmp_path / "am" / "alertmanager.yml",
        config_location="local",
    )
    async with httpx.AsyncClient() as client:
        monitoring = build_monitoring(settings, client)
        await monitoring.registry.add(Target(job="web", address="127.0.0.1", port=9100))
    assert (tmp_path / "file_sd" / LOCKS_DIR / "file_sd-web.lock").is_file()
    assert sorted(p.name for p in (tmp_path / "file_sd").iterdir()) == [LOCKS_DIR, "web.json"]
