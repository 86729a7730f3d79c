"""Folders that change while the window is open: the grid, the sidebar's counts and the scores
follow the disk.

``FolderWatcher`` (``qt/workers/watcher.py``) reports, coalesced, which library folders changed;
then the folder shown is listed again (``ShownFolder.refresh``: new, renamed and moved photos
appear, deleted ones go) and the sidebar recounts, all in the pool. When a burst has settled and
the setting ``scan_new_photos`` is on, the folder shown is scanned once, in the background, with
the current tags: only new and changed photos cost model time (everything else is cached). A scan
already running makes it wait for that scan's end; interactive jobs (Try, Why?, search) run
between its batches, as in every scan, and its decode processes run niced (low priority). It never starts before the model has scored something in
this library (a missing model would ask for a download the person did not request).

The watcher's roots follow the library's folders (the folder tree's rows) and the setting
``watch_folders``. ``qt/window.py`` creates it with the parts it acts on and wires what happens
elsewhere (a scan's end, settings accepted) to ``scan_finished`` and ``follow_settings``.
"""

from __future__ import annotations

import logging
import os
from collections.abc import Callable
from pathlib import Path
from typing import Any

from PySide6.QtCore import QObject, QRunnable, QThreadPool, Signal
from PySide6.QtGui import QAction
from PySide6.QtWidgets import QMenu

from blipdesk.qt.controllers.shown_folder import ShownFolder
from blipdesk.qt.models.cache_reader import CacheLoader, read_duplicates
from blipdesk.qt.models.folders import FolderTreeModel
from blipdesk.qt.widgets.photo_grid import PhotoGrid
from blipdesk.qt.workers.folders import FolderLister
from blipdesk.qt.workers.watcher import FolderWatcher
from blipdesk.services.settings import Settings

log = logging.getLogger(__name__)


class LiveFolders(QObject):
    def __init__(
        self,
        shown: ShownFolder,
        grid: PhotoGrid,
        folders: FolderTreeModel,
        lister: FolderLister,
        cache: CacheLoader,
        database: Path,
        settings: Callable[[], Settings],
        busy: Callable[[], bool],
        scan: Callable[[], None],
        view: QMenu,
        parent: QObject | None = None,
        watcher: FolderWatcher | None = None,
    ) -> None:
        """``busy``: a scan runs or a cache is being cleared (an automatic scan waits);
        ``scan``: scan the folder shown in the background with the tags as they stand; ``view``:
        the View menu, which gets "Show duplicates only"."""
        super().__init__(parent)
        self.shown, self.grid, self.photos = shown, grid, shown.photos
        self.folders, self.lister, self.database = folders, lister, database
        self.settings, self.busy, self.scan = settings, busy, scan
        self.watcher = watcher or FolderWatcher(parent=self)
        self._scan_waiting = False
        self._mine = False  # the scan running was started here
        self._model_known = False  # the cache holds scores of the configured model
        self.auto_scans = 0
        self._keep: tuple[list[str], str | None, int] | None = None  # the view across a re-list
        self._reads = QThreadPool(self)
        self._reads.setMaxThreadCount(1)
        self._relay = _Relay(self)
        self._relay.read.connect(self._duplicates_read)
        self.watcher.changed.connect(self._changed)
        self.watcher.settled.connect(self._settled)
        for sig in (folders.rowsInserted, folders.rowsRemoved, folders.modelReset):
            sig.connect(self.follow_settings)
        cache.loaded.connect(self._cache_loaded)
        lister.listed.connect(self._listed)  # after ShownFolder's: the rows are in
        self.follow_settings()
        self.duplicates_action = QAction("Show &duplicates only", self, checkable=True)
        self.duplicates_action.toggled.connect(self.photos.set_duplicates_only)
        view.addSeparator()
        view.addAction(self.duplicates_action)

    def duplicates_mode(self) -> tuple[Callable[[], str], Callable[[], None]]:
        """View > Show duplicates only, for the banner over the grid: its text, how to leave."""
        return (lambda: "Duplicates only", lambda: self.duplicates_action.setChecked(False))

    def follow_settings(self, *_args: object) -> None:
        settings = self.settings()
        self.watcher.set_roots(self.folders.roots() if settings.watch_folders else ())
        if self.lister.group_pairs != settings.group_pairs:  # RAW + JPEG: one photo or two
            self.lister.group_pairs = settings.group_pairs
            self._changed(list(self.folders.roots()))

    def shutdown(self) -> None:
        self.watcher.shutdown()
        self._reads.clear()
        self._reads.waitForDone(5000)

    # ----------------------------------------------------------------- reactions

    def _shown_root(self, roots: list[str]) -> bool:
        current = self.shown.current
        return current is not None and any(
            current == r or current.startswith(r.rstrip(os.sep) + os.sep)
            or r.startswith(current.rstrip(os.sep) + os.sep)
            for r in roots
        )  # fmt: skip

    def _changed(self, roots: list[str]) -> None:
        for root in roots:
            self.lister.count(root)
        if self._shown_root(roots):
            grid = self.grid
            current = grid.current_photo()
            self._keep = (
                [p.path for p in grid.selected_photos()],
                current.path if current is not None else None,
                grid.verticalScrollBar().value(),
            )
            self.shown.refresh()

    def _listed(self, *_args: object) -> None:
        """After a re-list the grid's rows were reset: the same photos selected, the same place
        scrolled to (photos come and go around the person, who stays where they were)."""
        keep, self._keep = self._keep, None
        if keep is None:
            return
        selected, current, scrolled = keep
        grid, model = self.grid, self.photos
        if current is not None and model.row_of(current) >= 0:
            grid.select_path(current)
        chosen = grid.selectionModel()
        for path in selected:
            row = model.row_of(path)
            if row >= 0:
                chosen.select(model.index(row), chosen.SelectionFlag.Select)
        grid.verticalScrollBar().setValue(scrolled)

    def _settled(self, roots: list[str]) -> None:
        if self._shown_root(roots):
            self._scan_when_free()

    def _scan_when_free(self) -> None:
        if not (self.settings().scan_new_photos and self._model_known and self.shown.current):
            return
        if self.busy():
            self._scan_waiting = True  # once the running job ends
            return
        self._scan_waiting = False
        self.auto_scans += 1
        self._mine = True
        self.scan()

    def _cache_loaded(self, _request: int, cached: Any) -> None:
        self._model_known = self._model_known or cached.score_key is not None

    def scan_finished(self, outcome: str, _summary: object, _checking: object) -> None:
        """A scan ended (``ScanActions.finished``), whoever started it."""
        if outcome == "done":
            self._model_known = True
        folder = self.shown.current
        mine, self._mine = self._mine, False
        if mine:
            # Renamed, moved and copied photos cost the model nothing, so no batch brought
            # their scores: the cache has them (and which photos are duplicates).
            self.shown.reload_scores()
        elif folder:  # the scan hashed new files: which photos are now duplicates
            args = (self.database, folder, self.settings().recursive)
            self._reads.start(_DuplicatesTask(self._relay, folder, args))
        if self._scan_waiting:
            self._scan_when_free()

    def _duplicates_read(self, folder: str, duplicates: dict) -> None:
        if folder == self.shown.current:
            self.photos.set_duplicates(duplicates)


class _Relay(QObject):
    read = Signal(str, object)  # folder, {path: files holding its content}


class _DuplicatesTask(QRunnable):
    def __init__(self, relay: _Relay, folder: str, args: tuple) -> None:
        super().__init__()
        self.relay, self.folder, self.args = relay, folder, args

    def run(self) -> None:
        try:
            found = read_duplicates(*self.args)
        except Exception:
            log.exception("reading the duplicates failed")
            return
        self.relay.read.emit(self.folder, found)
