"""Taking the cache's write lock: who waits for whom on the database.

SQLite lets one connection write at a time (``BEGIN IMMEDIATE`` takes the lock up front). Every
write of blipdesk takes it here, so every writer waits the same way: SQLite's own busy wait for
``BUSY_TIMEOUT_S``, then, when another process still holds the lock, one line says so ("waiting
for another blipdesk process (PID ...) to finish writing") and the wait goes on as long as it
takes, in steps of ``WAIT_STEP_S`` so that Ctrl+C (``KeyboardInterrupt``) or a ``cancel`` event
(the window's Cancel) is seen between them. Nothing is dropped: the transaction that waited runs
once it has the lock.

The PID: a process that takes the lock writes its PID into ``<database>-writer`` beside the
database (only when the file names another process), so a waiting process can say whom it waits
for; a connection that wrote removes it when it closes (while it names this process). A process
that died released its lock with it; a PID that no longer runs (or a lock taken by another
program) is not named.
"""

from __future__ import annotations

import logging
import os
import sqlite3
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

log = logging.getLogger(__name__)

BUSY_TIMEOUT_S = 10.0  # SQLite's wait (every statement); a write waits on after it, and says so
WAIT_STEP_S = 0.25  # a write's wait runs in steps this long: a cancel is seen between them


class WriteCancelled(Exception):
    """The wait for another process's write lock was cancelled (the window's Cancel)."""


@dataclass
class Waiting:
    """How one connection waits for the lock: ``cancel`` ends the wait (``WriteCancelled``),
    ``say`` hears the waiting line (the log's warning always does: the CLI's stderr)."""

    cancel: threading.Event | None = None
    say: Callable[[str], None] | None = None
    said: set[int | None] = field(default_factory=set)  # the holders named so far: once each


def writer_file(database: Path) -> Path:
    return database.with_name(f"{database.name}-writer")


def busy(exc: sqlite3.OperationalError) -> bool:
    code = getattr(exc, "sqlite_errorcode", None)
    if code is not None:
        return code in (sqlite3.SQLITE_BUSY, sqlite3.SQLITE_LOCKED)
    return "locked" in str(exc) or "busy" in str(exc)


def begin_write(conn: sqlite3.Connection, database: Path, waiting: Waiting | None = None) -> None:
    """``BEGIN IMMEDIATE`` on ``conn``, waiting for another writer as long as it takes (see the
    module docstring). Raises ``WriteCancelled`` when ``waiting.cancel`` is set meanwhile."""
    waiting = waiting or Waiting()
    started = time.monotonic()
    step_ms = max(1, int(WAIT_STEP_S * 1000))
    conn.execute(f"PRAGMA busy_timeout={step_ms}")
    try:
        while True:
            try:
                conn.execute("BEGIN IMMEDIATE")
                break
            except sqlite3.OperationalError as exc:
                if not busy(exc):
                    raise
            if waiting.cancel is not None and waiting.cancel.is_set():
                raise WriteCancelled("the write was cancelled while another process wrote")
            if time.monotonic() - started >= BUSY_TIMEOUT_S:
                _say(database, waiting)
    finally:
        conn.execute(f"PRAGMA busy_timeout={int(BUSY_TIMEOUT_S * 1000)}")
    _mark_writer(database)


def _say(database: Path, waiting: Waiting) -> None:
    pid = holder(database)
    if pid in waiting.said:
        return
    waiting.said.add(pid)
    if pid is None:
        text = f"waiting for another process to finish writing to {database}"
    elif pid == os.getpid():
        text = "waiting for another write of this blipdesk process to finish"
    else:
        text = f"waiting for another blipdesk process (PID {pid}) to finish writing"
    log.warning("%s", text)
    if waiting.say is not None:
        waiting.say(text)


def holder(database: Path) -> int | None:
    """The PID of the blipdesk process that last took the write lock, while it runs (else None)."""
    try:
        pid = int(writer_file(database).read_text("ascii").strip())
    except (OSError, ValueError):
        return None
    if pid <= 0:
        return None
    if pid == os.getpid():
        return pid  # another connection of this process
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return None
    except (PermissionError, OSError):
        pass  # it runs under another user, or the platform cannot tell: name it
    return pid


def _mark_writer(database: Path) -> None:
    """Record this process as the writer (we hold the lock now): a small write, and only when the
    file names another process."""
    path = writer_file(database)
    mine = str(os.getpid())
    try:
        if path.read_text("ascii").strip() == mine:
            return
    except (OSError, ValueError):
        pass
    try:
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o644)
        try:
            os.write(fd, mine.encode("ascii"))
        finally:
            os.close(fd)
    except OSError:  # a read-only place, a full disk: the name is a courtesy, never a failure
        log.debug("cannot record the writer's PID in %s", path, exc_info=True)


def forget_writer(database: Path) -> None:
    """Remove the PID file while it names this process (a connection that wrote is closing)."""
    path = writer_file(database)
    try:
        if path.read_text("ascii").strip() == str(os.getpid()):
            path.unlink()
    except (OSError, ValueError):
        pass
