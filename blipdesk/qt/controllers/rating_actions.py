"""Ratings in the window: the keys 0-5, P, X, U and the colour labels' 6-9 on the selection (or
the photo in the viewer),
the grid's stars and flags, the ratings the grid's rating filter reads, and reading or writing
them in XMP sidecars.

``RatingBook`` is the GUI thread's path -> ``Rating`` for the folder shown. Ratings are loaded
for each listed folder, saved by content and read from or written to sidecars in a background
task (``blipdesk.services.ratings``; one task thread, so writes land in order); the book changes at once,
so the grid repaints without waiting for the disk. A save waits as long as another blipdesk
process holds the database (``store.write_lock``); one that fails for good puts the ratings it
showed back (those not changed again since) and says so in the status bar.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import replace

from PySide6.QtCore import QObject, Signal
from PySide6.QtGui import QUndoStack

from blipdesk.qt.common.undo import Step, photos_text
from blipdesk.qt.models.photos import PhotoGridModel
from blipdesk.qt.workers.tasks import BackgroundTasks
from blipdesk.services.ratings import Rating, stars_text


class RatingActions(QObject):
    changed = Signal(list)  # paths whose rating changed
    message = Signal(str, int)  # status bar text, timeout

    def __init__(
        self,
        database: str,
        photos: PhotoGridModel,
        targets: Callable[[], list],
        parent: QObject | None = None,
        undo: QUndoStack | None = None,
    ) -> None:
        """``undo``: where each key's change goes as one step (None: changes are not undoable)."""
        super().__init__(parent)
        self.undo = undo
        self.database = database
        self.photos = photos
        self.targets = targets  # the photos a key acts on: the viewer's, else the selection
        self.book: dict[str, Rating] = {}
        photos.set_ratings(self.book.get)  # what the filter's rating criterion reads
        self.tasks = BackgroundTasks(self)
        self.tasks.done.connect(self._done)
        self.tasks.failed.connect(lambda request, message, *_: self._failed(request, message))
        self._handlers: dict[int, Callable[[object], None]] = {}
        # Saves in flight: request -> {path: (rating before, rating shown)}, to undo on failure.
        self._saving: dict[int, dict[str, tuple[Rating, Rating]]] = {}
        self._load = 0

    # ----------------------------------------------------------------- reading

    def rating(self, path: str) -> Rating:
        return self.book.get(path, Rating())

    def text(self, path: str) -> str:
        return stars_text(self.book.get(path))

    def load(self, paths: list[str]) -> None:
        """The ratings of a newly listed folder (a late answer for an older listing is dropped)."""
        from blipdesk.services.ratings import load_ratings

        request = self._start(load_ratings, self._loaded, self.database, list(paths))
        self._load = request

    def _loaded(self, found) -> None:
        self.book.update(found)
        self._changed(list(found))

    # ----------------------------------------------------------------- the keys

    def set_stars(self, stars: int) -> None:
        what = f"{stars} star{'s' * (stars != 1)}" if stars else "no stars"
        self._apply(lambda r: replace(r, stars=stars), what)

    def set_flag(self, flag: int) -> None:
        what = {1: "pick", -1: "reject", 0: "no flag"}[flag]
        self._apply(lambda r: replace(r, flag=flag), what)

    def set_colour(self, colour: str) -> None:
        """A colour label ("red"...; "" takes it off). As in Lightroom, the key of the label a
        photo already has takes it off (the first photo decides, for all)."""
        photos = self.targets()
        if photos and colour and self.rating(photos[0].path).colour == colour:
            colour = ""
        what = f"{colour} label" if colour else "no colour label"
        self._apply(lambda r: replace(r, colour=colour), what)

    def _apply(self, change: Callable[[Rating], Rating], what: str) -> None:
        """One key on the photos it acts on: one step (undone and redone as a whole)."""
        photos = self.targets()
        if not photos:
            self.message.emit("Select photos to rate first.", 5000)
            return
        before = {p.path: self.rating(p.path) for p in photos}
        new = {path: change(rating) for path, rating in before.items()}
        text = f"{what} on {photos_text(len(new))}"
        if self.undo is None:
            self._put(new, before)
        else:
            self.undo.push(
                Step(text, lambda: self._put(new, before), lambda: self._put(before, new))
            )
        self.message.emit(text[0].upper() + text[1:], 4000)

    def _put(self, ratings: dict[str, Rating], before: dict[str, Rating]) -> None:
        """Shown at once; saved by content in the background (in order); put back, and said,
        if the save fails for good (``_failed``)."""
        self.book.update(ratings)
        self._changed(list(ratings))
        self._save(ratings, before)

    # ----------------------------------------------------------------- sidecars

    def read_sidecars(self) -> None:
        from blipdesk.services.ratings import read_sidecar_ratings

        paths = [p.path for p in self.photos.photos()]
        self._start(read_sidecar_ratings, self._read, paths)
        self.message.emit(f"Reading ratings from the sidecars of {len(paths)} photos…", 0)

    def _read(self, answer) -> None:
        found, errors = answer
        before = {path: self.rating(path) for path in found}
        self.book.update(found)
        self._changed(list(found))
        if found:
            self._save(dict(found), before)
        problem = f"; {len(errors)} sidecars could not be read ({errors[0]})" if errors else ""
        self.message.emit(f"Ratings read from {len(found)} sidecars{problem}", 10000)

    def write_sidecars(self) -> None:
        """Write the ratings of the selection (else of every photo shown) into their sidecars."""
        from blipdesk.services.ratings import write_sidecar_ratings

        photos = self.targets() or self.photos.visible_photos()
        wanted = {p.path: self.rating(p.path) for p in photos}
        self._start(write_sidecar_ratings, self._written, wanted)

    def _written(self, answer) -> None:
        changed, errors = answer
        problem = f"; {len(errors)} failed ({errors[0]})" if errors else ""
        self.message.emit(f"Ratings written: {changed} sidecars changed{problem}", 10000)

    # ----------------------------------------------------------------- saving

    def _save(self, new: dict[str, Rating], before: dict[str, Rating]) -> None:
        from blipdesk.services.ratings import save_ratings

        request = self._start(save_ratings, lambda _saved: None, self.database, new)
        self._saving[request] = {path: (before[path], new[path]) for path in new}

    def _failed(self, request: int, message: str) -> None:
        """A task failed: a save's ratings did not land, so the window stops showing them."""
        self._handlers.pop(request, None)
        undo = self._saving.pop(request, None)
        if not undo:
            self.message.emit(message, 10000)
            return
        back = [p for p, (_old, shown) in undo.items() if self.book.get(p, Rating()) == shown]
        for path in back:
            self.book[path] = undo[path][0]
        self._changed(back)
        n = len(undo)
        self.message.emit(
            f"The rating of {n} photo{'s' * (n != 1)} could not be saved and was put back: "
            f"{message}",
            0,
        )

    # ----------------------------------------------------------------- plumbing

    def _start(self, fn, handler: Callable[[object], None], *args) -> int:
        request = self.tasks.start(fn, *args)
        self._handlers[request] = handler
        return request

    def _done(self, request: int, value) -> None:
        self._saving.pop(request, None)
        handler = self._handlers.pop(request, None)
        if handler == self._loaded and request != self._load:
            return  # an older folder's ratings
        if handler is not None:
            handler(value)

    def _changed(self, paths: list[str]) -> None:
        if not paths:
            return
        self.photos.scores_changed(paths)  # repaints those cells
        if self.photos.filter.rating.active:
            self.photos.refresh()
        self.changed.emit(paths)

    def shutdown(self) -> None:
        self.tasks.shutdown()
