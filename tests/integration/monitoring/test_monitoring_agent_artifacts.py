# ruff: noqa: ASYNC240 - small local files, archive packing and javac in test set-up
"""Agents from real artifacts through the lab sshd, registered with the real Prometheus and the
Grafana simulator.

* Node Exporter downloaded by vmscale from a loopback HTTP server serving Debian's
  ``/usr/bin/prometheus-node-exporter`` packed as the upstream tarball
  (``node_exporter-<ver>.linux-amd64/node_exporter``); a wrong checksum installs nothing.
* Promtail downloaded as its upstream zip (``promtail-linux-amd64``; a Python stand-in, as
  Debian has no promtail) rendered with the VM's own host name, then updated by a re-run
  through the same renderer after the Loki URL changed.
* The JMX exporter from an artifact path: a small Java stand-in for the jar (built here with
  javac; the real jar is not available) run by the rendered command line, registered as its own
  job with the original's JVM dashboard, scraped by Prometheus.
"""

from __future__ import annotations

import hashlib
import io
import os
import subprocess
import tarfile
import threading
import uuid
import zipfile
from collections.abc import Iterator
from functools import partial
from http.server import SimpleHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import httpx
import pytest

from services.monitoring.app import build_service
from shared.embedded import free_port
from shared.errors import ConfigurationError
from shared.messages import DeleteJob, RegisterJmxExporter
from tests.contracts.monitoring_lab import MonitoringLab, lab_settings

NODE_EXPORTER = Path("/usr/bin/prometheus-node-exporter")
TARBALL = "node_exporter-1.5.0.linux-amd64.tar.gz"
JAVA_SOURCE = Path(__file__).parent / "jmx_artifact" / "MiniJmxExporter.java"


class ArtifactServer:
    """A loopback HTTP server for one directory, recording the paths asked for."""

    def __init__(self, directory: Path) -> None:
        self.requests: list[str] = []
        requests = self.requests

        class Handler(SimpleHTTPRequestHandler):
            def log_message(self, *args: object) -> None:
                return

            def do_GET(self) -> None:
                requests.append(self.path)
                super().do_GET()

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), partial(Handler, directory=str(directory)))
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()


@pytest.fixture(scope="module")
def upstream_tarball(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Debian's node exporter in the upstream release layout."""
    directory = tmp_path_factory.mktemp("artifacts")
    out = io.BytesIO()
    with tarfile.open(fileobj=out, mode="w:gz", compresslevel=1) as archive:
        for name, data in (("LICENSE", b"Apache License 2.0\n"), ("node_exporter", NODE_EXPORTER.read_bytes())):
            info = tarfile.TarInfo(f"node_exporter-1.5.0.linux-amd64/{name}")
            info.size, info.mode = len(data), 0o755
            archive.addfile(info, io.BytesIO(data))
    (directory / TARBALL).write_bytes(out.getvalue())
    return directory / TARBALL


@pytest.fixture
def artifact_server(upstream_tarball: Path) -> Iterator[ArtifactServer]:
    server = ArtifactServer(upstream_tarball.parent)
    try:
        yield server
    finally:
        server.close()


@pytest.fixture(scope="module")
def jmx_jar(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The Java stand-in for jmx_prometheus_httpserver.jar."""
    build = tmp_path_factory.mktemp("jmx-build")
    subprocess.run(["javac", "-d", str(build / "classes"), str(JAVA_SOURCE)], check=True, timeout=120)
    jar = build / "jmx_prometheus_httpserver-test.jar"
    command = ["jar", "--create", "--file", str(jar), "--main-class", "MiniJmxExporter", "-C", str(build / "classes")]
    subprocess.run([*command, "."], check=True, timeout=60)
    return jar


async def test_node_exporter_is_downloaded_verified_and_installed_from_the_upstream_tarball(
    monitoring_lab: MonitoringLab, tmp_path: Path, artifact_server: ArtifactServer, upstream_tarball: Path
) -> None:
    settings = lab_settings(
        monitoring_lab,
        tmp_path,
        node_exporter_artifact=None,
        node_exporter_url=f"{artifact_server.url}/{TARBALL}",
        node_exporter_sha256=hashlib.sha256(upstream_tarball.read_bytes()).hexdigest(),
        agent_listen_host="127.0.0.1",
        node_exporter_port=free_port(),
    )
    async with httpx.AsyncClient(timeout=10) as client:
        service = build_service(settings, client)
        try:
            first = await service.agents.install("node_exporter", "127.0.0.1")
            again = await service.agents.install("node_exporter", "127.0.0.1")
        finally:
            await service.installer.uninstall("127.0.0.1", service.agents.spec("node_exporter"))
    assert first.changed and first.status["responding"] and first.status["installed"]
    assert not again.changed
    assert artifact_server.requests == [f"/{TARBALL}"]  # the second run used the verified cache
    installed = tmp_path / "vm-root" / "usr/local/bin/node_exporter"
    assert not installed.exists()  # uninstalled; its bytes were checked by sha256sum on the VM


async def test_a_wrong_checksum_downloads_but_installs_nothing(
    monitoring_lab: MonitoringLab, tmp_path: Path, artifact_server: ArtifactServer
) -> None:
    settings = lab_settings(
        monitoring_lab,
        tmp_path,
        node_exporter_artifact=None,
        node_exporter_url=f"{artifact_server.url}/{TARBALL}",
        node_exporter_sha256="0" * 64,
        agent_listen_host="127.0.0.1",
        node_exporter_port=free_port(),
    )
    async with httpx.AsyncClient(timeout=10) as client:
        service = build_service(settings, client)
        with pytest.raises(ConfigurationError):
            await service.agents.install("node_exporter", "127.0.0.1")
    assert artifact_server.requests == [f"/{TARBALL}"]
    assert not (tmp_path / "vm-root").exists()
    assert not (tmp_path / "artifacts").exists()  # nothing unverified is cached either
    assert not (tmp_path / "known_hosts").exists()  # refused before any SSH connection


async def test_a_jmx_exporter_is_installed_registered_as_its_own_job_and_gets_the_jvm_dashboard(
    monitoring_lab: MonitoringLab, tmp_path: Path, jmx_jar: Path
) -> None:
    port = free_port()
    settings = lab_settings(
        monitoring_lab,
        tmp_path,
        jmx_exporter_artifact=jmx_jar,
        jmx_exporter_sha256=hashlib.sha256(jmx_jar.read_bytes()).hexdigest(),
        jmx_exporter_port=port,
        jmx_target_port=7199,
        agent_listen_host="127.0.0.1",
    )
    job = f"orders-jmx-{uuid.uuid4().hex[:6]}"
    command = RegisterJmxExporter(
        job=job, group="orders", vm_name="orders-1", address="127.0.0.1", install_exporter=True, timeout_s=30
    )
    async with httpx.AsyncClient(timeout=10) as client:
        service = build_service(settings, client)
        try:
            event = await service.register_jmx(command)
            # used heap can read 0 just after a JVM starts (G1 counts regions late); max cannot
            query = {"query": f'jvm_memory_max_bytes{{job="{job}", area="heap"}}'}
            heap = (await client.get(f"{monitoring_lab.prometheus_url}/api/v1/query", params=query)).json()
            token = monitoring_lab.grafana.token_file.read_text().strip()
            dashboard = await client.get(
                f"{monitoring_lab.grafana_url}/api/dashboards/uid/{event.dashboard_uid}",
                headers={"Authorization": f"Bearer {token}"},
            )
            unit_config = (tmp_path / "vm-root" / "etc/jmx_exporter/config.yml").read_text()
        finally:
            await service.installer.uninstall("127.0.0.1", service.agents.spec("jmx_exporter"))
            await service.delete_job(DeleteJob(job=job))
    assert (event.up, event.target, event.job) == (True, f"127.0.0.1:{port}", job)
    assert [float(sample["value"][1]) > 0 for sample in heap["data"]["result"]] == [True], heap
    assert heap["data"]["result"][0]["metric"]["vmName"] == "orders-1"
    model = dashboard.json()["dashboard"]
    exprs = [t["expr"] for panel in model["panels"] for t in panel["targets"]]
    assert "jmx-exporter" in model["tags"] and len(model["panels"]) == 8
    assert (
        f'jvm_memory_used_bytes{{area="heap", job="{job}"}} / jvm_memory_max_bytes{{area="heap", job="{job}"}} * 100'
        in exprs
    )
    assert "hostPort: 127.0.0.1:7199" in unit_config


PROMTAIL_STANDIN = """#!/usr/bin/python3
# Stand-in for promtail: reads -config.file, serves /metrics on server.http_listen_port.
import http.server, re, sys
config = open(next(a.split("=", 1)[1] for a in sys.argv if a.startswith("-config.file="))).read()
port = int(re.search(r"http_listen_port: (\\d+)", config).group(1))
class Handler(http.server.BaseHTTPRequestHandler):
    def log_message(self, *args): pass
    def do_GET(self):
        self.send_response(200); self.end_headers(); self.wfile.write(b"promtail_build_info 1\\n")
http.server.HTTPServer(("127.0.0.1", port), Handler).serve_forever()
"""


async def test_promtail_from_its_zip_carries_the_vms_hostname_and_an_update_rerenders_it(
    monitoring_lab: MonitoringLab, tmp_path: Path, artifact_server: ArtifactServer, upstream_tarball: Path
) -> None:
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w") as archive:
        archive.writestr("promtail-linux-amd64", PROMTAIL_STANDIN)
    (upstream_tarball.parent / "promtail-linux-amd64.zip").write_bytes(out.getvalue())
    common = {
        "promtail_url": f"{artifact_server.url}/promtail-linux-amd64.zip",
        "promtail_sha256": hashlib.sha256(out.getvalue()).hexdigest(),
        "promtail_port": free_port(),
    }
    config_file = tmp_path / "vm-root" / "etc/promtail/config.yml"
    async with httpx.AsyncClient(timeout=10) as client:
        first = build_service(
            lab_settings(monitoring_lab, tmp_path, loki_url="http://127.0.0.1:3100/a", **common), client
        )
        update = build_service(
            lab_settings(monitoring_lab, tmp_path, loki_url="http://127.0.0.1:3100/b", **common), client
        )
        try:
            installed = await first.agents.install("promtail", "127.0.0.1")
            before = config_file.read_text()
            updated = await update.agents.install("promtail", "127.0.0.1")
            after = config_file.read_text()
        finally:
            await first.installer.uninstall("127.0.0.1", first.agents.spec("promtail"))
    hostname = os.uname().nodename
    assert installed.changed and installed.status["responding"] and updated.changed
    assert f"hostname: {hostname}" in before and f"hostname: {hostname}" in after
    assert "url: http://127.0.0.1:3100/a" in before and "url: http://127.0.0.1:3100/b" in after
