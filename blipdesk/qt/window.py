"""The main window, the composition root: creates the models, workers, widgets and controllers,
hands each controller the parts it acts on, and wires them. Features live in qt/controllers/."""

from __future__ import annotations

import logging
import os

from PySide6.QtCore import Qt, QTimer, QUrl
from PySide6.QtGui import QDesktopServices, QUndoStack
from PySide6.QtWidgets import QFileDialog, QMainWindow, QMessageBox, QSplitter, QVBoxLayout, QWidget

from blipdesk.infra.paths import Paths
from blipdesk.qt.common.values import PRESS_SCAN, ScoreBoard, Tag, sidecar_targets
from blipdesk.qt.common.window_state import WindowState
from blipdesk.qt.controllers.desk import Desk
from blipdesk.qt.controllers.file_actions import FileActions, FileTask
from blipdesk.qt.controllers.grid_flow import GridFlow, GridParts
from blipdesk.qt.controllers.grid_modes import GridModes
from blipdesk.qt.controllers.label_actions import LabelActions
from blipdesk.qt.controllers.live_folders import LiveFolders
from blipdesk.qt.controllers.scan_actions import ScanActions, model_choice
from blipdesk.qt.controllers.settings_flow import SettingsFlow
from blipdesk.qt.controllers.shown_folder import ShownFolder
from blipdesk.qt.controllers.tag_actions import TagActions
from blipdesk.qt.controllers.tag_writer import TagWriter
from blipdesk.qt.controllers.undo_actions import UndoActions
from blipdesk.qt.models.cache_reader import CacheLoader, read_tags
from blipdesk.qt.models.folders import FolderTreeModel
from blipdesk.qt.models.photos import PhotoGridModel
from blipdesk.qt.models.tags import TagListModel
from blipdesk.qt.widgets.detail_panel import DetailPanel
from blipdesk.qt.widgets.dialogs import SettingsDialog, show_about
from blipdesk.qt.widgets.filter_bar import FilterBar
from blipdesk.qt.widgets.info_panel import InfoPanel
from blipdesk.qt.widgets.menus import bind_keys, build_menus
from blipdesk.qt.widgets.mode_bar import ModeBar
from blipdesk.qt.widgets.photo_grid import PhotoGrid
from blipdesk.qt.widgets.photo_stack import PhotoStack
from blipdesk.qt.widgets.scan_status import ScanStatus
from blipdesk.qt.widgets.side_panels import side_panels
from blipdesk.qt.widgets.sidebar import LibrarySidebar
from blipdesk.qt.widgets.status_bar import ElidingStatusBar
from blipdesk.qt.widgets.tags_panel import TagsPanel
from blipdesk.qt.widgets.viewer import PhotoViewer
from blipdesk.qt.workers.folders import FolderLister
from blipdesk.qt.workers.inference import InferenceController, ModelChoice
from blipdesk.qt.workers.tasks import BackgroundTasks
from blipdesk.qt.workers.thumbnails import ThumbnailLoader
from blipdesk.services.settings import Settings, SettingsFile

log = logging.getLogger(__name__)


class MainWindow(QMainWindow):
    def __init__(self, paths: Paths, use_processes: bool = True) -> None:
        super().__init__()
        self.setObjectName("mainWindow")
        self.setWindowTitle("blipdesk")
        self.paths = paths
        self.settings_file = SettingsFile(paths.settings_file)
        self.settings: Settings = self.settings_file.load()
        self.state = WindowState(paths.data_dir)

        # Models and workers
        self.board = ScoreBoard()
        self.thumbs = ThumbnailLoader(paths.thumbnails_dir, parent=self)
        self.previews = ThumbnailLoader(paths.thumbnails_dir, px=1024, capacity=8, threads=1,
                                        parent=self)  # fmt: skip
        self.photos = PhotoGridModel(self.board, self.thumbs, self)
        self.tags = TagListModel(self.board, self)
        self.folders = FolderTreeModel(self)
        self.lister = FolderLister(self)
        self.cache = CacheLoader(self)
        self.shown = ShownFolder(
            self.lister, self.cache, self.photos, self.tags, self.board, paths,
            lambda: self.settings,
        )  # fmt: skip
        self.controller = InferenceController(self)
        self.tag_writer = TagWriter(str(paths.database), self)
        self.tasks = BackgroundTasks(self)  # sidecars, exports, copies, clearing caches
        self.files = FileActions(self.tasks, paths, self)
        self.undo = QUndoStack(self)  # every change a person makes: ratings, labels, tags
        self.tag_actions = TagActions(self.tags, self.tag_writer, self.controller,
                                      self._model_choice, self, self.undo)  # fmt: skip
        self.scan_status = ScanStatus()
        self.scanning = ScanActions(
            self.controller, self.scan_status, paths, lambda: self.settings,
            lambda title, text: self._warn(title, text), use_processes, self,
        )  # fmt: skip
        self.settings_flow = SettingsFlow(self.controller, self.files, paths.data_dir,
                                          self._model_choice, self)  # fmt: skip

        # Widgets
        self.sidebar = LibrarySidebar(self.folders)
        self.filter_bar = FilterBar()
        self.mode_bar = ModeBar()  # a search or a menu's "Show only" on: named, with ✕
        self.grid = PhotoGrid(self.photos, self.thumbs)
        self.viewer = PhotoViewer(self.board, self.previews)
        self.detail = DetailPanel(self.board, self.previews)
        self.info = InfoPanel()  # EXIF, file, rating: the desk fills it
        self.tags_panel = TagsPanel(self.tags)
        self.setStatusBar(ElidingStatusBar())  # long messages end in …, whole in the tooltip
        self.statusBar().addPermanentWidget(self.scan_status)
        self._build_layout()
        self.menu_actions = build_menus(self, self)
        self.undo_actions = UndoActions(self, self.undo)  # Edit > Undo, Redo
        self.labels = LabelActions(  # the Teach menu, ✓ / ✗ labels, more like this
            self, self.shown, self.grid, self.detail, self.tags_panel, self.board, self.previews,
            str(paths.database), lambda: self.settings, self._after_scores, self._warn,
            self.filter_bar, self.undo,
        )  # fmt: skip
        self._wire()
        self.desk = Desk(  # ratings, the info panel, View and Photo menus, full screen
            self, self.stack, self.board, self.detail, self.info, self.filter_bar,
            (self.sidebar, self.filter_bar, self.right), str(paths.database), self.undo,
        )  # fmt: skip
        self.live = LiveFolders(  # folders that change on disk
            self.shown, self.grid, self.folders, self.lister, self.cache, paths.database,
            lambda: self.settings, lambda: self.controller.scanning() or bool(self.files.clearing),
            lambda: self.scan(background=True), self.desk.view_menu, self.filter_bar, self,
        )  # fmt: skip
        self.modes = GridModes(self.mode_bar, self.photos, self.filter_bar, self.grid)
        self.lister.listed.connect(self.desk.listed)
        self.tag_actions.tried.connect(self.desk.tried)
        self.scanning.finished.connect(self.live.scan_finished)
        self.scanning.finished.connect(self.desk.scan_finished)  # new hashes: bursts again
        self.settings_flow.accepted.connect(self.live.follow_settings)
        self._recount = QTimer(self, singleShot=True, interval=250)
        self._recount.timeout.connect(self._after_scores)
        bind_keys(self)  # every menu key, window-wide: the viewer and full screen too
        self._restore()

    # ----------------------------------------------------------------- building

    def _build_layout(self) -> None:
        self.stack = PhotoStack(self.grid, self.viewer, self.photos, self.tags)
        center = QWidget()
        cl = QVBoxLayout(center)
        cl.setContentsMargins(0, 0, 0, 0)
        cl.addWidget(self.filter_bar)
        cl.addWidget(self.mode_bar)
        cl.addWidget(self.stack, 1)
        self.right = side_panels(self.detail, self.info, self.tags_panel)  # the tags keep room
        self.splitter = QSplitter(Qt.Orientation.Horizontal)
        self.splitter.setObjectName("mainSplitter")
        for widget in (self.sidebar, center, self.right):
            self.splitter.addWidget(widget)
        self.splitter.setStretchFactor(1, 1)
        self.splitter.setSizes([220, 760, 340])
        self.setCentralWidget(self.splitter)
        self.splitters = {"splitter": self.splitter, "rightSplitter": self.right}

    def _wire(self) -> None:
        s, c, status = self.sidebar, self.controller, self.statusBar()
        s.folderChosen.connect(self.open_folder)
        s.addRequested.connect(self.choose_folder)
        s.removeRequested.connect(self.remove_folder)
        s.foldersDropped.connect(lambda fs: list(map(self.add_folder, fs)))
        self.lister.counted.connect(self.folders.set_counts)
        self.shown.scoresLoaded.connect(self._after_scores)
        self.grid.currentPhotoChanged.connect(self.detail.show_photo)
        for view in (self.detail, self.stack.why):  # "Why?": the map computed in the worker
            view.whyRequested.connect(self.scanning.explain)
            c.explained.connect(view.show_explanation)
        for follower in (self.photos, self.filter_bar, self.detail, self.viewer):
            self.tags.tagsChanged.connect(follower.set_tags)
        self.tag_actions.saved.connect(self._tag_saved)
        self.tags_panel.addRequested.connect(lambda: self.edit_tag(None))
        self.tags_panel.editRequested.connect(self.edit_tag)
        self.tags_panel.removeRequested.connect(self.tag_actions.remove)
        c.results.connect(self._results)
        c.status.connect(lambda t: status.showMessage(t, 5000))
        self.scanning.finished.connect(self._scan_finished)
        self.scanning.modelReady.connect(lambda: self.scan())
        self.scanning.modelFolderWanted.connect(self.open_settings)  # offline: a local folder
        self.tag_writer.failed.connect(lambda m: self._warn("Tags", m))
        self.files.message.connect(status.showMessage)
        self.files.scoresCleared.connect(self._scores_cleared)
        self.settings_flow.accepted.connect(self._settings_accepted)
        self.settings_flow.clearScoresRequested.connect(self.clear_scores)
        self.settings_flow.clearFeaturesRequested.connect(self.clear_feature_cache)
        self.flow = GridFlow(GridParts(  # filter bar, grid place, counts, empty states, views
            bar=self.filter_bar, photos=self.photos, grid=self.grid, sidebar=self.sidebar,
            folders=self.folders, shown=self.shown, tags=self.tags, state=self.state, status=status,
            scan_status=self.scan_status, tasks=self.tasks, data_dir=self.paths.data_dir,
            search=self.search, recursive=lambda: self.settings.recursive,
            recount=lambda f: self.lister.count(self.folders.root_of(f)), set_title=self.setWindowTitle,
            searched=c.searched, listed=self.shown.listed, counted=self.lister.counted,
            viewing=self.stack.viewing, renamed=self.tag_actions.renamed), self)  # fmt: skip

    def _restore(self) -> None:
        self.tags.set_tags(read_tags(self.paths.database))
        for folder in self.settings.folders:
            self._add_root(folder, save=False)
        self.state.restore(self, self.splitters)
        last = self.state.last_folder()
        if last is not None:
            self.open_folder(last)
        elif self.settings.folders:
            self.open_folder(self.settings.folders[0])
        if problem := self.settings_file.problem:
            QTimer.singleShot(0, lambda: self._warn("Settings", problem))

    # ----------------------------------------------------------------- folders

    def choose_folder(self) -> None:
        if folder := QFileDialog.getExistingDirectory(self, "Add a folder of photos"):
            self.add_folder(folder)

    def add_folder(self, folder: str) -> None:
        folder = os.path.abspath(folder)
        self._add_root(folder, save=True)
        self.open_folder(folder)

    def _add_root(self, folder: str, save: bool) -> None:
        self.folders.add_root(folder)
        self.lister.count(folder)  # in the pool: no disk walk on the GUI thread
        if save and folder not in self.settings.folders:
            folders = (*self.settings.folders, folder)
            self._save_settings(self.settings.with_changes(folders=folders))

    def remove_folder(self, folder: str) -> None:
        shown = self.current_folder or ""
        inside = shown == folder or shown.startswith(folder + os.sep)
        self.folders.remove_root(folder)
        kept = tuple(f for f in self.settings.folders if f != folder)
        self._save_settings(self.settings.with_changes(folders=kept))
        if inside:
            self.shown.close()
            self.flow.folder_closed()

    @property
    def current_folder(self) -> str | None:
        return self.shown.current

    def open_folder(self, folder: str) -> None:
        self.state.set_last_folder(folder)
        self.sidebar.select(folder)
        self.setWindowTitle(f"{os.path.basename(folder)} — blipdesk")
        self.photos.clear_search()
        self.shown.open(folder)
        self.flow.folder_opened(folder)

    # ----------------------------------------------------------------- tags

    def edit_tag(self, tag: Tag | None) -> None:
        self.tag_actions.edit(tag, self.grid.current_photo())

    def save_tag(self, tag: Tag, replacing: Tag | None = None) -> None:
        self.tag_actions.save(tag, replacing)

    def _tag_saved(self, tag: Tag) -> None:
        """Check a new or edited tag on the photos shown that have no score for it yet."""
        missing = self.board.missing((p.path for p in self.photos.photos()), tag.sentences)
        if not missing:
            return
        if self.settings.feature_cache and not (self.controller.scanning() or self.files.clearing):
            # Checked at once from the vision cache, best matches first; photos never scanned
            # wait for Scan (a new tag never starts decoding a whole folder by itself).
            listed = tuple(f for p in self.photos.photos() for f in (p.path, *p.companions))
            return self.scan(cached_only=True, checking=tag.name, listed=listed)
        text = f"“{tag.name}”: {len(missing)} photos not scored for it yet — {PRESS_SCAN}."
        self.statusBar().showMessage(text, 8000)

    # ----------------------------------------------------------------- scanning

    def _model_choice(self) -> ModelChoice:
        return model_choice(self.settings)

    def scan(
        self,
        cached_only: bool = False,
        checking: str | None = None,
        background: bool = False,
        listed: tuple[str, ...] | None = None,
    ) -> None:
        """Scan the folder shown (see ``ScanActions.scan``; ``listed``: the photos it lists)."""
        if self.current_folder is None:
            return self._warn(
                "Scan", "Add a folder first (File > Add folder, or drop one on the library)."
            )
        if self.files.clearing:
            return self.statusBar().showMessage("The cache is being cleared: scan later.", 8000)
        self.tag_actions.flush()
        folder, sentences = self.current_folder, self.tags.sentences()
        self.scanning.scan(folder, sentences, cached_only, checking, listed, background)

    def _results(self, batch) -> None:
        self.photos.scanned(self.board.merge(batch))
        if not self._recount.isActive():
            self._recount.start()

    def _after_scores(self) -> None:
        self.tags.recount()
        self.detail.refresh_scores()
        if self.stack.currentWidget() is self.viewer:
            self.viewer.update()

    def _scan_finished(self, outcome: str, summary, checking: str | None) -> None:
        self._after_scores()
        photos = (p.path for p in self.photos.photos())
        waiting = len(self.board.missing(photos, self.tags.sentences())) if checking else 0
        self.scan_status.show_finished(outcome, summary, checking, waiting)
        if self.current_folder:
            self.lister.count(self.folders.root_of(self.current_folder))

    def search(self, text: str) -> None:
        if self.current_folder is not None:
            self.statusBar().showMessage(f"Searching for “{text}”…")
            self.scanning.search(self.current_folder, text)

    # ----------------------------------------------------------------- file actions

    def export_photos(self, target: str | None = None, fmt: str | None = None) -> int | None:
        """Export the selection (else the photos shown) as CSV or JSON, in the CLI's format."""
        scope = self.grid.scopes(self.current_folder)[0]
        return self.files.export(self.current_folder, scope, self.settings, target, fmt)

    def copy_photos(self, mode: str = "copy", dest: str | None = None) -> int | None:
        """Copy (or symlink) the selection, else the photos shown, into a folder."""
        task = FileTask.COPY if mode == "copy" else FileTask.LINK
        scope = self.grid.scopes(self.current_folder)[0]
        return self.files.copy(self.current_folder, scope, task, dest)

    def write_sidecars(self):
        tags, to, matched = self.tags.tags(), self.settings.pair_sidecars, self.board.matched_tags
        scopes = [  # a RAW + JPEG pair's tags go to the file the settings name (RAW by default)
            (label, sidecar_targets(photos, matched((p.path for p in photos), tags), to))
            for label, photos in self.grid.scopes(self.current_folder)
        ]
        return self.files.write_sidecars(self.current_folder, scopes)

    def remove_sidecar_tags(self):
        return self.files.remove_sidecar_tags(self.current_folder, self.settings.recursive)

    def clear_scores(self) -> int | None:
        """Never while a scan runs (its writer would race this one); scans wait until it is done."""
        if self.controller.scanning():
            return None
        self.tag_actions.flush()
        return self.files.clear_scores()

    def clear_feature_cache(self) -> int | None:
        return None if self.controller.scanning() else self.files.clear_features()

    def _scores_cleared(self) -> None:
        """The old scores are gone: reload what the cache still knows for the folder shown."""
        self.board.clear()
        self.photos.clear_search()
        self.photos.set_tags(self.tags.tags())
        self._after_scores()
        self.shown.reload_scores()

    # ----------------------------------------------------------------- settings, help

    def open_settings(self) -> SettingsDialog:
        return self.settings_flow.open(self.settings)

    def _settings_accepted(self, new: Settings) -> None:
        old = self.settings
        what = ("model", "model_revision", "first_token")  # what the score key is made of
        model_changed = any(getattr(new, k) != getattr(old, k) for k in what)
        self._save_settings(new)
        if model_changed:
            self.board.clear()
        if (new.recursive != old.recursive or model_changed) and self.current_folder:
            self.open_folder(self.current_folder)

    def _save_settings(self, settings: Settings) -> None:
        self.settings = settings
        try:
            self.settings_file.save(settings)
        except OSError as exc:
            self._warn("Settings", f"The settings could not be saved: {exc}")

    def _warn(self, title: str, text: str) -> None:
        QMessageBox.warning(self, title, text)

    def open_log(self) -> None:
        QDesktopServices.openUrl(QUrl.fromLocalFile(str(self.paths.log_file)))

    def about(self) -> None:
        show_about(self, self.paths.data_dir)

    # ----------------------------------------------------------------- shutdown

    def closeEvent(self, event) -> None:
        self.tag_actions.flush()
        self.state.save(self, self.splitters)
        parts = (self.controller, self.files, self.desk, self.live, self.thumbs, self.previews)
        for part in (*parts, self.lister, self.cache, self.tag_writer, self.tasks):
            part.shutdown()
        super().closeEvent(event)
