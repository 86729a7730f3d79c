"""Scans and searches from the window: jobs built from the settings, the scan status line, and
what a job can end with (the model missing: offer the download; a failure: say so).

The window decides when (a folder is open, no cache is being cleared); this object builds the
frozen job, submits it to the inference controller and reports back: ``finished`` with the
engine's summary and the tag a cache-only scan was checking, ``modelReady`` once a download the
person accepted is done (the window scans then).
"""

from __future__ import annotations

from collections.abc import Callable

from PySide6.QtCore import QObject, Signal
from PySide6.QtWidgets import QWidget

from blipdesk.core.hub import APPROX_MODEL_BYTES
from blipdesk.infra.paths import Paths
from blipdesk.qt.widgets.dialogs import CrashDialog, DownloadDialog
from blipdesk.qt.widgets.scan_status import ScanStatus
from blipdesk.qt.workers.inference import (
    DownloadJob,
    ExplainJob,
    InferenceController,
    ScanJob,
    SearchJob,
    next_job_id,
)
from blipdesk.services.options import model_choice, scan_options
from blipdesk.services.settings import Settings

__all__ = ["ScanActions", "model_choice", "scan_job"]


def scan_job(
    settings: Settings,
    paths: Paths,
    folder: str,
    sentences: tuple[str, ...],
    cached_only: bool = False,
    background: bool = False,
    use_processes: bool = True,
    listed: tuple[str, ...] | None = None,
) -> ScanJob:
    """The frozen scan job for ``folder``: the model and the scan options are the settings'
    (services.options, as the command line's), with the window's own choices."""
    return ScanJob(
        next_job_id(),
        model_choice(settings),
        folders=(folder,),
        sentences=sentences,
        database=str(paths.database),
        options=scan_options(
            settings,
            paths.features_dir,
            cached_only=cached_only,
            low_priority=background,
            use_processes=use_processes,
        ),
        listed=listed,
    )


class ScanActions(QObject):
    finished = Signal(str, object, object)  # outcome, ScanSummary or None, tag checked or None
    modelReady = Signal()
    # No network and no model on disk: after saying so, Settings opens where the model is chosen
    # (a local folder of the model is the way on without a network).
    modelFolderWanted = Signal()

    def __init__(
        self,
        controller: InferenceController,
        status: ScanStatus,
        paths: Paths,
        settings: Callable[[], Settings],
        warn: Callable[[str, str], None],
        use_processes: bool,
        window: QWidget,
    ) -> None:
        super().__init__(window)
        self.controller, self.status, self.paths = controller, status, paths
        self.settings, self.warn = settings, warn
        self.use_processes, self.window = use_processes, window
        self._checking: str | None = None  # the tag a cache-only scan is checking
        status.pauseToggled.connect(controller.set_paused)
        status.cancelRequested.connect(lambda: controller.cancel("scan"))
        controller.progress.connect(status.show_progress)
        # Until the next batch's progress: "Waiting for another blipdesk process (PID …) …"
        controller.waiting.connect(lambda text: status.set_text(f"{text[:1].upper()}{text[1:]}…"))
        controller.scanFinished.connect(self._finished)
        controller.modelMissing.connect(self._model_missing)
        controller.failed.connect(self._failed)

    def scan(
        self,
        folder: str,
        sentences: tuple[str, ...],
        cached_only: bool = False,
        checking: str | None = None,
        listed: tuple[str, ...] | None = None,
        background: bool = False,
    ) -> None:
        """``cached_only``: check new sentences on the photos whose vision output is cached
        (``checking``: the tag that asked), decoding nothing. ``listed``: the photo files the
        window lists under ``folder`` (RAW companions included): the scan takes them instead of
        walking. ``background``: started by the folder watcher, decoding at low priority."""
        job = scan_job(
            self.settings(), self.paths, folder, sentences, cached_only, background,
            self.use_processes, listed,
        )  # fmt: skip
        self.controller.submit(job)
        self._checking = checking
        self.status.show_started(checking, folder)

    def search(self, folder: str, text: str) -> None:
        """Never scans: ranks what is scanned at once, then refines the best in steps that run
        between a scan's batches; a newer search replaces this one."""
        settings = self.settings()
        self.controller.submit(
            SearchJob(
                next_job_id(), model_choice(settings), query=text, folders=(folder,),
                database=str(self.paths.database),
                options=scan_options(settings, self.paths.features_dir),
            )
        )  # fmt: skip

    def explain(self, path: str, sentence: str) -> None:
        """Why ``sentence`` matches the photo: a Grad-CAM map, from the vision cache when the
        photo's vision output is there; a newer request replaces this one."""
        settings = self.settings()
        self.controller.submit(
            ExplainJob(
                next_job_id(), model_choice(settings), path=path, sentence=sentence,
                database=str(self.paths.database),
                options=scan_options(settings, self.paths.features_dir),
            )
        )  # fmt: skip

    def _finished(self, outcome: str, summary) -> None:
        checking, self._checking = self._checking, None
        self.finished.emit(outcome, summary, checking)

    def _model_missing(self, message: str, downloadable: bool) -> None:
        self.status.set_running(False)
        if not downloadable:
            self.warn("Model not available", message)
            self.modelFolderWanted.emit()
            return
        settings = self.settings()
        dialog = DownloadDialog(settings.model, APPROX_MODEL_BYTES, self.window)
        c = self.controller
        dialog.startRequested.connect(
            lambda: c.submit(DownloadJob(next_job_id(), model_choice(self.settings())))
        )
        dialog.cancelRequested.connect(lambda: c.cancel("download"))
        c.downloadProgress.connect(dialog.progress)
        c.downloadFinished.connect(dialog.finished_with)
        try:
            accepted = dialog.exec() == dialog.DialogCode.Accepted
        finally:
            c.downloadProgress.disconnect(dialog.progress)
            c.downloadFinished.disconnect(dialog.finished_with)
        if accepted:
            self.modelReady.emit()

    def _failed(self, message: str, user_error: bool, details: str) -> None:
        self.status.set_running(False)
        if user_error:
            self.warn("blipdesk", message)
        else:
            CrashDialog(message, details, self.paths.log_file, self.window).exec()
