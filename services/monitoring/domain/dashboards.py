"""The original's Grafana dashboards, as dashboard JSON models (docs/original-system.md §8.2).

The infrastructure dashboard of a job has uid ``dashboard-<sanitised job>`` and ten time-series
panels, two per row; the JVM dashboard (``dashboard-<job>-jvm``) shows the JMX exporter's JVM
metrics. Both reference the Prometheus data source by uid.
"""

from __future__ import annotations

from typing import Any

from services.monitoring.domain.names import dashboard_uid, jvm_dashboard_uid

__all__ = ["infrastructure_dashboard", "jvm_dashboard"]


def _panel(index: int, title: str, exprs: list[tuple[str, str]], unit: str, ds: str, **extra: Any) -> dict[str, Any]:
    return {
        "id": index + 1,
        "type": "timeseries",
        "title": title,
        "datasource": {"type": "prometheus", "uid": ds},
        "gridPos": {"h": 8, "w": 12, "x": 12 * (index % 2), "y": 8 * (index // 2)},
        "fieldConfig": {"defaults": {"unit": unit, **extra}, "overrides": []},
        "options": {"legend": {"displayMode": "list", "placement": "bottom"}},
        "targets": [
            {
                "refId": chr(ord("A") + n),
                "expr": expr,
                "legendFormat": legend,
                "datasource": {"type": "prometheus", "uid": ds},
            }
            for n, (expr, legend) in enumerate(exprs)
        ],
    }


def _templating(job: str, ds: str) -> dict[str, Any]:
    source = {"type": "prometheus", "uid": ds}
    return {
        "list": [
            {
                "name": "job",
                "type": "query",
                "datasource": source,
                "query": "label_values(node_cpu_seconds_total, job)",
                "current": {"text": job, "value": job},
                "refresh": 1,
            },
            {
                "name": "instance",
                "type": "query",
                "datasource": source,
                "query": 'label_values(node_cpu_seconds_total{job="$job"}, instance)',
                "refresh": 1,
                "includeAll": True,
            },
        ]
    }


def infrastructure_dashboard(
    job: str, *, title: str | None = None, service: str = "", environment: str = "", datasource_uid: str = "prometheus"
) -> dict[str, Any]:
    """The infrastructure (node exporter) dashboard of ``job``: ten panels."""
    sel = f'job="{job}"'
    fs = f'job="{job}", mountpoint="/", fstype!="rootfs"'
    disk = f'job="{job}", device!~"dm-.*|loop.*"'
    net = f'job="{job}", device!="lo"'
    legend = "{{instance}}"
    specs: list[tuple[str, list[tuple[str, str]], str, dict[str, Any]]] = [
        (
            "CPU usage",
            [(f'100 - (avg by (instance) (rate(node_cpu_seconds_total{{mode="idle", {sel}}}[5m])) * 100)', legend)],
            "percent",
            {"min": 0, "max": 100},
        ),
        (
            "Memory usage",
            [
                (
                    f"(1 - (avg by (instance) (node_memory_MemAvailable_bytes{{{sel}}})"
                    f" / avg by (instance) (node_memory_MemTotal_bytes{{{sel}}}))) * 100",
                    legend,
                )
            ],
            "percent",
            {"min": 0, "max": 100},
        ),
        (
            "CPU by mode",
            [
                (
                    f'avg by (instance, mode) (rate(node_cpu_seconds_total{{{sel}, mode!="idle"}}[5m])) * 100',
                    "{{instance}} {{mode}}",
                )
            ],
            "percent",
            {},
        ),
        (
            "Memory detail",
            [
                (f"node_memory_MemTotal_bytes{{{sel}}} - node_memory_MemAvailable_bytes{{{sel}}}", "{{instance}} used"),
                (f"node_memory_Cached_bytes{{{sel}}}", "{{instance}} cached"),
                (f"node_memory_Buffers_bytes{{{sel}}}", "{{instance}} buffers"),
            ],
            "bytes",
            {},
        ),
        (
            "Network receive",
            [(f"rate(node_network_receive_bytes_total{{{net}}}[5m])", "{{instance}} {{device}}")],
            "Bps",
            {},
        ),
        (
            "Network transmit",
            [(f"rate(node_network_transmit_bytes_total{{{net}}}[5m])", "{{instance}} {{device}}")],
            "Bps",
            {},
        ),
        ("Disk read", [(f"rate(node_disk_read_bytes_total{{{disk}}}[5m])", "{{instance}} {{device}}")], "Bps", {}),
        ("Disk write", [(f"rate(node_disk_written_bytes_total{{{disk}}}[5m])", "{{instance}} {{device}}")], "Bps", {}),
        (
            "Disk usage",
            [(f"(1 - (node_filesystem_avail_bytes{{{fs}}} / node_filesystem_size_bytes{{{fs}}})) * 100", legend)],
            "percent",
            {"min": 0, "max": 100},
        ),
        (
            "Load average",
            [
                (f"node_load1{{{sel}}}", "{{instance}} 1m"),
                (f"node_load5{{{sel}}}", "{{instance}} 5m"),
                (f"node_load15{{{sel}}}", "{{instance}} 15m"),
            ],
            "short",
            {},
        ),
    ]
    panels = [
        _panel(i, name, exprs, unit, datasource_uid, **extra) for i, (name, exprs, unit, extra) in enumerate(specs)
    ]
    return {
        "id": None,
        "uid": dashboard_uid(job),
        "title": f"{title or job} monitoring",
        "tags": [tag for tag in ("prometheus", "node-exporter", service, environment) if tag],
        "timezone": "browser",
        "refresh": "30s",
        "schemaVersion": 39,
        "time": {"from": "now-1h", "to": "now"},
        "templating": _templating(job, datasource_uid),
        "panels": panels,
    }


def jvm_dashboard(job: str, *, title: str | None = None, datasource_uid: str = "prometheus") -> dict[str, Any]:
    """The JVM (JMX exporter) dashboard of ``job``."""
    sel = f'job="{job}"'
    legend = "{{instance}}"
    specs: list[tuple[str, list[tuple[str, str]], str]] = [
        (
            "Heap usage",
            [
                (
                    f'jvm_memory_used_bytes{{area="heap", {sel}}} / jvm_memory_max_bytes{{area="heap", {sel}}} * 100',
                    legend,
                )
            ],
            "percent",
        ),
        (
            "Heap",
            [
                (f'jvm_memory_{kind}_bytes{{area="heap", {sel}}}', f"{{{{instance}}}} {kind}")
                for kind in ("used", "committed", "max")
            ],
            "bytes",
        ),
        (
            "Non-heap",
            [
                (f'jvm_memory_{kind}_bytes{{area="nonheap", {sel}}}', f"{{{{instance}}}} {kind}")
                for kind in ("used", "committed", "max")
            ],
            "bytes",
        ),
        ("GC time", [(f"rate(jvm_gc_pause_seconds_sum{{{sel}}}[5m])", legend)], "s"),
        ("GC count", [(f"rate(jvm_gc_pause_seconds_count{{{sel}}}[5m])", legend)], "short"),
        (
            "Threads",
            [
                (f"jvm_threads_{kind}_threads{{{sel}}}", f"{{{{instance}}}} {kind}")
                for kind in ("live", "peak", "daemon")
            ],
            "short",
        ),
        (
            "Classes",
            [
                (f"jvm_classes_loaded_classes{{{sel}}}", "{{instance}} loaded"),
                (f"jvm_classes_unloaded_classes_total{{{sel}}}", "{{instance}} unloaded"),
            ],
            "short",
        ),
        ("Virtual memory", [(f'jvm_memory_bytes{{type="virtual", {sel}}}', legend)], "bytes"),
    ]
    return {
        "id": None,
        "uid": jvm_dashboard_uid(job),
        "title": f"{title or job} JMX monitoring",
        "tags": ["prometheus", "jmx-exporter", "java"],
        "timezone": "browser",
        "refresh": "30s",
        "schemaVersion": 39,
        "time": {"from": "now-1h", "to": "now"},
        "panels": [_panel(i, name, exprs, unit, datasource_uid) for i, (name, exprs, unit) in enumerate(specs)],
    }
