"""Copy or link photos into a folder, for "export the photos with this tag" in the GUI and CLI.

Nothing is ever overwritten: a name that is taken becomes ``photo (2).jpg``, ``photo (3).jpg``,
and the name is claimed atomically (``O_EXCL`` for a copy, ``symlink`` failing on an existing
name), so two exports into one folder at once cannot clobber each other either. Sources are only
read. One photo that cannot be exported is reported with its reason and the rest go on.
"""

from __future__ import annotations

import enum
import os
import shutil
import threading
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from pathlib import Path

from blipdesk.infra.errors import UserError

MAX_NAME_TRIES = 10_000


class ExportMode(enum.Enum):
    COPY = "copy"
    SYMLINK = "symlink"


@dataclass(frozen=True)
class ExportResult:
    """One photo: where it went (``target``), or why it did not (``error``)."""

    source: Path
    target: Path | None
    error: str | None = None

    @property
    def ok(self) -> bool:
        return self.error is None


def candidate_names(name: str) -> Iterable[str]:
    """``photo.jpg``, ``photo (2).jpg``, ``photo (3).jpg``, ..."""
    path = Path(name)
    yield name
    for n in range(2, MAX_NAME_TRIES + 1):
        yield f"{path.stem} ({n}){path.suffix}"


def _copy_exclusive(source: Path, target: Path) -> None:
    flags = os.O_WRONLY | os.O_CREAT | os.O_EXCL | getattr(os, "O_BINARY", 0)
    with open(source, "rb") as src:
        fd = os.open(target, flags, 0o666)
        try:
            with os.fdopen(fd, "wb") as dst:
                shutil.copyfileobj(src, dst, 1024 * 1024)
        except BaseException:
            target.unlink(missing_ok=True)
            raise
    shutil.copystat(source, target)


def export_one(source: Path, dest_folder: Path, mode: ExportMode) -> Path:
    """Copy or link ``source`` into ``dest_folder`` under the first free name; returns it."""
    if not source.is_file():
        raise FileNotFoundError(f"{source}: not found")
    for name in candidate_names(source.name):
        target = dest_folder / name
        try:
            if mode is ExportMode.SYMLINK:
                os.symlink(source.resolve(), target)
            else:
                _copy_exclusive(source, target)
        except FileExistsError:
            continue
        return target
    raise FileExistsError(f"{dest_folder}: no free name for {source.name}")


def copy_or_link(
    paths: Iterable[str | os.PathLike[str]],
    dest_folder: str | os.PathLike[str],
    mode: str | ExportMode = "copy",
    *,
    progress: Callable[[int, int], None] | None = None,
    cancel: threading.Event | None = None,
) -> list[ExportResult]:
    """Copy (or symlink) each photo into ``dest_folder``, which is created if missing.

    ``progress(done, total)`` is called after each photo; setting ``cancel`` stops before the next
    one. A photo that fails (missing, unreadable, no symlinks on this file system) is an
    ``ExportResult`` with ``error`` set; the others go on.
    """
    try:
        mode = ExportMode(mode)
    except ValueError:
        raise UserError(f"unknown export mode {mode!r}: use 'copy' or 'symlink'") from None
    dest = Path(dest_folder)
    try:
        dest.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise UserError(f"{dest}: cannot create the folder ({exc.strerror})") from None
    if not dest.is_dir():
        raise UserError(f"{dest}: not a folder")
    sources = [Path(p) for p in paths]
    results: list[ExportResult] = []
    for done, source in enumerate(sources, start=1):
        if cancel is not None and cancel.is_set():
            break
        try:
            results.append(ExportResult(source, export_one(source, dest, mode)))
        except (OSError, NotImplementedError) as exc:
            reason = getattr(exc, "strerror", None) or str(exc)
            if mode is ExportMode.SYMLINK and not isinstance(exc, FileNotFoundError):
                reason = f"cannot create a symbolic link here ({reason})"
            results.append(ExportResult(source, None, reason))
        if progress is not None:
            progress(done, len(sources))
    return results
