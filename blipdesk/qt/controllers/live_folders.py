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
``watch_folders``.
"""

from __future__ import annotations

import logging
import os
from typing import Any

from PySide6.QtCore import QEvent, QObject, QRunnable, QThreadPool, Signal
from PySide6.QtGui import QAction

from blipdesk.qt.models.cache_reader import read_duplicates
from blipdesk.qt.workers.watcher import FolderWatcher

log = logging.getLogger(__name__)


class LiveFolders(QObject):
    def __init__(self, window: Any, watcher: FolderWatcher | None = None) -> None:
        super().__init__(window)
        self.window = window
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
        folders = window.folders
        for sig in (folders.rowsInserted, folders.rowsRemoved, folders.modelReset):
            sig.connect(self.follow_settings)
        window.cache.loaded.connect(self._cache_loaded)
        window.lister.listed.connect(self._listed)  # after ShownFolder's: the rows are in
        window.scanning.finished.connect(self._scan_finished)
        window.settings_flow.accepted.connect(lambda _s: self.follow_settings())
        self.follow_settings()
        self._duplicates_action(window)
        window.installEventFilter(self)  # the window's close stops the watcher

    @staticmethod
    def _duplicates_action(window: Any) -> None:
        """View > Show duplicates only (the View menu is the desk's, when it made one)."""
        bar = window.menuBar()
        menus = [a.menu() for a in bar.actions() if a.text() == "&View" and a.menu()]
        view = menus[0] if menus else bar.addMenu("&View")
        action = QAction("Show &duplicates only", window, checkable=True)
        # a criterion of the one filter: a chip in the filter bar, saved with smart views
        action.toggled.connect(lambda on: window.filter_bar.set_criteria(duplicates=on))
        window.filter_bar.filterChanged.connect(lambda state: action.setChecked(state.duplicates))
        view.addSeparator()
        view.addAction(action)
        window.duplicates_action = action

    def eventFilter(self, watched: QObject, event: QEvent) -> bool:
        if watched is self.window and event.type() == QEvent.Type.Close:
            self.shutdown()
        return False

    def follow_settings(self, *_args: object) -> None:
        w = self.window
        self.watcher.set_roots(w.folders.roots() if w.settings.watch_folders else ())
        if w.lister.group_pairs != w.settings.group_pairs:  # RAW + JPEG: one photo or two
            w.lister.group_pairs = w.settings.group_pairs
            self._changed(list(w.folders.roots()))

    def shutdown(self) -> None:
        self.watcher.shutdown()
        self._reads.clear()
        self._reads.waitForDone(5000)

    # ----------------------------------------------------------------- reactions

    def _shown_root(self, roots: list[str]) -> bool:
        current = self.window.current_folder
        return current is not None and any(
            current == r or current.startswith(r.rstrip(os.sep) + os.sep)
            or r.startswith(current.rstrip(os.sep) + os.sep)
            for r in roots
        )  # fmt: skip

    def _changed(self, roots: list[str]) -> None:
        for root in roots:
            self.window.lister.count(root)
        if self._shown_root(roots):
            grid = self.window.grid
            current = grid.current_photo()
            self._keep = (
                [p.path for p in grid.selected_photos()],
                current.path if current is not None else None,
                grid.verticalScrollBar().value(),
            )
            self.window.shown.refresh()

    def _listed(self, *_args: object) -> None:
        """After a re-list the grid's rows were reset: the same photos selected, the same place
        scrolled to (photos come and go around the person, who stays where they were)."""
        keep, self._keep = self._keep, None
        if keep is None:
            return
        selected, current, scrolled = keep
        grid, model = self.window.grid, self.window.photos
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
        w = self.window
        if not (w.settings.scan_new_photos and self._model_known and w.current_folder):
            return
        if w.controller.scanning() or w.files.clearing:
            self._scan_waiting = True  # once the running job ends
            return
        self._scan_waiting = False
        self.auto_scans += 1
        self._mine = True
        w.tag_actions.flush()  # as the Scan button does: the tags as they stand
        w.scanning.scan(w.current_folder, w._sentences(), background=True)

    def _cache_loaded(self, _request: int, cached: Any) -> None:
        self._model_known = self._model_known or cached.score_key is not None

    def _scan_finished(self, outcome: str, _summary: object, _checking: object) -> None:
        if outcome == "done":
            self._model_known = True
        folder = self.window.current_folder
        mine, self._mine = self._mine, False
        if mine:
            # Renamed, moved and copied photos cost the model nothing, so no batch brought
            # their scores: the cache has them (and which photos are duplicates).
            self.window.shown.reload_scores()
        elif folder:  # the scan hashed new files: which photos are now duplicates
            args = (self.window.paths.database, folder, self.window.settings.recursive)
            self._reads.start(_DuplicatesTask(self._relay, folder, args))
        if self._scan_waiting:
            self._scan_when_free()

    def _duplicates_read(self, folder: str, duplicates: dict) -> None:
        if folder == self.window.current_folder:
            self.window.photos.set_duplicates(duplicates)


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
