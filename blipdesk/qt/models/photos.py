"""The photo grid's model: the current folder's photos, filtered and sorted, with roles.

Filtering and sorting happen here rather than in a ``QSortFilterProxyModel``: a Python proxy calls
``data()`` across the language boundary for every comparison, which costs about half a second per
sort of 10,000 photos; ``sorted()`` with a key costs milliseconds. A change that can move rows
(scores arriving while sorting by score, a threshold moved under a filter) is coalesced on a short
timer, so a flood of result batches re-sorts a few times per second at most.

``data()`` does no I/O: thumbnails come from the loader's in-memory cache (requests are issued by
the view for the rows near its viewport), scores from the in-memory ``ScoreBoard``.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Iterable, Mapping
from dataclasses import replace
from datetime import datetime
from enum import IntEnum

from PySide6.QtCore import (
    QAbstractListModel,
    QByteArray,
    QModelIndex,
    QObject,
    QPersistentModelIndex,
    Qt,
    QTimer,
    Signal,
)

from blipdesk.core.exif import NO_FACTS, ShotFacts, file_size_text
from blipdesk.qt.common.label_marks import Mark
from blipdesk.qt.common.score_text import match_text, percent_text
from blipdesk.qt.common.values import Photo, ScoreBoard, Tag, tag_colour
from blipdesk.services.photo_filter import (
    MODES,
    FilterContext,
    FilterState,
    SortState,
    accepts,
    compile_filter,
    sort_function,
)
from blipdesk.services.ratings import Rating

__all__ = ["MODES", "FilterState", "PhotoGridModel", "Roles", "SortState", "accepts"]


class Roles(IntEnum):
    Photo = Qt.ItemDataRole.UserRole + 1
    Path = Qt.ItemDataRole.UserRole + 2
    Date = Qt.ItemDataRole.UserRole + 3
    TagColours = Qt.ItemDataRole.UserRole + 4  # colours of the tags this photo carries
    TagScores = Qt.ItemDataRole.UserRole + 5  # [(Tag, score or None)]
    SearchScore = Qt.ItemDataRole.UserRole + 6
    Thumbnail = Qt.ItemDataRole.UserRole + 7  # QPixmap or None (not decoded yet)
    Broken = Qt.ItemDataRole.UserRole + 8  # why the photo cannot be read, or None
    Duplicates = Qt.ItemDataRole.UserRole + 9  # files holding this photo's content (0: unique)
    Labels = Qt.ItemDataRole.UserRole + 20  # [(colour, yes / no)]: the tags a person labelled
    Marks = Qt.ItemDataRole.UserRole + 21  # [Mark]: what the thumbnail draws per tag, clickable


class PhotoGridModel(QAbstractListModel):
    countsChanged = Signal()  # visible / total changed
    factsChanged = Signal()  # EXIF facts arrived (dates, cameras…): soon after, not per batch

    def __init__(self, board: ScoreBoard, thumbnails=None, parent: QObject | None = None) -> None:
        super().__init__(parent)
        self.board = board
        self.thumbnails = thumbnails  # ThumbnailLoader or None
        self._all: list[Photo] = []
        self._by_path: dict[str, Photo] = {}
        self._rows: list[Photo] = []
        self._row_of: dict[str, int] = {}
        self._tags: dict[str, Tag] = {}
        self._duplicates: Mapping[str, int] = {}  # path -> files with its content (>= 2)
        self._rating: Callable[[str], Rating | None] = _unrated  # path -> its rating
        self._stacked: Callable[[str], bool] | None = None  # under a collapsed stack's top
        self._facts: dict[str, ShotFacts] = {}  # path -> its EXIF facts (read off this thread)
        self._facts_due = QTimer(self, singleShot=True, interval=300)
        self._facts_due.timeout.connect(self.factsChanged)
        self.filter = FilterState()
        self.sort_state = SortState()
        self._dirty_paths: set[str] = set()
        self._prev_rows: list[Photo] = []
        # While a scan runs, its scores repaint the cells but do not move them (the grid would
        # reshuffle under the cursor when sorted or filtered by a score): the order is brought
        # up to date when the scan pauses or ends (``hold_order``).
        self._held = False
        self.order_stale = False  # held back: the rows are not in the order of the scores
        self._relayout = QTimer(self, singleShot=True, interval=150)
        self._relayout.timeout.connect(self._relayout_due)
        self._repaint = QTimer(self, singleShot=True, interval=30)
        self._repaint.timeout.connect(self._flush_changed)

    # ----------------------------------------------------------------- Qt API

    def rowCount(self, parent: QModelIndex | QPersistentModelIndex = QModelIndex()) -> int:  # noqa: B008
        return 0 if parent.isValid() else len(self._rows)

    def flags(self, index: QModelIndex | QPersistentModelIndex) -> Qt.ItemFlag:
        if not index.isValid():
            return Qt.ItemFlag.NoItemFlags
        return Qt.ItemFlag.ItemIsEnabled | Qt.ItemFlag.ItemIsSelectable

    def data(
        self, index: QModelIndex | QPersistentModelIndex, role: int = Qt.ItemDataRole.DisplayRole
    ):
        if not index.isValid() or not 0 <= index.row() < len(self._rows):
            return None
        photo = self._rows[index.row()]
        if role == Qt.ItemDataRole.DisplayRole:
            return photo.name
        if role == Qt.ItemDataRole.ToolTipRole:
            return self.tooltip(photo)
        if role in (Roles.Photo, Qt.ItemDataRole.UserRole):
            return photo
        if role == Roles.Path:
            return photo.path
        if role == Roles.Date:
            return photo.date
        if role == Roles.Marks:
            return self.marks(photo)
        if role == Roles.TagColours:
            return [m.colour for m in self.marks(photo) if m.carried]
        if role == Roles.Labels:
            return [(m.colour, m.label) for m in self.marks(photo) if m.label is not None]
        if role == Roles.TagScores:
            return [(t, self.board.tag_score(photo.path, t)) for t in self._tags.values()]
        if role == Roles.SearchScore:
            return self.filter.search_itm.get(photo.path)
        if role == Roles.Thumbnail:
            return None if self.thumbnails is None else self.thumbnails.pixmap(photo.path)
        if role == Roles.Broken:
            return self.broken(photo)
        if role == Roles.Duplicates:
            return self._duplicates.get(photo.path, 0)
        return None

    def marks(self, photo: Photo) -> list[Mark]:
        """Per tag the photo carries or a person labelled: its dot and its ✓ / ✗ (tag order)."""
        mine = self.board.labels.get(photo.path, {})
        out = []
        for name, tag in self._tags.items():
            carried = self.board.matches(photo.path, tag)
            if carried or name in mine:
                out.append(Mark(name, tag_colour(tag), carried, mine.get(name)))
        return out

    def mark_tooltip(self, photo: Photo, name: str) -> str:
        """What hovering a tag's dot or ✓ / ✗ on a thumbnail says."""
        tag = self._tags.get(name)
        if tag is None:
            return ""
        score = self.board.tag_score(photo.path, tag)
        said = self.board.label(photo.path, name)
        how = match_text(score)
        mine = "" if said is None else (" · you said yes" if said else " · you said no")
        return f"<b>{_html(name)}</b>: {how}{mine}<br>Click to say yes or no"

    def broken(self, photo: Photo) -> str | None:
        """Why the photo cannot be read (the scan's record, else the thumbnail's), or None."""
        error = self.board.errors.get(photo.path)
        if error is None and self.thumbnails is not None:
            error = self.thumbnails.broken.get(photo.path)
        return error

    def roleNames(self):
        names = super().roleNames()
        for role in Roles:
            names[int(role)] = QByteArray(role.name[0].lower().encode() + role.name[1:].encode())
        return names

    # ----------------------------------------------------------------- content

    def set_photos(self, photos: Iterable[Photo]) -> None:
        self._all = list(photos)
        self._by_path = {p.path: p for p in self._all}
        self.refresh()

    def photos(self) -> list[Photo]:
        return list(self._all)

    def visible_photos(self) -> list[Photo]:
        return list(self._rows)

    def photo_at(self, row: int) -> Photo | None:
        return self._rows[row] if 0 <= row < len(self._rows) else None

    def row_of(self, path: str) -> int:
        return self._row_of.get(path, -1)

    def total(self) -> int:
        return len(self._all)

    def set_tags(self, tags: Iterable[Tag]) -> None:
        self._tags = {t.name: t for t in tags}
        chips = tuple(c for c in self.filter.chips if c[0] in self._tags)
        if chips != self.filter.chips:
            self.filter = replace(self.filter, chips=chips)
        self._changed_everything()

    def tags(self) -> list[Tag]:
        return list(self._tags.values())

    def set_duplicates(self, duplicates: Mapping[str, int]) -> None:
        """Which photos are the same photo as another file (content hash), from the cache."""
        if duplicates != self._duplicates:
            self._duplicates = dict(duplicates)
            self._changed_everything()

    def set_ratings(self, rating: Callable[[str], Rating | None]) -> None:
        """Where the rating filter reads a photo's rating (path -> Rating or None); the owner
        of the ratings calls ``scores_changed`` when they change."""
        self._rating = rating
        if self.filter.rating.active or self.sort_state.key in ("rating", "flag"):
            self.refresh()

    def set_stacks(self, stacked: Callable[[str], bool]) -> None:
        """Which photos lie under a collapsed stack's top (``controllers/stacks.py``); the owner
        calls ``refresh`` when that changes."""
        self._stacked = stacked
        self.refresh()

    def set_facts(self, facts: Iterable[tuple[str, ShotFacts]]) -> None:
        """EXIF facts from the background pass (``FolderLister``): the moment taken replaces
        the Photo values (not mutated); camera, lens... are kept for the metadata filter."""
        dated = False
        for path, found in facts:
            self._facts[path] = found
            old = self._by_path.get(path)
            if old is not None and old.taken != found.taken:
                self._by_path[path] = replace(old, taken=found.taken)
                dated = True
        if dated:
            self._all = [self._by_path[p.path] for p in self._all]
            self._rows = [self._by_path[p.path] for p in self._rows]
        if self.sort_state.key == "date" or self.filter.facts_active:
            self._relayout.start()
        if not self._facts_due.isActive():
            self._facts_due.start()

    def facts(self, path: str) -> ShotFacts:
        return self._facts.get(path, NO_FACTS)

    def set_filter(self, state: FilterState) -> None:
        self.filter = state
        self.refresh()

    def set_chips(self, state: FilterState) -> None:
        """The filter bar's criteria (chips, minimum score, dates, types, folder, extras); the
        search, if any, stays."""
        search = self.filter
        self.set_filter(
            replace(
                state, search=search.search, search_text=search.search_text,
                search_itm=search.search_itm,
            )
        )  # fmt: skip

    def show_search(self, query: str, order: Mapping[str, float], itm: Mapping[str, float]) -> None:
        """A search's ranking (``order``: higher first) and the match scores checked so far."""
        self.set_filter(replace(self.filter, search=order, search_text=query, search_itm=itm))

    def counts_text(self) -> str:
        shown, total = self.rowCount(), self.total()
        text = f"{total} photos" if shown == total else f"{shown} of {total} photos shown"
        return text + (" · order updates when the scan pauses or ends" if self.order_stale else "")

    def clear_search(self) -> None:
        if self.filter.search is not None:
            self.set_filter(replace(self.filter, search=None, search_text="", search_itm={}))

    def set_sort(self, state: SortState) -> None:
        self.sort_state = state
        self.refresh()

    def scores_changed(self, paths: Iterable[str]) -> None:
        """New scores for these photos: repaint them, and re-sort/filter soon when that depends on scores."""
        self._dirty_paths.update(paths)
        if not self._repaint.isActive():
            self._repaint.start()
        by_score = self.sort_state.key in ("score", "search", "rating", "flag")
        if (self.filtering() or by_score) and not self._relayout.isActive():
            self._relayout.start()

    def scanned(self, paths: Iterable[str]) -> None:
        """A scan's new scores: as ``scores_changed``, except that while the order is held the
        rows stay where they are (repainted only)."""
        if not self._held:
            self.scores_changed(paths)
            return
        self._dirty_paths.update(paths)
        if not self._repaint.isActive():
            self._repaint.start()
        if self.filtering() or self.sort_state.key in ("score", "search"):
            self._hold_back()

    def _hold_back(self) -> None:
        if not self.order_stale:
            self.order_stale = True
            self.countsChanged.emit()  # the count line says the order waits

    def _relayout_due(self) -> None:
        if self._held:  # scores that came before the scan: they wait for it too
            self._hold_back()
        else:
            self.refresh()

    def hold_order(self, held: bool) -> None:
        """Hold the rows where they are while a scan runs (True); False: a scan paused or
        ended, the rows take the scores' order now."""
        self._held = held
        if not held and self.order_stale:
            self.refresh()

    def thumbnail_ready(self, path: str) -> None:
        row = self._row_of.get(path)
        if row is not None:
            index = self.index(row)
            self.dataChanged.emit(index, index)

    def _flush_changed(self) -> None:
        rows = sorted(self._row_of[p] for p in self._dirty_paths if p in self._row_of)
        self._dirty_paths.clear()
        if rows:
            # One signal for the span: views repaint only what is visible anyway.
            self.dataChanged.emit(self.index(rows[0]), self.index(rows[-1]))

    def _changed_everything(self) -> None:
        if self._rows:
            self.dataChanged.emit(self.index(0), self.index(len(self._rows) - 1))
        if self.filter.active or self.sort_state.key == "score":
            self.refresh()

    # ----------------------------------------------------------------- filter + sort

    def filtering(self) -> bool:
        """Whether anything filters the photos shown (a criterion of the filter, a search)."""
        return self.filter.active

    def context(self) -> FilterContext:
        """What the filter's rules read, from what the window holds in memory: the board's tag
        scores and labels, the ratings, the duplicates."""
        labels, copies = self.board.labels, self._duplicates
        return FilterContext(
            self._tags,
            self.board.tag_score,
            self.board.matches,
            rating=self._rating,
            labels=lambda path: labels.get(path, {}),
            copies=lambda path: copies.get(path, 0),
            stacked=self._stacked,
            facts=self.facts,
        )

    def _predicate(self) -> Callable[[Photo], bool]:
        """The one predicate: ``photo_filter.compile_filter`` over the filter state."""
        return compile_filter(self.filter, self.context())

    def _accepts(self, photo: Photo) -> bool:
        return self._predicate()(photo)

    def _sort_key(self):
        return sort_function(
            self.sort_state, self.filter, self._tags, self.board.tag_score, self._rating
        )

    def refresh(self) -> None:
        """Recompute the visible rows. Same rows, new order: a layout change; else a reset."""
        self._relayout.stop()
        if self.order_stale:
            self.order_stale = False
            self.countsChanged.emit()
        key, reverse = self._sort_key()
        rows = sorted(filter(self._predicate(), self._all), key=key, reverse=reverse)
        # Compared by path, as C-level list comparisons (100,000 photos: milliseconds).
        paths = [p.path for p in rows]
        if paths == [p.path for p in self._rows]:
            self._rows = rows
            return
        if len(rows) == len(self._rows) and self._row_of.keys() == set(paths):
            self.layoutAboutToBeChanged.emit()
            old = self.persistentIndexList()
            self._set_rows(rows)
            self._remap_persistent(old)
            self.layoutChanged.emit()
        else:
            self.beginResetModel()
            self._set_rows(rows)
            self.endResetModel()
        self.countsChanged.emit()

    def _set_rows(self, rows: list[Photo]) -> None:
        self._prev_rows = self._rows
        self._rows = rows
        self._row_of = {p.path: i for i, p in enumerate(rows)}

    def _remap_persistent(self, old: list[QModelIndex]) -> None:
        new = []
        for index in old:
            photo = (
                self._prev_rows[index.row()] if 0 <= index.row() < len(self._prev_rows) else None
            )
            row = self._row_of.get(photo.path, -1) if photo else -1
            new.append(self.index(row) if row >= 0 else QModelIndex())
        self.changePersistentIndexList(old, new)

    # ----------------------------------------------------------------- text

    def tooltip(self, photo: Photo) -> str:
        lines = [f"<b>{_html(photo.name)}</b>"]
        when = datetime.fromtimestamp(photo.date).strftime("%Y-%m-%d %H:%M:%S")
        lines.append(f"{when} · {file_size_text(photo.size)}")
        error = self.broken(photo)
        if error:
            lines.append(f"<span style='color:#c0392b'>Cannot be read: {_html(error)}</span>")
        if photo.companions:
            raws = ", ".join(_html(os.path.basename(p)) for p in photo.companions)
            lines.append(f"With its RAW file {raws}: one photo, scored from this one")
        copies = self._duplicates.get(photo.path, 0)
        if copies:
            lines.append(f"The same photo as {copies - 1} other file(s) here: scored once")
        if self.filter.search is not None and photo.path in self.filter.search:
            itm = self.filter.search_itm.get(photo.path)
            how = "not checked by match yet" if itm is None else f"match {itm:.3f}"
            lines.append(f"Search “{_html(self.filter.search_text)}”: {how}")
        if error:
            return "<br>".join([*lines, "No tags: a photo that cannot be read is not scored."])
        for tag in self._tags.values():
            score = self.board.tag_score(photo.path, tag)
            if score is None:
                lines.append(f"{_html(tag.name)}: not scored yet")
            else:
                mark = "✔" if self.board.matches(photo.path, tag) else "·"
                label = self.board.label(photo.path, tag.name)
                said = "" if label is None else (" — you said yes" if label else " — you said no")
                lines.append(
                    f"{mark} {_html(tag.name)}: {match_text(score)} (threshold {percent_text(tag.threshold)}){said}"
                )
        return "<br>".join(lines)


def _unrated(_path: str) -> Rating | None:
    return None


def _html(text: str) -> str:
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")
