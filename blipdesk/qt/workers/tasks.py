"""File work the GUI starts and must not wait for: sidecar plans and writes, exports, copies,
clearing caches.

``BackgroundTasks`` runs one plain function at a time in its own ``QThreadPool`` thread (one at a
time: two sidecar writes never race each other) and delivers the return value through a signal
with the request id, so a dialog closed meanwhile simply ignores a late answer. The functions at
the bottom are Qt-free: they take frozen snapshots (paths, tag names, settings values) and call
the library modules (``blipdesk.sidecars``, ``blipdesk.exporting``, the CLI's export format).
"""

from __future__ import annotations

import json
import logging
import os
import threading
import traceback
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass

from PySide6.QtCore import QObject, QRunnable, QThreadPool, Signal

from blipdesk.errors import UserError

log = logging.getLogger(__name__)


class _Relay(QObject):
    done = Signal(int, object)  # request id, return value
    failed = Signal(int, str, bool, str)  # request id, message, is a UserError, details
    progress = Signal(int, int, int)  # request id, done, total


class _Task(QRunnable):
    def __init__(self, relay: _Relay, request: int, fn: Callable, args: tuple, kwargs: dict):
        super().__init__()
        self.relay, self.request, self.fn, self.args, self.kwargs = (
            relay,
            request,
            fn,
            args,
            kwargs,
        )

    def run(self) -> None:
        try:
            result = self.fn(*self.args, **self.kwargs)
        except UserError as exc:
            self.relay.failed.emit(self.request, str(exc), True, "")
            return
        except Exception as exc:
            log.exception("background task %s failed", getattr(self.fn, "__name__", self.fn))
            self.relay.failed.emit(
                self.request, f"{type(exc).__name__}: {exc}", False, traceback.format_exc()
            )
            return
        self.relay.done.emit(self.request, result)


class BackgroundTasks(QObject):
    """Runs functions off the GUI thread, in order; answers carry the request id."""

    done = Signal(int, object)
    failed = Signal(int, str, bool, str)
    progress = Signal(int, int, int)

    def __init__(self, parent: QObject | None = None) -> None:
        super().__init__(parent)
        self.pool = QThreadPool(self)
        self.pool.setMaxThreadCount(1)
        self._relay = _Relay(self)
        self._relay.done.connect(self.done)
        self._relay.failed.connect(self.failed)
        self._relay.progress.connect(self.progress)
        self._request = 0
        self.cancel = threading.Event()  # set on shutdown; long tasks check it between files

    def start(self, fn: Callable, *args, with_progress: bool = False, **kwargs) -> int:
        """Run ``fn(*args, **kwargs)``; with ``with_progress`` it also gets ``progress(done,
        total)`` and ``cancel`` keyword arguments. Returns the request id."""
        self._request += 1
        request = self._request
        if with_progress:
            relay = self._relay

            def progress(done: int, total: int) -> None:
                relay.progress.emit(request, done, total)

            kwargs = {**kwargs, "progress": progress, "cancel": self.cancel}
        self.pool.start(_Task(self._relay, request, fn, args, kwargs))
        return request

    def shutdown(self) -> None:
        self.cancel.set()
        self.pool.clear()
        self.pool.waitForDone(10000)


# ----------------------------------------------------------------------------- Qt-free jobs


def plan_write(photo_tags: Mapping[str, Sequence[str]], naming: str) -> list:
    """Plans (or their errors) for writing each photo's matched tags into its sidecar."""
    from blipdesk import sidecars

    return sidecars.plan_sidecars(dict(photo_tags), naming)


def plan_remove(folders: Sequence[str], recursive: bool) -> list:
    """Plans for taking blipdesk's keywords out of every sidecar under ``folders``."""
    from blipdesk import sidecars

    return sidecars.plan_removal_under(folders, recursive)


def apply_sidecar_plans(plans: Iterable):
    """Carry the previewed plans out; a sidecar changed since the preview is refused, not
    overwritten (see ``blipdesk.sidecars.apply``)."""
    from blipdesk import sidecars

    return sidecars.apply_plans(list(plans))


@dataclass(frozen=True)
class ExportSummary:
    target: str
    photos: int
    fmt: str


def export_results(
    database: str,
    model_source: str,
    folder: str,
    recursive: bool,
    paths: Sequence[str],
    fmt: str,
    target: str,
) -> ExportSummary:
    """Write the CLI's export document (JSON) or table (CSV) for ``paths`` to ``target``.

    The format is the CLI's own (``blipdesk.cli.export_document`` / ``export_csv``), narrowed to
    the chosen photos; scores come from the cache under the key the grid shows."""
    from pathlib import Path

    from blipdesk.cli import export_csv, export_document
    from blipdesk.qt.cache_reader import source_key
    from blipdesk.store import Library

    if not Path(database).is_file():
        raise UserError("Nothing is scored yet: scan the folder first.")
    model = source_key(model_source)
    with Library.open(database, readonly=True) as lib:
        key = lib.latest_score_key(model)
        if key is None:
            raise UserError("Nothing is scored yet with this model: scan the folder first.")
        doc = export_document(lib, key, model, [folder], recursive)
    wanted = set(paths)
    doc["photos"] = [p for p in doc["photos"] if p["path"] in wanted]
    text = (
        json.dumps(doc, indent=2, ensure_ascii=False) + "\n" if fmt == "json" else export_csv(doc)
    )
    tmp = f"{target}.tmp-{os.getpid()}"
    try:
        with open(tmp, "w", encoding="utf-8", newline="") as fh:
            fh.write(text)
        os.replace(tmp, target)
    except OSError as exc:
        with _quiet():
            os.unlink(tmp)
        raise UserError(f"Cannot write {target}: {exc.strerror or exc}") from None
    return ExportSummary(target, len(doc["photos"]), fmt)


def copy_photos(paths: Sequence[str], dest: str, mode: str, progress=None, cancel=None) -> list:
    from blipdesk.exporting import copy_or_link

    return copy_or_link(paths, dest, mode, progress=progress, cancel=cancel)


def clear_scores(database: str) -> int:
    """Forget the cached scores, image features and decode errors (``Library.clear_scores``);
    returns the bytes the cache gave back. Opens its own writer for the moment it runs: the
    window starts it only while no scan runs and holds scans back until it answers."""
    from pathlib import Path

    from blipdesk.store import Library, database_bytes

    if not Path(database).is_file():
        return 0
    before = database_bytes(database)
    with Library.open(database) as lib:
        lib.clear_scores()
    return max(0, before - database_bytes(database))


def remove_folder(folder: str) -> str:
    """Delete a cache folder (thumbnails; never on the GUI thread)."""
    import shutil

    shutil.rmtree(folder, ignore_errors=True)
    return folder


def clear_vision_cache(folder: str, database: str) -> str:
    """Delete the vision cache (gigabytes: never on the GUI thread) and forget its index. Opens
    its own writer for the moment it runs; the window starts it only while no scan runs."""
    from pathlib import Path

    from blipdesk.core.feature_cache import clear
    from blipdesk.store import Library

    if Path(database).is_file():
        with Library.open(database) as lib:
            clear(folder, lib)
    else:
        remove_folder(folder)
    return folder


def _quiet():
    import contextlib

    return contextlib.suppress(OSError)
