"""``vmscale run all`` keeps each service's log within a size, rotating a kept count of files,
and loses nothing a child prints (a traceback before its logging starts included)."""

from __future__ import annotations

import os
import subprocess
import sys
import time
from pathlib import Path

import pytest

from cli.logfiles import RotatingLog, pump
from cli.supervisor import Child


def files(path: Path) -> dict[str, bytes]:
    return {p.name: p.read_bytes() for p in sorted(path.parent.glob(path.name + "*"))}


def test_a_log_rotates_at_its_size_at_line_ends_and_keeps_only_its_count(tmp_path: Path) -> None:
    log = RotatingLog(tmp_path / "scaler.log", max_bytes=100, keep=2)
    lines = [f"line {i:03d} {'x' * 20}\n".encode() for i in range(30)]  # 30 lines of 30 bytes
    for line in lines:
        log.write(line)
    log.close()
    kept = files(tmp_path / "scaler.log")
    assert sorted(kept) == ["scaler.log", "scaler.log.1", "scaler.log.2"]
    assert all(len(body) <= 100 and body.endswith(b"\n") for body in kept.values())
    # the newest lines, in order, with no line split between files
    text = kept["scaler.log.2"] + kept["scaler.log.1"] + kept["scaler.log"]
    assert text == b"".join(lines)[-len(text) :]
    assert kept["scaler.log"].endswith(lines[-1])


def test_a_line_longer_than_the_size_is_kept_whole_in_a_file_of_its_own(tmp_path: Path) -> None:
    log = RotatingLog(tmp_path / "gw.log", max_bytes=50, keep=3)
    log.write(b"short\n")
    log.write(b"y" * 120 + b"\n")
    log.write(b"after\n")
    log.close()
    kept = files(tmp_path / "gw.log")
    assert kept == {"gw.log": b"after\n", "gw.log.1": b"y" * 120 + b"\n", "gw.log.2": b"short\n"}


def test_a_restarted_child_appends_to_its_log_and_the_size_counts_what_was_there(tmp_path: Path) -> None:
    path = tmp_path / "inventory.log"
    path.write_bytes(b"a" * 90 + b"\n")
    log = RotatingLog(path, max_bytes=100, keep=1)
    log.write(b"b" * 20 + b"\n")
    log.close()
    assert files(path) == {"inventory.log": b"b" * 20 + b"\n", "inventory.log.1": b"a" * 90 + b"\n"}


def test_a_bad_size_is_refused(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="positive"):
        RotatingLog(tmp_path / "x.log", max_bytes=0)


def wait_for(predicate: object, timeout: float = 20.0) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():  # type: ignore[operator]
            return
        time.sleep(0.05)
    raise AssertionError("not reached in time")


def test_everything_a_child_prints_reaches_its_rotated_logs(tmp_path: Path) -> None:
    script = "import sys\nfor i in range(200): print(f'event {i:04d}', flush=True)\nraise SystemExit('boom')\n"
    child = Child(
        name="scaler",
        argv=[sys.executable, "-c", script],
        env=dict(os.environ),
        log=tmp_path / "logs" / "scaler.log",
        log_max_bytes=1000,
        log_keep=10,
    )
    child.start()
    assert child.process is not None and child.process.wait(20) == 1
    expected = b"".join(f"event {i:04d}\n".encode() for i in range(200)) + b"boom\n"

    def complete() -> bool:
        kept = files(tmp_path / "logs" / "scaler.log")
        ordered = [
            kept[name] for name in sorted(kept, key=lambda n: -int(n.rsplit(".", 1)[-1]) if n[-1].isdigit() else 0)
        ]
        return b"".join(ordered) == expected

    wait_for(complete)
    assert all(p.stat().st_size <= 1000 for p in (tmp_path / "logs").iterdir())


def test_the_pump_ends_with_the_pipe(tmp_path: Path) -> None:
    read_end, write_end = os.pipe()
    writer = subprocess.Popen([sys.executable, "-c", "print('hello')"], stdout=write_end)
    os.close(write_end)
    thread = pump(read_end, RotatingLog(tmp_path / "p.log"))
    writer.wait(20)
    thread.join(20)
    assert not thread.is_alive() and (tmp_path / "p.log").read_bytes() == b"hello\n"
