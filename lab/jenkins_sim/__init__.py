"""A protocol-faithful Jenkins simulator for the lab and the tests (remote-access API only)."""

from __future__ import annotations

from pathlib import Path

from lab.jenkins_sim.model import JenkinsState, Job, User

__all__ = ["JenkinsState", "Job", "User", "load_users"]


def load_users(path: Path) -> dict[str, User]:
    """Users from ``user:password:token[,token]`` lines."""
    users: dict[str, User] = {}
    for line in path.read_text().splitlines():
        if not line.strip():
            continue
        name, password, tokens = line.strip().split(":", 2)
        users[name] = User(name=name, password=password, tokens=frozenset(filter(None, tokens.split(","))))
    return users
