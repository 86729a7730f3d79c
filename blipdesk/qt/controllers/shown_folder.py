"""The folder the window shows: its photos listed in the pool (then their EXIF facts), its cached
scores loaded off the GUI thread, and late answers for a folder already left behind dropped (each
request has an id; only the newest one's answer is applied).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import replace

from PySide6.QtCore import QObject, Signal

from blipdesk.infra.paths import Paths
from blipdesk.qt.common.values import Photo, ScoreBoard
from blipdesk.qt.models.cache_reader import CacheLoader
from blipdesk.qt.models.photos import PhotoGridModel
from blipdesk.qt.models.tags import TagListModel
from blipdesk.qt.workers.folders import FolderLister
from blipdesk.services.options import model_choice
from blipdesk.services.settings import Settings


class ShownFolder(QObject):
    scoresLoaded = Signal()  # the cache's scores for the folder are on the board
    listed = Signal(str)  # the folder's photos are in the grid model
    described = Signal(object)  # FolderFacts: its cameras, lenses… and days, once all are read

    def __init__(
        self,
        lister: FolderLister,
        cache: CacheLoader,
        photos: PhotoGridModel,
        tags: TagListModel,
        board: ScoreBoard,
        paths: Paths,
        settings: Callable[[], Settings],
    ) -> None:
        super().__init__(photos)
        self.lister, self.cache, self.photos, self.tags, self.board = (
            lister, cache, photos, tags, board
        )  # fmt: skip
        self.paths, self.settings = paths, settings
        self.current: str | None = None
        self._listing = self._cache_request = 0
        lister.listed.connect(self._listed)
        lister.dated.connect(self._dated)
        lister.described.connect(
            lambda request, facts: self.described.emit(facts) if request == self._listing else None
        )
        cache.loaded.connect(self._cache_loaded)

    def open(self, folder: str) -> None:
        self.current = folder
        self._listing = self.lister.list(folder, self.settings().recursive)

    def refresh(self) -> None:
        """List the folder shown again (its files changed on disk; ``live_folders.py`` calls
        it, and anything else that needs the grid to follow the disk may): photos come and go,
        dates already read are kept for files that did not change."""
        if self.current:
            self._listing = self.lister.list(self.current, self.settings().recursive)

    def close(self) -> None:
        self.current = None
        self.photos.set_photos([])

    @property
    def cache_request(self) -> int:
        """The id of the newest cache read asked for (answers to older ones are dropped)."""
        return self._cache_request

    def reload_scores(self) -> None:
        self._cache_request = 0  # a load started before now would bring old scores back
        if self.current:
            s = self.settings()
            self._cache_request = self.cache.load(
                self.paths.database, model_choice(s), self.current, s.recursive
            )

    def _listed(self, request: int, folder: str, photos: list) -> None:
        if request == self._listing:
            photos = self._keep_known(photos)
            self.photos.set_photos(photos)
            self.board.pairs = {p.path: p.companions for p in photos if p.companions}
            self.tags.set_paths(p.path for p in photos)
            self.listed.emit(folder)
            self.reload_scores()

    def _keep_known(self, photos: list[Photo]) -> list[Photo]:
        """A file listed again unchanged keeps its EXIF date; a changed one loses its old
        thumbnail (the in-memory one is keyed by path)."""
        old = {p.path: p for p in self.photos.photos()}
        out, changed = [], []
        for p in photos:
            before = old.get(p.path)
            if before is None:
                out.append(p)
            elif (before.size, before.mtime) == (p.size, p.mtime):
                out.append(replace(p, taken=before.taken))
            else:
                out.append(p)
                changed.append(p.path)
        if changed and self.photos.thumbnails is not None:
            self.photos.thumbnails.forget(changed)
        return out

    def _dated(self, request: int, dated: list) -> None:
        if request == self._listing:
            self.photos.set_facts(dated)

    def _cache_loaded(self, request: int, cached) -> None:
        if request == self._cache_request:
            self.board.calibrations = dict(cached.calibrations)
            self.photos.set_duplicates(cached.duplicates)
            self.photos.scores_changed(self.board.merge(cached.scores))
            self.scoresLoaded.emit()
