"""Two kinds of failure: the ones a person can fix, and bugs.

Library code raises; the shells decide how to show it. A ``UserError`` is shown as one clear
sentence (CLI: one line on stderr and exit code 1; GUI: a message in context). Anything else is a
bug: logged with its traceback and shown in a crash dialog.
"""

from __future__ import annotations

from pathlib import Path


class UserError(Exception):
    """Something the person can fix: offline without the model, a bad file, no CUDA, ..."""


class ModelError(UserError):
    """The model could not be loaded (missing, offline, corrupt, unsafe)."""


class DeviceError(UserError):
    """The requested device or precision cannot be used on this machine."""


class PhotoError(UserError):
    """One photo could not be read. The scan records ``reason`` and goes on. A ``transient``
    failure (not enough memory) says nothing about the file: it is tried again next time."""

    def __init__(self, path: str | Path, reason: str, transient: bool = False) -> None:
        self.path = str(path)
        self.reason = reason
        self.transient = transient
        super().__init__(f"{self.path}: {reason}")
