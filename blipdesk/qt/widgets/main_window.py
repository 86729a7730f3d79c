"""The main window: composes the sidebar, grid, filter bar, detail and tags panels, and wires
them to the workers. Features live in their own widgets and models; this file only connects them.
"""

from __future__ import annotations

import logging
import os
from dataclasses import replace

from PySide6.QtCore import QSettings, Qt, QTimer, QUrl
from PySide6.QtGui import QAction, QDesktopServices, QKeySequence
from PySide6.QtWidgets import (
    QFileDialog,
    QMainWindow,
    QMessageBox,
    QSplitter,
    QStackedWidget,
    QVBoxLayout,
    QWidget,
)

from blipdesk.copying import copy_or_link
from blipdesk.core.hub import APPROX_MODEL_BYTES
from blipdesk.export import export_photos
from blipdesk.jobs import clear_scores, clear_vision_cache
from blipdesk.paths import Paths
from blipdesk.qt.cache_reader import CacheLoader, read_tags
from blipdesk.qt.models.folders import FolderTreeModel
from blipdesk.qt.models.photos import FilterState, PhotoGridModel
from blipdesk.qt.models.tags import TagListModel
from blipdesk.qt.tag_writer import TagWriter
from blipdesk.qt.values import ScoreBoard, Tag
from blipdesk.qt.widgets.detail_panel import DetailPanel
from blipdesk.qt.widgets.dialogs import CrashDialog, DownloadDialog, SettingsDialog
from blipdesk.qt.widgets.filter_bar import FilterBar
from blipdesk.qt.widgets.photo_grid import PhotoGrid
from blipdesk.qt.widgets.scan_status import ScanStatus
from blipdesk.qt.widgets.sidebar import LibrarySidebar
from blipdesk.qt.widgets.sidecar_dialog import SidecarDialog
from blipdesk.qt.widgets.tag_editor import TagEditorDialog
from blipdesk.qt.widgets.viewer import PhotoViewer
from blipdesk.qt.workers.folders import FolderLister
from blipdesk.qt.workers.inference import (
    DevicesJob,
    DownloadJob,
    InferenceController,
    ModelChoice,
    ScanJob,
    SearchJob,
    TryJob,
    next_job_id,
)
from blipdesk.qt.workers.tasks import BackgroundTasks
from blipdesk.qt.workers.thumbnails import ThumbnailLoader
from blipdesk.settings import Settings, SettingsFile

log = logging.getLogger(__name__)


class MainWindow(QMainWindow):
    def __init__(self, paths: Paths, use_processes: bool = True) -> None:
        super().__init__()
        self.setObjectName("mainWindow")
        self.setWindowTitle("blipdesk")
        self.paths = paths
        self.use_processes = use_processes
        self.settings_file = SettingsFile(paths.settings_file)
        self.settings: Settings = self.settings_file.load()
        self.state = QSettings(str(paths.data_dir / "window-state.ini"), QSettings.Format.IniFormat)
        self.current_folder: str | None = None
        self._listing = self._cache_request = 0
        self._pending_scan = False
        self.devices = None  # accelerators torch sees, listed on the inference thread

        # Models and workers
        self.board = ScoreBoard()
        self.thumbs = ThumbnailLoader(paths.thumbnails_dir, parent=self)
        self.previews = ThumbnailLoader(
            paths.thumbnails_dir, px=1024, capacity=8, threads=1, parent=self
        )
        self.photos = PhotoGridModel(self.board, self.thumbs, self)
        self.tags = TagListModel(self.board, self)
        self.folders = FolderTreeModel(self)
        self.lister = FolderLister(self)
        self.cache = CacheLoader(self)
        self.controller = InferenceController(self)
        self.tag_writer = TagWriter(str(paths.database), self)
        self.tasks = BackgroundTasks(self)  # sidecars, exports, copies
        self._tasks: dict[int, str] = {}  # request id -> what, for the window's own requests
        self.sidecar_dialog: SidecarDialog | None = None
        self.settings_dialog: SettingsDialog | None = None
        self._clearing: set[str] = set()  # "scores", "features": cleared off the GUI thread now
        self._checking: str | None = None  # the tag a cache-only scan is checking

        # Widgets
        self.sidebar = LibrarySidebar(self.folders)
        self.filter_bar = FilterBar()
        self.grid = PhotoGrid(self.photos, self.thumbs)
        self.viewer = PhotoViewer(self.board, self.previews)
        self.stack = QStackedWidget()
        self.stack.addWidget(self.grid)
        self.stack.addWidget(self.viewer)
        center = QWidget()
        cl = QVBoxLayout(center)
        cl.setContentsMargins(0, 0, 0, 0)
        cl.addWidget(self.filter_bar)
        cl.addWidget(self.stack, 1)
        self.detail = DetailPanel(self.board, self.previews)
        from blipdesk.qt.widgets.tags_panel import TagsPanel

        self.tags_panel = TagsPanel(self.tags)
        self.right = QSplitter(Qt.Orientation.Vertical)
        self.right.setObjectName("rightSplitter")
        self.right.addWidget(self.detail)
        self.right.addWidget(self.tags_panel)
        self.splitter = QSplitter(Qt.Orientation.Horizontal)
        self.splitter.setObjectName("mainSplitter")
        self.splitter.addWidget(self.sidebar)
        self.splitter.addWidget(center)
        self.splitter.addWidget(self.right)
        self.splitter.setStretchFactor(1, 1)
        self.splitter.setSizes([220, 760, 340])
        self.right.setSizes([460, 300])
        self.setCentralWidget(self.splitter)
        self.scan_status = ScanStatus()
        self.statusBar().addPermanentWidget(self.scan_status)
        self._build_menus()
        self._wire()
        self._recount = QTimer(self, singleShot=True, interval=250)
        self._recount.timeout.connect(self._after_scores)
        self._save_tags = QTimer(self, singleShot=True, interval=300)
        self._save_tags.timeout.connect(self._flush_tag_writes)
        self._tag_writes: dict[str, Tag] = {}

        # Restore
        self._set_tags(read_tags(paths.database))
        for folder in self.settings.folders:
            self._add_root(folder, save=False)
        geometry = self.state.value("geometry")
        if geometry is not None:
            self.restoreGeometry(geometry)
        else:
            self.resize(1320, 820)
        for splitter, key in ((self.splitter, "splitter"), (self.right, "rightSplitter")):
            value = self.state.value(key)
            if value is not None:
                splitter.restoreState(value)
        last = self.state.value("lastFolder")
        if isinstance(last, str) and os.path.isdir(last):
            self.open_folder(last)
        elif self.settings.folders:
            self.open_folder(self.settings.folders[0])
        if self.settings_file.problem:
            QTimer.singleShot(0, lambda: self._warn("Settings", self.settings_file.problem))

    # ----------------------------------------------------------------- building

    def _build_menus(self) -> None:
        bar = self.menuBar()
        file = bar.addMenu("&File")
        self.add_folder_action = self._action(
            file, "&Add folder…", self.choose_folder, QKeySequence.StandardKey.Open
        )
        self._action(file, "&Remove folder", lambda: self.sidebar._remove())
        file.addSeparator()
        self.scan_action = self._action(file, "&Scan folder", self.scan, "Ctrl+R")
        self._action(file, "Se&ttings…", self.open_settings, QKeySequence.StandardKey.Preferences)
        file.addSeparator()
        self.export_action = self._action(file, "&Export…", lambda: self.export_photos(), "Ctrl+E")
        self.copy_action = self._action(file, "&Copy to folder…", lambda: self.copy_photos("copy"))
        self.link_action = self._action(
            file, "&Link into folder…", lambda: self.copy_photos("symlink")
        )
        file.addSeparator()
        self._action(file, "&Quit", self.close, QKeySequence.StandardKey.Quit)
        tags = bar.addMenu("&Tags")
        self._action(tags, "&New tag…", lambda: self.edit_tag(None), "Ctrl+T")
        tags.addSeparator()
        self.sidecar_action = self._action(
            tags, "&Write tags to sidecars…", lambda: self.write_sidecars()
        )
        self._action(tags, "&Remove blipdesk tags from sidecars…", self.remove_sidecar_tags)
        self.grid.extra_actions = [
            self.sidecar_action,
            None,
            self.export_action,
            self.copy_action,
            self.link_action,
        ]
        help_menu = bar.addMenu("&Help")
        self._action(help_menu, "Open &log file", self.open_log)
        self._action(help_menu, "&About blipdesk", self.about)
        toolbar = self.addToolBar("Main")
        toolbar.setObjectName("mainToolbar")
        toolbar.setMovable(False)
        toolbar.addAction(self.add_folder_action)
        toolbar.addAction(self.scan_action)

    def _action(self, menu, text: str, slot, shortcut=None) -> QAction:
        action = QAction(text, self)
        if shortcut is not None:
            action.setShortcut(QKeySequence(shortcut))
        action.triggered.connect(slot)
        menu.addAction(action)
        return action

    def _wire(self) -> None:
        s, c = self.sidebar, self.controller
        s.folderChosen.connect(self.open_folder)
        s.addRequested.connect(self.choose_folder)
        s.removeRequested.connect(self.remove_folder)
        s.foldersDropped.connect(lambda fs: [self.add_folder(f) for f in fs])
        self.lister.listed.connect(self._listed)
        self.lister.dated.connect(self._dated)
        self.lister.counted.connect(self.folders.set_counts)
        self.cache.loaded.connect(self._cache_loaded)
        self.grid.currentPhotoChanged.connect(self.detail.show_photo)
        self.grid.openRequested.connect(self.open_viewer)
        self.viewer.closed.connect(self.close_viewer)
        self.viewer.step.connect(self._viewer_step)
        self.photos.countsChanged.connect(self._show_counts)
        self.filter_bar.filterChanged.connect(self._filter_changed)
        self.filter_bar.sortChanged.connect(self.photos.set_sort)
        self.filter_bar.searchRequested.connect(self.search)
        self.filter_bar.searchCleared.connect(self._clear_search)
        self.tags_panel.addRequested.connect(lambda: self.edit_tag(None))
        self.tags_panel.editRequested.connect(self.edit_tag)
        self.tags_panel.removeRequested.connect(self.remove_tag)
        self.tags.tagChanged.connect(self._threshold_moved)
        self.scan_status.pauseToggled.connect(c.set_paused)
        self.scan_status.cancelRequested.connect(lambda: c.cancel("scan"))
        c.progress.connect(self.scan_status.show_progress)
        c.results.connect(self._results)
        c.status.connect(lambda t: self.statusBar().showMessage(t, 5000))
        c.scanFinished.connect(self._scan_finished)
        c.searched.connect(self._searched)
        c.modelMissing.connect(self._model_missing)
        c.failed.connect(self._failed)
        self.tag_writer.failed.connect(lambda m: self._warn("Tags", m))
        self.tasks.done.connect(self._task_done)
        self.tasks.failed.connect(self._task_failed)
        self.tasks.progress.connect(self._task_progress)
        c.devices.connect(self._devices_listed)

    # ----------------------------------------------------------------- folders

    def choose_folder(self) -> None:
        folder = QFileDialog.getExistingDirectory(self, "Add a folder of photos")
        if folder:
            self.add_folder(folder)

    def add_folder(self, folder: str) -> None:
        folder = os.path.abspath(folder)
        self._add_root(folder, save=True)
        self.open_folder(folder)

    def _add_root(self, folder: str, save: bool) -> None:
        self.folders.add_root(folder)
        self.lister.count(folder)
        if save and folder not in self.settings.folders:
            self._save_settings(
                self.settings.with_changes(folders=(*self.settings.folders, folder))
            )

    def remove_folder(self, folder: str) -> None:
        self.folders.remove_root(folder)
        self._save_settings(
            self.settings.with_changes(
                folders=tuple(f for f in self.settings.folders if f != folder)
            )
        )
        if self.current_folder and (
            self.current_folder == folder or self.current_folder.startswith(folder + os.sep)
        ):
            self.current_folder = None
            self.photos.set_photos([])

    def open_folder(self, folder: str) -> None:
        self.current_folder = folder
        self.state.setValue("lastFolder", folder)
        self.sidebar.select(folder)
        self.setWindowTitle(f"{os.path.basename(folder)} — blipdesk")
        self._clear_search()
        self._listing = self.lister.list(folder, self.settings.recursive)

    def _listed(self, request: int, folder: str, photos: list) -> None:
        if request != self._listing:
            return
        self.photos.set_photos(photos)
        self.tags.set_paths(p.path for p in photos)
        self._cache_request = self.cache.load(
            self.paths.database, self.settings.model, folder, self.settings.recursive
        )

    def _dated(self, request: int, dated: list) -> None:
        if request == self._listing:
            self.photos.set_dates(dated)

    def _cache_loaded(self, request: int, cached) -> None:
        if request != self._cache_request:
            return
        changed = self.board.merge(cached.scores)
        self.photos.scores_changed(changed)
        self._after_scores()

    # ----------------------------------------------------------------- tags

    def _set_tags(self, tags: list[Tag]) -> None:
        self.tags.set_tags(tags)
        current = self.tags.tags()
        self.photos.set_tags(current)
        self.filter_bar.set_tags(current)
        self.detail.set_tags(current)

    def edit_tag(self, tag: Tag | None) -> None:
        photo = self.grid.current_photo()
        dialog = TagEditorDialog(
            tag, {t.name for t in self.tags.tags()}, photo.name if photo else None, self
        )

        def try_it(sentences: tuple[str, ...]) -> None:
            if photo is None:
                return
            dialog.show_try_busy("Scoring (the model loads the first time)…")
            self.controller.submit(
                TryJob(next_job_id(), self._model_choice(), path=photo.path, sentences=sentences)
            )

        dialog.tryRequested.connect(try_it)
        self.controller.tried.connect(dialog.show_try)
        self._open_dialog = dialog
        try:
            if dialog.exec() != dialog.DialogCode.Accepted:
                return
        finally:
            self.controller.tried.disconnect(dialog.show_try)
            self._open_dialog = None
        self.save_tag(dialog.tag(), replacing=tag)

    def save_tag(self, tag: Tag, replacing: Tag | None = None) -> None:
        tags = [
            t
            for t in self.tags.tags()
            if t.name not in {tag.name, getattr(replacing, "name", None)}
        ]
        self._set_tags([*tags, tag])
        if replacing is not None and replacing.name != tag.name:
            self.tag_writer.remove(replacing.name)
        self.tag_writer.put(tag)
        missing = self.board.missing((p.path for p in self.photos.photos()), tag.sentences)
        if not missing:
            return
        if self.settings.feature_cache and not self.controller.scanning() and not self._clearing:
            # Checked at once from the vision cache, best matches first; photos never scanned
            # wait for Scan (a new tag never starts decoding a whole folder by itself).
            self._flush_tag_writes()
            self.scan(cached_only=True, checking=tag.name)
            return
        self.statusBar().showMessage(
            f"“{tag.name}”: {len(missing)} photos not scored for it yet — press Scan.", 8000
        )

    def remove_tag(self, tag: Tag) -> None:
        answer = QMessageBox.question(
            self, "Remove tag", f"Remove the tag “{tag.name}”? Its cached scores are kept."
        )
        if answer == QMessageBox.StandardButton.Yes:
            self._set_tags([t for t in self.tags.tags() if t.name != tag.name])
            self.tag_writer.remove(tag.name)

    def _threshold_moved(self, tag: Tag) -> None:
        current = self.tags.tags()
        self.photos.set_tags(current)
        self.detail.set_tags(current)
        self._tag_writes[tag.name] = tag
        self._save_tags.start()

    def _flush_tag_writes(self) -> None:
        for tag in self._tag_writes.values():
            self.tag_writer.put(tag)
        self._tag_writes.clear()

    # ----------------------------------------------------------------- scanning

    def _model_choice(self) -> ModelChoice:
        s = self.settings
        return ModelChoice(
            s.model, s.model_revision, s.device, s.precision, s.first_token, s.batch_size
        )

    def scan(self, cached_only: bool = False, checking: str | None = None) -> None:
        """Scan the folder shown. ``cached_only``: check new sentences on the photos whose vision
        output is cached (``checking``: the tag that asked), decoding nothing."""
        if self.current_folder is None:
            self._warn(
                "Scan", "Add a folder first (File > Add folder, or drop one on the library)."
            )
            return
        if self._clearing:
            self.statusBar().showMessage("The cache is being cleared: scan when it is done.", 8000)
            return
        self._flush_tag_writes()
        sentences = self._sentences()
        job = ScanJob(
            next_job_id(),
            self._model_choice(),
            folders=(self.current_folder,),
            sentences=sentences,
            recursive=self.settings.recursive,
            database=str(self.paths.database),
            features_dir=str(self.paths.features_dir),
            feature_cache=self.settings.feature_cache,
            feature_format=self.settings.feature_format,
            feature_budget=self.settings.feature_budget,
            cached_only=cached_only,
            use_processes=self.use_processes,
        )
        self._checking = checking
        self.scan_status.set_running(True)
        self.scan_status.label.setText(
            f"Checking “{checking}”, best matches first…" if checking else "Starting scan…"
        )
        self.controller.submit(job)

    def _sentences(self) -> tuple[str, ...]:
        return tuple(dict.fromkeys(s for t in self.tags.tags() for s in t.sentences))

    def _results(self, batch) -> None:
        changed = self.board.merge(batch)
        self.photos.scores_changed(changed)
        if not self._recount.isActive():
            self._recount.start()

    def _after_scores(self) -> None:
        self.tags.recount()
        self.detail.refresh_scores()
        if self.stack.currentWidget() is self.viewer:
            self.viewer.update()

    def _scan_finished(self, outcome: str) -> None:
        self.scan_status.set_running(False)
        self._after_scores()
        summary = self.controller.worker.summary
        checking, self._checking = self._checking, None
        if outcome == "done" and summary is not None and checking:
            waiting = self.board.missing((p.path for p in self.photos.photos()), self._sentences())
            text = f"“{checking}” checked on {summary.scored} scanned photos"
            text += f"; {len(waiting)} not scanned yet — press Scan" if waiting else ""
            self.scan_status.label.setText(text)
        elif outcome == "done" and summary is not None:
            errors = len(summary.failures)
            text = f"Scan finished: {summary.photos} photos, {summary.scored} scored"
            text += f", {errors} could not be read" if errors else ""
            self.scan_status.label.setText(text)
        else:
            self.scan_status.label.setText(f"Scan {outcome}.")
        if self.current_folder:
            self.lister.count(self._root_of(self.current_folder))

    def _root_of(self, folder: str) -> str:
        for root in self.folders.roots():
            if folder == root or folder.startswith(root + os.sep):
                return root
        return folder

    # ----------------------------------------------------------------- search + filter

    def _filter_changed(self, state: FilterState) -> None:
        f = self.photos.filter
        self.photos.set_filter(replace(f, chips=state.chips, min_score=state.min_score))

    def search(self, text: str) -> None:
        """Never scans: ranks what is scanned at once, then refines the best in steps that run
        between a scan's batches; a newer search replaces this one."""
        if self.current_folder is None:
            return
        self.statusBar().showMessage(f"Searching for “{text}”…")
        self.controller.submit(
            SearchJob(
                next_job_id(),
                self._model_choice(),
                query=text,
                folders=(self.current_folder,),
                recursive=self.settings.recursive,
                database=str(self.paths.database),
                features_dir=str(self.paths.features_dir) if self.settings.feature_cache else None,
            )
        )

    def _searched(self, result) -> None:
        f = self.photos.filter
        self.photos.set_filter(
            replace(f, search=result.order, search_text=result.query, search_itm=result.itm)
        )
        self.statusBar().showMessage(search_message(result), 0 if not result.done else 15000)

    def _clear_search(self) -> None:
        f = self.photos.filter
        if f.search is not None:
            self.photos.set_filter(replace(f, search=None, search_text="", search_itm={}))

    def _show_counts(self) -> None:
        shown, total = self.photos.rowCount(), self.photos.total()
        text = f"{total} photos" if shown == total else f"{shown} of {total} photos shown"
        self.statusBar().showMessage(text)

    # ----------------------------------------------------------------- viewer

    def open_viewer(self, photo) -> None:
        if photo is None:
            return
        self.viewer.show_photo(photo, self.tags.tags())
        self._set_side_panels_visible(False)  # the viewer takes the whole window
        self.stack.setCurrentWidget(self.viewer)
        self.viewer.setFocus()

    def close_viewer(self) -> None:
        self.stack.setCurrentWidget(self.grid)
        self._set_side_panels_visible(True)  # the splitters keep their sizes while hidden
        self.grid.setFocus()

    def _set_side_panels_visible(self, visible: bool) -> None:
        for widget in (self.sidebar, self.filter_bar, self.right):
            widget.setVisible(visible)

    def _viewer_step(self, delta: int) -> None:
        if self.viewer.photo is None:
            return
        row = self.photos.row_of(self.viewer.photo.path) + delta
        photo = self.photos.photo_at(row)
        if photo is not None:
            self.grid.select_path(photo.path)
            self.viewer.show_photo(photo, self.tags.tags())

    # ----------------------------------------------------------------- model + errors

    def _model_missing(self, message: str, downloadable: bool) -> None:
        self.scan_status.set_running(False)
        if not downloadable:
            self._warn("Model not available", message)
            return
        dialog = DownloadDialog(self.settings.model, APPROX_MODEL_BYTES, self)
        job_box: list = []

        def start() -> None:
            job_box.append(self.controller.submit(DownloadJob(next_job_id(), self._model_choice())))

        dialog.startRequested.connect(start)
        dialog.cancelRequested.connect(lambda: self.controller.cancel("download"))
        self.controller.downloadProgress.connect(dialog.progress)
        self.controller.downloadFinished.connect(dialog.finished_with)
        try:
            accepted = dialog.exec() == dialog.DialogCode.Accepted
        finally:
            self.controller.downloadProgress.disconnect(dialog.progress)
            self.controller.downloadFinished.disconnect(dialog.finished_with)
        if accepted:
            self.scan()

    def _failed(self, message: str, user_error: bool, details: str) -> None:
        self.scan_status.set_running(False)
        if user_error:
            self._warn("blipdesk", message)
        else:
            CrashDialog(message, details, self.paths.log_file, self).exec()

    def _warn(self, title: str, text: str) -> None:
        QMessageBox.warning(self, title, text)

    # ----------------------------------------------------------------- sidecars, export

    def _matched_tags(self, photos) -> dict[str, list[str]]:
        """path -> the tags it carries, from the scores the grid shows. Photos not scored yet, or
        unreadable, are left out: their sidecars are left alone."""
        tags = self.tags.tags()
        return {
            p.path: [t.name for t in tags if self.board.matches(p.path, t)]
            for p in photos
            if self.board.has_any(p.path) and p.path not in self.board.errors
        }

    def _scopes(self) -> list[tuple[str, list]]:
        """(label, photos): the selection, the filter result, the folder; empty ones left out."""
        out = []
        selected = self.grid.selected_photos()
        if selected:
            out.append((f"Selected photos ({len(selected)})", selected))
        shown, total = self.photos.visible_photos(), self.photos.total()
        if self.photos.filter.active and len(shown) != total:
            out.append((f"Photos shown by the filter ({len(shown)} of {total})", shown))
        name = os.path.basename(self.current_folder or "") or "folder"
        out.append((f"All photos in “{name}” ({total})", self.photos.photos()))
        return out

    def _chosen_photos(self) -> tuple[str, list]:
        """The selection, else the photos shown: what Export and Copy act on."""
        return self._scopes()[0]

    def write_sidecars(self) -> SidecarDialog | None:
        if self.current_folder is None:
            self._warn("Sidecars", "Open a folder first.")
            return None
        scopes = [(label, self._matched_tags(photos)) for label, photos in self._scopes()]
        return self._open_sidecar_dialog(
            SidecarDialog(self.tasks, "write", scopes, (self.current_folder,), parent=self)
        )

    def remove_sidecar_tags(self) -> SidecarDialog | None:
        if self.current_folder is None:
            self._warn("Sidecars", "Open a folder first.")
            return None
        dialog = SidecarDialog(
            self.tasks,
            "remove",
            folders=(self.current_folder,),
            recursive=self.settings.recursive,
            parent=self,
        )
        return self._open_sidecar_dialog(dialog)

    def _open_sidecar_dialog(self, dialog: SidecarDialog) -> SidecarDialog:
        if self.sidecar_dialog is not None:
            self.sidecar_dialog.reject()
        self.sidecar_dialog = dialog
        dialog.applied.connect(
            lambda run: self.statusBar().showMessage(
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

    def export_photos(self, target: str | None = None, fmt: str | None = None) -> int | None:
        """Export the selection (else the photos shown) as CSV or JSON, in the CLI's format."""
        if self.current_folder is None:
            self._warn("Export", "Open a folder first.")
            return None
        label, photos = self._chosen_photos()
        if target is None:
            name = os.path.basename(self.current_folder) or "blipdesk"
            target, chosen = QFileDialog.getSaveFileName(
                self,
                f"Export tags and scores: {label}",
                os.path.join(os.path.expanduser("~"), f"{name}-tags.csv"),
                "CSV table (*.csv);;JSON document (*.json)",
            )
            if not target:
                return None
            fmt = fmt or ("json" if "json" in chosen.lower() else "csv")
        fmt = fmt or ("json" if target.lower().endswith(".json") else "csv")
        request = self.tasks.start(
            export_photos,
            str(self.paths.database),
            self.settings.model,
            self.current_folder,
            self.settings.recursive,
            [p.path for p in photos],
            fmt,
            target,
            protect=[str(self.paths.data_dir)],
        )
        self._tasks[request] = "export"
        self.statusBar().showMessage(f"Exporting {len(photos)} photos…")
        return request

    def copy_photos(self, mode: str = "copy", dest: str | None = None) -> int | None:
        """Copy (or symlink) the selection, else the photos shown, into a folder."""
        if self.current_folder is None:
            self._warn("Copy", "Open a folder first.")
            return None
        label, photos = self._chosen_photos()
        if dest is None:
            verb = "Copy" if mode == "copy" else "Link"
            dest = QFileDialog.getExistingDirectory(self, f"{verb} {label.lower()} into…")
            if not dest:
                return None
        request = self.tasks.start(
            copy_or_link, [p.path for p in photos], dest, mode, with_progress=True
        )
        self._tasks[request] = mode
        return request

    def _task_progress(self, request: int, done: int, total: int) -> None:
        what = self._tasks.get(request)
        if what is not None:
            verb = "Copying" if what == "copy" else "Linking"
            self.statusBar().showMessage(f"{verb} {done} / {total}…")

    def _task_done(self, request: int, result) -> None:
        what = self._tasks.pop(request, None)
        if what in ("clear scores", "clear feature cache"):
            self._cleared(what)
        if what == "export":
            self.statusBar().showMessage(
                f"Exported {result.photos} photos to {result.target}", 8000
            )
        elif what in ("copy", "symlink"):
            ok = [r for r in result if r.ok]
            failed = [r for r in result if not r.ok]
            verb = "Copied" if what == "copy" else "Linked"
            self.statusBar().showMessage(f"{verb} {len(ok)} photos", 8000)
            if failed:
                lines = "\n".join(f"{r.source.name}: {r.error}" for r in failed[:10])
                more = f"\n… and {len(failed) - 10} more" if len(failed) > 10 else ""
                self._warn(verb, f"{len(failed)} photos were not {verb.lower()}:\n{lines}{more}")

    def _task_failed(self, request: int, message: str, user_error: bool, details: str) -> None:
        what = self._tasks.pop(request, None)
        if what is None:
            return
        if what in ("clear scores", "clear feature cache"):
            self._cleared(what, failed=True)
        self.statusBar().clearMessage()
        if user_error:
            self._warn(what.capitalize(), message)
        else:
            CrashDialog(message, details, self.paths.log_file, self).exec()

    # ----------------------------------------------------------------- settings, help

    def open_settings(self) -> SettingsDialog:
        """Window-modal through ``open()``, not ``exec()``: caches cleared from the dialog report
        back through the running event loop."""
        if self.settings_dialog is not None:
            self.settings_dialog.raise_()
            return self.settings_dialog
        dialog = SettingsDialog(self.settings, self.paths.data_dir, self.devices, self)
        dialog.set_scanning(self.controller.scanning())
        for what in self._clearing:
            dialog.set_clearing(what, True)
        self.controller.devices.connect(dialog.set_devices)
        self.controller.busyChanged.connect(self._scan_state_changed)
        dialog.clearScoresRequested.connect(self.clear_scores)
        dialog.clearFeaturesRequested.connect(self.clear_feature_cache)
        dialog.finished.connect(lambda result: self._settings_closed(dialog, result))
        self.settings_dialog = dialog
        if self.devices is None:
            self.controller.submit(DevicesJob(next_job_id(), self._model_choice()))
        dialog.open()
        return dialog

    def _scan_state_changed(self, _busy: bool) -> None:
        if self.settings_dialog is not None:
            self.settings_dialog.set_scanning(self.controller.scanning())

    def _settings_closed(self, dialog: SettingsDialog, result: int) -> None:
        self.controller.devices.disconnect(dialog.set_devices)
        self.controller.busyChanged.disconnect(self._scan_state_changed)
        if self.settings_dialog is dialog:
            self.settings_dialog = None
        dialog.deleteLater()
        if result != SettingsDialog.DialogCode.Accepted:
            return
        new = dialog.settings()
        recursive_changed = new.recursive != self.settings.recursive
        model_changed = (new.model, new.first_token) != (
            self.settings.model,
            self.settings.first_token,
        )
        self._save_settings(new)
        if model_changed:
            self.board.clear()
        if (recursive_changed or model_changed) and self.current_folder:
            self.open_folder(self.current_folder)

    # ----------------------------------------------------------------- clearing caches

    def clear_scores(self) -> int | None:
        """Forget every cached score in the background task thread. Never while a scan runs (its
        writer would race this one); scans wait until it is done (see ``scan``)."""
        if self.controller.scanning() or "scores" in self._clearing:
            return None
        self._flush_tag_writes()
        request = self.tasks.start(clear_scores, str(self.paths.database))
        return self._clearing_started(request, "clear scores", "scores")

    def clear_feature_cache(self) -> int | None:
        if self.controller.scanning() or "features" in self._clearing:
            return None
        request = self.tasks.start(
            clear_vision_cache, str(self.paths.features_dir), str(self.paths.database)
        )
        return self._clearing_started(request, "clear feature cache", "features")

    def _clearing_started(self, request: int, task: str, what: str) -> int:
        self._tasks[request] = task
        self._clearing.add(what)
        if self.settings_dialog is not None:
            self.settings_dialog.set_clearing(what, True)
        self.statusBar().showMessage("Clearing the cache…")
        return request

    def _cleared(self, task: str, failed: bool = False) -> None:
        what = "scores" if task == "clear scores" else "features"
        self._clearing.discard(what)
        if self.settings_dialog is not None:
            self.settings_dialog.set_clearing(what, False)
        if what == "scores":
            # Everything the grid, tags panel and detail show came from the old scores. Reload
            # what the cache still knows (read errors of photo records) for the folder shown.
            self.board.clear()
            self._clear_search()
            self.photos.set_tags(self.tags.tags())
            self._after_scores()
            self._cache_request = 0  # a load started before the clear would bring scores back
            if self.current_folder:
                self._cache_request = self.cache.load(
                    self.paths.database,
                    self.settings.model,
                    self.current_folder,
                    self.settings.recursive,
                )
        if not failed:
            done = "Scores cleared: press Scan to score again." if what == "scores" else None
            self.statusBar().showMessage(done or "Vision cache cleared.", 8000)

    def _devices_listed(self, devices) -> None:
        self.devices = devices

    def _save_settings(self, settings: Settings) -> None:
        self.settings = settings
        try:
            self.settings_file.save(settings)
        except OSError as exc:
            self._warn("Settings", f"The settings could not be saved: {exc}")

    def open_log(self) -> None:
        QDesktopServices.openUrl(QUrl.fromLocalFile(str(self.paths.log_file)))

    def about(self) -> None:
        from blipdesk import __version__

        QMessageBox.about(
            self,
            "About blipdesk",
            f"<b>blipdesk {__version__}</b><br>Local, private photo tagging with sentences, "
            f"scored by BLIP image-text matching.<br>Data: {self.paths.data_dir}",
        )

    # ----------------------------------------------------------------- shutdown

    def closeEvent(self, event) -> None:
        self._flush_tag_writes()
        self.state.setValue("geometry", self.saveGeometry())
        self.state.setValue("splitter", self.splitter.saveState())
        self.state.setValue("rightSplitter", self.right.saveState())
        self.state.sync()
        self.controller.shutdown()
        if self.sidecar_dialog is not None:
            self.sidecar_dialog.reject()
        workers = (self.thumbs, self.previews, self.lister, self.cache, self.tag_writer, self.tasks)
        for worker in workers:
            worker.shutdown()
        super().closeEvent(event)


def search_message(result) -> str:
    """The status line of a search: how far the refinement got, and what was not searched."""
    shown = len(result.order)
    if not shown:
        text = f"“{result.query}”: nothing scanned here yet"
    elif result.done:
        text = f"“{result.query}”: {shown} photos by similarity; best {result.refined} checked by match"
    else:
        text = (
            f"“{result.query}”: {shown} photos by similarity; checking the best by match "
            f"({result.refined} of {result.candidates})…"
        )
    if result.unscanned:
        text += f" · {result.unscanned} photos not scanned yet (not searched: press Scan)"
    return text
