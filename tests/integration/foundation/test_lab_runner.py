"""`lab up` then `lab down` leaves no process and no open port behind."""

from __future__ import annotations

import os
import sys
from pathlib import Path

import pytest

from lab.runner import Lab, Part
from shared.embedded import free_port, port_open


def http_part(name: str, port: int) -> Part:
    return Part(
        name=name,
        command=lambda directory: [sys.executable, "-m", "http.server", str(port), "--bind", "127.0.0.1"],
        ready_port=port,
    )


def alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    stat = Path(f"/proc/{pid}/stat")
    return stat.exists() and stat.read_text().split()[2] != "Z"


def test_lab_up_then_down_leaves_no_process_and_no_port(tmp_path: Path) -> None:
    ports = [free_port(), free_port()]
    lab = Lab(tmp_path, [http_part("web-a", ports[0]), http_part("web-b", ports[1])])
    started = lab.up()
    assert set(started) == {"web-a", "web-b"}
    assert all(port_open("127.0.0.1", port) for port in ports)
    assert all(status.ready for status in lab.status())

    lab.down()
    assert not any(alive(pid) for pid in started.values())
    assert not any(port_open("127.0.0.1", port) for port in ports)
    assert not any(status.running for status in lab.status())


def test_lab_up_is_idempotent_and_reuses_the_running_part(tmp_path: Path) -> None:
    lab = Lab(tmp_path, [http_part("web", free_port())])
    first = lab.up()
    try:
        assert lab.up() == first
    finally:
        lab.down()


def test_a_part_that_dies_at_start_fails_with_its_log_and_nothing_is_left(tmp_path: Path) -> None:
    port = free_port()
    good = http_part("good", port)
    bad = Part(
        name="bad",
        command=lambda directory: [sys.executable, "-c", "raise SystemExit('boom at start')"],
        ready_port=free_port(),
    )
    lab = Lab(tmp_path, [good, bad])
    with pytest.raises(RuntimeError, match="boom at start"):
        lab.up()
    assert not port_open("127.0.0.1", port)


def test_a_part_may_only_bind_loopback() -> None:
    with pytest.raises(ValueError, match="loopback"):
        Part(name="x", command=lambda directory: ["true"], host="0.0.0.0")


def test_stopping_a_part_also_ends_what_its_clients_started_in_the_lab_tree(tmp_path: Path) -> None:
    import shutil
    import subprocess

    from lab.runner import stop_processes_under

    root = tmp_path / "vm-root"
    (root / "bin").mkdir(parents=True)
    sleeper = root / "bin" / "sleep"
    shutil.copy("/bin/sleep", sleeper)
    stray = subprocess.Popen([str(sleeper), "300"], start_new_session=True)
    outside = subprocess.Popen(["/bin/sleep", "300"], start_new_session=True)
    try:
        port = free_port()
        part = Part(
            name="sshd-like",
            command=lambda directory: [sys.executable, "-m", "http.server", str(port), "--bind", "127.0.0.1"],
            ready_port=port,
            cleanup=lambda directory: stop_processes_under(root),
        )
        lab = Lab(tmp_path / "lab", [part])
        lab.up()
        lab.down()
        stray.wait(timeout=10)
        assert stray.returncode is not None
        assert outside.poll() is None, "a process outside the lab tree is never touched"
    finally:
        for process in (stray, outside):
            if process.poll() is None:
                process.kill()
                process.wait()
