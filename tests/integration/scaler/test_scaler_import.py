"""``vmscale import`` end to end into PostgreSQL (what the CLI runs)."""

from __future__ import annotations

from pathlib import Path

import pytest

from services.scaler.adapters.sql import SqlStore
from services.scaler.importer import run_import
from services.scaler.settings import ScalerSettings
from shared.db import make_engine

pytestmark = [pytest.mark.integration, pytest.mark.usefixtures("js_cleanup")]

ORIGINAL = Path(__file__).resolve().parents[2] / "unit" / "scaler" / "original"


async def test_run_import_writes_groups_and_pools(nats_url: str, clean_db: str, prefix: str) -> None:
    settings = ScalerSettings(database_url=clean_db, nats_url=nats_url, subject_prefix=prefix)
    report = await run_import(
        settings, ORIGINAL / "autoscaling-configs.json", ORIGINAL / "templates.json", discover_vms=False
    )
    assert report.imported == ["auto-vm-test-service"] and set(report.skipped) == {"broken", "no-template"}
    store = SqlStore(make_engine(clean_db))
    record = await store.transaction(lambda uow: uow.groups.get("auto-vm-test-service"))
    store.dispose()
    assert record is not None and record.spec.ip_pool == "auto-vm-test-service-ips" and not record.spec.enabled
