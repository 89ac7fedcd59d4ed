"""The lab configured only through the original system's environment names (issue 14), and it scales.

An operator's old env file, as ``lab.environment.original_names_env`` writes it (``GOVC_URL``,
``GOVC_PASSWORD``, ``F5_SERVERS`` as the HA pair, ``BACKEND_API_URL``, ``JENKINS_API_TOKEN``,
``DEFAULT_SSH_USER``/``_KEY``, ``VM_AUTOSCALING_BACKEND_PORT``), given to a plain
``vmscale run all`` with no option naming a setting, against the F5 simulator the original drove.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import subprocess
import sys
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import httpx
import pytest

from lab.demo import create_demo_group
from lab.environment import original_names_env, service_env
from lab.system import ROOT, System, free_lab_config, wait_until
from services.gateway.settings import GatewaySettings
from services.inventory.settings import InventorySettings
from services.loadbalancer.settings import LoadbalancerSettings
from services.monitoring.settings import MonitoringSettings
from services.scaler.settings import ScalerSettings
from shared.embedded import free_port
from shared.original_env import alias_names
from testkit.servers import delete_streams, fresh_database
from tests.e2e import scenarios as sc

pytestmark = pytest.mark.timeout(900)

SETTINGS = (GatewaySettings, ScalerSettings, InventorySettings, MonitoringSettings, LoadbalancerSettings)
RENAMED = {
    name
    for canonical, olds in (alias_names(cls, field) for cls in SETTINGS for field in cls.model_fields)
    if olds
    for name in (canonical, f"{canonical}_FILE")
}
"""vmscale's own names of every setting the original had a name for (and their ``*_FILE``)."""


def hold_load(system: System, addresses: set[str], cpu: float) -> None:
    """Every VM at ``addresses`` at ``cpu`` (a VM whose agent does not answer yet: next time)."""
    for address in sorted(addresses):
        with contextlib.suppress(httpx.HTTPError, OSError):
            sc.load(system, [address], cpu=cpu, memory=10 if cpu < 50 else 20)


@dataclass
class OriginalNamesSystem(System):
    """The lab plus ``vmscale run all``, configured as the original was."""

    def services_env(self) -> dict[str, str]:
        """The original's names wherever it had one; nothing of ours for those from the outside."""
        ours = service_env(self.config, gateway_url=self.url, load_balancer=self.load_balancer)
        theirs = original_names_env(ours | {"HTTP_PORT": str(self.gateway_port)} | self.env)
        return {k: v for k, v in os.environ.items() if k.upper() not in RENAMED} | theirs

    def start_services(self) -> None:
        """``vmscale run all``: the gateway's port from ``VM_AUTOSCALING_BACKEND_PORT``, not an option."""
        self.state_dir.mkdir(parents=True, exist_ok=True)
        log = (self.state_dir / "supervisor.log").open("ab")
        argv = [sys.executable, "-m", "cli", "run", "all", "--state-dir", str(self.state_dir)]
        self.process = subprocess.Popen(
            [*argv, "--metrics-base-port", "0"],  # free ports beside other labs; not a setting
            cwd=ROOT,
            env=self.services_env(),
            stdout=log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
        wait_until(self.ready, 120, "every service ready")


@pytest.fixture(scope="module")
def system(
    tmp_path_factory: pytest.TempPathFactory, nats_url: str, redis_url: str, postgres_url: str
) -> Iterator[System]:
    """The F5 lab started with the original's environment names (NATS, Redis, database: ours, the
    original had none)."""
    tmp = tmp_path_factory.mktemp("e2e-original")
    with fresh_database(postgres_url, "e2e") as database_url:
        prefix = "e2e" + uuid.uuid4().hex[:8]
        running = OriginalNamesSystem(
            config=free_lab_config(tmp / "lab"),
            state_dir=tmp / "state",
            env={
                "NATS_URL": nats_url,
                "REDIS_URL": redis_url,
                "DATABASE_URL": database_url,
                "SUBJECT_PREFIX": prefix,
                "HEARTBEAT_INTERVAL_S": "1",
            },
            gateway_port=free_port(),
            load_balancer="f5",
        )
        try:
            running.start()
            yield running
        finally:
            running.stop()
            asyncio.run(delete_streams(nats_url, prefix))


def test_the_lab_configured_by_the_originals_names_scales_out_and_in(system: System) -> None:
    env = system.services_env()
    assert not RENAMED & {k.upper() for k in env}, sorted(RENAMED & set(env))
    assert {"GOVC_URL", "GOVC_PASSWORD", "F5_SERVERS", "BACKEND_API_URL", "VM_AUTOSCALING_BACKEND_PORT"} <= set(env)
    inventory_log = system.state_dir / "logs" / "inventory.log"
    wait_until(lambda: "GOVC_URL is deprecated" in inventory_log.read_text(), 30, "the deprecation note")

    assert system.api is not None
    create_demo_group(system.api, system.config)  # base VMs scraped, IP pool, group "web", enabled
    addresses = {ip for _, ip in sc.base_vms(system)}
    hold_load(system, addresses, 95)

    def scaled_out() -> list[dict[str, Any]]:
        return [a for a in sc.activities(system) if a["kind"] == "scale_out" and a["status"] == "succeeded"]

    grown = sc.wait_or_tell(system, scaled_out, 240, "a scale-out under load")[0]["vm_names"][0]
    address = next(i["address"] for i in sc.instances(system) if i["vm_name"] == grown)
    sc.wait_or_tell(
        system,
        lambda: any(m["address"] == address and m["state"] == "up" for m in sc.pool_members(system)),
        60,
        f"{grown} up in the F5 pool",
    )

    def back_at_min() -> bool:  # idle everywhere, VMs still arriving included
        hold_load(system, addresses | {i["address"] for i in sc.instances(system) if i["address"]}, 3)
        group = sc.group_detail(system)
        names = sorted(i["vm_name"] for i in sc.instances(system))
        return group["size"] == 2 and names == ["web-1", "web-2"] and not group["active_activity"]

    sc.wait_or_tell(system, back_at_min, 300, "scale-in to min")
    assert any(a["kind"] == "scale_in" and a["status"] == "succeeded" for a in sc.activities(system))
    assert address not in {m["address"] for m in sc.pool_members(system)}
