"""Auto-stacks for bursts (issue 25, item 18): photos taken within a second or two of each other
with near-identical pixels (``domain.near.bursts``: the scan's perceptual hashes and the capture
times) show in the grid as one stack, its best-rated photo on top with a "▣ N" badge; S (Photo >
Expand or collapse stack) opens the stack of the current photo, and closes it again.

The bursts are found for each listed folder in a background task (``services.near.load_bursts``:
the library's hashes, no decode) and again after a scan; the grid hides the photos under a
collapsed stack's top through the one filter (``photo_filter.stack_rule``). A new rating can put
another photo on top.
"""

from __future__ import annotations

from collections.abc import Sequence

from PySide6.QtCore import QObject, Signal

from blipdesk.domain.near import stack_top
from blipdesk.qt.controllers.rating_actions import RatingActions
from blipdesk.qt.models.photos import PhotoGridModel
from blipdesk.qt.workers.tasks import BackgroundTasks

BADGE = "▣"


class Stacks(QObject):
    message = Signal(str, int)

    def __init__(
        self, database: str, photos: PhotoGridModel, ratings: RatingActions, parent=None
    ) -> None:
        super().__init__(parent)
        self.database, self.photos, self.ratings = database, photos, ratings
        self.groups: list[tuple[str, ...]] = []
        self.group_of: dict[str, int] = {}
        self.expanded: set[tuple[str, ...]] = set()
        self._tops: dict[int, str] = {}
        self.tasks = BackgroundTasks(self)
        self.tasks.done.connect(self._found)
        self._request = 0
        ratings.changed.connect(self._ratings_changed)
        photos.set_stacks(self.hidden)

    def load(self, photos: Sequence) -> None:
        """Find the bursts among ``photos`` (the folder listed, or scanned again)."""
        from blipdesk.services.near import load_bursts

        listed = [(p.path, p.taken) for p in photos]
        self._request = self.tasks.start(load_bursts, self.database, listed)

    def _found(self, request: int, groups) -> None:
        if request != self._request:
            return  # an older listing's
        self.set_groups(groups)

    def set_groups(self, groups: Sequence[tuple[str, ...]]) -> None:
        self.groups = [tuple(g) for g in groups]
        self.group_of = {p: i for i, g in enumerate(self.groups) for p in g}
        self.expanded &= set(self.groups)
        self._tops.clear()
        self.photos.refresh()
        self.photos.scores_changed(list(self.group_of))  # the badges repaint

    # ----------------------------------------------------------------- what the grid asks

    def top(self, index: int) -> str:
        if index not in self._tops:
            book = self.ratings.book

            def rated(path: str) -> tuple[int, int]:
                r = book.get(path)
                return (r.stars, r.flag) if r is not None else (0, 0)

            self._tops[index] = stack_top(self.groups[index], rated)
        return self._tops[index]

    def hidden(self, path: str) -> bool:
        """Whether ``path`` lies under the top of a collapsed stack."""
        index = self.group_of.get(path)
        if index is None or self.groups[index] in self.expanded:
            return False
        return self.top(index) != path

    def badge(self, path: str) -> str:
        """ "▣ N" on a collapsed stack's top; "▣ k/N" on each photo of an open one."""
        index = self.group_of.get(path)
        if index is None:
            return ""
        group = self.groups[index]
        if group in self.expanded:
            return f"{BADGE}{group.index(path) + 1}/{len(group)}"
        return f"{BADGE}{len(group)}" if self.top(index) == path else ""

    # ----------------------------------------------------------------- S

    def toggle(self, path: str | None) -> None:
        """Open the stack of ``path`` (the current photo), or close it."""
        index = self.group_of.get(path or "")
        if index is None:
            self.message.emit("This photo is in no stack (a burst taken within seconds).", 4000)
            return
        group = self.groups[index]
        if group in self.expanded:
            self.expanded.discard(group)
            what = "closed"
        else:
            self.expanded.add(group)
            what = "opened"
        self.photos.refresh()
        self.photos.scores_changed(list(group))
        self.message.emit(f"Stack of {len(group)} {what}", 3000)

    def _ratings_changed(self, paths: list[str]) -> None:
        touched = {self.group_of[p] for p in paths if p in self.group_of}
        if touched:
            for index in touched:
                self._tops.pop(index, None)
            self.photos.refresh()
            self.photos.scores_changed([p for i in touched for p in self.groups[i]])

    def shutdown(self) -> None:
        self.tasks.shutdown()
