"""One logging setup for the window and the command line.

Both write to ``blipdesk.log`` in the data folder through a ``RotatingFileHandler`` (1 MB, three
old files kept), so a long-running window or years of scripted scans never grow it without bound.
The file is opened lazily and a log that cannot be written (a read-only data folder, a full disk)
never breaks the command that logs: the record is dropped.

On stderr the command line keeps what Python shows without any setup (warnings and errors, the
message only, no traceback); ``-v`` adds INFO and ``-vv`` DEBUG, with levels, names and
tracebacks. Qt-free and cheap to import: the CLI sets it up before anything heavy loads.
"""

from __future__ import annotations

import logging
import sys
from logging.handlers import RotatingFileHandler
from pathlib import Path
from typing import Any

FILE_FORMAT = "%(asctime)s %(levelname)s %(threadName)s %(name)s: %(message)s"
VERBOSE_FORMAT = "blipdesk: %(levelname)s %(name)s: %(message)s"
MAX_BYTES = 1_000_000
BACKUP_COUNT = 3
# ``log.exception(..., extra={FILE_ONLY: True})``: into the file (and -v's stderr), not plain stderr.
FILE_ONLY = "blipdesk_file_only"

_installed: list[logging.Handler] = []


class _LogFile(RotatingFileHandler):
    """Drops a record it cannot write instead of printing logging's own traceback to stderr."""

    def handleError(self, record: logging.LogRecord) -> None:
        if isinstance(sys.exc_info()[1], OSError):
            return
        super().handleError(record)


class _Stderr(logging.StreamHandler[Any]):
    """Writes to whatever ``sys.stderr`` is when a record comes (like Python's own fallback), so a
    replaced or closed stream (a test's capture, a windowed app's None) is never kept."""

    def __init__(self) -> None:
        super().__init__(sys.stderr)

    @property
    def stream(self) -> Any:
        return sys.stderr

    @stream.setter
    def stream(self, _value: object) -> None:
        pass


class _MessageOnly(logging.Formatter):
    """The message alone, like Python's fallback handler: no traceback, no stack."""

    def format(self, record: logging.LogRecord) -> str:
        return record.getMessage()


def verbosity_level(verbose: int) -> int:
    """stderr's level for ``-v`` counted: 0 warnings, 1 info, 2 or more debug."""
    if verbose <= 0:
        return logging.WARNING
    return logging.INFO if verbose == 1 else logging.DEBUG


def setup_logging(
    log_file: Path | None,
    *,
    stderr_level: int | None = None,
    verbose: bool = False,
) -> None:
    """Route the root logger to ``log_file`` (INFO and up, rotated) and, when ``stderr_level`` is
    given, to stderr (``verbose``: levels, names and tracebacks; else the message only).

    Calling it again replaces what an earlier call installed (tests, a second ``main``)."""
    remove_handlers()
    root = logging.getLogger()
    levels = []
    if log_file is not None:
        file_handler = _LogFile(
            log_file, maxBytes=MAX_BYTES, backupCount=BACKUP_COUNT, encoding="utf-8", delay=True
        )
        file_handler.setFormatter(logging.Formatter(FILE_FORMAT))
        file_handler.setLevel(logging.INFO)
        _installed.append(file_handler)
        levels.append(logging.INFO)
    if stderr_level is not None:
        stream = _Stderr()
        stream.setFormatter(logging.Formatter(VERBOSE_FORMAT) if verbose else _MessageOnly())
        stream.setLevel(stderr_level)
        if not verbose:  # the command says it in its own words; the traceback is for the file
            stream.addFilter(lambda record: not getattr(record, FILE_ONLY, False))
        _installed.append(stream)
        levels.append(stderr_level)
    for handler in _installed:
        root.addHandler(handler)
    root.setLevel(min(levels, default=logging.WARNING))


def remove_handlers() -> None:
    """Take away (and close) what ``setup_logging`` installed."""
    root = logging.getLogger()
    for handler in _installed:
        root.removeHandler(handler)
        handler.close()
    _installed.clear()


def log_file_written() -> Path | None:
    """The log file the installed handler has written to, if any (to point a person at it)."""
    for handler in _installed:
        if isinstance(handler, _LogFile):
            path = Path(handler.baseFilename)
            if handler.stream is not None and path.is_file():
                return path
    return None
