"""The environment that points each vmscale service at the lab (loopback, compressed timings).

``make run`` and the end-to-end tests start the services with ``service_env(config, ...)`` on top
of their own NATS/Redis/database settings. Secrets stay in the lab's generated files and are
handed over as ``*_FILE`` paths.
"""

from __future__ import annotations

import json
import secrets
from pathlib import Path
from typing import Literal

from lab import jenkins, monitoring
from lab.config import LabConfig
from lab.loadbalancer import LAB_CHECK, F5Paths, HAProxyPaths
from lab.vcsim import USERNAME as VCSIM_USER
from lab.vcsim import lab_password

__all__ = ["admin_password_file", "original_names_env", "service_env"]


def admin_password_file(config: LabConfig) -> Path:
    """The lab's initial gateway admin password, generated once (mode 0600)."""
    path = config.lab_dir.resolve() / "gateway" / "admin-password"
    if not path.exists():
        path.parent.mkdir(parents=True, exist_ok=True)
        path.touch(mode=0o600)
        path.write_text(secrets.token_urlsafe(12))
    return path


def service_env(
    config: LabConfig,
    *,
    gateway_url: str,
    load_balancer: Literal["haproxy", "f5"] = "haproxy",
    drain_timeout_s: float = 10.0,
) -> dict[str, str]:
    """Environment variables for all five services against ``config``'s lab."""
    lab_dir = config.lab_dir.resolve()
    lab_password(lab_dir / "vcsim")  # make sure the vCenter password file exists
    env = dict(monitoring.service_env(config))
    env.update(
        {
            # inventory → vcsim
            "VCENTER_HOST": config.host,
            "VCENTER_PORT": str(config.vcsim_port),
            "VCENTER_PROTOCOL": "http",
            "VCENTER_USERNAME": VCSIM_USER,
            "VCENTER_PASSWORD_FILE": str(lab_dir / "vcsim" / "password"),
            "LAB_PASSWORD_FILE": str(lab_dir / "vcsim" / "password"),
            # bus: fewer, quicker redeliveries than production, so failures surface in seconds
            "MAX_DELIVER": "3",
            "RETRY_DELAY_S": "0.5",
            # scaler (compressed step retries and waits)
            "WEBHOOK_BASE_URL": gateway_url,
            "STEP_MAX_ATTEMPTS": "2",
            "STEP_BACKOFF_S": "1",
            "POOL_TIMEOUT_S": "60",
            "MONITORING_TIMEOUT_S": "60",
            "HEALTH_TIMEOUT_S": "60",
            "PROMETHEUS_RATE_WINDOW": env["RATE_WINDOW"],
            # the control loop at lab speed: every group evaluated each second, a VM gone from
            # vcsim for 5 s (or unscraped by Prometheus for 30 s) is lost, the silence at min
            # renewed well inside its 30 minutes
            "EVALUATION_INTERVAL_S": "1",
            "LOST_GRACE_S": "5",
            "UNHEALTHY_GRACE_S": "30",
            "SILENCE_RENEW_S": "60",
            # scaler → the lab's Jenkins (hooks run only for groups that name a job)
            "JENKINS_URL": f"http://{config.host}:{config.jenkins_port}",
            "JENKINS_USER": jenkins.USER,
            "JENKINS_TOKEN_FILE": str(lab_dir / "jenkins" / "token"),
            # gateway (a loaded laptop or CI box answers slower than production hardware)
            "BACKEND_TIMEOUT_S": "30",
            "WEBHOOK_TOKEN_FILE": env["WEBHOOK_CREDENTIALS_FILE"],
            "INITIAL_ADMIN_PASSWORD_FILE": str(admin_password_file(config)),
            # Node Exporter installed over SSH into the lab's VM root (one host for every lab VM):
            # a port of its own, so it never shadows the lab VM agents that stand in for the VMs'
            # exporters; the lab's sshd part ends it when the lab stops
            "NODE_EXPORTER_PORT": str(config.node_exporter_port),
            "FAILURE_BACKOFF_S": "5",
            "ORPHAN_SWEEP_S": "3",
            # load balancer
            "LB_DRIVER": load_balancer,
            "DRAIN_TIMEOUT_S": str(drain_timeout_s),
            "DRAIN_POLL_S": "0.5",
            "HEALTH_POLL_S": "0.5",
        }
    )
    if config.otlp_endpoint:  # every service's spans to the lab's collector
        env.update({"OTEL_TRACES_EXPORTER": "otlp", "OTEL_EXPORTER_OTLP_TRACES_ENDPOINT": config.otlp_endpoint})
    if load_balancer == "haproxy":
        haproxy = HAProxyPaths(lab_dir / "haproxy")
        env.update(
            {
                "HAPROXY_RUNTIME": str(haproxy.socket),
                "HAPROXY_CONFIG": str(haproxy.config),
                "HAPROXY_CHECK": LAB_CHECK,
            }
        )
    else:
        env.update(
            {
                "F5_DEVICES": json.dumps(
                    [f"http://{config.host}:{config.f5_port}", f"http://{config.host}:{config.f5_port + 1}"]
                ),
                "F5_PASSWORD_FILE": str(F5Paths(lab_dir / "f5sim").password_file),
            }
        )
    return env


def original_names_env(env: dict[str, str]) -> dict[str, str]:
    """``env`` with every setting the original system had a name for given under that name.

    What an operator's old env file looks like (docs/original-system.md §1): ``GOVC_URL``
    instead of the vCenter host, port and protocol, ``GOVC_PASSWORD`` and ``JENKINS_API_TOKEN``
    inline (the original had no ``*_FILE``), ``F5_SERVERS`` as a comma list, ``BACKEND_API_URL``,
    ``DEFAULT_SSH_USER``/``_KEY``. Settings the original did not have keep vmscale's names.
    """
    out = dict(env)

    def inline(name: str) -> str:
        return Path(out.pop(f"{name}_FILE")).read_text(encoding="utf-8").strip()

    if "VCENTER_HOST" in out:
        host, port, protocol = out.pop("VCENTER_HOST"), out.pop("VCENTER_PORT"), out.pop("VCENTER_PROTOCOL")
        out["GOVC_URL"] = f"{protocol}://{host}:{port}/sdk"
    renames = {
        "VCENTER_USERNAME": "GOVC_USERNAME",
        "WEBHOOK_BASE_URL": "BACKEND_API_URL",
        "JENKINS_USER": "JENKINS_WEB_USER",
        "SSH_USER": "DEFAULT_SSH_USER",
        "SSH_KEY_FILE": "DEFAULT_SSH_KEY",
        "HTTP_PORT": "VM_AUTOSCALING_BACKEND_PORT",
    }
    for new, old in renames.items():
        if new in out:
            out[old] = out.pop(new)
    if "VCENTER_PASSWORD_FILE" in out:
        out["GOVC_PASSWORD"] = inline("VCENTER_PASSWORD")
    if "JENKINS_TOKEN_FILE" in out:
        out["JENKINS_API_TOKEN"] = inline("JENKINS_TOKEN")
    if "F5_DEVICES" in out:
        out["F5_SERVERS"] = ",".join(json.loads(out.pop("F5_DEVICES")))
    return out
