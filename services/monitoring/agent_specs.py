"""What each agent is on a VM: binary, arguments, rendered config files (pure, no IO).

One renderer per tool serves install and update alike (lesson 18), and every file is rendered
here and transferred whole — never assembled in shell strings (lesson 41). Paths live under a
``prefix`` (``/`` on real VMs; a scratch directory in the lab, where the "VM" is this host).
"""

from __future__ import annotations

import shlex
from dataclasses import dataclass, field
from pathlib import PurePosixPath

import yaml

__all__ = ["AgentSpec", "jmx_exporter_spec", "node_exporter_spec", "promtail_spec", "supervisor_script", "systemd_unit"]


@dataclass(frozen=True)
class AgentSpec:
    """One agent as installed on a VM."""

    name: str
    port: int
    prefix: PurePosixPath = field(default_factory=lambda: PurePosixPath("/"))
    args: tuple[str, ...] = ()
    files: dict[str, bytes] = field(default_factory=dict)
    """Config files: path relative to ``config_dir`` → content."""
    user: str = "nobody"
    command: tuple[str, ...] | None = None
    """argv to run instead of the binary itself (the JMX exporter runs under java)."""
    install_path: str = ""
    """Where the binary goes when not ``/usr/local/bin/<name>`` (the JMX exporter's jar)."""

    def _under(self, path: str) -> PurePosixPath:
        return self.prefix / path.lstrip("/")

    @property
    def binary(self) -> PurePosixPath:
        """Where the binary (or jar) goes."""
        return self._under(self.install_path or f"/usr/local/bin/{self.name}")

    @property
    def config_dir(self) -> PurePosixPath:
        """Where the rendered config files go."""
        return self._under(f"/etc/{self.name}")

    @property
    def unit_path(self) -> PurePosixPath:
        """The systemd unit (when systemd runs)."""
        return self._under(f"/etc/systemd/system/{self.name}.service")

    @property
    def state_dir(self) -> PurePosixPath:
        """Supervisor script, pid files and log (when systemd does not run)."""
        return self._under(f"/var/lib/vmscale/{self.name}")

    def argv(self) -> list[str]:
        """The process's argv."""
        return [*(self.command or (str(self.binary),)), *self.args]


def _exec_line(argv: list[str]) -> str:
    """argv for ``ExecStart=``: quoted once, with systemd's ``%`` specifiers and ``$`` variables
    escaped so that every argument reaches the program as written."""
    return shlex.join(argv).replace("%", "%%").replace("$", "$$")


def systemd_unit(spec: AgentSpec) -> bytes:
    """The systemd unit (the original's, with the argv quoted once)."""
    return (
        "[Unit]\n"
        f"Description={spec.name} (installed by vmscale)\n"
        "After=network-online.target\n\n"
        "[Service]\n"
        "Type=simple\n"
        f"User={spec.user}\n"
        f"ExecStart={_exec_line(spec.argv())}\n"
        "Restart=always\n"
        "RestartSec=5\n\n"
        "[Install]\n"
        "WantedBy=multi-user.target\n"
    ).encode()


def supervisor_script(spec: AgentSpec) -> bytes:
    """A POSIX sh supervisor for hosts without systemd: restarts the agent when it exits."""
    state = spec.state_dir
    return (
        "#!/bin/sh\n"
        f"# {spec.name} supervised by vmscale (no systemd on this host)\n"
        f"exec >>{shlex.quote(str(state / 'log'))} 2>&1 </dev/null\n"
        f"echo $$ > {shlex.quote(str(state / 'supervisor.pid'))}\n"
        "child=''\n"
        'trap \'test -n "$child" && kill "$child" 2>/dev/null && wait "$child"; exit 0\' TERM INT\n'
        "while true; do\n"
        f"  {shlex.join(spec.argv())} &\n"
        "  child=$!\n"
        f"  echo $child > {shlex.quote(str(state / 'agent.pid'))}\n"
        "  wait $child\n"
        "  sleep 1\n"
        "done\n"
    ).encode()


def node_exporter_spec(prefix: PurePosixPath, *, listen_host: str = "", port: int = 9100) -> AgentSpec:
    """Node Exporter on ``listen_host:port`` (all addresses when ``listen_host`` is empty)."""
    return AgentSpec(
        name="node_exporter", port=port, prefix=prefix, args=(f"--web.listen-address={listen_host}:{port}",)
    )


SENSITIVE_LOGS: dict[str, list[str]] = {
    "auth": ["/var/log/auth.log", "/var/log/secure"],
    "shell_history": ["/home/*/.bash_history", "/root/.bash_history", "/home/*/.zsh_history"],
}
"""Logs that carry what people typed (passwords pasted on a command line, sudo attempts): shipped
to Loki only when ``sensitive`` is asked for (the ``promtail_sensitive_logs`` setting)."""


def promtail_spec(
    prefix: PurePosixPath, *, hostname: str, loki_url: str, port: int = 9080, sensitive: bool = False
) -> AgentSpec:
    """Promtail shipping the original's log set, labelled with the VM's own ``hostname``; the
    ``SENSITIVE_LOGS`` (auth log, shell history) only with ``sensitive``."""
    labels = {"hostname": hostname, "instance": hostname}
    jobs = {
        "system": ["/var/log/syslog", "/var/log/messages"],
        "login_history": ["/var/log/login_history.log"],
        "cron": ["/var/log/cron"],
        "web_server": ["/var/log/nginx/*.log", "/var/log/apache2/*.log", "/var/log/httpd/*.log"],
        "system_logs": ["/var/log/kern.log", "/var/log/daemon.log", "/var/log/dpkg.log", "/var/log/apt/*.log"],
    }
    if sensitive:
        jobs |= SENSITIVE_LOGS
    config = {
        "server": {"http_listen_port": port, "grpc_listen_port": 0},
        "positions": {"filename": str(prefix / "var/lib/vmscale/promtail/positions.yaml")},
        "clients": [{"url": loki_url}],
        "scrape_configs": [
            {
                "job_name": job,
                "static_configs": [
                    {"targets": ["localhost"], "labels": {"job": job, "log_type": job, "__path__": path, **labels}}
                    for path in paths
                ],
            }
            for job, paths in jobs.items()
        ],
    }
    spec = AgentSpec(name="promtail", port=port, prefix=prefix, user="root")
    files = {"config.yml": yaml.safe_dump(config, sort_keys=False).encode()}
    return AgentSpec(
        name=spec.name,
        port=port,
        prefix=prefix,
        user="root",
        args=(f"-config.file={spec.config_dir / 'config.yml'}",),
        files=files,
    )


def jmx_exporter_spec(
    prefix: PurePosixPath,
    *,
    port: int = 9404,
    jmx_port: int = 9999,
    jmx_host: str = "127.0.0.1",
    listen_host: str = "",
    java: str = "/usr/bin/java",
) -> AgentSpec:
    """The JMX exporter's standalone HTTP server: serves ``/metrics`` on ``listen_host:port``
    (its own, configurable port) and reads the Java service's remote JMX at ``jmx_host:jmx_port``.

    Fixes the original, which passed the JMX port as the listen port and named no JMX target:
    here the listen address is the exporter's and ``hostPort`` in the config is the service's.
    The jar lives in ``/opt/jmx_exporter`` as the original's did.
    """
    jar = "/opt/jmx_exporter/jmx_prometheus_httpserver.jar"
    config_dir = prefix / "etc/jmx_exporter"
    config = {"hostPort": f"{jmx_host}:{jmx_port}", "lowercaseOutputName": False, "rules": [{"pattern": ".*"}]}
    listen = f"{listen_host}:{port}" if listen_host else str(port)
    return AgentSpec(
        name="jmx_exporter",
        port=port,
        prefix=prefix,
        files={"config.yml": yaml.safe_dump(config, sort_keys=False).encode()},
        install_path=jar,
        command=(java, "-jar", str(prefix / jar.lstrip("/"))),
        args=(listen, str(config_dir / "config.yml")),
    )
