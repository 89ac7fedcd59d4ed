"""Service logs under ``vmscale run all``: each child's output rotated by size, a kept count.

A child writes its stdout and stderr into a pipe; a pump thread copies what comes into
``<name>.log`` and, once the file would grow past ``max_bytes``, rotates it:
``<name>.log`` → ``<name>.log.1`` → … → ``<name>.log.<keep>`` (the oldest is dropped). Everything a
child prints is kept, a traceback before its logging starts included. A line longer than
``max_bytes`` is written whole, never split across files.
"""

from __future__ import annotations

import contextlib
import os
import threading
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO

__all__ = ["RotatingLog", "pump"]


@dataclass
class RotatingLog:
    """An append-only file rotated by size (module docstring); thread-safe."""

    path: Path
    max_bytes: int = 10 * 1024 * 1024
    keep: int = 5
    _file: IO[bytes] | None = field(default=None, init=False, repr=False)
    _size: int = field(default=0, init=False, repr=False)
    _lock: threading.Lock = field(default_factory=threading.Lock, init=False, repr=False)

    def __post_init__(self) -> None:
        if self.max_bytes < 1 or self.keep < 0:
            raise ValueError("max_bytes must be positive and keep not negative")

    def _open(self) -> IO[bytes]:
        if self._file is None:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            self._file = self.path.open("ab")
            self._size = self._file.tell()
        return self._file

    def _rotate(self) -> None:
        if self._file is not None:
            self._file.close()
            self._file = None
        if self.keep == 0:
            self.path.unlink(missing_ok=True)
            return
        oldest = self.path.with_name(f"{self.path.name}.{self.keep}")
        oldest.unlink(missing_ok=True)
        for index in range(self.keep - 1, 0, -1):
            older = self.path.with_name(f"{self.path.name}.{index}")
            if older.exists():
                older.replace(self.path.with_name(f"{self.path.name}.{index + 1}"))
        if self.path.exists():
            self.path.replace(self.path.with_name(f"{self.path.name}.1"))

    def write(self, data: bytes) -> None:
        """Append ``data``, rotating first at a line boundary when the file would outgrow its size."""
        with self._lock:
            while data:
                out = self._open()
                room = self.max_bytes - self._size
                if len(data) <= room:
                    out.write(data)
                    self._size += len(data)
                    break
                cut = data.rfind(b"\n", 0, room) + 1  # what fits, up to a line's end
                if cut == 0 and self._size == 0:
                    cut = (data.find(b"\n") + 1) or len(data)  # one long line: whole, in a file of its own
                if cut:
                    out.write(data[:cut])
                    self._size += cut
                    data = data[cut:]
                out.flush()
                if data:
                    self._rotate()
            if self._file is not None:
                self._file.flush()

    def close(self) -> None:
        """Close the current file."""
        with self._lock:
            if self._file is not None:
                self._file.close()
                self._file = None


def pump(fd: int, log: RotatingLog) -> threading.Thread:
    """Copy everything read from ``fd`` (a child's output pipe) into ``log`` until end of file, in a
    daemon thread; the pipe is closed at the end."""

    def run() -> None:
        try:
            while chunk := os.read(fd, 65536):
                log.write(chunk)
        except OSError:
            pass  # the pipe went away with the child
        finally:
            with contextlib.suppress(OSError):
                os.close(fd)
            log.close()

    thread = threading.Thread(target=run, name=f"log-{log.path.name}", daemon=True)
    thread.start()
    return thread
