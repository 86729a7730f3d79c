"""Another blipdesk process holding the cache's write lock: a subprocess that opens the library,
takes the lock through the store (so it records its PID as every blipdesk writer does), says
"held" on stdout and keeps the lock for ``seconds`` before it commits and exits."""

from __future__ import annotations

import logging
import subprocess
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest

from blipdesk.store import write_lock

_HOLDER = """
import sys, time
from blipdesk.store import Library
lib = Library.open(sys.argv[1])
with lib.transaction():
    lib.conn.execute("SELECT 1").fetchone()
    print("held", flush=True)
    sys.stdin.readline() if sys.argv[2] == "stdin" else time.sleep(float(sys.argv[2]))
lib.close()
"""


@contextmanager
def other_writer(database: Path, seconds: float | str) -> Iterator[subprocess.Popen[str]]:
    """Yields once the other process holds the lock; ``seconds="stdin"`` holds it until the test
    writes a line to the process's stdin. The process is waited for (or killed) on the way out."""
    root = Path(__file__).resolve().parents[2]
    process = subprocess.Popen(
        [sys.executable, "-c", _HOLDER, str(database), str(seconds)],
        cwd=root,
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        assert process.stdout is not None
        assert process.stdout.readline().strip() == "held"
        yield process
        process.wait(60)
    finally:
        if process.poll() is None:
            process.kill()
            process.wait()
        for pipe in (process.stdin, process.stdout):
            if pipe is not None:
                pipe.close()


class Release(logging.Handler):
    """Lets the other process go (a line on its stdin) when a waiting line is logged; keeps the
    lines, so a test can count them."""

    def __init__(self) -> None:
        super().__init__(logging.WARNING)
        self.lines: list[str] = []
        self.process: subprocess.Popen[str] | None = None

    def emit(self, record: logging.LogRecord) -> None:
        self.lines.append(record.getMessage())
        if self.process is not None and self.process.stdin is not None:
            self.process.stdin.write("go\n")
            self.process.stdin.flush()


@contextmanager
def released_when_waiting() -> Iterator[Release]:
    """A ``Release`` listening to the store's waiting lines inside the block."""
    handler = Release()
    logger = logging.getLogger(write_lock.__name__)
    logger.addHandler(handler)
    try:
        yield handler
    finally:
        logger.removeHandler(handler)


@pytest.fixture
def short_lock_timeout(monkeypatch: pytest.MonkeyPatch) -> None:
    """SQLite's busy wait shortened to 0.2 s (its steps to 0.05 s): a lock held "longer than
    the timeout" without a slow test."""
    monkeypatch.setattr(write_lock, "BUSY_TIMEOUT_S", 0.2)
    monkeypatch.setattr(write_lock, "WAIT_STEP_S", 0.05)
