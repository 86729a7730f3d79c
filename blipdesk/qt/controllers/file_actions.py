"""The window's file actions: export, copy and link photos, write or remove sidecar tags, clear the
caches. Each runs off the GUI thread in ``BackgroundTasks`` and is known by a typed
``FileRequest`` until its answer comes back; the work itself is Qt-free (``blipdesk.services.export``,
``blipdesk.services.copying``, ``blipdesk.services.jobs``).

The window wires the signals: ``message`` for its status bar, ``clearingChanged`` for the Settings
dialog's buttons, ``scoresCleared`` to reload what it shows.
"""

from __future__ import annotations

import enum
import os
from collections.abc import Sequence
from dataclasses import dataclass

from PySide6.QtCore import QObject, Signal
from PySide6.QtWidgets import QFileDialog, QMessageBox, QWidget

from blipdesk.infra.paths import Paths
from blipdesk.qt.common.values import PRESS_SCAN, Photo
from blipdesk.qt.widgets.dialogs import CrashDialog
from blipdesk.qt.widgets.sidecar_dialog import SidecarDialog
from blipdesk.qt.workers.tasks import BackgroundTasks
from blipdesk.services.copying import copy_or_link
from blipdesk.services.export import export_photos
from blipdesk.services.jobs import clear_scores, clear_vision_cache
from blipdesk.services.options import model_choice
from blipdesk.services.settings import Settings


class FileTask(enum.Enum):
    EXPORT = "Export"
    COPY = "Copy"
    LINK = "Link"
    CLEAR_SCORES = "Clear scores"
    CLEAR_FEATURES = "Clear vision cache"


CLEARS = {FileTask.CLEAR_SCORES: "scores", FileTask.CLEAR_FEATURES: "features"}
COPY_MODES = {FileTask.COPY: "copy", FileTask.LINK: "symlink"}


@dataclass(frozen=True)
class FileRequest:
    """What a running background request is, for its answer."""

    task: FileTask
    photos: int = 0


Scope = tuple[str, Sequence[Photo]]  # (label for people, the photos)


class FileActions(QObject):
    message = Signal(str, int)  # status-bar text, milliseconds to show it (0: until replaced)
    clearingChanged = Signal(str, bool)  # "scores" | "features", being cleared now
    scoresCleared = Signal()

    def __init__(self, tasks: BackgroundTasks, paths: Paths, window: QWidget) -> None:
        super().__init__(window)
        self.tasks, self.paths, self.window = tasks, paths, window
        self.requests: dict[int, FileRequest] = {}
        self.clearing: set[str] = set()  # "scores", "features": cleared off the GUI thread now
        self.sidecar_dialog: SidecarDialog | None = None
        tasks.done.connect(self._done)
        tasks.failed.connect(self._failed)
        tasks.progress.connect(self._progress)

    # ----------------------------------------------------------------- export, copy, link

    def export(
        self,
        folder: str | None,
        scope: Scope,
        settings: Settings,
        target: str | None = None,
        fmt: str | None = None,
    ) -> int | None:
        """Export ``scope`` as CSV or JSON, in the CLI's format (``blipdesk.services.export``)."""
        if not self._has_folder(folder, "Export"):
            return None
        assert folder is not None  # _has_folder said so
        label, photos = scope
        if target is None:
            name = os.path.basename(folder) or "blipdesk"
            target, chosen = QFileDialog.getSaveFileName(
                self.window,
                f"Export tags and scores: {label}",
                os.path.join(os.path.expanduser("~"), f"{name}-tags.csv"),
                "CSV table (*.csv);;JSON document (*.json)",
            )
            if not target:
                return None
            fmt = fmt or ("json" if "json" in chosen.lower() else "csv")
        fmt = fmt or ("json" if target.lower().endswith(".json") else "csv")
        request = self.tasks.start(
            export_photos, str(self.paths.database), model_choice(settings), folder, settings.recursive,
            [p.path for p in photos], fmt, target, protect=[str(self.paths.data_dir)],
        )  # fmt: skip
        self.message.emit(f"Exporting {len(photos)} photos…", 0)
        return self._started(request, FileTask.EXPORT, len(photos))

    def copy(
        self, folder: str | None, scope: Scope, task: FileTask, dest: str | None = None
    ) -> int | None:
        """Copy (``FileTask.COPY``) or symlink (``FileTask.LINK``) ``scope`` into a folder."""
        if not self._has_folder(folder, task.value):
            return None
        label, photos = scope
        if dest is None:
            dest = QFileDialog.getExistingDirectory(
                self.window, f"{task.value} {label.lower()} into…"
            )
            if not dest:
                return None
        paths = [p.path for p in photos]
        request = self.tasks.start(copy_or_link, paths, dest, COPY_MODES[task], with_progress=True)
        return self._started(request, task, len(photos))

    # ----------------------------------------------------------------- sidecars

    def write_sidecars(
        self, folder: str | None, scopes: list[tuple[str, dict[str, list[str]]]]
    ) -> SidecarDialog | None:
        """Preview, then write each scope's matched tags (``scopes``: label, path -> tags)."""
        if not self._has_folder(folder, "Sidecars"):
            return None
        assert folder is not None  # _has_folder said so
        return self._open(SidecarDialog(self.tasks, "write", scopes, (folder,), parent=self.window))

    def remove_sidecar_tags(self, folder: str | None, recursive: bool) -> SidecarDialog | None:
        if not self._has_folder(folder, "Sidecars"):
            return None
        assert folder is not None  # _has_folder said so
        dialog = SidecarDialog(
            self.tasks, "remove", folders=(folder,), recursive=recursive, parent=self.window
        )
        return self._open(dialog)

    def _open(self, dialog: SidecarDialog) -> SidecarDialog:
        if self.sidecar_dialog is not None:
            self.sidecar_dialog.reject()
        self.sidecar_dialog = dialog
        dialog.applied.connect(
            lambda run: self.message.emit(
                f"Sidecars: {len(run.changed)} changed, {len(run.failed)} failed", 8000
            )
        )
        dialog.finished.connect(lambda _r: self._sidecar_dialog_closed(dialog))
        dialog.open()
        return dialog

    def _sidecar_dialog_closed(self, dialog: SidecarDialog) -> None:
        if self.sidecar_dialog is dialog:
            self.sidecar_dialog = None
        dialog.deleteLater()

    # ----------------------------------------------------------------- caches

    def clear_scores(self) -> int | None:
        """Forget every cached score. The window asks only while no scan runs (its writer would
        race this one), and holds scans back while ``clearing``."""
        if "scores" in self.clearing:
            return None
        request = self.tasks.start(clear_scores, str(self.paths.database))
        return self._started(request, FileTask.CLEAR_SCORES)

    def clear_features(self) -> int | None:
        if "features" in self.clearing:
            return None
        request = self.tasks.start(
            clear_vision_cache, str(self.paths.features_dir), str(self.paths.database)
        )
        return self._started(request, FileTask.CLEAR_FEATURES)

    def _cleared(self, task: FileTask, failed: bool) -> None:
        what = CLEARS[task]
        self.clearing.discard(what)
        self.clearingChanged.emit(what, False)
        if what == "scores":
            self.scoresCleared.emit()
        if not failed:
            done = f"Scores cleared: {PRESS_SCAN} to score again." if what == "scores" else None
            self.message.emit(done or "Vision cache cleared.", 8000)

    # ----------------------------------------------------------------- answers

    def _started(self, request: int, task: FileTask, photos: int = 0) -> int:
        self.requests[request] = FileRequest(task, photos)
        if task in CLEARS:
            self.clearing.add(CLEARS[task])
            self.clearingChanged.emit(CLEARS[task], True)
            self.message.emit("Clearing the cache…", 0)
        return request

    def _progress(self, request: int, done: int, total: int) -> None:
        asked = self.requests.get(request)
        if asked is not None and asked.task in COPY_MODES:
            verb = "Copying" if asked.task is FileTask.COPY else "Linking"
            self.message.emit(f"{verb} {done} / {total}…", 0)

    def _done(self, request: int, result) -> None:
        asked = self.requests.pop(request, None)
        if asked is None:
            return  # a sidecar dialog's own request
        if asked.task in CLEARS:
            self._cleared(asked.task, failed=False)
        elif asked.task is FileTask.EXPORT:
            self.message.emit(f"Exported {result.photos} photos to {result.target}", 8000)
        else:
            ok = [r for r in result if r.ok]
            failed = [r for r in result if not r.ok]
            verb = "Copied" if asked.task is FileTask.COPY else "Linked"
            self.message.emit(f"{verb} {len(ok)} photos", 8000)
            if failed:
                lines = "\n".join(f"{r.source.name}: {r.error}" for r in failed[:10])
                more = f"\n… and {len(failed) - 10} more" if len(failed) > 10 else ""
                self.warn(verb, f"{len(failed)} photos were not {verb.lower()}:\n{lines}{more}")

    def _failed(self, request: int, message: str, user_error: bool, details: str) -> None:
        asked = self.requests.pop(request, None)
        if asked is None:
            return
        if asked.task in CLEARS:
            self._cleared(asked.task, failed=True)
        self.message.emit("", 0)
        if user_error:
            self.warn(asked.task.value, message)
        else:
            CrashDialog(message, details, self.paths.log_file, self.window).exec()

    def _has_folder(self, folder: str | None, title: str) -> bool:
        if folder is None:
            self.warn(title, "Open a folder first.")
        return folder is not None

    def warn(self, title: str, text: str) -> None:
        QMessageBox.warning(self.window, title, text)

    def shutdown(self) -> None:
        if self.sidecar_dialog is not None:
            self.sidecar_dialog.reject()
